//! `broker-ingress` and `broker-egress`: the ENIs must reach the brokers on the broker port.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::sg::{admits, Peer};
use super::{Ctx, Findings, Fix, RuleId, Severity};

pub(crate) fn check(ctx: &Ctx<'_, '_>, findings: &mut Findings) {
    let net = ctx.net;
    let index = ctx.index;
    let subnet_cidrs: Vec<Ipv4Net> = net
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.cidr)
        .collect();
    let broker_cidrs: Vec<Ipv4Net> = net
        .broker_subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.cidr)
        .collect();
    let first = net.first_group().unwrap_or_default().to_string();
    let groups = net.security_group_ids.join(", ");

    for &port in &net.broker_ports {
        if net.is_msk {
            let from_enis = Peer {
                groups: &net.security_group_ids,
                cidrs: subnet_cidrs.clone(),
                unknown_address: false,
            };
            if !admits(
                index.groups(&net.broker_security_groups),
                false,
                port,
                &from_enis,
            ) {
                findings.push(
                    RuleId::BrokerIngress,
                    Severity::Fail,
                    net.broker_security_groups.clone(),
                    format!(
                        "The cluster's security group(s) {} admit no TCP {port} from the mapping's ENIs (which carry {groups}): add an inbound rule for TCP {port} on {first} from {first} itself (self-referencing) or from CIDRs covering subnets {}",
                        net.broker_security_groups.join(", "),
                        net.subnet_ids.join(", ")
                    ),
                    Fix::SelfReference { group_id: first.clone(), port, egress: false },
                );
            }
        }

        let (to_brokers, fix, where_) = if net.is_msk {
            (
                Peer {
                    groups: &net.broker_security_groups,
                    cidrs: broker_cidrs.clone(),
                    unknown_address: false,
                },
                Fix::SelfReference {
                    group_id: first.clone(),
                    port,
                    egress: true,
                },
                format!(
                    "the brokers (security groups {})",
                    net.broker_security_groups.join(", ")
                ),
            )
        } else {
            let ips: Vec<Option<Ipv4Net>> = net
                .broker_hosts
                .iter()
                .map(|h| host_ipv4(h).map(Ipv4Net::from))
                .collect();
            (
                Peer {
                    groups: &[],
                    cidrs: ips.iter().flatten().copied().collect(),
                    unknown_address: ips.iter().any(Option::is_none),
                },
                Fix::BrokerEgressCidr {
                    group_id: first.clone(),
                    port,
                    hosts: net.broker_hosts.clone(),
                },
                format!("the bootstrap servers {}", net.broker_hosts.join(", ")),
            )
        };
        if net.security_group_ids.is_empty() {
            findings.push(
                RuleId::BrokerEgress,
                Severity::Fail,
                vec![],
                "The mapping has no security groups (VPC_SECURITY_GROUP), so its ENIs can reach nothing: add one".to_string(),
                Fix::None,
            );
        } else if !admits(
            index.groups(&net.security_group_ids),
            true,
            port,
            &to_brokers,
        ) {
            let advice = if net.is_msk {
                format!("add an outbound rule for TCP {port} on {first} to {first} itself (self-referencing), or to 0.0.0.0/0")
            } else {
                format!("add an outbound rule for TCP {port} on {first} to the brokers' addresses")
            };
            findings.push(
                RuleId::BrokerEgress,
                Severity::Fail,
                net.security_group_ids.clone(),
                format!("The mapping's security group(s) {groups} let no TCP {port} out to {where_}: {advice}"),
                fix,
            );
        }
    }
}

/// The host part of `host:port` or `[v6]:port`.
pub(crate) fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The IPv4 address of a bootstrap server given by address rather than by name.
pub fn host_ipv4(server: &str) -> Option<Ipv4Addr> {
    host_of(server).parse().ok()
}

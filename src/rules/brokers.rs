//! `broker-ingress` and `broker-egress`, and the broker legs of `nacl-blocks`: from every
//! ESM subnet the ENIs must reach every broker on its port (each broker leads partitions,
//! so every pair of subnets is needed).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::flow::{port_text, report_required, sg_leg, Hop, SgBlock};
use super::path::{Peer, SgPeer};
use super::{nacl, Ctx, Findings, Fix, RuleId, Severity};

pub(crate) fn check(ctx: &Ctx<'_, '_>, findings: &mut Findings) {
    let net = ctx.net;
    if net.security_group_ids.is_empty() {
        findings.push(
            RuleId::BrokerEgress,
            Severity::Fail,
            "no-group",
            vec![],
            "The mapping has no security groups (VPC_SECURITY_GROUP), so its ENIs can reach nothing: add one".to_string(),
            None,
        );
        return;
    }
    let hops = if net.managed {
        managed(ctx)
    } else {
        self_managed(ctx)
    };
    report_required(findings, &hops);
}

/// A managed source (an MSK cluster or its VPC connection's endpoint, an Amazon MQ broker, a
/// DocumentDB cluster): its brokers sit in the mapping's subnets with the mapping's groups.
fn managed(ctx: &Ctx<'_, '_>) -> Vec<Hop> {
    let net = ctx.net;
    // Whose groups guard the brokers, in the source's own words.
    let owner = match ctx.esm.source {
        crate::model::EventSource::Mq { .. } => "broker",
        crate::model::EventSource::MskVpcConnection { .. } => "VPC connection",
        _ => "cluster",
    };
    let index = ctx.index;
    let first = net.first_group().unwrap_or_default().to_string();
    let groups = net.security_group_ids.join(", ");
    let brokers: Vec<_> = net
        .broker_subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()).copied())
        .collect();
    let mut hops = Vec::new();
    for &ports in &net.broker_ports {
        let port = port_text(ports);
        for from in &ctx.subnets {
            for to in &brokers {
                let to_brokers = SgPeer {
                    groups: &net.broker_security_groups,
                    addresses: Peer::Net(to.cidr),
                };
                hops.extend(sg_leg(
                    ctx,
                    &net.security_group_ids,
                    true,
                    ports,
                    to_brokers,
                    &format!("the brokers in {}", to.id),
                    || SgBlock {
                        rule: RuleId::BrokerEgress,
                        subject: "egress".into(),
                        resources: net.security_group_ids.clone(),
                        headline: format!(
                            "The mapping's security group(s) {groups} let no TCP {port} out to the brokers (security groups {}): add an outbound rule for TCP {port} on {first} to {first} itself (self-referencing), or to 0.0.0.0/0",
                            net.broker_security_groups.join(", ")
                        ),
                        detail: format!("from subnet {} to the brokers in {}", from.id, to.id),
                        fix: Some(Fix::SelfReference {
                            group_id: first.clone(),
                            ports,
                            egress: true,
                        }),
                    },
                ));
                hops.extend(nacl::subnet_pair(
                    ctx,
                    from,
                    to,
                    ports,
                    &format!("TCP {port} from the mapping's ENIs to the brokers"),
                ));
                let from_enis = SgPeer {
                    groups: &net.security_group_ids,
                    addresses: Peer::Net(from.cidr),
                };
                hops.extend(sg_leg(
                    ctx,
                    &net.broker_security_groups,
                    false,
                    ports,
                    from_enis,
                    &format!("the mapping's ENIs in {}", from.id),
                    || SgBlock {
                        rule: RuleId::BrokerIngress,
                        subject: "ingress".into(),
                        resources: net.broker_security_groups.clone(),
                        headline: format!(
                            "The {owner}'s security group(s) {} admit no TCP {port} from the mapping's ENIs (which carry {groups}): add an inbound rule for TCP {port} on {first} from {first} itself (self-referencing) or from CIDRs covering subnets {}",
                            net.broker_security_groups.join(", "),
                            net.subnet_ids.join(", ")
                        ),
                        detail: format!("from the ENIs in {} to the brokers in {}", from.id, to.id),
                        fix: Some(Fix::SelfReference {
                            group_id: first.clone(),
                            ports,
                            egress: false,
                        }),
                    },
                ));
            }
        }
    }
    hops
}

/// Self-managed brokers: their firewall is out of sight (no `broker-ingress`); the ENIs'
/// egress and ACLs are judged per bootstrap server, toward its address when it is one, and
/// toward any address when it is a host name.
fn self_managed(ctx: &Ctx<'_, '_>) -> Vec<Hop> {
    let net = ctx.net;
    let index = ctx.index;
    let first = net.first_group().unwrap_or_default().to_string();
    let groups = net.security_group_ids.join(", ");
    let vpc_subnets = index.subnets_in(&net.vpc_id);
    // One fix per port names every server on it: one rule with all their addresses.
    let hosts_on = |port: u16| -> Vec<String> {
        net.servers
            .iter()
            .filter(|s| s.port == port)
            .map(|s| s.text.clone())
            .collect()
    };
    let mut hops = Vec::new();
    for server in &net.servers {
        let port = server.port;
        let address: Option<Ipv4Addr> = server.host.parse().ok();
        let peer = match address {
            Some(ip) => Peer::Net(Ipv4Net::from(ip)),
            None => Peer::Anywhere,
        };
        hops.extend(sg_leg(
            ctx,
            &net.security_group_ids,
            true,
            (port, port),
            SgPeer {
                groups: &[],
                addresses: peer,
            },
            &format!("the bootstrap server {}", server.text),
            || SgBlock {
                rule: RuleId::BrokerEgress,
                subject: "egress".into(),
                resources: net.security_group_ids.clone(),
                headline: format!(
                    "The mapping's security group(s) {groups} let no TCP out to the bootstrap servers: add outbound rules on {first} to the brokers' addresses"
                ),
                detail: format!("TCP {port} to {}", server.text),
                fix: Some(Fix::BrokerEgressCidr {
                    group_id: first.clone(),
                    port,
                    hosts: hosts_on(port),
                }),
            },
        ));
        // A broker inside the VPC sits behind its own subnet's ACL too.
        let broker_subnet =
            address.and_then(|ip| vpc_subnets.iter().find(|s| s.cidr.contains(&ip)));
        let what = format!("TCP {port} to the bootstrap server {}", server.text);
        for from in &ctx.subnets {
            match broker_subnet {
                Some(to) => hops.extend(nacl::subnet_pair(ctx, from, to, (port, port), &what)),
                None => hops.extend(nacl::to_outside(
                    ctx,
                    from,
                    peer,
                    &server.text,
                    (port, port),
                    &what,
                )),
            }
        }
    }
    hops
}

/// The IPv4 address of a bootstrap server given by address rather than by name.
pub fn host_ipv4(server: &str) -> Option<Ipv4Addr> {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

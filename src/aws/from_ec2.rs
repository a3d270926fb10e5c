//! EC2 descriptions into the model, failing closed.
//!
//! The SDK gives every field as an `Option`. For each one this file decides what `None`
//! means: a field AWS always sends that is missing means the answer is incomplete (the
//! conversion fails with what is missing, and the collector records the fact as unknown);
//! a field AWS leaves out on purpose (no tags, no port range on an all-traffic rule) means
//! absent. Nothing missing is ever replaced by a value that lets traffic through.

use std::collections::BTreeMap;

use aws_sdk_ec2::types as ec2;

use crate::model::*;

/// What an answer lacked.
pub(crate) type Incomplete = String;

fn need<T>(value: Option<T>, what: impl FnOnce() -> String) -> Result<T, Incomplete> {
    value.ok_or_else(what)
}

/// `None`: the resource has no tags (EC2 leaves the set out).
fn tags(tags: &[ec2::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn cidr<T: std::str::FromStr>(
    text: Option<&str>,
    what: impl Fn() -> String,
) -> Result<T, Incomplete> {
    let text = need(text, &what)?;
    text.parse()
        .map_err(|_| format!("{} is not a CIDR block: {text:?}", what()))
}

pub(crate) fn subnet(s: &ec2::Subnet) -> Result<Subnet, Incomplete> {
    let id = need(s.subnet_id(), || "a subnet without SubnetId".into())?;
    Ok(Subnet {
        id: id.to_string(),
        vpc_id: need(s.vpc_id(), || format!("subnet {id} without VpcId"))?.to_string(),
        availability_zone: need(s.availability_zone(), || {
            format!("subnet {id} without AvailabilityZone")
        })?
        .to_string(),
        // An IPv6-only subnet has none; a hyperplane ENI needs IPv4, so it is judged as unknown.
        cidr: cidr(s.cidr_block(), || format!("subnet {id}'s CidrBlock"))?,
        ipv6_cidrs: s
            .ipv6_cidr_block_association_set()
            .iter()
            .filter_map(|a| a.ipv6_cidr_block()?.parse().ok())
            .collect(),
    })
}

pub(crate) fn vpc(v: &ec2::Vpc) -> Result<Vpc, Incomplete> {
    let id = need(v.vpc_id(), || "a VPC without VpcId".into())?;
    Ok(Vpc {
        id: id.to_string(),
        cidr_blocks: v
            .cidr_block_association_set()
            .iter()
            .filter_map(|a| a.cidr_block()?.parse().ok())
            .collect(),
        dns_support: None,
        dns_hostnames: None,
        tags: Some(tags(v.tags())),
    })
}

pub(crate) fn route_table(t: &ec2::RouteTable) -> Result<RouteTable, Incomplete> {
    let id = need(t.route_table_id(), || {
        "a route table without RouteTableId".into()
    })?;
    let mut main = false;
    let mut subnet_ids = Vec::new();
    for a in t.associations() {
        // Every association says whether it is the main one.
        if need(a.main(), || {
            format!("an association of route table {id} without Main")
        })? {
            main = true;
        }
        if let Some(subnet) = a.subnet_id() {
            subnet_ids.push(subnet.to_string());
        }
    }
    // Every route table holds at least its local route.
    if t.routes.is_none() {
        return Err(format!("route table {id} without Routes"));
    }
    Ok(RouteTable {
        id: id.to_string(),
        vpc_id: need(t.vpc_id(), || format!("route table {id} without VpcId"))?.to_string(),
        main,
        subnet_ids,
        routes: t
            .routes()
            .iter()
            .map(|r| route(id, r))
            .collect::<Result<_, _>>()?,
    })
}

fn route(table: &str, r: &ec2::Route) -> Result<Route, Incomplete> {
    let destination = need(
        r.destination_cidr_block()
            .or(r.destination_ipv6_cidr_block())
            .or(r.destination_prefix_list_id()),
        || format!("a route of {table} without a destination"),
    )?
    .to_string();
    let s = |v: Option<&str>| v.map(str::to_string);
    let target = if let Some(id) = s(r.nat_gateway_id()) {
        RouteTarget::NatGateway(id)
    } else if let Some(id) = s(r.transit_gateway_id()) {
        RouteTarget::TransitGateway(id)
    } else if let Some(id) = s(r.vpc_peering_connection_id()) {
        RouteTarget::VpcPeering(id)
    } else if let Some(id) = s(r.egress_only_internet_gateway_id()) {
        RouteTarget::EgressOnlyInternetGateway(id)
    } else if let Some(id) = s(r.local_gateway_id()) {
        RouteTarget::LocalGateway(id)
    } else if let Some(id) = s(r.carrier_gateway_id()) {
        RouteTarget::CarrierGateway(id)
    } else if let Some(id) = s(r.core_network_arn()) {
        RouteTarget::CoreNetwork(id)
    } else if let Some(id) = s(r.gateway_id()) {
        // GatewayId holds internet gateways, virtual private gateways, gateway endpoints
        // and `local`: the id's prefix tells which.
        match id.as_str() {
            "local" => RouteTarget::Local,
            g if g.starts_with("igw-") => RouteTarget::InternetGateway(id),
            g if g.starts_with("vgw-") => RouteTarget::VirtualPrivateGateway(id),
            g if g.starts_with("vpce-") => RouteTarget::GatewayEndpoint(id),
            _ => RouteTarget::Unknown(id),
        }
    } else if let Some(id) = s(r.instance_id()) {
        RouteTarget::Instance(id)
    } else if let Some(id) = s(r.network_interface_id()) {
        RouteTarget::NetworkInterface(id)
    } else {
        // A target EC2 added later: unknown, never "the internet".
        RouteTarget::Unknown(String::new())
    };
    Ok(Route {
        // Every route has a state: without one, an active route cannot be told from a
        // blackhole.
        state: need(r.state(), || {
            format!("the route to {destination} of {table} without State")
        })?
        .as_str()
        .to_ascii_lowercase(),
        destination,
        target,
    })
}

pub(crate) fn nat_gateway(n: &ec2::NatGateway) -> Result<NatGateway, Incomplete> {
    let id = need(n.nat_gateway_id(), || {
        "a NAT gateway without NatGatewayId".into()
    })?;
    Ok(NatGateway {
        id: id.to_string(),
        vpc_id: need(n.vpc_id(), || format!("NAT gateway {id} without VpcId"))?.to_string(),
        subnet_id: need(n.subnet_id(), || {
            format!("NAT gateway {id} without SubnetId")
        })?
        .to_string(),
        state: need(n.state(), || format!("NAT gateway {id} without State"))?
            .as_str()
            .to_ascii_lowercase(),
        // DescribeNatGateways always says it; a private one cannot reach Lambda.
        connectivity_type: need(n.connectivity_type(), || {
            format!("NAT gateway {id} without ConnectivityType")
        })?
        .as_str()
        .to_ascii_lowercase(),
    })
}

pub(crate) fn vpc_endpoint(e: &ec2::VpcEndpoint) -> Result<VpcEndpoint, Incomplete> {
    let id = need(e.vpc_endpoint_id(), || {
        "an endpoint without VpcEndpointId".into()
    })?;
    let endpoint_type = need(e.vpc_endpoint_type(), || {
        format!("endpoint {id} without VpcEndpointType")
    })?
    .as_str()
    .to_string();
    let interface = endpoint_type.eq_ignore_ascii_case("interface");
    Ok(VpcEndpoint {
        id: id.to_string(),
        vpc_id: need(e.vpc_id(), || format!("endpoint {id} without VpcId"))?.to_string(),
        service_name: need(e.service_name(), || {
            format!("endpoint {id} without ServiceName")
        })?
        .to_string(),
        state: need(e.state(), || format!("endpoint {id} without State"))?
            .as_str()
            .to_ascii_lowercase(),
        subnet_ids: e.subnet_ids().to_vec(),
        security_group_ids: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        route_table_ids: e.route_table_ids().to_vec(),
        // Interface endpoints always say whether private DNS is on: without it, whether the
        // endpoint captures the service's name is unknown.
        private_dns_enabled: if interface {
            need(e.private_dns_enabled(), || {
                format!("interface endpoint {id} without PrivateDnsEnabled")
            })?
        } else {
            e.private_dns_enabled().unwrap_or(false)
        },
        // `None` stays unknown: the policy checks say so (see the model).
        policy_document: e.policy_document().map(decode_policy),
        endpoint_type,
        tags: tags(e.tags()),
    })
}

/// Endpoint policies come back as JSON; some tools hand them over URL-encoded.
fn decode_policy(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    }
}

pub(crate) fn security_group(g: &ec2::SecurityGroup) -> Result<SecurityGroup, Incomplete> {
    let id = need(g.group_id(), || "a security group without GroupId".into())?;
    Ok(SecurityGroup {
        id: id.to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        vpc_id: need(g.vpc_id(), || format!("security group {id} without VpcId"))?.to_string(),
        ingress: g
            .ip_permissions()
            .iter()
            .map(|p| sg_rule(id, p))
            .collect::<Result<_, _>>()?,
        egress: g
            .ip_permissions_egress()
            .iter()
            .map(|p| sg_rule(id, p))
            .collect::<Result<_, _>>()?,
        tags: tags(g.tags()),
    })
}

fn sg_rule(group: &str, p: &ec2::IpPermission) -> Result<SgRule, Incomplete> {
    // Every permission has a protocol; `-1` (all traffic) must never stand in for a missing one.
    let protocol = need(p.ip_protocol(), || {
        format!("a rule of security group {group} without IpProtocol")
    })?
    .to_string();
    let ported = matches!(protocol.as_str(), "tcp" | "6" | "udp" | "17");
    if ported && (p.from_port().is_none() || p.to_port().is_none()) {
        return Err(format!(
            "a {protocol} rule of security group {group} without FromPort/ToPort"
        ));
    }
    Ok(SgRule {
        protocol,
        from_port: p.from_port(),
        to_port: p.to_port(),
        ipv4_ranges: p
            .ip_ranges()
            .iter()
            .map(|r| {
                cidr(r.cidr_ip(), || {
                    format!("an IPv4 range of security group {group}")
                })
            })
            .collect::<Result<_, _>>()?,
        ipv6_ranges: p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6()?.parse().ok())
            .collect(),
        group_ids: p
            .user_id_group_pairs()
            .iter()
            .map(|pair| {
                need(pair.group_id(), || {
                    format!("a group reference of security group {group} without GroupId")
                })
                .map(str::to_string)
            })
            .collect::<Result<_, _>>()?,
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .map(|l| {
                need(l.prefix_list_id(), || {
                    format!(
                        "a prefix-list reference of security group {group} without PrefixListId"
                    )
                })
                .map(str::to_string)
            })
            .collect::<Result<_, _>>()?,
    })
}

pub(crate) fn network_acl(a: &ec2::NetworkAcl) -> Result<NetworkAcl, Incomplete> {
    let id = need(a.network_acl_id(), || {
        "a network ACL without NetworkAclId".into()
    })?;
    // Every ACL holds at least its final `*` entries.
    if a.entries.is_none() {
        return Err(format!("network ACL {id} without Entries"));
    }
    Ok(NetworkAcl {
        id: id.to_string(),
        vpc_id: need(a.vpc_id(), || format!("network ACL {id} without VpcId"))?.to_string(),
        is_default: need(a.is_default(), || {
            format!("network ACL {id} without IsDefault")
        })?,
        subnet_ids: a
            .associations()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect(),
        entries: a
            .entries()
            .iter()
            .map(|e| nacl_entry(id, e))
            .collect::<Result<_, _>>()?,
    })
}

fn nacl_entry(acl: &str, e: &ec2::NetworkAclEntry) -> Result<NaclEntry, Incomplete> {
    let number = need(e.rule_number(), || {
        format!("an entry of network ACL {acl} without RuleNumber")
    })?;
    let what = || format!("entry #{number} of network ACL {acl}");
    let protocol = need(e.protocol(), || format!("{} without Protocol", what()))?.to_string();
    let ported = matches!(protocol.as_str(), "6" | "17" | "tcp" | "udp");
    let ports = e.port_range();
    if ported && ports.and_then(|p| p.from().zip(p.to())).is_none() {
        return Err(format!("{} without PortRange", what()));
    }
    let allow = match need(e.rule_action(), || format!("{} without RuleAction", what()))? {
        ec2::RuleAction::Allow => true,
        ec2::RuleAction::Deny => false,
        other => return Err(format!("{} with RuleAction {:?}", what(), other.as_str())),
    };
    let cidr = match (e.cidr_block(), e.ipv6_cidr_block()) {
        (None, None) => return Err(format!("{} without CidrBlock", what())),
        (Some(c), _) => Some(cidr(Some(c), what)?),
        (None, Some(_)) => None,
    };
    Ok(NaclEntry {
        rule_number: number,
        egress: need(e.egress(), || format!("{} without Egress", what()))?,
        protocol,
        allow,
        cidr,
        ipv6_cidr: e.ipv6_cidr_block().and_then(|c| c.parse().ok()),
        port_from: ports.and_then(|p| p.from()),
        port_to: ports.and_then(|p| p.to()),
    })
}

pub(crate) fn prefix_list(
    id: &str,
    entries: &[ec2::PrefixListEntry],
    into: &mut PrefixList,
) -> Result<(), Incomplete> {
    for entry in entries {
        let text = need(entry.cidr(), || {
            format!("an entry of prefix list {id} without Cidr")
        })?;
        if text.contains(':') {
            if let Ok(net) = text.parse() {
                into.ipv6_cidrs.push(net);
            }
        } else {
            into.cidrs.push(
                text.parse()
                    .map_err(|_| format!("prefix list {id} holds {text:?}, not a CIDR block"))?,
            );
        }
    }
    Ok(())
}

//! EC2 descriptions into the model. Values EC2 sends that do not parse (a malformed CIDR)
//! are skipped rather than trusted.

use std::collections::BTreeMap;

use aws_sdk_ec2::types as ec2;

use crate::model::*;

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

pub(crate) fn subnet(s: &ec2::Subnet) -> Option<Subnet> {
    Some(Subnet {
        id: s.subnet_id()?.to_string(),
        vpc_id: s.vpc_id()?.to_string(),
        availability_zone: s.availability_zone().unwrap_or_default().to_string(),
        cidr: s.cidr_block()?.parse().ok()?,
        ipv6_cidrs: s
            .ipv6_cidr_block_association_set()
            .iter()
            .filter_map(|a| a.ipv6_cidr_block()?.parse().ok())
            .collect(),
    })
}

pub(crate) fn vpc(v: &ec2::Vpc) -> Option<Vpc> {
    Some(Vpc {
        id: v.vpc_id()?.to_string(),
        cidr_blocks: v
            .cidr_block_association_set()
            .iter()
            .filter_map(|a| a.cidr_block()?.parse().ok())
            .collect(),
        dns_support: None,
        dns_hostnames: None,
        tags: tags(v.tags()),
    })
}

pub(crate) fn route_table(t: &ec2::RouteTable) -> Option<RouteTable> {
    Some(RouteTable {
        id: t.route_table_id()?.to_string(),
        vpc_id: t.vpc_id()?.to_string(),
        main: t.associations().iter().any(|a| a.main() == Some(true)),
        subnet_ids: t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id().map(str::to_string))
            .collect(),
        routes: t.routes().iter().map(route).collect(),
    })
}

fn route(r: &ec2::Route) -> Route {
    let destination = r
        .destination_cidr_block()
        .or(r.destination_ipv6_cidr_block())
        .or(r.destination_prefix_list_id())
        .unwrap_or_default()
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
        RouteTarget::Unknown(String::new())
    };
    Route {
        destination,
        target,
        state: r
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_else(|| "active".into()),
    }
}

pub(crate) fn nat_gateway(n: &ec2::NatGateway) -> Option<NatGateway> {
    Some(NatGateway {
        id: n.nat_gateway_id()?.to_string(),
        vpc_id: n.vpc_id().unwrap_or_default().to_string(),
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        state: n
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default(),
        // EC2's default connectivity type is public.
        connectivity_type: n
            .connectivity_type()
            .map(|c| c.as_str().to_ascii_lowercase())
            .unwrap_or_else(|| "public".into()),
    })
}

pub(crate) fn vpc_endpoint(e: &ec2::VpcEndpoint) -> Option<VpcEndpoint> {
    Some(VpcEndpoint {
        id: e.vpc_endpoint_id()?.to_string(),
        vpc_id: e.vpc_id().unwrap_or_default().to_string(),
        service_name: e.service_name().unwrap_or_default().to_string(),
        endpoint_type: e
            .vpc_endpoint_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: e
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default(),
        subnet_ids: e.subnet_ids().to_vec(),
        security_group_ids: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        route_table_ids: e.route_table_ids().to_vec(),
        private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
        policy_document: e.policy_document().map(decode_policy),
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

pub(crate) fn security_group(g: &ec2::SecurityGroup) -> Option<SecurityGroup> {
    Some(SecurityGroup {
        id: g.group_id()?.to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        vpc_id: g.vpc_id().unwrap_or_default().to_string(),
        ingress: g.ip_permissions().iter().map(sg_rule).collect(),
        egress: g.ip_permissions_egress().iter().map(sg_rule).collect(),
        tags: tags(g.tags()),
    })
}

fn sg_rule(p: &ec2::IpPermission) -> SgRule {
    SgRule {
        protocol: p.ip_protocol().unwrap_or("-1").to_string(),
        from_port: p.from_port(),
        to_port: p.to_port(),
        ipv4_ranges: p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip()?.parse().ok())
            .collect(),
        ipv6_ranges: p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6()?.parse().ok())
            .collect(),
        group_ids: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|pair| pair.group_id().map(str::to_string))
            .collect(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| l.prefix_list_id().map(str::to_string))
            .collect(),
    }
}

pub(crate) fn network_acl(a: &ec2::NetworkAcl) -> Option<NetworkAcl> {
    Some(NetworkAcl {
        id: a.network_acl_id()?.to_string(),
        vpc_id: a.vpc_id().unwrap_or_default().to_string(),
        is_default: a.is_default().unwrap_or(false),
        subnet_ids: a
            .associations()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect(),
        entries: a
            .entries()
            .iter()
            .filter_map(|e| {
                Some(NaclEntry {
                    rule_number: e.rule_number()?,
                    egress: e.egress().unwrap_or(false),
                    protocol: e.protocol().unwrap_or("-1").to_string(),
                    allow: e
                        .rule_action()
                        .map(|r| r.as_str().eq_ignore_ascii_case("allow"))
                        .unwrap_or(false),
                    cidr: e.cidr_block().and_then(|c| c.parse().ok()),
                    ipv6_cidr: e.ipv6_cidr_block().and_then(|c| c.parse().ok()),
                    port_from: e.port_range().and_then(|p| p.from()),
                    port_to: e.port_range().and_then(|p| p.to()),
                })
            })
            .collect(),
    })
}

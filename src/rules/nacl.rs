//! `nacl-blocks`: network ACLs are stateless, so both directions of every crossing, return
//! traffic on the ephemeral ports included, must pass; the lowest-numbered matching entry
//! wins. The legs are built by the flows (brokers, endpoints, NAT gateways); this file
//! judges one leg and words what blocks it.

use super::flow::{Hop, HopKind};
use super::network::Ports;
use super::path::acl::{free_range, walk};
use super::path::{AclOutcome, Peer, DEFAULT_RULE, EPHEMERAL};
use super::{Ctx, Fix, RuleId};
use crate::model::Subnet;

/// The legs of TCP connections from subnet `from` to a server in subnet `to` on `port`:
/// out of `from` and into `to` on the port, back on the ephemeral ports. Within one subnet
/// no ACL applies.
pub(crate) fn subnet_pair(
    ctx: &Ctx<'_, '_>,
    from: &Subnet,
    to: &Subnet,
    ports: Ports,
    what: &str,
) -> Vec<Hop> {
    if from.id == to.id {
        return Vec::new();
    }
    let (there, back) = (Peer::Net(to.cidr), Peer::Net(from.cidr));
    [
        leg(ctx, from, true, ports, there, &to.id, what),
        leg(ctx, to, false, ports, back, &from.id, what),
        leg(ctx, to, true, EPHEMERAL, back, &from.id, what),
        leg(ctx, from, false, EPHEMERAL, there, &to.id, what),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The legs of TCP connections from subnet `from` to `peer` outside the VPC's subnets (the
/// internet, a broker's address): only `from`'s ACL is crossed.
pub(crate) fn to_outside(
    ctx: &Ctx<'_, '_>,
    from: &Subnet,
    peer: Peer,
    peer_name: &str,
    ports: Ports,
    what: &str,
) -> Vec<Hop> {
    [
        leg(ctx, from, true, ports, peer, peer_name, what),
        leg(ctx, from, false, EPHEMERAL, peer, peer_name, what),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// One leg: `subnet`'s ACL in one direction, for TCP `ports` to or from `peer`.
pub(crate) fn leg(
    ctx: &Ctx<'_, '_>,
    subnet: &Subnet,
    egress: bool,
    ports: (u16, u16),
    peer: Peer,
    peer_name: &str,
    what: &str,
) -> Option<Hop> {
    let index = ctx.index;
    let Some(acl) = index.network_acl_of(subnet) else {
        // Every subnet has exactly one network ACL: none in the answer means it was cut.
        return Some(Hop::unknown(
            "ec2:DescribeNetworkAcls",
            &format!("the network ACL of subnet {}", subnet.id),
            &format!("whether {what} passes it"),
        ));
    };
    let entries = index.acl_entries(acl, egress);
    let direction = if egress { "outbound" } else { "inbound" };
    let toward = if egress { "to" } else { "from" };
    let port_text = if ports.0 == ports.1 {
        format!("TCP {}", ports.0)
    } else {
        format!("TCP {}-{}", ports.0, ports.1)
    };
    let which = if ports == EPHEMERAL {
        "the return traffic of "
    } else {
        ""
    };
    let peer_text = if peer_name == peer.to_string() {
        peer_name.to_string()
    } else {
        format!("{peer_name} ({peer})")
    };
    match walk(entries, ports, peer) {
        AclOutcome::Allow => None,
        AclOutcome::Block { rule_number } => {
            let by = if rule_number == DEFAULT_RULE {
                "no rule allows it, so the final * rule denies it".to_string()
            } else {
                format!("rule #{rule_number} denies it")
            };
            let (above, below) = free_range(entries, ports, peer, rule_number);
            Some(Hop {
                kind: HopKind::Block,
                rule: RuleId::NaclBlocks,
                subject: acl.id.clone(),
                resources: vec![acl.id.clone(), subnet.id.clone()],
                headline: format!("Network ACL {} blocks traffic the mapping needs", acl.id),
                detail: format!(
                    "{which}{what}: {direction} {port_text} {toward} {peer_text} at subnet {} — {by}",
                    subnet.id
                ),
                fix: Some(Fix::NaclEntry {
                    acl_id: acl.id.clone(),
                    egress,
                    port_from: ports.0,
                    port_to: ports.1,
                    cidr: peer.cidr().to_string(),
                    above,
                    below,
                }),
            })
        }
        AclOutcome::Unprovable {
            rule_number,
            decided_by,
        } => Some(Hop {
            kind: HopKind::Unprovable,
            rule: RuleId::EgressUnverifiable,
            subject: acl.id.clone(),
            resources: vec![acl.id.clone(), subnet.id.clone()],
            headline: format!(
                "Network ACL {} may block traffic the mapping needs: whether it does depends on addresses esm-guard cannot know",
                acl.id
            ),
            detail: format!(
                "{which}{what}: {direction} {port_text} {toward} {peer_text} at subnet {} — rule #{rule_number} matches only part of those addresses, rule #{decided_by} the rest",
                subnet.id
            ),
            fix: None,
        }),
    }
}

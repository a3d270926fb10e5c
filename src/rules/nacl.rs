//! `nacl-blocks`: network ACLs are stateless, so both directions, return traffic on the
//! ephemeral ports included, must pass; the lowest-numbered matching entry wins.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::brokers::host_of;
use super::{Ctx, Findings, Fix, RuleId, Severity};
use crate::model::{NaclEntry, NetworkAcl, Subnet};

/// Return traffic comes back on these ports.
const EPHEMERAL: (u16, u16) = (1024, 65535);
/// EC2's final `*` rule.
const DEFAULT_RULE: i32 = 32767;

pub(crate) fn check(
    ctx: &Ctx<'_, '_>,
    https_peers: &[(String, Vec<Ipv4Net>)],
    findings: &mut Findings,
) {
    let index = ctx.index;
    let net = ctx.net;
    let subnets: Vec<&Subnet> = net
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()).copied())
        .collect();
    let self_managed_peers: Vec<Ipv4Net> = net
        .broker_hosts
        .iter()
        .filter_map(|h| host_of(h).parse::<Ipv4Addr>().ok())
        .map(Ipv4Net::from)
        .collect();

    for subnet in &subnets {
        let Some(acl) = index.network_acl_of(subnet) else {
            continue;
        };
        let mut flows: Vec<Flow> = Vec::new();
        for &port in &net.broker_ports {
            if net.is_msk {
                // Traffic inside one subnet never crosses its ACL; between broker subnets it
                // does, in both roles: this subnet's ENIs dial brokers elsewhere, and its
                // brokers answer ENIs elsewhere.
                for other in subnets.iter().filter(|o| o.id != subnet.id) {
                    flows.push(Flow::request(
                        port,
                        other.cidr,
                        "to the brokers in",
                        Name::Subnet(&other.id),
                    ));
                    flows.push(Flow::serve(port, other.cidr, &other.id));
                }
            } else {
                for peer in &self_managed_peers {
                    flows.push(Flow::request(
                        port,
                        *peer,
                        "to the broker at",
                        Name::Net(*peer),
                    ));
                }
            }
        }
        for (_, cidrs) in https_peers.iter().filter(|(s, _)| *s == subnet.id) {
            // A peer inside this subnet (an endpoint ENI beside the mapping's) is reached
            // without crossing the ACL; every other peer, the NAT path's 0.0.0.0/0 included,
            // crosses it.
            for cidr in cidrs.iter().filter(|c| !subnet.cidr.contains(*c)) {
                let what = if *cidr == Ipv4Net::default() {
                    "out of the VPC (the default route) to"
                } else {
                    "to the endpoint in"
                };
                flows.push(Flow::request(443, *cidr, what, Name::Net(*cidr)));
            }
        }
        let entries = [index.acl_entries(acl, false), index.acl_entries(acl, true)];
        for flow in flows {
            for leg in flow.legs() {
                if let Err(blocker) = passes(entries[usize::from(leg.egress)], leg.ports, leg.peer)
                {
                    report(acl, subnet, &flow, &leg, blocker, findings);
                }
            }
        }
    }
}

struct Flow<'a> {
    port: u16,
    peer: Ipv4Net,
    /// This subnet serves the port (a broker) instead of dialing it.
    serving: bool,
    /// What the flow is for, put into words only when a leg is blocked (rarely): most
    /// flows pass, and formatting every one cost a tenth of an evaluation.
    what: &'static str,
    name: Name<'a>,
}

#[derive(Clone, Copy)]
enum Name<'a> {
    Subnet(&'a str),
    Net(Ipv4Net),
}

impl std::fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Name::Subnet(id) => f.write_str(id),
            Name::Net(net) => net.fmt(f),
        }
    }
}

struct Leg {
    egress: bool,
    ports: (u16, u16),
    peer: Ipv4Net,
}

impl<'a> Flow<'a> {
    fn request(port: u16, peer: Ipv4Net, what: &'static str, name: Name<'a>) -> Flow<'a> {
        Flow {
            port,
            peer,
            serving: false,
            what,
            name,
        }
    }

    fn serve(port: u16, peer: Ipv4Net, subnet_id: &'a str) -> Flow<'a> {
        Flow {
            port,
            peer,
            serving: true,
            what: "from the mapping's ENIs in",
            name: Name::Subnet(subnet_id),
        }
    }

    fn description(&self) -> String {
        format!("TCP {} {} {}", self.port, self.what, self.name)
    }

    /// The request leg and the return leg, from this subnet's side.
    fn legs(&self) -> [Leg; 2] {
        let port = (self.port, self.port);
        [
            Leg {
                egress: !self.serving,
                ports: port,
                peer: self.peer,
            },
            Leg {
                egress: self.serving,
                ports: EPHEMERAL,
                peer: self.peer,
            },
        ]
    }
}

/// Walks the entries in rule-number order. Ok when an allow covering all of the traffic is
/// reached before any deny touching it; Err(rule number) of the entry that blocks.
fn passes(entries: &[&NaclEntry], (from, to): (u16, u16), peer: Ipv4Net) -> Result<(), i32> {
    for entry in entries {
        let Some(cidr) = entry.cidr else { continue };
        let ports = entry.tcp_overlap(from, to);
        if ports == crate::model::Overlap::None || !overlaps(&cidr, &peer) {
            continue;
        }
        let whole = ports == crate::model::Overlap::All && cidr.contains(&peer);
        match (entry.allow, whole) {
            (true, true) => return Ok(()),
            (true, false) => continue,
            (false, _) => return Err(entry.rule_number),
        }
    }
    Err(DEFAULT_RULE)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn report(
    acl: &NetworkAcl,
    subnet: &Subnet,
    flow: &Flow<'_>,
    leg: &Leg,
    blocker: i32,
    findings: &mut Findings,
) {
    let direction = if leg.egress { "outbound" } else { "inbound" };
    let ports = if leg.ports.0 == leg.ports.1 {
        format!("TCP {}", leg.ports.0)
    } else {
        format!("TCP {}-{}", leg.ports.0, leg.ports.1)
    };
    let toward = if leg.egress { "to" } else { "from" };
    let which = if leg.ports == EPHEMERAL {
        "the return traffic of "
    } else {
        ""
    };
    let by = if blocker == DEFAULT_RULE {
        "no rule allows it, so the final * rule denies it".to_string()
    } else {
        format!("rule #{blocker} denies it")
    };
    let rule_number = free_rule_number(acl, leg.egress, blocker);
    findings.push(
        RuleId::NaclBlocks,
        Severity::Fail,
        vec![acl.id.clone(), subnet.id.clone()],
        format!(
            "Network ACL {} of subnet {} blocks {which}{}: {direction} {ports} {toward} {} — {by}; add an {direction} allow rule for {ports} {toward} {} numbered below {blocker} (e.g. {rule_number})",
            acl.id, subnet.id, flow.description(), leg.peer, leg.peer
        ),
        Fix::NaclEntry {
            acl_id: acl.id.clone(),
            egress: leg.egress,
            port_from: leg.ports.0,
            port_to: leg.ports.1,
            cidr: leg.peer.to_string(),
            rule_number,
        },
    );
}

/// A free rule number below `blocker` in that direction, as close under it as possible.
fn free_rule_number(acl: &NetworkAcl, egress: bool, blocker: i32) -> i32 {
    let used = |n: i32| {
        acl.entries
            .iter()
            .any(|e| e.egress == egress && e.rule_number == n)
    };
    let start = if blocker == DEFAULT_RULE {
        // Below the final rule: after the highest rule the ACL has.
        acl.entries
            .iter()
            .filter(|e| e.egress == egress && e.rule_number < DEFAULT_RULE)
            .map(|e| e.rule_number + 1)
            .max()
            .unwrap_or(100)
            .min(DEFAULT_RULE - 1)
    } else {
        blocker - 1
    };
    (1..=start).rev().find(|&n| !used(n)).unwrap_or(1)
}

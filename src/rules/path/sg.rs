//! One leg through security groups: stateful and allow-only, so one rule that admits the
//! peer is enough. A rule may name the peer's group, an address range, or a managed prefix
//! list (whose entries must have been read).

use ipnet::Ipv4Net;

use crate::index::Index;

use super::addresses::{matches, Match, Peer};

/// The other end, as a security group sees it.
#[derive(Debug, Clone, Copy)]
pub struct SgPeer<'p> {
    /// Groups the peer's network interfaces carry: a rule naming one admits it.
    pub groups: &'p [String],
    pub addresses: Peer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SgOutcome {
    Allow,
    Block,
    /// A rule admits part of the peer's possible addresses, none admits all.
    Unprovable,
    /// A group or prefix list that could decide it was not read: what is missing.
    Unknown(Vec<Missing>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    /// A group the leg crosses is not in the snapshot.
    Group(String),
    /// A prefix list a rule references was not read.
    PrefixList(String),
}

/// Whether `groups` (ids) let TCP `ports` in from (or, `egress`, out to) `peer`. A rule
/// naming one of the peer's groups admits it; otherwise the address ranges of every rule on
/// the port (prefix lists resolved) together must cover all the addresses the peer may use.
pub fn allows(
    index: &Index<'_>,
    groups: &[String],
    egress: bool,
    ports: (u16, u16),
    peer: SgPeer<'_>,
) -> SgOutcome {
    if groups.is_empty() {
        return SgOutcome::Block;
    }
    let mut missing = Vec::new();
    let mut ranges: Vec<Ipv4Net> = Vec::new();
    for id in groups {
        let Some(group) = index.security_groups.get(id.as_str()) else {
            missing.push(Missing::Group(id.clone()));
            continue;
        };
        let rules = if egress {
            &group.egress
        } else {
            &group.ingress
        };
        for rule in rules.iter().filter(|r| r.covers_tcp_range(ports)) {
            if rule.group_ids.iter().any(|g| peer.groups.contains(g)) {
                return SgOutcome::Allow;
            }
            ranges.extend(rule.ipv4_ranges.iter().copied());
            for list in &rule.prefix_list_ids {
                match index.prefix_lists.get(list.as_str()) {
                    Some(found) => ranges.extend(found.cidrs.iter().copied()),
                    None => missing.push(Missing::PrefixList(list.clone())),
                }
            }
        }
    }
    let wanted = match peer.addresses {
        Peer::Net(net) => net,
        Peer::Internet | Peer::Anywhere => Ipv4Net::default(),
    };
    if covers(&ranges, &wanted) {
        return SgOutcome::Allow;
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return SgOutcome::Unknown(missing);
    }
    if ranges
        .iter()
        .any(|r| matches(r, peer.addresses) != Match::None)
    {
        SgOutcome::Unprovable
    } else {
        SgOutcome::Block
    }
}

/// Whether the union of `ranges` holds every address of `net`.
fn covers(ranges: &[Ipv4Net], net: &Ipv4Net) -> bool {
    let (want_from, want_to) = (u32::from(net.network()), u32::from(net.broadcast()));
    let mut spans: Vec<(u32, u32)> = ranges
        .iter()
        .map(|r| (u32::from(r.network()), u32::from(r.broadcast())))
        .collect();
    spans.sort_unstable();
    let mut next = want_from;
    for (from, to) in spans {
        if from > next {
            break;
        }
        if to >= next {
            if to >= want_to {
                return true;
            }
            next = to + 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn ranges_cover_together() {
        let net = |t: &str| t.parse().unwrap();
        let halves = [net("10.0.0.0/25"), net("10.0.0.128/25")];
        assert!(covers(&halves, &net("10.0.0.0/24")));
        assert!(!covers(&halves[..1], &net("10.0.0.0/24")));
        assert!(covers(
            &[net("0.0.0.0/1"), net("128.0.0.0/1")],
            &net("0.0.0.0/0")
        ));
        assert!(!covers(
            &[net("10.0.0.0/24"), net("10.0.2.0/24")],
            &net("10.0.0.0/22")
        ));
        assert!(covers(&[net("10.0.0.0/16")], &net("10.0.1.0/24")));
    }
}

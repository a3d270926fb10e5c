//! One leg through a network ACL: stateless, entries in rule-number order, the first entry
//! that certainly matches decides; an entry that matches only part of the traffic before it
//! can make the outcome unprovable (RULES.md, "Path semantics").

use crate::model::{NaclEntry, Overlap};

use super::addresses::{matches, Match, Peer};

/// EC2's final `*` entry.
pub const DEFAULT_RULE: i32 = 32767;

/// Return traffic: NAT gateways and Lambda use ports 1024-65535, so all of them must pass
/// (https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html).
pub const EPHEMERAL: (u16, u16) = (1024, 65535);

/// What an ACL does to one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclOutcome {
    Allow,
    /// The entry that denies all or part of the leg's ports for all its addresses.
    Block {
        rule_number: i32,
    },
    /// Whether the leg passes depends on addresses esm-guard cannot know: `rule_number`
    /// matches part of the peer's addresses with the other action than `decided_by`.
    Unprovable {
        rule_number: i32,
        decided_by: i32,
    },
}

/// Walks `entries` (one direction, lowest rule number first) for TCP `ports` to or from
/// `peer`.
pub fn walk(entries: &[&NaclEntry], ports: (u16, u16), peer: Peer) -> AclOutcome {
    // The first entry, of each action, that matches part of the peer's addresses.
    let mut partial_allow: Option<i32> = None;
    let mut partial_deny: Option<i32> = None;
    for entry in entries {
        // IPv6 entries never match the IPv4 traffic of the path.
        let Some(cidr) = entry.cidr else { continue };
        let overlap = entry.tcp_overlap(ports.0, ports.1);
        if overlap == Overlap::None {
            continue;
        }
        let addresses = matches(&cidr, peer);
        match (entry.allow, addresses, overlap) {
            (_, Match::None, _) => {}
            (true, Match::Certain, Overlap::All) => {
                return match partial_deny {
                    Some(n) => AclOutcome::Unprovable {
                        rule_number: n,
                        decided_by: entry.rule_number,
                    },
                    None => AclOutcome::Allow,
                };
            }
            // Allows some of the ports for every address: the rest must pass later.
            (true, Match::Certain, _) => {}
            (true, Match::Partial, Overlap::All) => {
                partial_allow.get_or_insert(entry.rule_number);
            }
            // Allows some ports for some addresses: the other ports still need an allow.
            (true, Match::Partial, _) => {}
            // Denies some or all of the ports for every address.
            (false, Match::Certain, _) => {
                return match partial_allow {
                    Some(n) => AclOutcome::Unprovable {
                        rule_number: n,
                        decided_by: entry.rule_number,
                    },
                    None => AclOutcome::Block {
                        rule_number: entry.rule_number,
                    },
                };
            }
            (false, Match::Partial, _) => {
                partial_deny.get_or_insert(entry.rule_number);
            }
        }
    }
    match partial_allow {
        Some(n) => AclOutcome::Unprovable {
            rule_number: n,
            decided_by: DEFAULT_RULE,
        },
        None => AclOutcome::Block {
            rule_number: DEFAULT_RULE,
        },
    }
}

/// The range of rule numbers in which an allow entry for the leg opens it without
/// overriding any deny of traffic the path does not use: above every deny entry (before
/// the blocker) that touches the entry's range, below the blocker. `None` when no number
/// is free in between.
pub fn free_range(
    entries: &[&NaclEntry],
    ports: (u16, u16),
    peer: Peer,
    blocker: i32,
) -> (i32, i32) {
    let wanted = peer.cidr();
    let mut above = 0;
    for entry in entries {
        if entry.rule_number >= blocker {
            break;
        }
        let Some(cidr) = entry.cidr else { continue };
        if entry.allow || entry.tcp_overlap(ports.0, ports.1) == Overlap::None {
            continue;
        }
        // A deny that touches the new entry's traffic: the new entry must come after it.
        if cidr.contains(&wanted.network()) || wanted.contains(&cidr.network()) {
            above = above.max(entry.rule_number);
        }
    }
    (above, blocker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::nacl_entry;

    fn walk_on(entries: &[NaclEntry], ports: (u16, u16), peer: Peer) -> AclOutcome {
        let mut sorted: Vec<&NaclEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.rule_number);
        walk(&sorted, ports, peer)
    }

    fn net(text: &str) -> Peer {
        Peer::Net(text.parse().unwrap())
    }

    #[test]
    fn lowest_number_wins() {
        let entries = vec![
            nacl_entry(100, true, "-1", true, "0.0.0.0/0", None),
            nacl_entry(90, true, "6", false, "0.0.0.0/0", Some((443, 443))),
            nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
        ];
        assert_eq!(
            walk_on(&entries, (443, 443), Peer::Internet),
            AclOutcome::Block { rule_number: 90 }
        );
        assert_eq!(
            walk_on(&entries, (9098, 9098), net("10.0.1.0/24")),
            AclOutcome::Allow
        );
    }

    #[test]
    fn a_deny_of_a_documentation_range_never_touches_internet_traffic() {
        let entries = vec![
            nacl_entry(90, false, "-1", false, "198.51.100.0/24", None),
            nacl_entry(100, false, "-1", true, "0.0.0.0/0", None),
        ];
        assert_eq!(
            walk_on(&entries, EPHEMERAL, Peer::Internet),
            AclOutcome::Allow
        );
    }

    #[test]
    fn a_partial_public_range_makes_it_unprovable() {
        let deny_some = vec![
            nacl_entry(90, true, "6", false, "52.94.0.0/16", Some((443, 443))),
            nacl_entry(100, true, "-1", true, "0.0.0.0/0", None),
        ];
        assert_eq!(
            walk_on(&deny_some, (443, 443), Peer::Internet),
            AclOutcome::Unprovable {
                rule_number: 90,
                decided_by: 100
            }
        );
        let allow_some = vec![nacl_entry(
            100,
            true,
            "6",
            true,
            "52.94.0.0/16",
            Some((443, 443)),
        )];
        assert_eq!(
            walk_on(&allow_some, (443, 443), Peer::Internet),
            AclOutcome::Unprovable {
                rule_number: 100,
                decided_by: DEFAULT_RULE
            }
        );
    }

    #[test]
    fn part_of_the_ephemeral_ports_is_a_block() {
        let only_high = vec![
            nacl_entry(100, false, "6", true, "0.0.0.0/0", Some((32768, 65535))),
            nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        ];
        assert_eq!(
            walk_on(&only_high, EPHEMERAL, Peer::Internet),
            AclOutcome::Block { rule_number: 32767 }
        );
        let deny_low = vec![
            nacl_entry(90, false, "6", false, "0.0.0.0/0", Some((1024, 2047))),
            nacl_entry(100, false, "-1", true, "0.0.0.0/0", None),
        ];
        assert_eq!(
            walk_on(&deny_low, EPHEMERAL, net("10.0.1.0/24")),
            AclOutcome::Block { rule_number: 90 }
        );
    }

    #[test]
    fn the_new_entry_stays_above_unrelated_denies() {
        let entries = [
            nacl_entry(90, false, "-1", false, "198.51.100.0/24", None),
            nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        ];
        let mut sorted: Vec<&NaclEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.rule_number);
        assert_eq!(
            walk(&sorted, EPHEMERAL, Peer::Internet),
            AclOutcome::Block { rule_number: 32767 }
        );
        assert_eq!(
            free_range(&sorted, EPHEMERAL, Peer::Internet, 32767),
            (90, 32767)
        );
    }
}

//! Which addresses the other end of a connection may use, and whether a rule's range
//! certainly, partly or never matches them (RULES.md, "Path semantics").

use std::fmt;

use ipnet::Ipv4Net;

/// The other end of a leg, as a set of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A subnet (any of its addresses may be the one used: ENIs get an address at random)
    /// or a single host (`/32`).
    Net(Ipv4Net),
    /// AWS services' public addresses: unknown public addresses, never special-purpose space.
    Internet,
    /// A broker named by host name: it may resolve to any address at all.
    Anywhere,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Net(net) => net.fmt(f),
            Peer::Internet => f.write_str("the internet"),
            Peer::Anywhere => f.write_str("any address"),
        }
    }
}

impl Peer {
    /// The narrowest CIDR an ACL entry or rule needs to admit this peer.
    pub fn cidr(self) -> Ipv4Net {
        match self {
            Peer::Net(net) => net,
            Peer::Internet | Peer::Anywhere => Ipv4Net::default(),
        }
    }
}

/// How a rule's address range meets a peer's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    None,
    /// Some of the peer's addresses, or addresses the peer may or may not use.
    Partial,
    /// Every address the peer may use.
    Certain,
}

/// Special-purpose IPv4 space (IANA's special-purpose registry, RFC 6890 and successors):
/// AWS services' public addresses are never in it, so a rule naming only these ranges never
/// matches internet traffic.
const SPECIAL: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0A00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16 link local
    (0xAC10_0000, 12), // 172.16.0.0/12 private
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xC000_0200, 24), // 192.0.2.0/24 documentation (TEST-NET-1)
    (0xC0A8_0000, 16), // 192.168.0.0/16 private
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xC633_6400, 24), // 198.51.100.0/24 documentation (TEST-NET-2)
    (0xCB00_7100, 24), // 203.0.113.0/24 documentation (TEST-NET-3)
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, and the broadcast address
];

fn bounds(net: &Ipv4Net) -> (u32, u32) {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

/// Whether every address of `net` is special-purpose space.
pub fn special_only(net: &Ipv4Net) -> bool {
    let (mut from, to) = bounds(net);
    // The special ranges, in address order: walk them, covering `net` from its start.
    let mut ranges: Vec<(u32, u32)> = SPECIAL
        .iter()
        .map(|&(start, len)| {
            let size = if len == 0 {
                u32::MAX
            } else {
                (1u32 << (32 - len)) - 1
            };
            (start, start.saturating_add(size))
        })
        .collect();
    ranges.sort_unstable();
    for (start, end) in ranges {
        if start > from {
            continue;
        }
        if end >= from {
            if end >= to {
                return true;
            }
            from = end + 1;
        }
    }
    false
}

/// How `range` (of a rule or ACL entry) meets `peer`.
pub fn matches(range: &Ipv4Net, peer: Peer) -> Match {
    match peer {
        Peer::Net(net) => {
            if range.contains(&net) {
                Match::Certain
            } else if range.contains(&net.network()) || net.contains(&range.network()) {
                Match::Partial
            } else {
                Match::None
            }
        }
        Peer::Internet => {
            if range.prefix_len() == 0 {
                Match::Certain
            } else if special_only(range) {
                Match::None
            } else {
                Match::Partial
            }
        }
        Peer::Anywhere => {
            if range.prefix_len() == 0 {
                Match::Certain
            } else {
                Match::Partial
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Net {
        text.parse().unwrap()
    }

    #[test]
    fn special_purpose_space() {
        for special in [
            "10.0.0.0/8",
            "10.1.2.0/24",
            "172.16.0.0/12",
            "192.168.1.1/32",
            "198.51.100.0/24",
            "203.0.113.7/32",
            "192.0.2.0/24",
            "100.64.0.0/10",
            "169.254.169.254/32",
            "127.0.0.0/8",
            "224.0.0.0/3",
            "198.18.0.0/15",
        ] {
            assert!(special_only(&net(special)), "{special}");
        }
        for public in [
            "0.0.0.0/0",
            "52.0.0.0/8",
            "198.51.0.0/16",
            "8.8.8.8/32",
            "128.0.0.0/1",
            "10.0.0.0/7",
            "172.32.0.0/16",
        ] {
            assert!(!special_only(&net(public)), "{public}");
        }
    }

    #[test]
    fn the_internet_is_a_set_of_unknown_public_addresses() {
        assert_eq!(matches(&net("0.0.0.0/0"), Peer::Internet), Match::Certain);
        assert_eq!(
            matches(&net("198.51.100.0/24"), Peer::Internet),
            Match::None
        );
        assert_eq!(matches(&net("10.0.0.0/8"), Peer::Internet), Match::None);
        assert_eq!(
            matches(&net("52.94.0.0/16"), Peer::Internet),
            Match::Partial
        );
        assert_eq!(matches(&net("0.0.0.0/1"), Peer::Internet), Match::Partial);
        assert_eq!(matches(&net("10.0.0.0/8"), Peer::Anywhere), Match::Partial);
    }

    #[test]
    fn subnets_and_hosts() {
        let subnet = Peer::Net(net("10.0.1.0/24"));
        assert_eq!(matches(&net("10.0.0.0/16"), subnet), Match::Certain);
        assert_eq!(matches(&net("10.0.1.0/24"), subnet), Match::Certain);
        assert_eq!(matches(&net("10.0.1.128/25"), subnet), Match::Partial);
        assert_eq!(matches(&net("10.0.2.0/24"), subnet), Match::None);
        let host = Peer::Net(net("10.0.9.10/32"));
        assert_eq!(matches(&net("10.0.9.0/24"), host), Match::Certain);
        assert_eq!(matches(&net("10.0.8.0/24"), host), Match::None);
    }
}

//! Security-group reasoning: does a set of groups let TCP on a port through to a peer?

use ipnet::Ipv4Net;

use crate::model::SecurityGroup;

/// The other side of a connection, as a security group sees it.
pub(crate) struct Peer<'p> {
    /// Groups the peer's network interfaces carry: a rule referencing one admits it.
    pub groups: &'p [String],
    /// Address ranges the peer may use: each must lie wholly inside an allowed CIDR.
    pub cidrs: Vec<Ipv4Net>,
    /// The peer's addresses are unknown (a broker named by host name): any rule on the
    /// port counts, since nothing better can be proven.
    pub unknown_address: bool,
}

/// Whether `groups` let TCP `port` in from (or, `egress`, out to) `peer`.
pub(crate) fn admits<'g>(
    groups: impl IntoIterator<Item = &'g SecurityGroup>,
    egress: bool,
    port: u16,
    peer: &Peer<'_>,
) -> bool {
    let rules: Vec<_> = groups
        .into_iter()
        .flat_map(|g| if egress { &g.egress } else { &g.ingress })
        .filter(|r| r.covers_tcp(port))
        .collect();
    if rules
        .iter()
        .any(|r| r.group_ids.iter().any(|g| peer.groups.contains(g)))
    {
        return true;
    }
    if peer.unknown_address && !rules.is_empty() {
        return true;
    }
    !peer.cidrs.is_empty()
        && peer.cidrs.iter().all(|cidr| {
            rules
                .iter()
                .any(|r| r.ipv4_ranges.iter().any(|range| range.contains(cidr)))
        })
}

/// `0.0.0.0/0`.
pub(crate) fn anywhere() -> Ipv4Net {
    Ipv4Net::default()
}

use std::collections::BTreeMap;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
    pub tags: BTreeMap<String, String>,
}

/// One permission of a security group (an `IpPermission`), in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SgRule {
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` for all traffic.
    pub protocol: String,
    /// Absent for `-1`; both bounds inclusive.
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub ipv4_ranges: Vec<Ipv4Net>,
    pub ipv6_ranges: Vec<Ipv6Net>,
    /// Referenced security groups (the peer carries one of them).
    pub group_ids: Vec<String>,
    pub prefix_list_ids: Vec<String>,
}

impl SgRule {
    /// Whether this rule's protocol and ports cover every TCP port of `from..=to`.
    pub fn covers_tcp_range(&self, (from, to): (u16, u16)) -> bool {
        match self.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => {
                let low = self.from_port.unwrap_or(0);
                let high = self.to_port.unwrap_or(65535);
                (low == -1 && high == -1) || (low <= i32::from(from) && i32::from(to) <= high)
            }
            _ => false,
        }
    }

    /// Whether this rule's protocol and ports cover TCP `port`.
    pub fn covers_tcp(&self, port: u16) -> bool {
        match self.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => {
                let from = self.from_port.unwrap_or(0);
                let to = self.to_port.unwrap_or(65535);
                // EC2 reports `-1` ports for "all ports" on some rules.
                (from == -1 && to == -1) || (from <= i32::from(port) && i32::from(port) <= to)
            }
            _ => false,
        }
    }
}

/// A managed prefix list's entries, read only where a security-group rule that matters
/// references it (`ec2:GetManagedPrefixListEntries`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PrefixList {
    pub id: String,
    pub cidrs: Vec<Ipv4Net>,
    #[serde(default)]
    pub ipv6_cidrs: Vec<Ipv6Net>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    /// The VPC's default ACL: it serves every subnet without another association.
    pub is_default: bool,
    pub subnet_ids: Vec<String>,
    pub entries: Vec<NaclEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclEntry {
    pub rule_number: i32,
    /// true: outbound; false: inbound.
    pub egress: bool,
    /// `-1` (all), `6` (tcp), `17` (udp), ...
    pub protocol: String,
    pub allow: bool,
    pub cidr: Option<Ipv4Net>,
    #[serde(default)]
    pub ipv6_cidr: Option<Ipv6Net>,
    /// Inclusive port range; absent means all ports.
    #[serde(default)]
    pub port_from: Option<i32>,
    #[serde(default)]
    pub port_to: Option<i32>,
}

impl NaclEntry {
    /// Whether this entry's protocol and ports cover all of TCP `from..=to`.
    pub fn covers_tcp(&self, from: u16, to: u16) -> bool {
        self.tcp_overlap(from, to) == Overlap::All
    }

    pub fn tcp_overlap(&self, from: u16, to: u16) -> Overlap {
        match self.protocol.as_str() {
            "-1" | "all" => Overlap::All,
            "6" | "tcp" => {
                let (lo, hi) = (self.port_from.unwrap_or(0), self.port_to.unwrap_or(65535));
                let (from, to) = (i32::from(from), i32::from(to));
                if lo <= from && to <= hi {
                    Overlap::All
                } else if lo <= to && from <= hi {
                    Overlap::Some
                } else {
                    Overlap::None
                }
            }
            _ => Overlap::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    None,
    Some,
    All,
}

use std::collections::BTreeMap;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Vpc {
    pub id: String,
    pub cidr_blocks: Vec<Ipv4Net>,
    /// `enableDnsSupport`; `None` when not read.
    pub dns_support: Option<bool>,
    /// `enableDnsHostnames`; `None` when not read.
    pub dns_hostnames: Option<bool>,
    /// `None` when not read (`ec2:DescribeVpcs` is read only for remediation): an opt-out
    /// tag that cannot be read stops every change in the VPC.
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub cidr: Ipv4Net,
    #[serde(default)]
    pub ipv6_cidrs: Vec<Ipv6Net>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    /// The VPC's main route table: it serves every subnet without an explicit association.
    pub main: bool,
    /// Subnets explicitly associated with this table.
    pub subnet_ids: Vec<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// IPv4 destination; routes to IPv6 or prefix-list destinations keep their text here.
    pub destination: String,
    pub target: RouteTarget,
    /// `active` or `blackhole`.
    #[serde(default = "active")]
    pub state: String,
}

fn active() -> String {
    "active".to_string()
}

impl Route {
    pub fn is_blackhole(&self) -> bool {
        self.state == "blackhole"
    }
}

/// Where a route sends traffic. Every target kind EC2 reports has a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum RouteTarget {
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
    NatGateway(String),
    TransitGateway(String),
    VpcPeering(String),
    VirtualPrivateGateway(String),
    NetworkInterface(String),
    Instance(String),
    LocalGateway(String),
    CarrierGateway(String),
    CoreNetwork(String),
    GatewayEndpoint(String),
    Unknown(String),
}

impl RouteTarget {
    /// The target's resource id, as the console and CLI show it.
    pub fn id(&self) -> &str {
        match self {
            RouteTarget::Local => "local",
            RouteTarget::InternetGateway(id)
            | RouteTarget::EgressOnlyInternetGateway(id)
            | RouteTarget::NatGateway(id)
            | RouteTarget::TransitGateway(id)
            | RouteTarget::VpcPeering(id)
            | RouteTarget::VirtualPrivateGateway(id)
            | RouteTarget::NetworkInterface(id)
            | RouteTarget::Instance(id)
            | RouteTarget::LocalGateway(id)
            | RouteTarget::CarrierGateway(id)
            | RouteTarget::CoreNetwork(id)
            | RouteTarget::GatewayEndpoint(id)
            | RouteTarget::Unknown(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InternetGateway {
    pub id: String,
    pub vpc_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NatGateway {
    pub id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// `pending`, `available`, `failed`, `deleting`, `deleted`.
    pub state: String,
    /// `public` or `private`.
    pub connectivity_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VpcEndpoint {
    pub id: String,
    pub vpc_id: String,
    /// e.g. `com.amazonaws.us-east-1.lambda`.
    pub service_name: String,
    /// `Interface`, `Gateway` or `GatewayLoadBalancer`.
    pub endpoint_type: String,
    /// `available`, `pending`, `pendingAcceptance`, `rejected`, `failed`, `deleting`, ...
    pub state: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub route_table_ids: Vec<String>,
    pub private_dns_enabled: bool,
    /// The policy document as AWS returns it (JSON text). AWS returns one for every
    /// endpoint whose service takes a policy (the full-access default when none was set),
    /// so `None` means it is not known: a policy check that needs it is `insufficient-data`.
    pub policy_document: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// What an endpoint's state means for a path (RULES.md, "Endpoint states").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointLife {
    /// `available`: it serves.
    Serving,
    /// `pending`, `pendingAcceptance`: it serves within minutes, or is stuck.
    Pending,
    /// `partial`: it serves in some of its subnets only, and EC2 does not say which.
    Partial,
    /// `deleting`, `deleted`, `rejected`, `failed`, `expired`: it does not exist for the
    /// path (it captures no name).
    Gone,
    /// A state EC2 did not document when this was written.
    Other,
}

impl VpcEndpoint {
    pub fn is_interface(&self) -> bool {
        self.endpoint_type.eq_ignore_ascii_case("interface")
    }

    pub fn is_gateway(&self) -> bool {
        self.endpoint_type.eq_ignore_ascii_case("gateway")
    }

    /// The short service name (`lambda`, `sts`, ...) of `com.amazonaws.REGION.SERVICE`.
    pub fn short_service(&self) -> &str {
        self.service_name.rsplit('.').next().unwrap_or_default()
    }

    /// States compared without case: EC2's API reference spells them `Available`, its
    /// answers `available`.
    pub fn life(&self) -> EndpointLife {
        match self.state.to_ascii_lowercase().as_str() {
            "available" => EndpointLife::Serving,
            "pending" | "pendingacceptance" => EndpointLife::Pending,
            "partial" => EndpointLife::Partial,
            "deleting" | "deleted" | "rejected" | "failed" | "expired" => EndpointLife::Gone,
            _ => EndpointLife::Other,
        }
    }
}

//! The facts esm-guard reads: plain data, serde round-trippable, no AWS SDK types.
//!
//! A `Snapshot` is everything the rules need about one region. The collector fills it from
//! AWS; `esm-guard snapshot` saves it; `--snapshot FILE` and the tests read it back.

mod broker;
mod cluster;
mod esm;
mod network;
mod partition;
mod security;

pub use broker::*;
pub use cluster::*;
pub use esm::*;
pub use network::*;
pub use partition::*;
pub use security::*;

use serde::{Deserialize, Serialize};

/// The schema tag written into every saved snapshot.
pub const SNAPSHOT_SCHEMA: &str = "esm-guard/snapshot/v1";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub schema: String,
    pub region: String,
    pub mappings: Vec<EventSourceMapping>,
    pub clusters: Vec<MskCluster>,
    pub vpc_connections: Vec<VpcConnection>,
    pub mq_brokers: Vec<MqBroker>,
    pub docdb_clusters: Vec<DocDbCluster>,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub route_tables: Vec<RouteTable>,
    pub internet_gateways: Vec<InternetGateway>,
    pub nat_gateways: Vec<NatGateway>,
    pub vpc_endpoints: Vec<VpcEndpoint>,
    pub security_groups: Vec<SecurityGroup>,
    pub network_acls: Vec<NetworkAcl>,
    /// The managed prefix lists that relevant security-group rules reference.
    pub prefix_lists: Vec<PrefixList>,
    /// Facts that could not be read. Each one turns into an `insufficient-data` finding on
    /// the mappings it touches, so a mapping is never judged on half the facts.
    pub gaps: Vec<DataGap>,
    /// Mappings whose tags could not be read: their opt-out cannot be checked, so
    /// remediation leaves them alone. (Tags do not change a verdict, so this is no gap.)
    pub unreadable_tags: Vec<String>,
}

impl Snapshot {
    pub fn new(region: impl Into<String>) -> Self {
        Snapshot {
            schema: SNAPSHOT_SCHEMA.to_string(),
            region: region.into(),
            ..Snapshot::default()
        }
    }
}

/// A fact that could not be read, and which mappings it leaves undecided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataGap {
    /// The API call that failed, e.g. `ec2:DescribeRouteTables`.
    pub api_call: String,
    /// The IAM action to grant, e.g. `ec2:DescribeRouteTables`.
    pub iam_action: String,
    /// The error code and message the call returned.
    pub error: String,
    pub scope: GapScope,
    /// Why it could not be read, which decides the advice (snapshots written before this
    /// field held access-denied gaps only).
    #[serde(default)]
    pub cause: GapCause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapCause {
    /// esm-guard's role lacks the IAM action.
    #[default]
    Denied,
    /// Throttled past the SDK's retries.
    Throttled,
    /// A server error or a failed connection, past the SDK's retries.
    Unavailable,
    /// The run's deadline (the function's remaining time) came first.
    Deadline,
    /// The answer was incomplete: cut off, or without a field AWS always sends (a list, a
    /// subnet's network ACL, a mapping's security group). Transient, like `Unavailable`.
    Incomplete,
}

impl GapCause {
    /// Whether the next run is likely to read it (no permission is missing).
    pub fn is_transient(self) -> bool {
        !matches!(self, GapCause::Denied)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum GapScope {
    /// Every mapping in the snapshot.
    All,
    /// The mappings whose network lies in this VPC.
    Vpc(String),
    /// The mappings on this event source (an MSK cluster or VPC connection, an MQ broker, a
    /// DocumentDB cluster, by ARN).
    Cluster(String),
    /// One mapping, by UUID.
    Mapping(String),
    /// The mappings of this function (by ARN).
    Function(String),
    /// The security-group rules that reference this managed prefix list: only the checks
    /// that depend on it are undecided.
    PrefixList(String),
}

//! The rules of `RULES.md`: pure functions from a snapshot to findings and verdicts.
//!
//! One file per rule family; each is a plain function over the facts of one mapping.
//! No async, no clock, no environment, no AWS types: the same snapshot always gives the
//! same, sorted report.

mod brokers;
mod endpoints;
mod explain;
mod ids;
mod nacl;
mod network;
mod service_path;
mod sg;

pub use brokers::host_ipv4;
pub use explain::{explain, Explanation};
pub use ids::{RuleId, Severity, Verdict};
pub use network::{broker_port_of, MappingNetwork, NetworkSummary};
pub use service_path::{required_services, Service};

use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::model::{EventSourceMapping, GapCause, GapScope, ScalingMode, Snapshot};
use network::Derived;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    pub resources: Vec<String>,
    pub message: String,
    /// What would fix it, in terms the planner turns into actions or manual steps.
    #[serde(skip)]
    pub fix: Fix,
}

/// The change that clears a finding, as facts; `plan` decides whether it is automated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Fix {
    #[default]
    None,
    /// Allow TCP `port` on `group_id` from (or, egress, to) itself.
    SelfReference {
        group_id: String,
        port: u16,
        egress: bool,
    },
    /// Self-managed brokers sit outside any known group: egress on `port` to their addresses.
    BrokerEgressCidr {
        group_id: String,
        port: u16,
        hosts: Vec<String>,
    },
    /// Allow TCP 443 on the endpoint's group from the mapping's group.
    EndpointIngress {
        endpoint_id: String,
        endpoint_group: String,
        esm_group: String,
    },
    /// Allow TCP 443 out of the mapping's group to the endpoint's group.
    EndpointEgress {
        esm_group: String,
        endpoint_id: String,
        endpoint_group: String,
    },
    /// Allow TCP 443 out of the mapping's group to anywhere (the NAT path).
    EgressAnywhere {
        esm_group: String,
    },
    /// Create an interface endpoint for `service` (`lambda`, `sts`, ...).
    CreateEndpoint {
        vpc_id: String,
        service: String,
        subnet_ids: Vec<String>,
        security_group_id: String,
        /// `None` when it cannot be written (the execution role is unknown).
        policy: Option<String>,
        /// An endpoint for the service exists with private DNS off: switch it on instead.
        private_dns_off: Option<String>,
        /// The mapping sits in private subnets: a NAT gateway is the other way.
        nat_possible: bool,
    },
    EnablePrivateDns {
        endpoint_id: String,
    },
    /// A NAT path problem on `route_table_id` for `subnet_id`.
    Nat {
        subnet_id: String,
        availability_zone: String,
        route_table_id: String,
        nat_id: Option<String>,
    },
    EnableVpcDns {
        vpc_id: String,
        support: bool,
        hostnames: bool,
    },
    EndpointSubnets {
        endpoint_id: String,
        subnet_ids: Vec<String>,
    },
    EndpointPolicy {
        endpoint_id: String,
        policy: String,
    },
    NaclEntry {
        acl_id: String,
        egress: bool,
        port_from: u16,
        port_to: u16,
        cidr: String,
        rule_number: i32,
    },
    GrantIam {
        action: String,
    },
    ReviewMapping {
        uuid: String,
    },
    EndpointState {
        endpoint_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceSummary {
    Msk { cluster_arn: String },
    SelfManaged { bootstrap_servers: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingReport {
    pub uuid: String,
    pub arn: Option<String>,
    pub function_arn: String,
    pub source: SourceSummary,
    pub mode: ScalingMode,
    pub network: Option<NetworkSummary>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub region: String,
    pub mappings: Vec<MappingReport>,
    pub summary: Summary,
}

impl Report {
    pub fn mapping(&self, uuid: &str) -> Option<&MappingReport> {
        self.mappings.iter().find(|m| m.uuid == uuid)
    }
}

/// Judges every mapping of the snapshot.
pub fn evaluate(snapshot: &Snapshot) -> Report {
    evaluate_where(&Index::new(snapshot), |_| true)
}

/// Judges the mappings `wanted` selects (the summary counts only those).
pub(crate) fn evaluate_where(
    index: &Index<'_>,
    wanted: impl Fn(&EventSourceMapping) -> bool,
) -> Report {
    let mut mappings: Vec<MappingReport> = index
        .snapshot
        .mappings
        .iter()
        .filter(|esm| wanted(esm))
        .map(|esm| evaluate_mapping(index, esm))
        .collect();
    mappings.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    let mut summary = Summary::default();
    for m in &mappings {
        match m.verdict {
            Verdict::Pass => summary.pass += 1,
            Verdict::Warn => summary.warn += 1,
            Verdict::Fail => summary.fail += 1,
            Verdict::Unknown => summary.unknown += 1,
        }
    }
    Report {
        region: index.snapshot.region.clone(),
        mappings,
        summary,
    }
}

/// The facts a rule family reads for one mapping.
pub(crate) struct Ctx<'i, 'a> {
    pub index: &'i Index<'a>,
    pub esm: &'a EventSourceMapping,
    pub net: &'i MappingNetwork,
}

/// Collects findings, merging repeats of the same rule on the same resources.
#[derive(Default)]
pub(crate) struct Findings(Vec<Finding>);

impl Findings {
    pub fn push(
        &mut self,
        rule: RuleId,
        severity: Severity,
        resources: Vec<String>,
        message: String,
        fix: Fix,
    ) {
        let mut resources = resources;
        resources.sort();
        resources.dedup();
        if self
            .0
            .iter()
            .any(|f| f.rule == rule && f.resources == resources && f.message == message)
        {
            return;
        }
        self.0.push(Finding {
            rule,
            severity,
            resources,
            message,
            fix,
        });
    }

    fn into_sorted(mut self) -> Vec<Finding> {
        self.0.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.rule.cmp(&b.rule))
                .then(a.resources.cmp(&b.resources))
                .then(a.message.cmp(&b.message))
        });
        self.0
    }
}

fn evaluate_mapping(index: &Index<'_>, esm: &EventSourceMapping) -> MappingReport {
    let mut findings = Findings::default();
    if let Some(problem) = esm
        .last_processing_result
        .as_deref()
        .filter(|r| r.trim_start().starts_with("PROBLEM:"))
    {
        findings.push(
            RuleId::EsmReportedProblem,
            Severity::Fail,
            vec![esm.uuid.clone()],
            format!(
                "Lambda reports for mapping {}: \"{}\"",
                esm.uuid,
                problem.trim()
            ),
            Fix::ReviewMapping {
                uuid: esm.uuid.clone(),
            },
        );
    }

    let derived = network::derive(index, esm);
    let vpc_id = match &derived {
        Derived::Vpc(net) => Some(net.vpc_id.as_str()),
        _ => None,
    };
    let gaps: Vec<_> = index
        .snapshot
        .gaps
        .iter()
        .filter(|gap| match &gap.scope {
            GapScope::All => true,
            GapScope::Vpc(id) => Some(id.as_str()) == vpc_id,
            GapScope::Cluster(arn) => esm.cluster_arn() == Some(arn.as_str()),
            GapScope::Mapping(uuid) => *uuid == esm.uuid,
            GapScope::Function(arn) => *arn == esm.function_arn,
        })
        .collect();
    for gap in &gaps {
        let (advice, fix) = match gap.cause {
            GapCause::Denied => (
                format!(
                    "grant the IAM action {} to the role esm-guard runs as",
                    gap.iam_action
                ),
                Fix::GrantIam {
                    action: gap.iam_action.clone(),
                },
            ),
            GapCause::Throttled => (
                "it was throttled past the retries; the next run (or the schedule) reads it again"
                    .to_string(),
                Fix::None,
            ),
            GapCause::Unavailable => (
                "AWS or the connection failed past the retries; the next run (or the schedule) reads it again"
                    .to_string(),
                Fix::None,
            ),
            GapCause::Deadline => (
                "the run ran out of time; raise the function's timeout if this repeats".to_string(),
                Fix::None,
            ),
        };
        findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            vec![gap.api_call.clone()],
            format!(
                "{} failed ({}), so this mapping cannot be judged; {advice}",
                gap.api_call, gap.error
            ),
            fix,
        );
    }

    let network = match &derived {
        Derived::Vpc(net) => Some(net.summary()),
        Derived::Internet { broker_ports } => Some(NetworkSummary {
            vpc_id: None,
            subnet_ids: vec![],
            security_group_ids: vec![],
            broker_ports: broker_ports.clone(),
        }),
        _ => None,
    };
    match &derived {
        Derived::ClusterMissing(arn) if gaps.is_empty() => findings.push(
            RuleId::ClusterNotFound,
            Severity::Fail,
            vec![arn.clone()],
            format!(
                "The mapping reads from MSK cluster {arn}, which does not exist in {}: point the mapping at an existing cluster or delete it",
                index.snapshot.region
            ),
            Fix::ReviewMapping { uuid: esm.uuid.clone() },
        ),
        Derived::Undetermined(why) if gaps.is_empty() => findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            vec![esm.uuid.clone()],
            why.clone(),
            Fix::None,
        ),
        // With facts missing, the network rules would judge half a picture: skip them.
        Derived::Vpc(net) if gaps.is_empty() => {
            let ctx = Ctx { index, esm, net };
            brokers::check(&ctx, &mut findings);
            let paths = if esm.mode() == ScalingMode::OnDemand {
                service_path::check(&ctx, &mut findings)
            } else {
                Vec::new()
            };
            nacl::check(&ctx, &paths, &mut findings);
        }
        _ => {}
    }

    let findings = findings.into_sorted();
    MappingReport {
        uuid: esm.uuid.clone(),
        arn: esm.arn.clone(),
        function_arn: esm.function_arn.clone(),
        source: match &esm.source {
            crate::model::EventSource::Msk { cluster_arn } => SourceSummary::Msk {
                cluster_arn: cluster_arn.clone(),
            },
            crate::model::EventSource::SelfManaged { bootstrap_servers } => {
                SourceSummary::SelfManaged {
                    bootstrap_servers: bootstrap_servers.clone(),
                }
            }
        },
        mode: esm.mode(),
        network,
        verdict: Verdict::from_severities(findings.iter().map(|f| f.severity)),
        findings,
    }
}

//! The rules of `RULES.md`: pure functions from a snapshot to findings and verdicts.
//!
//! One file per rule family; each is a plain function over the facts of one mapping.
//! No async, no clock, no environment, no AWS types: the same snapshot always gives the
//! same, sorted report.

mod brokers;
mod endpoints;
mod explain;
mod finding;
mod flow;
mod gaps;
mod https_egress;
mod ids;
mod nacl;
mod network;
pub mod path;
pub mod reported;
mod service_path;
pub mod services;
mod sources;

pub use brokers::host_ipv4;
pub use endpoints::role_decides;
pub use explain::{explain, Explanation};
pub use finding::{Finding, Fix, DETAILS_MAX};
pub use ids::{RuleId, Severity, Verdict};
pub use network::{broker_port_of, configured_network, MappingNetwork, NetworkSummary};
pub use services::{required_services, Service};

use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::model::{EventSourceMapping, ScalingMode, Snapshot, Subnet};
use finding::Findings;
use network::Derived;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceSummary {
    Msk {
        cluster_arn: String,
    },
    /// A cluster reached through an MSK VPC connection (cross-account or multi-VPC).
    MskVpcConnection {
        connection_arn: String,
    },
    SelfManaged {
        bootstrap_servers: Vec<String>,
    },
    Mq {
        broker_arn: String,
    },
    DocumentDb {
        cluster_arn: String,
    },
}

impl SourceSummary {
    /// The event source's ARN; `None` for self-managed Kafka.
    pub fn arn(&self) -> Option<&str> {
        match self {
            SourceSummary::Msk { cluster_arn } | SourceSummary::DocumentDb { cluster_arn } => {
                Some(cluster_arn)
            }
            SourceSummary::MskVpcConnection { connection_arn } => Some(connection_arn),
            SourceSummary::Mq { broker_arn } => Some(broker_arn),
            SourceSummary::SelfManaged { .. } => None,
        }
    }

    /// What the mapping reads from, for a person: `MSK cluster NAME`, `MSK VPC connection
    /// ARN`, `self-managed Kafka host:port, ...`. `short` names a cluster by its name only.
    pub fn text(&self, short: bool) -> String {
        match self {
            SourceSummary::Msk { cluster_arn } if short => {
                // arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID
                format!(
                    "MSK {}",
                    cluster_arn.split('/').nth(1).unwrap_or(cluster_arn)
                )
            }
            SourceSummary::Msk { cluster_arn } => format!("MSK cluster {cluster_arn}"),
            SourceSummary::MskVpcConnection { connection_arn } => {
                format!("MSK VPC connection {connection_arn}")
            }
            SourceSummary::SelfManaged { bootstrap_servers } => {
                format!("self-managed Kafka {}", bootstrap_servers.join(", "))
            }
            // arn:aws:mq:REGION:ACCOUNT:broker:NAME:ID
            SourceSummary::Mq { broker_arn } if short => {
                format!("MQ {}", broker_arn.split(':').nth(6).unwrap_or(broker_arn))
            }
            SourceSummary::Mq { broker_arn } => format!("Amazon MQ broker {broker_arn}"),
            // arn:aws:rds:REGION:ACCOUNT:cluster:NAME
            SourceSummary::DocumentDb { cluster_arn } if short => format!(
                "DocumentDB {}",
                cluster_arn.split(':').nth(6).unwrap_or(cluster_arn)
            ),
            SourceSummary::DocumentDb { cluster_arn } => {
                format!("DocumentDB cluster {cluster_arn}")
            }
        }
    }
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
    /// Lambda's own report of a problem (`LastProcessingResult`), classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_report: Option<reported::LambdaReport>,
    /// The account it lives in, when one run reads several (a hub, `--accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account's name, when Organizations told the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
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
    /// One row per account and region, when one run reads several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSummary>,
}

/// What one account and region of a multi-account run gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub account: String,
    pub region: String,
    pub summary: Summary,
    /// Why it could not be read (its role could not be assumed, a listing failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Summary {
    /// Moves one mapping from verdict `from` to `to`.
    pub fn recount(&mut self, from: Verdict, to: Verdict) {
        let from = self.count_mut(from);
        *from = from.saturating_sub(1);
        *self.count_mut(to) += 1;
    }

    fn count_mut(&mut self, verdict: Verdict) -> &mut usize {
        match verdict {
            Verdict::Pass => &mut self.pass,
            Verdict::Warn => &mut self.warn,
            Verdict::Fail => &mut self.fail,
            Verdict::Unknown => &mut self.unknown,
        }
    }

    /// The count of each verdict among `mappings`.
    pub fn of(mappings: &[MappingReport]) -> Summary {
        let mut summary = Summary::default();
        for m in mappings {
            match m.verdict {
                Verdict::Pass => summary.pass += 1,
                Verdict::Warn => summary.warn += 1,
                Verdict::Fail => summary.fail += 1,
                Verdict::Unknown => summary.unknown += 1,
            }
        }
        summary
    }
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
    let summary = Summary::of(&mappings);
    Report {
        region: index.snapshot.region.clone(),
        mappings,
        summary,
        targets: Vec::new(),
    }
}

/// The facts a rule family reads for one mapping.
pub(crate) struct Ctx<'i, 'a> {
    pub index: &'i Index<'a>,
    pub esm: &'a EventSourceMapping,
    pub net: &'i MappingNetwork,
    /// The mapping's subnets, as the snapshot holds them.
    pub subnets: Vec<&'a Subnet>,
    pub region: &'a str,
}

fn evaluate_mapping(index: &Index<'_>, esm: &EventSourceMapping) -> MappingReport {
    let mut findings = Findings::default();
    let lambda_report = reported::check(esm, &mut findings);
    let derived = network::derive(index, esm);
    let gaps = gaps::check(index, esm, &derived, &mut findings);

    let network = match &derived {
        Derived::Vpc(net) => Some(net.summary()),
        Derived::Internet { broker_ports, .. } => {
            let (broker_ports, broker_port_ranges) = network::port_summary(broker_ports);
            Some(NetworkSummary {
                vpc_id: None,
                subnet_ids: vec![],
                security_group_ids: vec![],
                broker_ports,
                broker_port_ranges,
            })
        }
        _ => None,
    };
    match &derived {
        // With facts missing, the network rules would judge half a picture: skip them.
        _ if gaps > 0 => {}
        Derived::ClusterMissing(arn) => sources::check_missing(index, esm, arn, &mut findings),
        Derived::Vpc(net) => {
            let ctx = Ctx {
                index,
                esm,
                net,
                subnets: net
                    .subnet_ids
                    .iter()
                    .filter_map(|id| index.subnets.get(id.as_str()).copied())
                    .collect(),
                region: &index.snapshot.region,
            };
            brokers::check(&ctx, &mut findings);
            match esm.mode() {
                ScalingMode::OnDemand => service_path::check(&ctx, &mut findings),
                ScalingMode::Provisioned => service_path::destination(&ctx, &mut findings),
            }
        }
        _ => {}
    }

    let findings = findings.into_sorted();
    let mut report = MappingReport {
        uuid: esm.uuid.clone(),
        arn: esm.arn.clone(),
        function_arn: esm.function_arn.clone(),
        source: match &esm.source {
            crate::model::EventSource::Msk { cluster_arn } => SourceSummary::Msk {
                cluster_arn: cluster_arn.clone(),
            },
            crate::model::EventSource::MskVpcConnection { connection_arn } => {
                SourceSummary::MskVpcConnection {
                    connection_arn: connection_arn.clone(),
                }
            }
            crate::model::EventSource::SelfManaged { bootstrap_servers } => {
                SourceSummary::SelfManaged {
                    bootstrap_servers: bootstrap_servers.clone(),
                }
            }
            crate::model::EventSource::Mq { broker_arn } => SourceSummary::Mq {
                broker_arn: broker_arn.clone(),
            },
            crate::model::EventSource::DocumentDb { cluster_arn } => SourceSummary::DocumentDb {
                cluster_arn: cluster_arn.clone(),
            },
        },
        mode: esm.mode(),
        network,
        verdict: Verdict::from_severities(findings.iter().map(|f| f.severity)),
        findings,
        lambda_report,
        account: None,
        account_name: None,
    };
    // Lambda's report says something else once the rest is known to be fine.
    reported::reassess(&mut report, None);
    report
}

//! Reads the facts of a region into a `Snapshot`, in few calls, failing closed.
//!
//! Batched and scoped: one call per resource type per page, filtered by the VPCs in scope,
//! never one call per mapping. A call that is denied, throttled, failing or answered
//! incompletely becomes a `DataGap` on the mappings it touches: what could not be read is
//! unknown, never assumed. A request AWS calls invalid ends the run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{classify, ErrorClass};
use super::from_ec2::Incomplete;
use super::{from_ec2, from_kafka, from_lambda, Clients};
use crate::index::Index;
use crate::model::*;
use crate::rules::{configured_network, required_services, role_decides};

/// Which mappings to audit. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Mapping UUIDs or ARNs.
    pub mappings: Vec<String>,
    /// Only mappings whose network lies in these VPCs.
    pub vpcs: Vec<String>,
    /// Only mappings reading from these event sources: ARNs, or ARN patterns (`*`, `?`).
    pub sources: Vec<String>,
    /// Only mappings of these functions (names or ARNs).
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    pub scope: Scope,
    /// Read execution roles, VPC DNS attributes and tags even where no rule needs them:
    /// planning new endpoints (remediation) writes policies naming the role, and the
    /// opt-out tags must be read before anything changes.
    pub for_remediation: bool,
    /// Start no call after this instant, and cut a call (retries included) short at it:
    /// what is left unread becomes `insufficient-data`. The Lambda sets it from its
    /// invocation deadline; the CLI from its operation timeout.
    pub deadline: Option<tokio::time::Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{call} failed: {message}")]
    Call { call: &'static str, message: String },
    #[error("event source mapping {0} was not found in this region")]
    MappingNotFound(String),
}

/// The snapshot and how many calls of each API it took.
#[derive(Debug, Clone)]
pub struct Collection {
    pub snapshot: Snapshot,
    pub calls: BTreeMap<&'static str, u32>,
}

impl Collection {
    pub fn total_calls(&self) -> u32 {
        self.calls.values().sum()
    }
}

/// EC2 accepts at most 200 values per filter.
const FILTER_CHUNK: usize = 200;

struct Collector<'c> {
    clients: &'c Clients,
    calls: Mutex<BTreeMap<&'static str, u32>>,
    progress: &'c (dyn Fn(&str) + Sync),
    deadline: Option<tokio::time::Instant>,
}

/// What one call's error means for the run: a gap, or (a defect) the end of the run.
fn judge<E>(
    call: &'static str,
    error: &SdkError<E, HttpResponse>,
) -> Result<ErrorClass, CollectError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(error) {
        ErrorClass::Other(message) => Err(CollectError::Call { call, message }),
        class => Ok(class),
    }
}

fn gap(call: &'static str, class: &ErrorClass, scope: GapScope) -> DataGap {
    DataGap {
        api_call: call.to_string(),
        iam_action: call.to_string(),
        error: class.describe(),
        scope,
        cause: match class {
            ErrorClass::Throttled { .. } => GapCause::Throttled,
            ErrorClass::Unavailable { .. } | ErrorClass::NotFound { .. } => GapCause::Unavailable,
            ErrorClass::Deadline => GapCause::Deadline,
            ErrorClass::Incomplete(_) => GapCause::Incomplete,
            ErrorClass::Denied { .. } | ErrorClass::Other(_) => GapCause::Denied,
        },
    }
}

/// The outcome of a read: the facts, or why they are unknown (`Err(Err)`: the run stops).
type Read<T> = Result<T, Result<ErrorClass, CollectError>>;

fn incomplete<T>(what: Incomplete) -> Read<T> {
    Err(Ok(ErrorClass::Incomplete(what)))
}

/// Every page of a paginated call. `$body` turns one page into facts and returns
/// `Result<(), Incomplete>`: an incomplete page makes the whole read unknown.
macro_rules! pages {
    ($collector:expr, $call:literal, $request:expr, |$page:ident| $body:block) => {{
        let mut stream = $request.into_paginator().send();
        let mut outcome: Read<()> = Ok(());
        loop {
            let Some(next) = $collector.bounded(stream.next()).await else {
                outcome = Err(Ok(ErrorClass::Deadline));
                break;
            };
            let Some(page) = next else { break };
            $collector.count($call);
            match page {
                Ok($page) => {
                    let read: Result<(), Incomplete> = (|| $body)();
                    if let Err(what) = read {
                        outcome = incomplete(what);
                        break;
                    }
                }
                Err(error) => {
                    outcome = Err(judge($call, &error));
                    break;
                }
            }
        }
        outcome
    }};
}

mod network;
mod sources;

/// The items of a list AWS always sends (empty or not): `None` means the answer was cut.
fn list<'a, T>(items: &'a Option<Vec<T>>, call: &str, what: &str) -> Result<&'a [T], Incomplete> {
    items
        .as_deref()
        .ok_or_else(|| format!("{call} answered without its {what} list"))
}

impl Collector<'_> {
    /// Runs `call` unless the deadline has passed, and cuts it short at the deadline.
    async fn bounded<T>(&self, call: impl std::future::Future<Output = T>) -> Option<T> {
        match self.deadline {
            None => Some(call.await),
            Some(deadline) if tokio::time::Instant::now() >= deadline => None,
            Some(deadline) => tokio::time::timeout_at(deadline, call).await.ok(),
        }
    }

    fn count(&self, call: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(call).or_default() += 1;
        }
    }
}

/// Reads everything the rules need about the mappings in `options.scope`.
pub async fn collect(
    clients: &Clients,
    options: &CollectOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Collection, CollectError> {
    let collector = Collector {
        clients,
        calls: Mutex::new(BTreeMap::new()),
        progress,
        deadline: options.deadline,
    };
    let mut snapshot = Snapshot::new(clients.region.clone());

    (collector.progress)("reading event source mappings");
    snapshot.mappings = collector.mappings(&options.scope).await?;

    if options.for_remediation {
        // The opt-out tag may sit on a mapping: read them (one call per mapping, only when
        // esm-guard may change things).
        collector.mapping_tags(&mut snapshot).await?;
    }

    let cluster_arns: BTreeSet<String> = snapshot
        .mappings
        .iter()
        .filter_map(|m| m.cluster_arn().map(str::to_string))
        .collect();
    if !cluster_arns.is_empty() {
        (collector.progress)(&format!("reading {} MSK cluster(s)", cluster_arns.len()));
        let (clusters, gaps) = collector.clusters(&cluster_arns).await?;
        snapshot.clusters = clusters;
        snapshot.gaps.extend(gaps);
    }

    let connection_arns: BTreeSet<String> = snapshot
        .mappings
        .iter()
        .filter_map(|m| match &m.source {
            EventSource::MskVpcConnection { connection_arn } => Some(connection_arn.clone()),
            _ => None,
        })
        .collect();
    if !connection_arns.is_empty() {
        (collector.progress)(&format!(
            "reading {} MSK VPC connection(s)",
            connection_arns.len()
        ));
        collector
            .vpc_connections(&connection_arns, &mut snapshot)
            .await?;
    }

    let source_arns = |mappings: &[EventSourceMapping],
                       want: fn(&EventSource) -> Option<&String>|
     -> BTreeSet<String> {
        mappings
            .iter()
            .filter_map(|m| want(&m.source).cloned())
            .collect()
    };
    let broker_arns = source_arns(&snapshot.mappings, |s| match s {
        EventSource::Mq { broker_arn } => Some(broker_arn),
        _ => None,
    });
    if !broker_arns.is_empty() {
        (collector.progress)(&format!(
            "reading {} Amazon MQ broker(s)",
            broker_arns.len()
        ));
        collector.mq_brokers(&broker_arns, &mut snapshot).await?;
    }
    let docdb_arns = source_arns(&snapshot.mappings, |s| match s {
        EventSource::DocumentDb { cluster_arn } => Some(cluster_arn),
        _ => None,
    });
    if !docdb_arns.is_empty() {
        (collector.progress)(&format!(
            "reading {} DocumentDB cluster(s)",
            docdb_arns.len()
        ));
        collector.docdb_clusters(&docdb_arns, &mut snapshot).await?;
    }

    // The VPC of a mapping subnet that its source already names (a DocumentDB subnet group,
    // an MSK VPC connection) needs no lookup; only the others are located.
    let known = known_vpcs(&snapshot);
    let unlocated: Vec<String> = mapping_subnets(&snapshot)
        .into_iter()
        .filter(|s| !known.contains_key(s))
        .collect();
    if !unlocated.is_empty() {
        (collector.progress)("locating the mappings' subnets");
        match collector.subnets("subnet-id", &unlocated).await? {
            Ok(subnets) => snapshot.subnets = subnets,
            Err(class) => {
                snapshot
                    .gaps
                    .push(gap("ec2:DescribeSubnets", &class?, GapScope::All));
                return Ok(collector.finish(snapshot));
            }
        }
    }
    scope_to_vpcs(&mut snapshot, &options.scope.vpcs, &known);
    let vpc_ids: Vec<String> = snapshot
        .subnets
        .iter()
        .map(|s| s.vpc_id.clone())
        .chain(in_scope_known(&snapshot, &known))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !vpc_ids.is_empty() {
        (collector.progress)(&format!("reading the network of {} VPC(s)", vpc_ids.len()));
        collector
            .network(&vpc_ids, options.for_remediation, &mut snapshot)
            .await?;
        collector
            .vpc_dns(&vpc_ids, options.for_remediation, &mut snapshot)
            .await?;
        collector.prefix_lists(&mut snapshot).await?;
        collector
            .execution_roles(options.for_remediation, &mut snapshot)
            .await?;
    }
    Ok(collector.finish(snapshot))
}

/// The subnets the mappings' ENIs use (cluster broker subnets, or `VPC_SUBNET`).
fn mapping_subnets(snapshot: &Snapshot) -> Vec<String> {
    let index = Index::new(snapshot);
    let mut ids = BTreeSet::new();
    for m in &snapshot.mappings {
        if let Some((subnets, _)) = configured_network(m, &index) {
            ids.extend(subnets);
        }
    }
    ids.into_iter().collect()
}

/// Subnet -> VPC, for the subnets that a mapping's source names with their VPC.
fn known_vpcs(snapshot: &Snapshot) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    for c in &snapshot.docdb_clusters {
        for s in &c.subnet_ids {
            known.insert(s.clone(), c.vpc_id.clone());
        }
    }
    for c in &snapshot.vpc_connections {
        for s in &c.subnet_ids {
            known.insert(s.clone(), c.vpc_id.clone());
        }
    }
    known
}

/// The VPCs of the known subnets that the (scoped) mappings use.
fn in_scope_known(snapshot: &Snapshot, known: &BTreeMap<String, String>) -> Vec<String> {
    let index = Index::new(snapshot);
    snapshot
        .mappings
        .iter()
        .filter_map(|m| configured_network(m, &index))
        .flat_map(|(subnets, _)| subnets)
        .filter_map(|s| known.get(&s).cloned())
        .collect()
}

/// Keeps only the mappings whose subnets lie in `vpcs` (when any are given).
fn scope_to_vpcs(snapshot: &mut Snapshot, vpcs: &[String], known: &BTreeMap<String, String>) {
    if vpcs.is_empty() {
        return;
    }
    let keep: BTreeSet<String> = {
        let index = Index::new(snapshot);
        snapshot
            .mappings
            .iter()
            .filter(|m| {
                configured_network(m, &index)
                    .into_iter()
                    .flat_map(|(subnets, _)| subnets)
                    .filter_map(|s| {
                        index
                            .subnets
                            .get(s.as_str())
                            .map(|s| s.vpc_id.clone())
                            .or_else(|| known.get(&s).cloned())
                    })
                    .any(|v| vpcs.contains(&v))
            })
            .map(|m| m.uuid.clone())
            .collect()
    };
    snapshot.mappings.retain(|m| keep.contains(&m.uuid));
    snapshot.subnets.retain(|s| vpcs.contains(&s.vpc_id));
}

impl Collector<'_> {
    fn finish(self, mut snapshot: Snapshot) -> Collection {
        // Internet gateways are read off the routes: no call needed.
        let mut igws: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for table in &snapshot.route_tables {
            for route in &table.routes {
                if let RouteTarget::InternetGateway(id) = &route.target {
                    igws.entry(id.clone())
                        .or_default()
                        .insert(table.vpc_id.clone());
                }
            }
        }
        snapshot.internet_gateways = igws
            .into_iter()
            .map(|(id, vpcs)| InternetGateway {
                id,
                vpc_ids: vpcs.into_iter().collect(),
            })
            .collect();
        Collection {
            snapshot,
            calls: self.calls.into_inner().unwrap_or_default(),
        }
    }
}

/// Facts every VPC has, checked against the answers: each subnet's network ACL, the VPC's
/// main route table, the groups the mappings use, the NAT gateways active routes lead to.
/// One missing means an answer was cut short: a gap on the VPC, never a permissive default.
fn consistency(snapshot: &Snapshot, vpcs: &[String], read: &BTreeSet<&str>) -> Vec<DataGap> {
    let index = Index::new(snapshot);
    let mut gaps = Vec::new();
    let mut missing = |call: &'static str, vpc: &str, what: String| {
        if read.contains(call) {
            gaps.push(gap(
                call,
                &ErrorClass::Incomplete(what),
                GapScope::Vpc(vpc.to_string()),
            ));
        }
    };
    for vpc in vpcs {
        let subnets = index.subnets_in(vpc);
        if subnets.is_empty() {
            missing(
                "ec2:DescribeSubnets",
                vpc,
                format!("no subnet of {vpc} in the answer"),
            );
            continue;
        }
        if let Some(s) = subnets.iter().find(|s| index.network_acl_of(s).is_none()) {
            missing(
                "ec2:DescribeNetworkAcls",
                vpc,
                format!("no network ACL for subnet {}", s.id),
            );
        }
        if let Some(s) = subnets.iter().find(|s| index.route_table_of(s).is_none()) {
            missing(
                "ec2:DescribeRouteTables",
                vpc,
                format!("no route table for subnet {} (nor a main one)", s.id),
            );
        }
        for table in snapshot.route_tables.iter().filter(|t| t.vpc_id == *vpc) {
            for route in table.routes.iter().filter(|r| !r.is_blackhole()) {
                if let RouteTarget::NatGateway(nat) = &route.target {
                    if !index.nat_gateways.contains_key(nat.as_str()) {
                        missing(
                            "ec2:DescribeNatGateways",
                            vpc,
                            format!("no NAT gateway {nat}, to which {} routes", table.id),
                        );
                    }
                }
            }
        }
    }
    for m in &snapshot.mappings {
        let Some((subnets, groups)) = configured_network(m, &index) else {
            continue;
        };
        let Some(vpc) = subnets
            .iter()
            .find_map(|s| index.subnets.get(s.as_str()).map(|s| s.vpc_id.as_str()))
        else {
            continue;
        };
        if !vpcs.iter().any(|v| v == vpc) {
            continue;
        }
        if let Some(g) = groups
            .iter()
            .find(|g| !index.security_groups.contains_key(g.as_str()))
        {
            missing(
                "ec2:DescribeSecurityGroups",
                vpc,
                format!("no security group {g}, which mapping {} uses", m.uuid),
            );
        }
    }
    gaps.sort_by(|a, b| (&a.api_call, &a.error).cmp(&(&b.api_call, &b.error)));
    gaps.dedup_by(|a, b| a.api_call == b.api_call && a.scope == b.scope);
    gaps
}

fn split<T>(r: Read<Vec<T>>) -> (Vec<T>, Read<()>) {
    match r {
        Ok(v) => (v, Ok(())),
        Err(e) => (Vec::new(), Err(e)),
    }
}

/// An error on a call the run cannot do without (there is no mapping to pin it on).
fn fatal(call: &'static str, class: ErrorClass) -> CollectError {
    let hint = match &class {
        ErrorClass::Denied { .. } => format!(" (grant the IAM action {call})"),
        _ => String::new(),
    };
    CollectError::Call {
        call,
        message: format!("{}{hint}", class.describe()),
    }
}

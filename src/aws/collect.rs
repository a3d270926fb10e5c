//! Reads the facts of a region into a `Snapshot`, in few calls, failing closed.
//!
//! Batched and scoped: one call per resource type per page, filtered by the VPCs in scope,
//! never one call per mapping. A call that is denied, throttled, failing or answered
//! incompletely becomes a `DataGap` on the mappings it touches: what could not be read is
//! unknown, never assumed. A request AWS calls invalid ends the run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use aws_sdk_ec2::types::Filter;
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
    /// Only mappings reading from these event sources (ARNs).
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

    let subnet_ids = mapping_subnets(&snapshot);
    if !subnet_ids.is_empty() {
        (collector.progress)("locating the mappings' subnets");
        match collector.subnets("subnet-id", &subnet_ids).await? {
            Ok(subnets) => snapshot.subnets = subnets,
            Err(class) => {
                snapshot
                    .gaps
                    .push(gap("ec2:DescribeSubnets", &class?, GapScope::All));
                return Ok(collector.finish(snapshot));
            }
        }
    }
    scope_to_vpcs(&mut snapshot, &options.scope.vpcs);
    let vpc_ids: Vec<String> = snapshot
        .subnets
        .iter()
        .map(|s| s.vpc_id.clone())
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

/// Keeps only the mappings whose subnets lie in `vpcs` (when any are given).
fn scope_to_vpcs(snapshot: &mut Snapshot, vpcs: &[String]) {
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
                    .filter_map(|s| index.subnets.get(s.as_str()).map(|s| s.vpc_id.clone()))
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

    async fn mappings(&self, scope: &Scope) -> Result<Vec<EventSourceMapping>, CollectError> {
        let lambda = &self.clients.lambda;
        let wanted = &scope.mappings;
        let mut mappings = Vec::new();
        if wanted.is_empty() {
            const CALL: &str = "lambda:ListEventSourceMappings";
            // One listing, or one per function the scope names (Lambda filters by function).
            let functions: Vec<Option<&String>> = if scope.functions.is_empty() {
                vec![None]
            } else {
                scope.functions.iter().map(Some).collect()
            };
            for function in functions {
                let listed = pages!(
                    self,
                    "lambda:ListEventSourceMappings",
                    lambda
                        .list_event_source_mappings()
                        .set_function_name(function.cloned())
                        .max_items(100),
                    |page| {
                        for m in list(&page.event_source_mappings, CALL, "EventSourceMappings")? {
                            mappings.extend(from_lambda::mapping(m)?);
                        }
                        Ok(())
                    }
                );
                // Without the list there is nothing to judge: the run stops, naming the call.
                if let Err(class) = listed {
                    return Err(fatal(CALL, class?));
                }
            }
            if !scope.sources.is_empty() {
                mappings.retain(|m| {
                    m.source_arn()
                        .is_some_and(|arn| scope.sources.iter().any(|s| s == arn))
                });
            }
        } else {
            const CALL: &str = "lambda:GetEventSourceMapping";
            for esm in wanted {
                let uuid = from_lambda::uuid_of(esm);
                self.count(CALL);
                let Some(result) = self
                    .bounded(lambda.get_event_source_mapping().uuid(uuid).send())
                    .await
                else {
                    return Err(fatal(CALL, ErrorClass::Deadline));
                };
                match result {
                    Ok(out) => match from_lambda::mapping(&out) {
                        Ok(Some(m)) => mappings.push(m),
                        Ok(None) => {
                            return Err(CollectError::Call {
                                call: CALL,
                                message: format!(
                                    "mapping {uuid} does not read from Kafka (MSK or self-managed)"
                                ),
                            })
                        }
                        Err(what) => return Err(fatal(CALL, ErrorClass::Incomplete(what))),
                    },
                    Err(e) => match judge(CALL, &e)? {
                        ErrorClass::NotFound { .. } => {
                            return Err(CollectError::MappingNotFound(esm.clone()))
                        }
                        class => return Err(fatal(CALL, class)),
                    },
                }
            }
        }
        mappings.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        mappings.dedup_by(|a, b| a.uuid == b.uuid);
        Ok(mappings)
    }

    async fn mapping_tags(&self, snapshot: &mut Snapshot) -> Result<(), CollectError> {
        let lambda = &self.clients.lambda;
        for m in &mut snapshot.mappings {
            let Some(arn) = m.arn.clone() else {
                snapshot.unreadable_tags.push(m.uuid.clone());
                continue;
            };
            self.count("lambda:ListTags");
            let Some(result) = self.bounded(lambda.list_tags().resource(&arn).send()).await else {
                snapshot.unreadable_tags.push(m.uuid.clone());
                continue;
            };
            match result {
                // `Tags` absent: the mapping has none.
                Ok(out) => {
                    m.tags = out
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                }
                Err(e) => {
                    let class = judge("lambda:ListTags", &e)?;
                    tracing::warn!(mapping = %m.uuid, error = %class.describe(), "cannot read the mapping's tags");
                    snapshot.unreadable_tags.push(m.uuid.clone());
                }
            }
        }
        Ok(())
    }

    async fn clusters(
        &self,
        arns: &BTreeSet<String>,
    ) -> Result<(Vec<MskCluster>, Vec<DataGap>), CollectError> {
        let kafka = &self.clients.kafka;
        let mut clusters = Vec::new();
        let unknown = |call: &'static str, class: &ErrorClass| -> Vec<DataGap> {
            arns.iter()
                .map(|a| gap(call, class, GapScope::Cluster(a.clone())))
                .collect()
        };
        if arns.len() == 1 {
            const CALL: &str = "kafka:DescribeClusterV2";
            let arn = arns.iter().next().cloned().unwrap_or_default();
            self.count(CALL);
            let Some(result) = self
                .bounded(kafka.describe_cluster_v2().cluster_arn(&arn).send())
                .await
            else {
                return Ok((clusters, unknown(CALL, &ErrorClass::Deadline)));
            };
            match result {
                // A found cluster always comes with its description: `{}` is a cut answer,
                // not a missing cluster.
                Ok(out) => match out.cluster_info().map(from_kafka::cluster) {
                    Some(Ok(cluster)) => clusters.push(cluster),
                    Some(Err(what)) => {
                        return Ok((clusters, unknown(CALL, &ErrorClass::Incomplete(what))))
                    }
                    None => {
                        let what = format!("{CALL} answered without ClusterInfo");
                        return Ok((clusters, unknown(CALL, &ErrorClass::Incomplete(what))));
                    }
                },
                Err(e) => match judge(CALL, &e)? {
                    ErrorClass::NotFound { .. } => {}
                    class => return Ok((clusters, unknown(CALL, &class))),
                },
            }
        } else {
            const CALL: &str = "kafka:ListClustersV2";
            let listed = pages!(
                self,
                "kafka:ListClustersV2",
                kafka.list_clusters_v2().max_results(100),
                |page| {
                    for c in list(&page.cluster_info_list, CALL, "ClusterInfoList")? {
                        if c.cluster_arn().is_none_or(|a| arns.contains(a)) {
                            clusters.push(from_kafka::cluster(c)?);
                        }
                    }
                    Ok(())
                }
            );
            if let Err(class) = listed {
                return Ok((Vec::new(), unknown(CALL, &class?)));
            }
        }
        Ok((clusters, vec![]))
    }

    /// The VPC connections the mappings read through: one call each (a client account has
    /// few; the mappings of one connection share the call).
    async fn vpc_connections(
        &self,
        arns: &BTreeSet<String>,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        const CALL: &str = "kafka:DescribeVpcConnection";
        let kafka = &self.clients.kafka;
        for arn in arns {
            self.count(CALL);
            let class = match self
                .bounded(kafka.describe_vpc_connection().arn(arn).send())
                .await
            {
                None => ErrorClass::Deadline,
                Some(Ok(out)) => match from_kafka::vpc_connection(&out) {
                    Ok(connection) => {
                        snapshot.vpc_connections.push(connection);
                        continue;
                    }
                    Err(what) => ErrorClass::Incomplete(what),
                },
                Some(Err(e)) => match judge(CALL, &e)? {
                    // Gone: the mapping's source does not exist (cluster-not-found).
                    ErrorClass::NotFound { .. } => continue,
                    class => class,
                },
            };
            snapshot
                .gaps
                .push(gap(CALL, &class, GapScope::Cluster(arn.clone())));
        }
        Ok(())
    }

    /// Subnets by a filter (`subnet-id`, `vpc-id`) over `values`, 200 values a call.
    async fn subnets(
        &self,
        name: &str,
        values: &[String],
    ) -> Result<Read<Vec<Subnet>>, CollectError> {
        const CALL: &str = "ec2:DescribeSubnets";
        let ec2 = &self.clients.ec2;
        let mut subnets = Vec::new();
        for chunk in values.chunks(FILTER_CHUNK) {
            let filter = Filter::builder()
                .name(name)
                .set_values(Some(chunk.to_vec()))
                .build();
            let listed = pages!(
                self,
                "ec2:DescribeSubnets",
                ec2.describe_subnets().filters(filter).max_results(1000),
                |page| {
                    for s in list(&page.subnets, CALL, "subnet")? {
                        subnets.push(from_ec2::subnet(s)?);
                    }
                    Ok(())
                }
            );
            if let Err(class) = listed {
                return Ok(Err(Ok(class?)));
            }
        }
        Ok(Ok(subnets))
    }

    /// Subnets, route tables, NAT gateways, endpoints, security groups and network ACLs of
    /// the VPCs (and, for remediation, the VPCs themselves), the calls run concurrently;
    /// then the answers are checked against each other.
    async fn network(
        &self,
        vpc_ids: &[String],
        with_vpcs: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        let ec2 = &self.clients.ec2;
        for chunk in vpc_ids.chunks(FILTER_CHUNK) {
            let vpc_filter = || {
                Filter::builder()
                    .name("vpc-id")
                    .set_values(Some(chunk.to_vec()))
                    .build()
            };
            let subnets = self.subnets("vpc-id", chunk);
            let tables = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(vpc_filter())
                        .max_results(100),
                    |page| {
                        for t in list(&page.route_tables, "ec2:DescribeRouteTables", "route table")?
                        {
                            out.push(from_ec2::route_table(t)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let nats = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeNatGateways",
                    ec2.describe_nat_gateways()
                        .filter(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for n in list(&page.nat_gateways, "ec2:DescribeNatGateways", "NAT gateway")?
                        {
                            out.push(from_ec2::nat_gateway(n)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let endpoints = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeVpcEndpoints",
                    ec2.describe_vpc_endpoints()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for e in list(&page.vpc_endpoints, "ec2:DescribeVpcEndpoints", "endpoint")?
                        {
                            out.push(from_ec2::vpc_endpoint(e)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let groups = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeSecurityGroups",
                    ec2.describe_security_groups()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for g in list(
                            &page.security_groups,
                            "ec2:DescribeSecurityGroups",
                            "security group",
                        )? {
                            out.push(from_ec2::security_group(g)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let acls = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeNetworkAcls",
                    ec2.describe_network_acls()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for a in list(&page.network_acls, "ec2:DescribeNetworkAcls", "network ACL")?
                        {
                            out.push(from_ec2::network_acl(a)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let vpcs = async {
                if !with_vpcs {
                    return Ok(Vec::new());
                }
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeVpcs",
                    ec2.describe_vpcs().filters(vpc_filter()).max_results(1000),
                    |page| {
                        for v in list(&page.vpcs, "ec2:DescribeVpcs", "VPC")? {
                            out.push(from_ec2::vpc(v)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let (subnets, tables, nats, endpoints, groups, acls, vpcs) =
                tokio::join!(subnets, tables, nats, endpoints, groups, acls, vpcs);
            let mut unknown: BTreeMap<&'static str, ErrorClass> = BTreeMap::new();
            let mut take = |call: &'static str, read: Read<()>| -> Result<(), CollectError> {
                if let Err(class) = read {
                    unknown.insert(call, class?);
                }
                Ok(())
            };
            let subnets = split(subnets?);
            take("ec2:DescribeSubnets", subnets.1)?;
            let tables = split(tables);
            take("ec2:DescribeRouteTables", tables.1)?;
            let nats = split(nats);
            take("ec2:DescribeNatGateways", nats.1)?;
            let endpoints = split(endpoints);
            take("ec2:DescribeVpcEndpoints", endpoints.1)?;
            let groups = split(groups);
            take("ec2:DescribeSecurityGroups", groups.1)?;
            let acls = split(acls);
            take("ec2:DescribeNetworkAcls", acls.1)?;
            let vpcs = split(vpcs);
            // Only remediation reads VPCs, for their opt-out tags: a VPC not read keeps its
            // tags unknown, and nothing in it changes. No verdict depends on it.
            let _ = vpcs.1;
            snapshot.subnets.retain(|s| !chunk.contains(&s.vpc_id));
            snapshot.subnets.extend(subnets.0);
            snapshot.route_tables.extend(tables.0);
            snapshot.nat_gateways.extend(nats.0);
            snapshot.vpc_endpoints.extend(endpoints.0);
            snapshot.security_groups.extend(groups.0);
            snapshot.network_acls.extend(acls.0);
            for id in chunk {
                let read = vpcs.0.iter().find(|v| v.id == *id).cloned();
                snapshot.vpcs.push(read.unwrap_or_else(|| Vpc {
                    id: id.clone(),
                    ..Vpc::default()
                }));
            }
            for (call, class) in &unknown {
                snapshot.gaps.extend(
                    chunk
                        .iter()
                        .map(|v| gap(call, class, GapScope::Vpc(v.clone()))),
                );
            }
            let read: BTreeSet<&str> = [
                "ec2:DescribeSubnets",
                "ec2:DescribeRouteTables",
                "ec2:DescribeNatGateways",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeNetworkAcls",
            ]
            .into_iter()
            .filter(|c| !unknown.contains_key(c))
            .collect();
            let gaps = consistency(snapshot, chunk, &read);
            snapshot.gaps.extend(gaps);
        }
        Ok(())
    }

    /// `enableDnsSupport` and `enableDnsHostnames`, only for VPCs where a private-DNS
    /// interface endpoint is relied on (or, for remediation, where one may be created).
    async fn vpc_dns(
        &self,
        vpc_ids: &[String],
        all: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        use aws_sdk_ec2::types::VpcAttributeName;
        const CALL: &str = "ec2:DescribeVpcAttribute";
        let ec2 = &self.clients.ec2;
        let relied: BTreeSet<&str> = snapshot
            .vpc_endpoints
            .iter()
            .filter(|e| e.is_interface() && e.private_dns_enabled)
            .map(|e| e.vpc_id.as_str())
            .collect();
        let wanted: Vec<String> = vpc_ids
            .iter()
            .filter(|v| all || relied.contains(v.as_str()))
            .cloned()
            .collect();
        for vpc_id in wanted {
            let mut values = [None, None];
            for (slot, attribute) in [
                VpcAttributeName::EnableDnsSupport,
                VpcAttributeName::EnableDnsHostnames,
            ]
            .into_iter()
            .enumerate()
            {
                self.count(CALL);
                let call = ec2
                    .describe_vpc_attribute()
                    .vpc_id(&vpc_id)
                    .attribute(attribute.clone())
                    .send();
                let class = match self.bounded(call).await {
                    None => ErrorClass::Deadline,
                    Some(Ok(out)) => {
                        let value = match attribute {
                            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
                            _ => out.enable_dns_hostnames(),
                        };
                        match value.and_then(|v| v.value()) {
                            Some(v) => {
                                values[slot] = Some(v);
                                continue;
                            }
                            None => ErrorClass::Incomplete(format!(
                                "{CALL} answered without the value of {}",
                                attribute.as_str()
                            )),
                        }
                    }
                    Some(Err(e)) => judge(CALL, &e)?,
                };
                snapshot
                    .gaps
                    .push(gap(CALL, &class, GapScope::Vpc(vpc_id.clone())));
                break;
            }
            if let Some(vpc) = snapshot.vpcs.iter_mut().find(|v| v.id == vpc_id) {
                vpc.dns_support = values[0];
                vpc.dns_hostnames = values[1];
            }
        }
        Ok(())
    }

    /// The entries of every managed prefix list that a rule of a group on the mappings'
    /// paths references (the mappings' groups, the interface endpoints' groups): one
    /// paginated call per list, only when one is referenced.
    async fn prefix_lists(&self, snapshot: &mut Snapshot) -> Result<(), CollectError> {
        const CALL: &str = "ec2:GetManagedPrefixListEntries";
        let ec2 = &self.clients.ec2;
        let wanted: BTreeSet<String> = {
            let index = Index::new(snapshot);
            let mut groups: BTreeSet<&str> = BTreeSet::new();
            for m in &snapshot.mappings {
                if let Some((_, g)) = configured_network(m, &index) {
                    for id in g {
                        if let Some(group) = index.security_groups.get(id.as_str()) {
                            groups.insert(group.id.as_str());
                        }
                    }
                }
            }
            for e in snapshot.vpc_endpoints.iter().filter(|e| e.is_interface()) {
                groups.extend(e.security_group_ids.iter().map(String::as_str));
            }
            snapshot
                .security_groups
                .iter()
                .filter(|g| groups.contains(g.id.as_str()))
                .flat_map(|g| g.ingress.iter().chain(&g.egress))
                .flat_map(|r| r.prefix_list_ids.iter().cloned())
                .collect()
        };
        for id in wanted {
            let mut entries_of = PrefixList {
                id: id.clone(),
                ..PrefixList::default()
            };
            let read = pages!(
                self,
                "ec2:GetManagedPrefixListEntries",
                ec2.get_managed_prefix_list_entries()
                    .prefix_list_id(&id)
                    .max_results(100),
                |page| {
                    let entries = list(&page.entries, CALL, "Entries")?;
                    from_ec2::prefix_list(&id, entries, &mut entries_of)
                }
            );
            match read {
                Ok(()) => snapshot.prefix_lists.push(entries_of),
                // A list a rule references cannot be missing: not found is unknown too.
                Err(class) => {
                    snapshot
                        .gaps
                        .push(gap(CALL, &class?, GapScope::PrefixList(id.clone())))
                }
            }
        }
        Ok(())
    }

    /// Execution roles: wherever a policy's decision depends on them (an endpoint policy
    /// that names roles, an STS policy that names resources), or for remediation. One call
    /// per function.
    async fn execution_roles(
        &self,
        all: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        const CALL: &str = "lambda:GetFunctionConfiguration";
        let lambda = &self.clients.lambda;
        let needs_role: BTreeSet<String> = {
            let index = Index::new(snapshot);
            let partition = Partition::of_region(&snapshot.region);
            let mut wanted = BTreeSet::new();
            for m in &snapshot.mappings {
                if m.mode() != ScalingMode::OnDemand {
                    continue;
                }
                if all {
                    wanted.insert(m.function_arn.clone());
                    continue;
                }
                let vpc = configured_network(m, &index)
                    .and_then(|(subnets, _)| subnets.into_iter().next())
                    .and_then(|s| index.subnets.get(s.as_str()).map(|s| s.vpc_id.clone()));
                let Some(vpc) = vpc else { continue };
                let judged = required_services(m).iter().any(|service| {
                    index.endpoints_in(&vpc).iter().any(|e| {
                        e.is_interface()
                            && partition.names_service(
                                &e.service_name,
                                &snapshot.region,
                                service.short,
                            )
                            && role_decides(&index, service, e)
                    })
                });
                if judged {
                    wanted.insert(m.function_arn.clone());
                }
            }
            wanted
        };
        for function in needs_role {
            self.count(CALL);
            let call = lambda
                .get_function_configuration()
                .function_name(&function)
                .send();
            let class = match self.bounded(call).await {
                None => ErrorClass::Deadline,
                Some(Ok(out)) => match out.role() {
                    Some(role) => {
                        for m in snapshot
                            .mappings
                            .iter_mut()
                            .filter(|m| m.function_arn == function)
                        {
                            m.execution_role = Some(role.to_string());
                        }
                        continue;
                    }
                    // Every function has a role.
                    None => ErrorClass::Incomplete(format!("{CALL} answered without Role")),
                },
                Some(Err(e)) => match judge(CALL, &e)? {
                    // The function is gone: its mappings go with it.
                    ErrorClass::NotFound { .. } => continue,
                    class => class,
                },
            };
            snapshot
                .gaps
                .push(gap(CALL, &class, GapScope::Function(function.clone())));
        }
        Ok(())
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

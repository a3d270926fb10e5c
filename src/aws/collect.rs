//! Reads the facts of a region into a `Snapshot`, in few calls.
//!
//! Batched and scoped: one call per resource type per page, filtered by the VPCs in scope,
//! never one call per mapping. A call that is denied or throttled past the SDK's retries
//! becomes a `DataGap` on the mappings it touches; any other error ends the run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use aws_sdk_ec2::types::Filter;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{classify, ErrorClass};
use super::{from_ec2, from_kafka, from_lambda, Clients};
use crate::index::Index;
use crate::model::*;

/// Which mappings to audit. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Mapping UUIDs or ARNs.
    pub mappings: Vec<String>,
    /// Only mappings whose network lies in these VPCs.
    pub vpcs: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    pub scope: Scope,
    /// Read execution roles and VPC DNS attributes even where no rule needs them: planning
    /// new endpoints (remediation) writes policies naming the role.
    pub for_remediation: bool,
    /// Start no call after this instant, and cut a call (retries included) short at it:
    /// what is left unread becomes `insufficient-data`. The Lambda sets it from its
    /// invocation deadline; the CLI has none.
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

/// What one call's error means for the run.
fn judge<E, R>(call: &'static str, error: &SdkError<E, R>) -> Result<ErrorClass, CollectError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let class = classify(error);
    match class {
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
            ErrorClass::Unavailable { .. } => GapCause::Unavailable,
            ErrorClass::Deadline => GapCause::Deadline,
            _ => GapCause::Denied,
        },
    }
}

macro_rules! pages {
    ($collector:expr, $call:literal, $request:expr, |$page:ident| $body:block) => {{
        let mut stream = $request.into_paginator().send();
        let mut outcome = Ok(());
        loop {
            let Some(next) = $collector.bounded(stream.next()).await else {
                outcome = Err(Ok(ErrorClass::Deadline));
                break;
            };
            let Some(page) = next else { break };
            $collector.count($call);
            match page {
                Ok($page) => $body,
                Err(error) => {
                    outcome = Err(judge($call, &error));
                    break;
                }
            }
        }
        outcome
    }};
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
    snapshot.mappings = collector.mappings(&options.scope.mappings).await?;

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

    let subnet_ids = mapping_subnets(&snapshot);
    if !subnet_ids.is_empty() {
        (collector.progress)("locating the mappings' subnets");
        match collector
            .subnets(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(subnet_ids))
                    .build(),
            )
            .await?
        {
            Ok(subnets) => snapshot.subnets = subnets,
            Err(class) => {
                snapshot
                    .gaps
                    .push(gap("ec2:DescribeSubnets", &class, GapScope::All));
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
        collector
            .execution_roles(options.for_remediation, &mut snapshot)
            .await?;
    }
    Ok(collector.finish(snapshot))
}

/// The subnets the mappings' ENIs use (cluster broker subnets, or `VPC_SUBNET`).
fn mapping_subnets(snapshot: &Snapshot) -> Vec<String> {
    let clusters: BTreeMap<&str, &MskCluster> = snapshot
        .clusters
        .iter()
        .map(|c| (c.arn.as_str(), c))
        .collect();
    let mut ids = BTreeSet::new();
    for m in &snapshot.mappings {
        match &m.source {
            EventSource::Msk { cluster_arn } => {
                match clusters.get(cluster_arn.as_str()).map(|c| &c.kind) {
                    Some(ClusterKind::Provisioned { broker_subnets, .. }) => {
                        ids.extend(broker_subnets.iter().cloned())
                    }
                    Some(ClusterKind::Serverless { vpc_configs }) => ids.extend(
                        vpc_configs
                            .iter()
                            .flat_map(|v| v.subnet_ids.iter().cloned()),
                    ),
                    None => {}
                }
            }
            EventSource::SelfManaged { .. } => ids.extend(
                m.access_of("VPC_SUBNET")
                    .map(|u| u.trim_start_matches("subnet:").to_string()),
            ),
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
        let subnet_vpc = |id: &str| index.subnets.get(id).map(|s| s.vpc_id.clone());
        snapshot
            .mappings
            .iter()
            .filter(|m| {
                let subnets: Vec<String> = match &m.source {
                    EventSource::Msk { cluster_arn } => {
                        match index.clusters.get(cluster_arn.as_str()).map(|c| &c.kind) {
                            Some(ClusterKind::Provisioned { broker_subnets, .. }) => {
                                broker_subnets.clone()
                            }
                            Some(ClusterKind::Serverless { vpc_configs }) => vpc_configs
                                .iter()
                                .flat_map(|v| v.subnet_ids.clone())
                                .collect(),
                            None => vec![],
                        }
                    }
                    EventSource::SelfManaged { .. } => m
                        .access_of("VPC_SUBNET")
                        .map(|u| u.trim_start_matches("subnet:").to_string())
                        .collect(),
                };
                subnets
                    .iter()
                    .filter_map(|s| subnet_vpc(s))
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

    async fn mappings(&self, wanted: &[String]) -> Result<Vec<EventSourceMapping>, CollectError> {
        let lambda = &self.clients.lambda;
        let mut mappings = Vec::new();
        if wanted.is_empty() {
            let listed = pages!(
                self,
                "lambda:ListEventSourceMappings",
                lambda.list_event_source_mappings().max_items(100),
                |page| {
                    mappings.extend(
                        page.event_source_mappings()
                            .iter()
                            .filter_map(from_lambda::mapping),
                    );
                }
            );
            if let Err(class) = listed {
                return Err(fatal("lambda:ListEventSourceMappings", class?));
            }
        } else {
            for esm in wanted {
                let uuid = from_lambda::uuid_of(esm);
                self.count("lambda:GetEventSourceMapping");
                let Some(result) = self
                    .bounded(lambda.get_event_source_mapping().uuid(uuid).send())
                    .await
                else {
                    return Err(fatal("lambda:GetEventSourceMapping", ErrorClass::Deadline));
                };
                match result {
                    Ok(out) => match from_lambda::mapping(&out) {
                        Some(m) => mappings.push(m),
                        None => {
                            return Err(CollectError::Call {
                                call: "lambda:GetEventSourceMapping",
                                message: format!(
                                    "mapping {uuid} does not read from Kafka (MSK or self-managed)"
                                ),
                            })
                        }
                    },
                    Err(e) => match judge("lambda:GetEventSourceMapping", &e)? {
                        ErrorClass::NotFound { .. } => {
                            return Err(CollectError::MappingNotFound(esm.clone()))
                        }
                        class => return Err(fatal("lambda:GetEventSourceMapping", class)),
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
            let Some(arn) = m.arn.clone() else { continue };
            self.count("lambda:ListTags");
            let Some(result) = self.bounded(lambda.list_tags().resource(&arn).send()).await else {
                snapshot.unreadable_tags.push(m.uuid.clone());
                continue;
            };
            match result {
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
        let denied = |call: &'static str, class: &ErrorClass| -> Vec<DataGap> {
            arns.iter()
                .map(|a| gap(call, class, GapScope::Cluster(a.clone())))
                .collect()
        };
        if arns.len() == 1 {
            let arn = arns.iter().next().cloned().unwrap_or_default();
            self.count("kafka:DescribeClusterV2");
            let Some(result) = self
                .bounded(kafka.describe_cluster_v2().cluster_arn(&arn).send())
                .await
            else {
                return Ok((
                    clusters,
                    denied("kafka:DescribeClusterV2", &ErrorClass::Deadline),
                ));
            };
            match result {
                Ok(out) => clusters.extend(out.cluster_info().and_then(from_kafka::cluster)),
                Err(e) => match judge("kafka:DescribeClusterV2", &e)? {
                    ErrorClass::NotFound { .. } => {}
                    class => return Ok((clusters, denied("kafka:DescribeClusterV2", &class))),
                },
            }
        } else {
            let listed = pages!(
                self,
                "kafka:ListClustersV2",
                kafka.list_clusters_v2().max_results(100),
                |page| {
                    clusters.extend(
                        page.cluster_info_list()
                            .iter()
                            .filter(|c| c.cluster_arn().is_some_and(|a| arns.contains(a)))
                            .filter_map(from_kafka::cluster),
                    );
                }
            );
            if let Err(class) = listed {
                return Ok((clusters, denied("kafka:ListClustersV2", &class?)));
            }
        }
        Ok((clusters, vec![]))
    }

    async fn subnets(
        &self,
        filter: Filter,
    ) -> Result<Result<Vec<Subnet>, ErrorClass>, CollectError> {
        let ec2 = &self.clients.ec2;
        let mut subnets = Vec::new();
        let values = filter.values().to_vec();
        for chunk in values.chunks(FILTER_CHUNK) {
            let f = Filter::builder()
                .set_name(filter.name().map(str::to_string))
                .set_values(Some(chunk.to_vec()))
                .build();
            let listed = pages!(
                self,
                "ec2:DescribeSubnets",
                ec2.describe_subnets().filters(f).max_results(1000),
                |page| {
                    subnets.extend(page.subnets().iter().filter_map(from_ec2::subnet));
                }
            );
            if let Err(class) = listed {
                return Ok(Err(class?));
            }
        }
        Ok(Ok(subnets))
    }

    /// Subnets, route tables, NAT gateways, endpoints, security groups and network ACLs of
    /// the VPCs, the six calls run concurrently.
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
            let gaps = |call: &'static str, class: &ErrorClass| -> Vec<DataGap> {
                chunk
                    .iter()
                    .map(|v| gap(call, class, GapScope::Vpc(v.clone())))
                    .collect()
            };
            let subnets = self.subnets(vpc_filter());
            let tables = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(vpc_filter())
                        .max_results(100),
                    |page| {
                        out.extend(page.route_tables().iter().filter_map(from_ec2::route_table));
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
                        out.extend(page.nat_gateways().iter().filter_map(from_ec2::nat_gateway));
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
                        out.extend(
                            page.vpc_endpoints()
                                .iter()
                                .filter_map(from_ec2::vpc_endpoint),
                        );
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
                        out.extend(
                            page.security_groups()
                                .iter()
                                .filter_map(from_ec2::security_group),
                        );
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
                        out.extend(page.network_acls().iter().filter_map(from_ec2::network_acl));
                    }
                );
                r.map(|_| out)
            };
            let vpcs = async {
                if !with_vpcs {
                    return Ok(chunk
                        .iter()
                        .map(|id| Vpc {
                            id: id.clone(),
                            ..Vpc::default()
                        })
                        .collect());
                }
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeVpcs",
                    ec2.describe_vpcs().filters(vpc_filter()).max_results(1000),
                    |page| {
                        out.extend(page.vpcs().iter().filter_map(from_ec2::vpc));
                    }
                );
                r.map(|_| out)
            };
            let (subnets, tables, nats, endpoints, groups, acls, vpcs) =
                tokio::join!(subnets, tables, nats, endpoints, groups, acls, vpcs);
            match subnets? {
                Ok(list) => {
                    snapshot.subnets.retain(|s| !chunk.contains(&s.vpc_id));
                    snapshot.subnets.extend(list);
                }
                Err(class) => snapshot.gaps.extend(gaps("ec2:DescribeSubnets", &class)),
            }
            let mut take = |call: &'static str,
                            result: Result<(), Result<ErrorClass, CollectError>>|
             -> Result<(), CollectError> {
                if let Err(class) = result {
                    snapshot.gaps.extend(gaps(call, &class?));
                }
                Ok(())
            };
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
            let vpcs_failed = vpcs.1.is_err();
            take("ec2:DescribeVpcs", vpcs.1)?;
            snapshot.route_tables.extend(tables.0);
            snapshot.nat_gateways.extend(nats.0);
            snapshot.vpc_endpoints.extend(endpoints.0);
            snapshot.security_groups.extend(groups.0);
            snapshot.network_acls.extend(acls.0);
            if vpcs_failed {
                snapshot.vpcs.extend(chunk.iter().map(|id| Vpc {
                    id: id.clone(),
                    ..Vpc::default()
                }));
            } else {
                snapshot.vpcs.extend(vpcs.0);
            }
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
                self.count("ec2:DescribeVpcAttribute");
                let call = ec2
                    .describe_vpc_attribute()
                    .vpc_id(&vpc_id)
                    .attribute(attribute.clone())
                    .send();
                let Some(result) = self.bounded(call).await else {
                    let class = ErrorClass::Deadline;
                    snapshot.gaps.push(gap(
                        "ec2:DescribeVpcAttribute",
                        &class,
                        GapScope::Vpc(vpc_id.clone()),
                    ));
                    break;
                };
                match result {
                    Ok(out) => {
                        let value = match attribute {
                            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
                            _ => out.enable_dns_hostnames(),
                        };
                        values[slot] = value.and_then(|v| v.value());
                    }
                    Err(e) => {
                        let class = judge("ec2:DescribeVpcAttribute", &e)?;
                        snapshot.gaps.push(gap(
                            "ec2:DescribeVpcAttribute",
                            &class,
                            GapScope::Vpc(vpc_id.clone()),
                        ));
                        break;
                    }
                }
            }
            if let Some(vpc) = snapshot.vpcs.iter_mut().find(|v| v.id == vpc_id) {
                vpc.dns_support = values[0];
                vpc.dns_hostnames = values[1];
            }
        }
        Ok(())
    }

    /// Execution roles: only where an endpoint policy must be judged against them (a
    /// Secrets Manager or destination endpoint with a policy), or for remediation.
    async fn execution_roles(
        &self,
        all: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        let lambda = &self.clients.lambda;
        let needs_role: BTreeSet<String> = {
            let index = Index::new(snapshot);
            let mut wanted = BTreeSet::new();
            for m in &snapshot.mappings {
                if m.mode() != ScalingMode::OnDemand {
                    continue;
                }
                let services: Vec<_> = crate::rules::required_services(m)
                    .into_iter()
                    .filter(|s| s.uses.iter().any(|u| u.role.is_some()))
                    .collect();
                if services.is_empty() {
                    continue;
                }
                // The role decides a verdict only where an endpoint's policy does not allow
                // the use whoever asks (AWS returns the default full-access policy for every
                // interface endpoint with none set, so most allow): read it only there, one
                // call per function, and keep a sweep's calls flat in mappings.
                let vpc = mapping_vpc(&index, m);
                let judged = vpc.is_some_and(|vpc| {
                    index.endpoints_in(&vpc).iter().any(|e| {
                        e.is_interface()
                            && services.iter().any(|s| {
                                s.short == e.short_service()
                                    && !index
                                        .endpoint_policy(e)
                                        .is_some_and(|p| p.is_ok_and(|p| allows_anyone(p, s)))
                            })
                            && e.policy_document.is_some()
                    })
                });
                if judged || all {
                    wanted.insert(m.function_arn.clone());
                }
            }
            wanted
        };
        for function in needs_role {
            self.count("lambda:GetFunctionConfiguration");
            let call = lambda
                .get_function_configuration()
                .function_name(&function)
                .send();
            let Some(result) = self.bounded(call).await else {
                let class = ErrorClass::Deadline;
                snapshot.gaps.push(gap(
                    "lambda:GetFunctionConfiguration",
                    &class,
                    GapScope::Function(function.clone()),
                ));
                continue;
            };
            match result {
                Ok(out) => {
                    let role = out.role().map(str::to_string);
                    for m in snapshot
                        .mappings
                        .iter_mut()
                        .filter(|m| m.function_arn == function)
                    {
                        m.execution_role = role.clone();
                    }
                }
                Err(e) => match judge("lambda:GetFunctionConfiguration", &e)? {
                    ErrorClass::NotFound { .. } => {}
                    class => snapshot.gaps.push(gap(
                        "lambda:GetFunctionConfiguration",
                        &class,
                        GapScope::Function(function.clone()),
                    )),
                },
            }
        }
        Ok(())
    }
}

fn mapping_vpc(index: &Index<'_>, m: &EventSourceMapping) -> Option<String> {
    let subnet = match &m.source {
        EventSource::Msk { cluster_arn } => match &index.clusters.get(cluster_arn.as_str())?.kind {
            ClusterKind::Provisioned { broker_subnets, .. } => broker_subnets.first().cloned(),
            ClusterKind::Serverless { vpc_configs } => vpc_configs
                .first()
                .and_then(|v| v.subnet_ids.first().cloned()),
        },
        EventSource::SelfManaged { .. } => m
            .access_of("VPC_SUBNET")
            .next()
            .map(|u| u.trim_start_matches("subnet:").to_string()),
    }?;
    index.subnets.get(subnet.as_str()).map(|s| s.vpc_id.clone())
}

fn split<T>(
    r: Result<Vec<T>, Result<ErrorClass, CollectError>>,
) -> (Vec<T>, Result<(), Result<ErrorClass, CollectError>>) {
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

/// Whether `policy` allows every role-bound use of `service` without knowing the role.
fn allows_anyone(policy: &crate::policy::Policy, service: &crate::rules::Service) -> bool {
    use crate::policy::{Decision, Principal, Request};
    service.uses.iter().filter(|u| u.role.is_some()).all(|u| {
        policy.evaluate(&Request {
            action: u.action,
            principal: Principal::Unknown,
            resource: &u.resource,
        }) == Decision::Allow
    })
}

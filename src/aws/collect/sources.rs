//! Reading the mappings and their sources: the mappings (one listing, or one per function
//! or mapping named), their tags, the MSK clusters and VPC connections, and the execution
//! roles endpoint policies decide on.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::aws::from_sources;

impl Collector<'_> {
    pub(super) async fn mappings(
        &self,
        scope: &Scope,
    ) -> Result<Vec<EventSourceMapping>, CollectError> {
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
                    m.source_arn().is_some_and(|arn| {
                        scope
                            .sources
                            .iter()
                            .any(|s| crate::policy::glob_match(s, arn))
                    })
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
                                "mapping {uuid} does not read from Kafka, Amazon MQ or DocumentDB"
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

    pub(super) async fn mapping_tags(&self, snapshot: &mut Snapshot) -> Result<(), CollectError> {
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

    pub(super) async fn clusters(
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
    pub(super) async fn vpc_connections(
        &self,
        arns: &BTreeSet<String>,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        let kafka = &self.clients.kafka;
        let found = self
            .describe_each(
                "kafka:DescribeVpcConnection",
                arns,
                |arn| kafka.describe_vpc_connection().arn(arn).send(),
                from_kafka::vpc_connection,
                snapshot,
            )
            .await?;
        snapshot.vpc_connections.extend(found);
        Ok(())
    }

    /// Amazon MQ brokers: one `DescribeBroker` per broker (MQ has no batch describe), shared
    /// by every mapping on it. The broker id is the ARN's last part.
    pub(super) async fn mq_brokers(
        &self,
        arns: &BTreeSet<String>,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        let mq = &self.clients.mq;
        let found = self
            .describe_each(
                "mq:DescribeBroker",
                arns,
                // The broker id is the ARN's last part.
                |arn| {
                    let id = arn.rsplit(':').next().unwrap_or(arn);
                    mq.describe_broker().broker_id(id).send()
                },
                from_sources::mq_broker,
                snapshot,
            )
            .await?;
        snapshot.mq_brokers.extend(found);
        Ok(())
    }

    /// One describe call per ARN (`send`), its answer read by `read`. A source that is gone
    /// is left out (the mapping's rule says `cluster-not-found`); one that cannot be read,
    /// or reads incomplete, is a gap on that source, never a default.
    async fn describe_each<'a, T, O, E, Fut>(
        &self,
        call: &'static str,
        arns: &'a BTreeSet<String>,
        send: impl Fn(&'a str) -> Fut,
        read: impl Fn(&O) -> Result<T, String>,
        snapshot: &mut Snapshot,
    ) -> Result<Vec<T>, CollectError>
    where
        Fut: std::future::Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut found = Vec::new();
        for arn in arns {
            self.count(call);
            let class = match self.bounded(send(arn)).await {
                None => ErrorClass::Deadline,
                Some(Ok(out)) => match read(&out) {
                    Ok(item) => {
                        found.push(item);
                        continue;
                    }
                    Err(what) => ErrorClass::Incomplete(what),
                },
                Some(Err(e)) => match judge(call, &e)? {
                    ErrorClass::NotFound { .. } => continue,
                    class => class,
                },
            };
            snapshot
                .gaps
                .push(gap(call, &class, GapScope::Cluster(arn.clone())));
        }
        Ok(found)
    }

    /// DocumentDB clusters: one `DescribeDBClusters` for all of them (a `db-cluster-id`
    /// filter of their ARNs, 100 a call), then one `DescribeDBSubnetGroups` per subnet group.
    pub(super) async fn docdb_clusters(
        &self,
        arns: &BTreeSet<String>,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        const CLUSTERS: &str = "rds:DescribeDBClusters";
        const GROUPS: &str = "rds:DescribeDBSubnetGroups";
        let rds = &self.clients.rds;
        let wanted: Vec<String> = arns.iter().cloned().collect();
        let mut clusters = Vec::new();
        for chunk in wanted.chunks(100) {
            let filter = aws_sdk_docdb::types::Filter::builder()
                .name("db-cluster-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let read = pages!(
                self,
                "rds:DescribeDBClusters",
                rds.describe_db_clusters().filters(filter),
                |page| {
                    for c in list(&page.db_clusters, CLUSTERS, "DBClusters")? {
                        clusters.push(c.clone());
                    }
                    Ok(())
                }
            );
            if let Err(class) = read {
                let class = class?;
                snapshot.gaps.extend(
                    chunk
                        .iter()
                        .map(|a| gap(CLUSTERS, &class, GapScope::Cluster(a.clone()))),
                );
            }
        }
        // A cluster answered without its ARN could be any of those asked for: each asked-for
        // cluster missing from the answer is then unknown, not gone (cluster-not-found).
        if clusters.iter().any(|c| c.db_cluster_arn().is_none()) {
            let answered: BTreeSet<&str> =
                clusters.iter().filter_map(|c| c.db_cluster_arn()).collect();
            let what = format!("{CLUSTERS} answered a cluster without DBClusterArn");
            snapshot.gaps.extend(
                arns.iter()
                    .filter(|a| !answered.contains(a.as_str()))
                    .map(|a| {
                        gap(
                            CLUSTERS,
                            &ErrorClass::Incomplete(what.clone()),
                            GapScope::Cluster(a.clone()),
                        )
                    }),
            );
        }
        // Each cluster's subnet group, read once however many clusters share it.
        let mut groups: BTreeMap<String, Result<aws_sdk_docdb::types::DbSubnetGroup, ErrorClass>> =
            BTreeMap::new();
        for c in &clusters {
            let Some(arn) = c.db_cluster_arn().map(str::to_string) else {
                continue;
            };
            if !arns.contains(&arn) {
                continue;
            }
            let Some(name) = c.db_subnet_group() else {
                let what = format!("DocumentDB cluster {arn} without DBSubnetGroup");
                snapshot.gaps.push(gap(
                    CLUSTERS,
                    &ErrorClass::Incomplete(what),
                    GapScope::Cluster(arn),
                ));
                continue;
            };
            if !groups.contains_key(name) {
                self.count(GROUPS);
                let got = match self
                    .bounded(
                        rds.describe_db_subnet_groups()
                            .db_subnet_group_name(name)
                            .send(),
                    )
                    .await
                {
                    None => Err(ErrorClass::Deadline),
                    Some(Ok(out)) => match out.db_subnet_groups.as_deref() {
                        Some([group, ..]) => Ok(group.clone()),
                        _ => Err(ErrorClass::Incomplete(format!(
                            "{GROUPS} answered without subnet group {name}"
                        ))),
                    },
                    // A cluster always has its group: not found is as unknown as a failure.
                    Some(Err(e)) => Err(judge(GROUPS, &e)?),
                };
                groups.insert(name.to_string(), got);
            }
            match &groups[name] {
                Ok(group) => match from_sources::docdb_cluster(c, group) {
                    Ok(cluster) => snapshot.docdb_clusters.push(cluster),
                    Err(what) => snapshot.gaps.push(gap(
                        CLUSTERS,
                        &ErrorClass::Incomplete(what),
                        GapScope::Cluster(arn),
                    )),
                },
                Err(class) => snapshot
                    .gaps
                    .push(gap(GROUPS, class, GapScope::Cluster(arn))),
            }
        }
        Ok(())
    }

    /// Execution roles: wherever a policy's decision depends on them (an endpoint policy
    /// that names roles, an STS policy that names resources), or for remediation. One call
    /// per function.
    pub(super) async fn execution_roles(
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

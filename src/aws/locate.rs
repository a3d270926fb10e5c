//! Small look-ups the function makes before it collects: whether a mapping exists (and is
//! still being created), and which VPC the resources of a network event lie in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_ec2::types::Filter;

use super::errors::{classify, ErrorClass};
use super::Clients;

/// The id prefixes (before the dash) `vpcs_of` can look up.
const KINDS: [&str; 8] = [
    "sg", "rtb", "rtbassoc", "nat", "vpce", "acl", "aclassoc", "subnet",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingStatus {
    NotFound,
    /// `audited` is false for mappings of SQS, Kinesis, DynamoDB streams, ...: their pollers
    /// do not run in the customer's VPC, not ours to audit.
    Found {
        state: Option<String>,
        audited: bool,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{call} failed: {message}")]
pub struct LocateError {
    pub call: &'static str,
    pub message: String,
}

/// Look-ups, counting their calls for the function's metrics.
pub struct Locator<'c> {
    clients: &'c Clients,
    calls: AtomicU32,
}

impl<'c> Locator<'c> {
    pub fn new(clients: &'c Clients) -> Self {
        Locator {
            clients,
            calls: AtomicU32::new(0),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub async fn mapping_status(&self, uuid: &str) -> Result<MappingStatus, LocateError> {
        let lambda = &self.clients.lambda;
        self.count();
        match lambda.get_event_source_mapping().uuid(uuid).send().await {
            // Every mapping has a UUID: an answer without one is cut, not a mapping.
            Ok(out) if out.uuid().is_none() => Err(LocateError {
                call: "lambda:GetEventSourceMapping",
                message: "an incomplete answer: no UUID".into(),
            }),
            Ok(out) => {
                let audited = out.self_managed_event_source().is_some()
                    || out
                        .event_source_arn()
                        .is_some_and(super::from_lambda::is_audited_source);
                Ok(MappingStatus::Found {
                    state: out.state().map(str::to_string),
                    audited,
                })
            }
            Err(e) => match classify(&e) {
                ErrorClass::NotFound { .. } => Ok(MappingStatus::NotFound),
                class => Err(LocateError {
                    call: "lambda:GetEventSourceMapping",
                    message: class.describe(),
                }),
            },
        }
    }

    /// The VPCs of `resources` (ids as in `lambda::event::RESOURCE_PREFIXES`): one filtered
    /// call per kind of resource. Resources that no longer exist are simply not found.
    pub async fn vpcs_of(&self, resources: &[String]) -> Result<BTreeSet<String>, LocateError> {
        let ec2 = &self.clients.ec2;
        let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in resources {
            if let Some((kind, _)) = r.split_once('-') {
                by_kind.entry(kind).or_default().push(r.clone());
            }
        }
        let mut vpcs = BTreeSet::new();
        for (kind, all_ids) in by_kind {
            // EC2 takes at most 200 values in one filter; an event names a handful, but a
            // bulk change (one call revoking hundreds of rules) must not make the call fail.
            for ids in all_ids.chunks(200) {
                let ids = ids.to_vec();
                let filter = |name: &str| {
                    Filter::builder()
                        .name(name)
                        .set_values(Some(ids.clone()))
                        .build()
                };
                let failed = |call: &'static str, e: &dyn std::fmt::Display| LocateError {
                    call,
                    message: e.to_string(),
                };
                if !KINDS.contains(&kind) {
                    continue;
                }
                self.count();
                match kind {
                    "sg" => {
                        let out = ec2
                            .describe_security_groups()
                            .filters(filter("group-id"))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeSecurityGroups", &describe(&e)))?;
                        vpcs.extend(
                            out.security_groups()
                                .iter()
                                .filter_map(|g| g.vpc_id().map(str::to_string)),
                        );
                    }
                    "rtb" | "rtbassoc" => {
                        let name = if kind == "rtb" {
                            "route-table-id"
                        } else {
                            "association.route-table-association-id"
                        };
                        let out = ec2
                            .describe_route_tables()
                            .filters(filter(name))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeRouteTables", &describe(&e)))?;
                        vpcs.extend(
                            out.route_tables()
                                .iter()
                                .filter_map(|t| t.vpc_id().map(str::to_string)),
                        );
                    }
                    "nat" => {
                        let out = ec2
                            .describe_nat_gateways()
                            .filter(filter("nat-gateway-id"))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeNatGateways", &describe(&e)))?;
                        vpcs.extend(
                            out.nat_gateways()
                                .iter()
                                .filter_map(|n| n.vpc_id().map(str::to_string)),
                        );
                    }
                    "vpce" => {
                        let out = ec2
                            .describe_vpc_endpoints()
                            .filters(filter("vpc-endpoint-id"))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeVpcEndpoints", &describe(&e)))?;
                        vpcs.extend(
                            out.vpc_endpoints()
                                .iter()
                                .filter_map(|v| v.vpc_id().map(str::to_string)),
                        );
                    }
                    "acl" | "aclassoc" => {
                        let name = if kind == "acl" {
                            "network-acl-id"
                        } else {
                            "association.association-id"
                        };
                        let out = ec2
                            .describe_network_acls()
                            .filters(filter(name))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeNetworkAcls", &describe(&e)))?;
                        vpcs.extend(
                            out.network_acls()
                                .iter()
                                .filter_map(|a| a.vpc_id().map(str::to_string)),
                        );
                    }
                    "subnet" => {
                        let out = ec2
                            .describe_subnets()
                            .filters(filter("subnet-id"))
                            .send()
                            .await
                            .map_err(|e| failed("ec2:DescribeSubnets", &describe(&e)))?;
                        vpcs.extend(
                            out.subnets()
                                .iter()
                                .filter_map(|s| s.vpc_id().map(str::to_string)),
                        );
                    }
                    _ => {}
                }
            }
        }
        Ok(vpcs)
    }
}

fn describe<E>(
    error: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(error).describe()
}

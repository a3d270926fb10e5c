//! Where a mapping's hyperplane ENIs live: the subnets and security groups it uses, and the
//! broker ports it dials.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::model::{ClusterKind, EventSource, EventSourceMapping, MskCluster};

/// The derived network of a mapping in a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingNetwork {
    pub vpc_id: String,
    /// Where the ENIs are created (sorted).
    pub subnet_ids: Vec<String>,
    /// The groups the ENIs carry, in the order AWS lists them: the first is "the ESM's first".
    pub security_group_ids: Vec<String>,
    pub broker_ports: Vec<u16>,
    /// MSK: the groups the brokers carry. Self-managed: unknown, empty.
    pub broker_security_groups: Vec<String>,
    /// MSK: the broker subnets. Self-managed: empty.
    pub broker_subnet_ids: Vec<String>,
    /// Self-managed: the bootstrap servers.
    pub broker_hosts: Vec<String>,
    pub is_msk: bool,
}

/// The network fields of the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub broker_ports: Vec<u16>,
}

impl MappingNetwork {
    pub fn summary(&self) -> NetworkSummary {
        NetworkSummary {
            vpc_id: Some(self.vpc_id.clone()),
            subnet_ids: self.subnet_ids.clone(),
            security_group_ids: self.security_group_ids.clone(),
            broker_ports: self.broker_ports.clone(),
        }
    }

    pub fn first_group(&self) -> Option<&str> {
        self.security_group_ids.first().map(String::as_str)
    }
}

pub(crate) enum Derived {
    Vpc(MappingNetwork),
    /// Self-managed Kafka without VPC configuration: brokers reached over the internet.
    Internet {
        broker_ports: Vec<u16>,
    },
    ClusterMissing(String),
    Undetermined(String),
}

pub(crate) fn derive(index: &Index<'_>, esm: &EventSourceMapping) -> Derived {
    let (subnets, groups, ports, broker_groups, broker_subnets, hosts) = match &esm.source {
        EventSource::Msk { cluster_arn } => {
            let Some(cluster) = index.clusters.get(cluster_arn.as_str()) else {
                return Derived::ClusterMissing(cluster_arn.clone());
            };
            let (subnets, groups) = cluster_network(cluster);
            let port = broker_port_of(esm, cluster);
            (
                subnets.clone(),
                groups.clone(),
                vec![port],
                groups,
                subnets,
                vec![],
            )
        }
        EventSource::SelfManaged { bootstrap_servers } => {
            let ports = bootstrap_ports(bootstrap_servers);
            let subnets: Vec<String> = esm
                .access_of("VPC_SUBNET")
                .map(|uri| uri.trim_start_matches("subnet:").to_string())
                .collect();
            let groups: Vec<String> = esm
                .access_of("VPC_SECURITY_GROUP")
                .map(|uri| uri.trim_start_matches("security_group:").to_string())
                .collect();
            if subnets.is_empty() {
                return Derived::Internet {
                    broker_ports: ports,
                };
            }
            (
                subnets,
                groups,
                ports,
                vec![],
                vec![],
                bootstrap_servers.clone(),
            )
        }
    };
    let mut subnet_ids = subnets;
    subnet_ids.sort();
    subnet_ids.dedup();
    let missing: Vec<&str> = subnet_ids
        .iter()
        .filter(|id| !index.subnets.contains_key(id.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Derived::Undetermined(format!(
            "The mapping's subnet(s) {} were not returned by ec2:DescribeSubnets (deleted, or in another account or region), so its network cannot be judged",
            missing.join(", ")
        ));
    }
    let vpcs: BTreeSet<&str> = subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.vpc_id.as_str())
        .collect();
    let Some(vpc_id) = vpcs.iter().next() else {
        return Derived::Undetermined("The mapping has no subnets".to_string());
    };
    let mut security_group_ids = Vec::new();
    for g in groups {
        if !security_group_ids.contains(&g) {
            security_group_ids.push(g);
        }
    }
    Derived::Vpc(MappingNetwork {
        vpc_id: vpc_id.to_string(),
        subnet_ids,
        security_group_ids,
        broker_ports: ports,
        broker_security_groups: broker_groups,
        broker_subnet_ids: broker_subnets,
        broker_hosts: hosts,
        is_msk: esm.cluster_arn().is_some(),
    })
}

fn cluster_network(cluster: &MskCluster) -> (Vec<String>, Vec<String>) {
    match &cluster.kind {
        ClusterKind::Provisioned {
            broker_subnets,
            security_groups,
            ..
        } => (broker_subnets.clone(), security_groups.clone()),
        ClusterKind::Serverless { vpc_configs } => {
            let mut subnets = Vec::new();
            let mut groups = Vec::new();
            for config in vpc_configs {
                subnets.extend(config.subnet_ids.iter().cloned());
                for g in &config.security_group_ids {
                    if !groups.contains(g) {
                        groups.push(g.clone());
                    }
                }
            }
            (subnets, groups)
        }
    }
}

/// The broker port a mapping dials on an MSK cluster, from its authentication.
pub fn broker_port_of(esm: &EventSourceMapping, cluster: &MskCluster) -> u16 {
    match &cluster.kind {
        ClusterKind::Serverless { .. } => 9098,
        ClusterKind::Provisioned {
            client_authentication,
            client_broker_encryption,
            ..
        } => {
            if esm.access_of("SASL_SCRAM_512_AUTH").next().is_some() {
                9096
            } else if esm
                .access_of("CLIENT_CERTIFICATE_TLS_AUTH")
                .next()
                .is_some()
            {
                9094
            } else if client_authentication.iam {
                9098
            } else if client_broker_encryption.as_deref() == Some("PLAINTEXT") {
                9092
            } else {
                9094
            }
        }
    }
}

/// The ports of `KAFKA_BOOTSTRAP_SERVERS` entries (`host:port`, `[v6]:port`).
fn bootstrap_ports(servers: &[String]) -> Vec<u16> {
    let mut ports: Vec<u16> = servers
        .iter()
        .filter_map(|s| s.rsplit_once(':'))
        .filter_map(|(_, port)| port.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

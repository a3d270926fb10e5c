//! Where a mapping's hyperplane ENIs live: the subnets and security groups it uses, and the
//! brokers it dials. The one derivation of a mapping's network: the collector asks it which
//! subnets to read, the rules which network to judge.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::model::{
    ClusterKind, EventSource, EventSourceMapping, MskCluster, VPC_CONNECTION_PORTS,
};

/// A range of TCP ports, both bounds inclusive (one port: `(p, p)`).
pub type Ports = (u16, u16);

/// The derived network of a mapping in a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingNetwork {
    pub vpc_id: String,
    /// Where the ENIs are created (sorted).
    pub subnet_ids: Vec<String>,
    /// The groups the ENIs carry, in the order AWS lists them: the first is "the ESM's first".
    pub security_group_ids: Vec<String>,
    /// Every port (or range) the mapping dials, sorted.
    pub broker_ports: Vec<Ports>,
    /// A managed source (an MSK cluster, its VPC connection): the groups its brokers (or
    /// the connection's endpoint) carry. Self-managed: unknown, empty.
    pub broker_security_groups: Vec<String>,
    /// A managed source: the subnets its brokers (or endpoint) sit in. Self-managed: empty.
    pub broker_subnet_ids: Vec<String>,
    /// Self-managed: the bootstrap servers, each with its port.
    pub servers: Vec<Server>,
    /// Self-managed: bootstrap servers without a usable port (`host:99999`, `host`).
    pub bad_servers: Vec<String>,
    /// The brokers' side is known (their groups and subnets): `broker-ingress` applies.
    pub managed: bool,
}

/// One self-managed bootstrap server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// As configured, `host:port`.
    pub text: String,
    pub host: String,
    pub port: u16,
}

/// The network fields of the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// The single ports the mapping dials.
    pub broker_ports: Vec<u16>,
    /// Port ranges it dials (an MSK VPC connection's brokers), `[from, to]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broker_port_ranges: Vec<[u16; 2]>,
}

impl NetworkSummary {
    /// `9098`, `9092, 9096`, `14001-14100`; `unknown` when there is none.
    pub fn ports_text(&self) -> String {
        let mut all: Vec<String> = self.broker_ports.iter().map(u16::to_string).collect();
        all.extend(
            self.broker_port_ranges
                .iter()
                .map(|[a, b]| format!("{a}-{b}")),
        );
        if all.is_empty() {
            "unknown".to_string()
        } else {
            all.join(", ")
        }
    }
}

/// Splits port ranges into the report's single ports and ranges.
pub(crate) fn port_summary(ports: &[Ports]) -> (Vec<u16>, Vec<[u16; 2]>) {
    let singles = ports.iter().filter(|p| p.0 == p.1).map(|p| p.0).collect();
    let ranges = ports
        .iter()
        .filter(|p| p.0 != p.1)
        .map(|p| [p.0, p.1])
        .collect();
    (singles, ranges)
}

impl MappingNetwork {
    pub fn summary(&self) -> NetworkSummary {
        let (broker_ports, broker_port_ranges) = port_summary(&self.broker_ports);
        NetworkSummary {
            vpc_id: Some(self.vpc_id.clone()),
            subnet_ids: self.subnet_ids.clone(),
            security_group_ids: self.security_group_ids.clone(),
            broker_ports,
            broker_port_ranges,
        }
    }

    pub fn first_group(&self) -> Option<&str> {
        self.security_group_ids.first().map(String::as_str)
    }
}

pub(crate) enum Derived {
    Vpc(MappingNetwork),
    /// Brokers reached over the internet: self-managed Kafka without VPC configuration, or a
    /// publicly accessible MQ broker. The VPC rules do not apply.
    Internet {
        broker_ports: Vec<Ports>,
        bad_servers: Vec<String>,
    },
    ClusterMissing(String),
    Undetermined(String),
}

/// The subnets and security groups a mapping's ENIs use, as configured (unsorted, groups
/// in AWS's order); `None` when its source (cluster, VPC connection) is not known.
/// Self-managed mappings without `VPC_SUBNET` give empty lists (brokers over the internet).
pub fn configured_network(
    esm: &EventSourceMapping,
    index: &Index<'_>,
) -> Option<(Vec<String>, Vec<String>)> {
    match &esm.source {
        EventSource::Msk { cluster_arn } => {
            Some(cluster_network(index.clusters.get(cluster_arn.as_str())?))
        }
        EventSource::MskVpcConnection { connection_arn } => {
            let c = index.vpc_connections.get(connection_arn.as_str())?;
            Some((c.subnet_ids.clone(), c.security_group_ids.clone()))
        }
        // A public broker is reached over the internet: no subnets of the customer's.
        EventSource::Mq { broker_arn } => {
            let b = index.mq_brokers.get(broker_arn.as_str())?;
            Some(if b.publicly_accessible {
                (vec![], vec![])
            } else {
                (b.subnet_ids.clone(), b.security_group_ids.clone())
            })
        }
        EventSource::DocumentDb { cluster_arn } => {
            let c = index.docdb_clusters.get(cluster_arn.as_str())?;
            Some((c.subnet_ids.clone(), c.security_group_ids.clone()))
        }
        EventSource::SelfManaged { .. } => Some((
            esm.access_of("VPC_SUBNET")
                .map(|uri| uri.trim_start_matches("subnet:").to_string())
                .collect(),
            esm.access_of("VPC_SECURITY_GROUP")
                .map(|uri| uri.trim_start_matches("security_group:").to_string())
                .collect(),
        )),
    }
}

pub(crate) fn derive(index: &Index<'_>, esm: &EventSourceMapping) -> Derived {
    let Some((subnets, groups)) = configured_network(esm, index) else {
        return Derived::ClusterMissing(esm.source_arn().unwrap_or_default().to_string());
    };
    let (ports, servers, bad_servers) = match &esm.source {
        EventSource::Msk { cluster_arn } => {
            let port = index
                .clusters
                .get(cluster_arn.as_str())
                .map(|c| broker_port_of(esm, c))
                .unwrap_or_default();
            (vec![(port, port)], vec![], vec![])
        }
        EventSource::MskVpcConnection { .. } => (vec![VPC_CONNECTION_PORTS], vec![], vec![]),
        EventSource::Mq { broker_arn } => {
            let Some(broker) = index.mq_brokers.get(broker_arn.as_str()) else {
                return Derived::ClusterMissing(broker_arn.clone());
            };
            let port = broker.engine.port();
            if broker.publicly_accessible {
                return Derived::Internet {
                    broker_ports: vec![(port, port)],
                    bad_servers: vec![],
                };
            }
            (vec![(port, port)], vec![], vec![])
        }
        EventSource::DocumentDb { cluster_arn } => {
            let port = index
                .docdb_clusters
                .get(cluster_arn.as_str())
                .map(|c| c.port)
                .unwrap_or_default();
            (vec![(port, port)], vec![], vec![])
        }
        EventSource::SelfManaged { bootstrap_servers } => {
            let (servers, bad) = parse_servers(bootstrap_servers);
            let mut ports: Vec<Ports> = servers.iter().map(|s| (s.port, s.port)).collect();
            ports.sort_unstable();
            ports.dedup();
            if subnets.is_empty() {
                return Derived::Internet {
                    broker_ports: ports,
                    bad_servers: bad,
                };
            }
            (ports, servers, bad)
        }
    };
    let managed = !matches!(esm.source, EventSource::SelfManaged { .. });
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
    for g in &groups {
        if !security_group_ids.contains(g) {
            security_group_ids.push(g.clone());
        }
    }
    Derived::Vpc(MappingNetwork {
        vpc_id: vpc_id.to_string(),
        broker_security_groups: if managed {
            security_group_ids.clone()
        } else {
            vec![]
        },
        broker_subnet_ids: if managed { subnet_ids.clone() } else { vec![] },
        subnet_ids,
        security_group_ids,
        broker_ports: ports,
        servers,
        bad_servers,
        managed,
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

/// `KAFKA_BOOTSTRAP_SERVERS` entries (`host:port`, `[v6]:port`): the usable ones, and those
/// without a port from 1 to 65535.
fn parse_servers(servers: &[String]) -> (Vec<Server>, Vec<String>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for text in servers {
        let parsed = text.rsplit_once(':').and_then(|(host, port)| {
            let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            (!host.is_empty()).then(|| (host.to_string(), port))
        });
        match parsed {
            Some((host, port)) => good.push(Server {
                text: text.clone(),
                host,
                port,
            }),
            None => bad.push(text.clone()),
        }
    }
    (good, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_without_a_usable_port_are_kept_apart() {
        let servers: Vec<String> = [
            "b-1.example.com:9092",
            "[fd00::1]:9094",
            "host:99999",
            "host",
            "host:0",
            ":9092",
            "10.0.0.1:abc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (good, bad) = parse_servers(&servers);
        assert_eq!(
            good.iter()
                .map(|s| (s.host.as_str(), s.port))
                .collect::<Vec<_>>(),
            vec![("b-1.example.com", 9092), ("fd00::1", 9094)]
        );
        assert_eq!(
            bad,
            vec!["host:99999", "host", "host:0", ":9092", "10.0.0.1:abc"]
        );
    }
}

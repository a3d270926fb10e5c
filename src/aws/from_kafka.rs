//! MSK clusters (ListClustersV2 / DescribeClusterV2) into the model.

use aws_sdk_kafka::types::Cluster;

use crate::model::{ClientAuthentication, ClusterKind, MskCluster, ServerlessVpcConfig};

pub(crate) fn cluster(c: &Cluster) -> Option<MskCluster> {
    let kind = if let Some(p) = c.provisioned() {
        let nodes = p.broker_node_group_info();
        let auth = p.client_authentication();
        let sasl = auth.and_then(|a| a.sasl());
        ClusterKind::Provisioned {
            broker_subnets: nodes
                .map(|n| n.client_subnets().to_vec())
                .unwrap_or_default(),
            security_groups: nodes
                .map(|n| n.security_groups().to_vec())
                .unwrap_or_default(),
            client_authentication: ClientAuthentication {
                iam: sasl
                    .and_then(|s| s.iam())
                    .and_then(|i| i.enabled())
                    .unwrap_or(false),
                scram: sasl
                    .and_then(|s| s.scram())
                    .and_then(|i| i.enabled())
                    .unwrap_or(false),
                tls: auth
                    .and_then(|a| a.tls())
                    .and_then(|t| t.enabled())
                    .unwrap_or(false),
                unauthenticated: auth
                    .and_then(|a| a.unauthenticated())
                    .and_then(|u| u.enabled())
                    .unwrap_or(false),
            },
            client_broker_encryption: p
                .encryption_info()
                .and_then(|e| e.encryption_in_transit())
                .and_then(|t| t.client_broker())
                .map(|b| b.as_str().to_string()),
        }
    } else if let Some(s) = c.serverless() {
        ClusterKind::Serverless {
            vpc_configs: s
                .vpc_configs()
                .iter()
                .map(|v| ServerlessVpcConfig {
                    subnet_ids: v.subnet_ids().to_vec(),
                    security_group_ids: v.security_group_ids().to_vec(),
                })
                .collect(),
        }
    } else {
        return None;
    };
    Some(MskCluster {
        arn: c.cluster_arn()?.to_string(),
        name: c.cluster_name().unwrap_or_default().to_string(),
        state: c.state().map(|s| s.as_str().to_string()),
        kind,
    })
}

//! MSK clusters (ListClustersV2 / DescribeClusterV2) into the model, failing closed: a
//! field MSK always sends that is missing makes the cluster unknown, never a default.

use aws_sdk_kafka::types::Cluster;

use super::from_ec2::Incomplete;
use aws_sdk_kafka::operation::describe_vpc_connection::DescribeVpcConnectionOutput;

use crate::model::{
    ClientAuthentication, ClusterKind, MskCluster, ServerlessVpcConfig, VpcConnection,
};

pub(crate) fn cluster(c: &Cluster) -> Result<MskCluster, Incomplete> {
    let arn = c
        .cluster_arn()
        .ok_or_else(|| "a cluster without ClusterArn".to_string())?;
    let kind = if let Some(p) = c.provisioned() {
        let nodes = p
            .broker_node_group_info()
            .ok_or_else(|| format!("cluster {arn} without BrokerNodeGroupInfo"))?;
        // The broker port follows from the authentication: without it, unknown.
        let auth = p
            .client_authentication()
            .ok_or_else(|| format!("cluster {arn} without ClientAuthentication"))?;
        let sasl = auth.sasl();
        // A mechanism MSK leaves out is off; one it sends without `Enabled` is unknown, since
        // the port (and so the rules checked) follows from it.
        let enabled = |mechanism: Option<Option<bool>>, name: &str| match mechanism {
            None => Ok(false),
            Some(Some(on)) => Ok(on),
            Some(None) => Err(format!(
                "cluster {arn}: {name} authentication without Enabled"
            )),
        };
        ClusterKind::Provisioned {
            broker_subnets: nodes.client_subnets().to_vec(),
            security_groups: nodes.security_groups().to_vec(),
            client_authentication: ClientAuthentication {
                iam: enabled(sasl.and_then(|s| s.iam()).map(|i| i.enabled()), "IAM")?,
                scram: enabled(sasl.and_then(|s| s.scram()).map(|i| i.enabled()), "SCRAM")?,
                tls: enabled(auth.tls().map(|t| t.enabled()), "TLS")?,
                unauthenticated: enabled(
                    auth.unauthenticated().map(|u| u.enabled()),
                    "unauthenticated",
                )?,
            },
            // Absent: MSK's default, TLS.
            client_broker_encryption: p
                .encryption_info()
                .and_then(|e| e.encryption_in_transit())
                .and_then(|t| t.client_broker())
                .map(|b| b.as_str().to_string()),
        }
    } else if let Some(s) = c.serverless() {
        if s.vpc_configs.is_none() {
            return Err(format!("serverless cluster {arn} without VpcConfigs"));
        }
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
        return Err(format!(
            "cluster {arn} is neither provisioned nor serverless"
        ));
    };
    if let ClusterKind::Provisioned { broker_subnets, .. } = &kind {
        if broker_subnets.is_empty() {
            return Err(format!("cluster {arn} without ClientSubnets"));
        }
    }
    Ok(MskCluster {
        arn: arn.to_string(),
        name: c.cluster_name().unwrap_or_default().to_string(),
        state: c.state().map(|s| s.as_str().to_string()),
        kind,
    })
}

/// A VPC connection (DescribeVpcConnection): its ARN, VPC, subnets and groups are always
/// sent; without them the mapping's network is unknown.
pub(crate) fn vpc_connection(o: &DescribeVpcConnectionOutput) -> Result<VpcConnection, Incomplete> {
    let arn = o
        .vpc_connection_arn()
        .ok_or_else(|| "a VPC connection without VpcConnectionArn".to_string())?;
    let need = |list: &Option<Vec<String>>, what: &str| {
        list.clone()
            .ok_or_else(|| format!("VPC connection {arn} without {what}"))
    };
    Ok(VpcConnection {
        arn: arn.to_string(),
        target_cluster_arn: o.target_cluster_arn().unwrap_or_default().to_string(),
        state: o.state().map(|s| s.as_str().to_string()),
        authentication: o.authentication().map(str::to_string),
        vpc_id: o
            .vpc_id()
            .ok_or_else(|| format!("VPC connection {arn} without VpcId"))?
            .to_string(),
        subnet_ids: need(&o.subnets, "Subnets")?,
        security_group_ids: need(&o.security_groups, "SecurityGroups")?,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_kafka::types::{BrokerNodeGroupInfo, Iam, Provisioned, Sasl, Scram};

    use super::*;

    fn provisioned(auth: aws_sdk_kafka::types::ClientAuthentication) -> Cluster {
        let nodes = BrokerNodeGroupInfo::builder()
            .client_subnets("subnet-1")
            .security_groups("sg-1")
            .instance_type("kafka.m5.large")
            .build();
        Cluster::builder()
            .cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/c/1")
            .provisioned(
                Provisioned::builder()
                    .broker_node_group_info(nodes)
                    .client_authentication(auth)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_mechanism_left_out_is_off_and_one_sent_is_read() {
        let auth = aws_sdk_kafka::types::ClientAuthentication::builder()
            .sasl(
                Sasl::builder()
                    .iam(Iam::builder().enabled(true).build())
                    .scram(Scram::builder().enabled(false).build())
                    .build(),
            )
            .build();
        let c = cluster(&provisioned(auth)).unwrap();
        let ClusterKind::Provisioned {
            client_authentication: a,
            ..
        } = c.kind
        else {
            panic!("provisioned")
        };
        assert!(a.iam && !a.scram && !a.tls && !a.unauthenticated);
    }

    #[test]
    fn a_mechanism_sent_without_enabled_makes_the_cluster_unknown() {
        let auth = aws_sdk_kafka::types::ClientAuthentication::builder()
            .sasl(Sasl::builder().iam(Iam::builder().build()).build())
            .build();
        let err = cluster(&provisioned(auth)).unwrap_err();
        assert!(err.contains("IAM authentication without Enabled"), "{err}");
    }
}

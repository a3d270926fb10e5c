//! The other event sources whose mappings poll from the customer's VPC: Amazon MQ brokers
//! and Amazon DocumentDB clusters.

use serde::{Deserialize, Serialize};

/// An Amazon MQ broker (`mq:DescribeBroker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqBroker {
    pub arn: String,
    pub id: String,
    pub engine: MqEngine,
    /// `SINGLE_INSTANCE`, `ACTIVE_STANDBY_MULTI_AZ` or `CLUSTER_MULTI_AZ`.
    #[serde(default)]
    pub deployment_mode: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// A public endpoint: Lambda reaches it over the internet, not through the VPC.
    pub publicly_accessible: bool,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MqEngine {
    ActiveMq,
    RabbitMq,
}

impl MqEngine {
    /// The port Lambda dials: "By default, Amazon MQ uses the following ports: 61617
    /// (Amazon MQ for ActiveMQ), and 5671 (Amazon MQ for RabbitMQ)" (Lambda developer guide,
    /// process-mq-messages-with-lambda).
    pub fn port(self) -> u16 {
        match self {
            MqEngine::ActiveMq => 61617,
            MqEngine::RabbitMq => 5671,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MqEngine::ActiveMq => "ActiveMQ",
            MqEngine::RabbitMq => "RabbitMQ",
        }
    }
}

/// An Amazon DocumentDB cluster (`rds:DescribeDBClusters` and its subnet group,
/// `rds:DescribeDBSubnetGroups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocDbCluster {
    pub arn: String,
    pub id: String,
    /// `DBCluster.Port`: 27017 unless configured otherwise.
    pub port: u16,
    pub subnet_group: String,
    /// The subnet group's VPC.
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    /// The cluster's VPC security groups.
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
}

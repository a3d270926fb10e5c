use serde::{Deserialize, Serialize};

/// An Amazon MSK cluster, provisioned or serverless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MskCluster {
    pub arn: String,
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    pub kind: ClusterKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClusterKind {
    Provisioned {
        broker_subnets: Vec<String>,
        security_groups: Vec<String>,
        #[serde(default)]
        client_authentication: ClientAuthentication,
        /// `EncryptionInTransit.ClientBroker`: `TLS`, `TLS_PLAINTEXT` or `PLAINTEXT`.
        #[serde(default)]
        client_broker_encryption: Option<String>,
    },
    Serverless {
        vpc_configs: Vec<ServerlessVpcConfig>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientAuthentication {
    pub iam: bool,
    pub scram: bool,
    pub tls: bool,
    pub unauthenticated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerlessVpcConfig {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// An MSK VPC connection (multi-VPC private connectivity): a client account's managed
/// endpoint to a cluster of (usually) another account. A mapping reading through it uses the
/// connection's client subnets and security groups.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VpcConnection {
    pub arn: String,
    pub target_cluster_arn: String,
    /// `CREATING`, `AVAILABLE`, `INACTIVE`, `DEACTIVATING`, `DELETING`, `FAILED`,
    /// `REJECTED`, `REJECTING`.
    pub state: Option<String>,
    /// `SASL_IAM`, `SASL_SCRAM` or `TLS`.
    pub authentication: Option<String>,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// The ports the brokers of a multi-VPC connection listen on, whatever the authentication:
/// MSK maps each broker to a port of this range on the connection's endpoint (MSK
/// developer guide, "Port information").
pub const VPC_CONNECTION_PORTS: (u16, u16) = (14001, 14100);

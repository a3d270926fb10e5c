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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Lambda event source mapping whose pollers run in the customer's VPC: Kafka (MSK or
/// self-managed), Amazon MQ or Amazon DocumentDB.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EventSourceMapping {
    pub uuid: String,
    pub arn: Option<String>,
    pub function_arn: String,
    /// The function's execution role, read only where an endpoint policy must be judged
    /// against it (a Secrets Manager secret or an on-failure destination).
    pub execution_role: Option<String>,
    pub source: EventSource,
    /// Present: provisioned mode. Absent: on-demand mode.
    pub provisioned_poller: Option<ProvisionedPollerConfig>,
    pub source_access: Vec<SourceAccess>,
    pub topics: Vec<String>,
    pub on_failure_destination: Option<String>,
    pub state: Option<String>,
    pub last_processing_result: Option<String>,
    /// Why the mapping last changed state: `User action`, or an error code such as
    /// `EVENT_SOURCE_AUTHN_ERROR`.
    pub state_transition_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventSource {
    Msk {
        cluster_arn: String,
    },
    /// A cluster reached through an MSK VPC connection (`arn:...:kafka:...:vpc-connection/...`):
    /// cross-account or multi-VPC.
    MskVpcConnection {
        connection_arn: String,
    },
    SelfManaged {
        bootstrap_servers: Vec<String>,
    },
    /// An Amazon MQ broker (`arn:...:mq:...:broker:NAME:ID`), ActiveMQ or RabbitMQ.
    Mq {
        broker_arn: String,
    },
    /// An Amazon DocumentDB cluster (`arn:...:rds:...:cluster:NAME`): its change streams.
    DocumentDb {
        cluster_arn: String,
    },
}

impl Default for EventSource {
    fn default() -> Self {
        EventSource::SelfManaged {
            bootstrap_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProvisionedPollerConfig {
    pub minimum_pollers: Option<i32>,
    pub maximum_pollers: Option<i32>,
}

/// One entry of `SourceAccessConfigurations`: `{Type, URI}` as Lambda returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAccess {
    #[serde(rename = "type")]
    pub kind: String,
    pub uri: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingMode {
    OnDemand,
    Provisioned,
}

impl ScalingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingMode::OnDemand => "on-demand",
            ScalingMode::Provisioned => "provisioned",
        }
    }
}

impl EventSourceMapping {
    pub fn mode(&self) -> ScalingMode {
        if self.provisioned_poller.is_some() {
            ScalingMode::Provisioned
        } else {
            ScalingMode::OnDemand
        }
    }

    /// The source access configurations of one type, e.g. `VPC_SUBNET`.
    pub fn access_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.source_access
            .iter()
            .filter(move |a| a.kind == kind)
            .map(|a| a.uri.as_str())
    }

    /// Secrets Manager ARNs among the source access configurations.
    pub fn secret_arns(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> = self
            .source_access
            .iter()
            .map(|a| a.uri.as_str())
            .filter(|uri| uri.starts_with("arn:") && uri.contains(":secretsmanager:"))
            .collect();
        secrets.sort_unstable();
        secrets.dedup();
        secrets
    }

    /// The function's name, from its ARN (`arn:aws:lambda:r:a:function:NAME[:qualifier]`).
    pub fn function_name(&self) -> &str {
        function_name(&self.function_arn)
    }

    /// The ARN of the event source the mapping reads from (`EventSourceArn`); `None` for
    /// self-managed Kafka.
    pub fn source_arn(&self) -> Option<&str> {
        match &self.source {
            EventSource::Msk { cluster_arn } => Some(cluster_arn),
            EventSource::MskVpcConnection { connection_arn } => Some(connection_arn),
            EventSource::Mq { broker_arn } => Some(broker_arn),
            EventSource::DocumentDb { cluster_arn } => Some(cluster_arn),
            EventSource::SelfManaged { .. } => None,
        }
    }

    /// The MSK cluster read directly (not through a VPC connection).
    pub fn cluster_arn(&self) -> Option<&str> {
        match &self.source {
            EventSource::Msk { cluster_arn } => Some(cluster_arn),
            _ => None,
        }
    }
}

/// A function's name from its ARN (`arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`);
/// anything that is not an ARN is taken as the name already.
pub fn function_name(arn: &str) -> &str {
    if arn.starts_with("arn:") {
        arn.split(':').nth(6).unwrap_or(arn)
    } else {
        arn
    }
}

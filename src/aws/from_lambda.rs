//! Lambda's event source mappings into the model.

use aws_sdk_lambda::types::{EndPointType, EventSourceMappingConfiguration};

use crate::model::{EventSource, EventSourceMapping, ProvisionedPollerConfig, SourceAccess};

/// List and Get return the same fields in two types: one conversion serves both.
pub(crate) trait MappingFields {
    fn event_source_arn(&self) -> Option<&str>;
    fn self_managed_event_source(&self) -> Option<&aws_sdk_lambda::types::SelfManagedEventSource>;
    fn uuid(&self) -> Option<&str>;
    fn event_source_mapping_arn(&self) -> Option<&str>;
    fn function_arn(&self) -> Option<&str>;
    fn provisioned_poller_config(&self) -> Option<&aws_sdk_lambda::types::ProvisionedPollerConfig>;
    fn source_access_configurations(&self) -> &[aws_sdk_lambda::types::SourceAccessConfiguration];
    fn topics(&self) -> &[String];
    fn destination_config(&self) -> Option<&aws_sdk_lambda::types::DestinationConfig>;
    fn state(&self) -> Option<&str>;
    fn last_processing_result(&self) -> Option<&str>;
    fn state_transition_reason(&self) -> Option<&str>;
}

macro_rules! mapping_fields {
    ($ty:ty) => {
        impl MappingFields for $ty {
            fn event_source_arn(&self) -> Option<&str> {
                self.event_source_arn()
            }
            fn self_managed_event_source(
                &self,
            ) -> Option<&aws_sdk_lambda::types::SelfManagedEventSource> {
                self.self_managed_event_source()
            }
            fn uuid(&self) -> Option<&str> {
                self.uuid()
            }
            fn event_source_mapping_arn(&self) -> Option<&str> {
                self.event_source_mapping_arn()
            }
            fn function_arn(&self) -> Option<&str> {
                self.function_arn()
            }
            fn provisioned_poller_config(
                &self,
            ) -> Option<&aws_sdk_lambda::types::ProvisionedPollerConfig> {
                self.provisioned_poller_config()
            }
            fn source_access_configurations(
                &self,
            ) -> &[aws_sdk_lambda::types::SourceAccessConfiguration] {
                self.source_access_configurations()
            }
            fn topics(&self) -> &[String] {
                self.topics()
            }
            fn destination_config(&self) -> Option<&aws_sdk_lambda::types::DestinationConfig> {
                self.destination_config()
            }
            fn state(&self) -> Option<&str> {
                self.state()
            }
            fn last_processing_result(&self) -> Option<&str> {
                self.last_processing_result()
            }
            fn state_transition_reason(&self) -> Option<&str> {
                self.state_transition_reason()
            }
        }
    };
}

mapping_fields!(EventSourceMappingConfiguration);
mapping_fields!(aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput);

/// The mapping as the model holds it, `None` when its pollers do not run in the customer's
/// VPC (SQS, Kinesis, DynamoDB streams), or what the answer lacked (a mapping always has a
/// UUID and a function).
pub(crate) fn mapping(
    m: &impl MappingFields,
) -> Result<Option<EventSourceMapping>, super::from_ec2::Incomplete> {
    let Some(uuid) = m.uuid() else {
        return Err("an event source mapping without UUID".into());
    };
    let Some(function_arn) = m.function_arn() else {
        return Err(format!("event source mapping {uuid} without FunctionArn"));
    };
    let source = match (m.event_source_arn(), m.self_managed_event_source()) {
        (Some(arn), _) if is_audited_source(arn) => match arn.split(':').nth(2) {
            // arn:PARTITION:mq:REGION:ACCOUNT:broker:NAME:ID
            Some("mq") => EventSource::Mq {
                broker_arn: arn.to_string(),
            },
            // arn:PARTITION:rds:REGION:ACCOUNT:cluster:NAME (Lambda reads DocumentDB only)
            Some("rds") => EventSource::DocumentDb {
                cluster_arn: arn.to_string(),
            },
            // arn:PARTITION:kafka:REGION:ACCOUNT:cluster/... or .../vpc-connection/...
            _ if arn
                .split(':')
                .nth(5)
                .is_some_and(|r| r.starts_with("vpc-connection/")) =>
            {
                EventSource::MskVpcConnection {
                    connection_arn: arn.to_string(),
                }
            }
            _ => EventSource::Msk {
                cluster_arn: arn.to_string(),
            },
        },
        // Without its bootstrap servers there is no broker path to judge: incomplete.
        (_, Some(self_managed)) => EventSource::SelfManaged {
            bootstrap_servers: self_managed
                .endpoints()
                .and_then(|e| e.get(&EndPointType::KafkaBootstrapServers))
                .cloned()
                .ok_or_else(|| {
                    format!("self-managed mapping {uuid} without KAFKA_BOOTSTRAP_SERVERS")
                })?,
        },
        _ => return Ok(None),
    };
    Ok(Some(EventSourceMapping {
        uuid: uuid.to_string(),
        arn: m.event_source_mapping_arn().map(str::to_string),
        function_arn: function_arn.to_string(),
        execution_role: None,
        source,
        provisioned_poller: m
            .provisioned_poller_config()
            .map(|p| ProvisionedPollerConfig {
                minimum_pollers: p.minimum_pollers(),
                maximum_pollers: p.maximum_pollers(),
            }),
        // A configuration without its type or URI could hide a VPC_SUBNET: incomplete.
        source_access: m
            .source_access_configurations()
            .iter()
            .map(|a| match (a.r#type(), a.uri()) {
                (Some(kind), Some(uri)) => Ok(SourceAccess {
                    kind: kind.as_str().to_string(),
                    uri: uri.to_string(),
                }),
                _ => Err(format!(
                    "a source access configuration of mapping {uuid} without Type or URI"
                )),
            })
            .collect::<Result<_, _>>()?,
        topics: m.topics().to_vec(),
        on_failure_destination: m
            .destination_config()
            .and_then(|d| d.on_failure())
            .and_then(|f| f.destination())
            .map(str::to_string),
        state: m.state().map(str::to_string),
        last_processing_result: m.last_processing_result().map(str::to_string),
        state_transition_reason: m.state_transition_reason().map(str::to_string),
        tags: Default::default(),
    }))
}

/// Whether a mapping on `arn` polls from the customer's VPC: an MSK cluster or VPC
/// connection, an Amazon MQ broker, a DocumentDB cluster.
pub(crate) fn is_audited_source(arn: &str) -> bool {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_), Some(service)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    match service {
        "kafka" | "mq" => true,
        "rds" => arn.split(':').nth(5) == Some("cluster"),
        _ => false,
    }
}

/// The UUID in a mapping ARN (`arn:aws:lambda:R:A:event-source-mapping:UUID`), or the
/// argument itself when it is already a UUID.
pub(crate) fn uuid_of(esm: &str) -> &str {
    esm.rsplit(':').next().unwrap_or(esm)
}

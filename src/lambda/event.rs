//! What an incoming EventBridge event asks of the function: re-audit one mapping, the
//! mappings of one VPC, all of them, or nothing.
//!
//! Pure: JSON in, a `Trigger` out. The event body is only a hint of what to re-read; the
//! handler reads the facts themselves through the APIs.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::alert::confirm;

pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";
const SCHEDULED_SOURCES: [&str; 2] = ["aws.events", "aws.scheduler"];

/// The EC2 calls that can open or close a mapping's network path (the template's
/// `NetworkChanged` rule lists the same names).
pub const NETWORK_EVENTS: [&str; 21] = [
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    "AssociateRouteTable",
    "ReplaceRouteTableAssociation",
    "DisassociateRouteTable",
    "CreateNatGateway",
    "DeleteNatGateway",
    "CreateVpcEndpoint",
    "ModifyVpcEndpoint",
    "DeleteVpcEndpoints",
    "CreateNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "DeleteNetworkAclEntry",
    "ReplaceNetworkAclAssociation",
    "ModifyVpcAttribute",
];

/// The calls that change an event source's network (its security groups, its broker ports,
/// its subnets, its existence), by service (the template's `SourceChanged` and
/// `BrokerChanged` rules list the same): the mappings on that source are audited again.
/// Names match exactly (`DeleteDBClusterSnapshot` is not `DeleteDBCluster`).
pub const SOURCE_EVENTS: [(&str, &[&str]); 3] = [
    (
        "kafka.amazonaws.com",
        &[
            "UpdateSecurity",
            "UpdateConnectivity",
            "DeleteCluster",
            "CreateVpcConnection",
            "DeleteVpcConnection",
            "RejectClientVpcConnection",
        ],
    ),
    ("amazonmq.amazonaws.com", &["UpdateBroker", "DeleteBroker"]),
    ("rds.amazonaws.com", &["ModifyDBCluster", "DeleteDBCluster"]),
];

/// Where those calls name the source: an ARN (MSK, DocumentDB's response), or an id that
/// ends one (an MQ broker id, a DocumentDB cluster identifier).
const SOURCE_FIELDS: [(&str, &str); 9] = [
    ("requestParameters", "clusterArn"),
    ("requestParameters", "vpcConnectionArn"),
    ("requestParameters", "arn"),
    ("responseElements", "vpcConnectionArn"),
    ("responseElements", "clusterArn"),
    ("responseElements", "arn"),
    ("requestParameters", "brokerId"),
    ("requestParameters", "dBClusterIdentifier"),
    ("responseElements", "dBClusterArn"),
];

/// The request parameters that move a broker's or a cluster's network: an `UpdateBroker` or
/// `ModifyDBCluster` without any of them (a maintenance window, a backup retention) changes
/// no path.
const NETWORK_PARAMETERS: [(&str, &[&str]); 2] = [
    ("UpdateBroker", &["securityGroups"]),
    ("ModifyDBCluster", &["vpcSecurityGroupIds", "port"]),
];

/// Id prefixes of the resources whose VPC the handler can look up. Longer prefixes that
/// share a start (`rtbassoc-`, `aclassoc-`) are distinct because of the dash.
pub const RESOURCE_PREFIXES: [&str; 8] = [
    "sg-",
    "rtb-",
    "rtbassoc-",
    "nat-",
    "vpce-",
    "acl-",
    "aclassoc-",
    "subnet-",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingChange {
    Created,
    Updated,
    Deleted,
}

impl MappingChange {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingChange::Created => "created",
            MappingChange::Updated => "updated",
            MappingChange::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A mapping was created, changed or deleted: re-read that one mapping.
    Mapping {
        uuid: String,
        change: MappingChange,
        event_name: String,
    },
    /// A network resource changed: re-audit the mappings of its VPC.
    Network {
        event_name: String,
        /// The VPC, when the event names it.
        vpc_id: Option<String>,
        /// Resource ids in the event (`sg-`, `rtb-`, `nat-`, ...), to look the VPC up by.
        resources: Vec<String>,
    },
    /// An event source changed (an MSK cluster, a VPC connection, an MQ broker, a
    /// DocumentDB cluster): re-audit its mappings.
    Source {
        event_name: String,
        /// The sources' ARNs, or ARN patterns (`*` for what the event does not name) where
        /// the event names a source by id.
        sources: Vec<String>,
    },
    /// A function's configuration changed (its execution role decides what an endpoint
    /// policy allows): re-audit its mappings.
    Function {
        event_name: String,
        /// As the call named it: a name or an ARN.
        function: String,
    },
    /// A scheduled sweep of every mapping in the region.
    Sweep { source: String },
    /// A follow-up check esm-guard scheduled for one mapping (`alert::confirm`).
    FollowUp {
        uuid: String,
        follow_up: confirm::FollowUp,
    },
    /// Nothing to do; `reason` goes to the log.
    Ignored { reason: String },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Mapping { .. } => "mapping",
            Trigger::Network { .. } => "network",
            Trigger::Source { .. } => "source",
            Trigger::Function { .. } => "function",
            Trigger::Sweep { .. } => "sweep",
            Trigger::FollowUp { .. } => "follow-up",
            Trigger::Ignored { .. } => "ignored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not a JSON object (found {found})")]
    NotAnObject { found: &'static str },
    #[error("the event has no `{field}` (missing or null)")]
    Missing { field: String },
    #[error("the event's `{field}` should be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("the event's `{field}` is not {expected}")]
    Invalid {
        field: String,
        expected: &'static str,
    },
}

/// A value from the event, as it goes into a reason: quoted (control characters and quotes
/// escaped, so a log line cannot be forged) and cut to 80 characters (an event may be
/// 256 KB).
pub(crate) fn shown(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required string at `path` (dotted, for the error) under `value`.
fn string_at<'v>(value: &'v Value, key: &str, path: &str) -> Result<&'v str, EventError> {
    match value.get(key) {
        None | Some(Value::Null) => Err(EventError::Missing {
            field: path.to_string(),
        }),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(EventError::WrongType {
            field: path.to_string(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

/// An optional object at `key`: absent or null is `None`; any other non-object is an error.
fn object_at<'v>(value: &'v Value, key: &str, path: &str) -> Result<Option<&'v Value>, EventError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => Err(EventError::WrongType {
            field: path.to_string(),
            expected: "an object",
            found: type_name(other),
        }),
    }
}

/// Classifies an EventBridge event. Unknown events are `Ignored`, never an error; an
/// error means an event of a kind we handle lacks a field we need.
pub fn classify(event: &Value) -> Result<Trigger, EventError> {
    if !event.is_object() {
        return Err(EventError::NotAnObject {
            found: type_name(event),
        });
    }
    let source = string_at(event, "source", "source")?;
    let detail_type = string_at(event, "detail-type", "detail-type")?;

    if detail_type == SCHEDULED_DETAIL_TYPE && SCHEDULED_SOURCES.contains(&source) {
        // Scheduler's default detail is the string "{}", a scheduled rule's is `{}`: the
        // detail carries nothing we need either way.
        return Ok(Trigger::Sweep {
            source: source.to_string(),
        });
    }
    if source == confirm::FOLLOW_UP_SOURCE && detail_type == confirm::FOLLOW_UP_DETAIL_TYPE {
        return follow_up(event);
    }
    if detail_type != CLOUDTRAIL_DETAIL_TYPE {
        return Ok(Trigger::Ignored {
            reason: format!(
                "not a CloudTrail call or a schedule (source {}, detail-type {})",
                shown(source),
                shown(detail_type)
            ),
        });
    }
    let detail = match event.get("detail") {
        None | Some(Value::Null) => {
            return Err(EventError::Missing {
                field: "detail".into(),
            })
        }
        Some(d @ Value::Object(_)) => d,
        Some(other) => {
            return Err(EventError::WrongType {
                field: "detail".into(),
                expected: "an object",
                found: type_name(other),
            })
        }
    };
    let event_source = string_at(detail, "eventSource", "detail.eventSource")?;
    let event_name = string_at(detail, "eventName", "detail.eventName")?;
    if let Some(code) = detail.get("errorCode").filter(|c| !c.is_null()) {
        let code = code
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| code.to_string());
        return Ok(Trigger::Ignored {
            reason: format!(
                "{} {} failed with {}: nothing changed",
                shown(event_source),
                shown(event_name),
                shown(&code)
            ),
        });
    }
    if let Some((_, names)) = SOURCE_EVENTS.iter().find(|(s, _)| *s == event_source) {
        if names.contains(&event_name) {
            return source_call(detail, event_name);
        }
    }
    match event_source {
        "lambda.amazonaws.com" if event_name.starts_with("UpdateFunctionConfiguration") => {
            function_call(detail, event_name)
        }
        "lambda.amazonaws.com" => mapping_call(detail, event_name),
        "ec2.amazonaws.com" if NETWORK_EVENTS.contains(&event_name) => {
            network_call(detail, event_name)
        }
        _ => Ok(Trigger::Ignored {
            reason: format!(
                "{} {} does not touch a mapping's network path (source {}, detail-type {})",
                shown(event_source),
                shown(event_name),
                shown(source),
                shown(detail_type)
            ),
        }),
    }
}

fn mapping_call(detail: &Value, event_name: &str) -> Result<Trigger, EventError> {
    // CloudTrail records the API version in the name: CreateEventSourceMapping20150331.
    let change = if event_name.starts_with("CreateEventSourceMapping") {
        MappingChange::Created
    } else if event_name.starts_with("UpdateEventSourceMapping") {
        MappingChange::Updated
    } else if event_name.starts_with("DeleteEventSourceMapping") {
        MappingChange::Deleted
    } else {
        return Ok(Trigger::Ignored {
            reason: format!(
                "lambda.amazonaws.com {} does not change a mapping",
                shown(event_name)
            ),
        });
    };
    let request = object_at(detail, "requestParameters", "detail.requestParameters")?;
    let response = object_at(detail, "responseElements", "detail.responseElements")?;

    if let Some(response) = response {
        if let Some(reason) = not_kafka(response) {
            return Ok(Trigger::Ignored {
                reason: format!("{}: {reason}", shown(event_name)),
            });
        }
    }
    // Create answers with the new UUID; Delete and Update name it in the request as well.
    let (first, first_path, second, second_path) = match change {
        MappingChange::Created => (response, "detail.responseElements.uUID", None, ""),
        MappingChange::Updated | MappingChange::Deleted => (
            request,
            "detail.requestParameters.uUID",
            response,
            "detail.responseElements.uUID",
        ),
    };
    let uuid = match (first, second) {
        (Some(v), _) if v.get("uUID").is_some_and(|u| !u.is_null()) => {
            string_at(v, "uUID", first_path)?
        }
        (_, Some(v)) if v.get("uUID").is_some_and(|u| !u.is_null()) => {
            string_at(v, "uUID", second_path)?
        }
        _ => {
            return Err(EventError::Missing {
                field: first_path.to_string(),
            })
        }
    };
    if uuid.trim().is_empty() {
        return Err(EventError::Missing {
            field: first_path.to_string(),
        });
    }
    // It becomes an API argument and a state-table key: only a real UUID goes on.
    if !is_uuid(uuid) {
        return Err(EventError::Invalid {
            field: first_path.to_string(),
            expected: "a mapping UUID (8-4-4-4-12 hexadecimal digits)",
        });
    }
    Ok(Trigger::Mapping {
        uuid: uuid.to_string(),
        change,
        event_name: event_name.to_string(),
    })
}

fn source_call(detail: &Value, event_name: &str) -> Result<Trigger, EventError> {
    if let Some((_, keys)) = NETWORK_PARAMETERS.iter().find(|(n, _)| *n == event_name) {
        let request = object_at(detail, "requestParameters", "detail.requestParameters")?;
        let moves =
            request.is_some_and(|r| keys.iter().any(|k| r.get(k).is_some_and(|v| !v.is_null())));
        if !moves {
            return Ok(Trigger::Ignored {
                reason: format!(
                    "{} changes none of {}: no network path moves",
                    shown(event_name),
                    keys.join(", ")
                ),
            });
        }
    }
    // Where the source's ARN must be completed from an id: the event's own region and
    // account.
    let text = |key: &str| detail.get(key).and_then(Value::as_str).unwrap_or("*");
    let (region, account) = (text("awsRegion"), text("recipientAccountId"));
    let mut sources = BTreeSet::new();
    for (part, key) in SOURCE_FIELDS {
        let Some(object) = object_at(detail, part, &format!("detail.{part}"))? else {
            continue;
        };
        if object.get(key).is_some_and(|v| !v.is_null()) {
            let field = format!("detail.{part}.{key}");
            let value = string_at(object, key, &field)?;
            let pattern = match key {
                "brokerId" if is_broker_id(value) => {
                    format!("arn:*:mq:{region}:{account}:broker:*:{value}")
                }
                "dBClusterIdentifier" if is_arn(value) => value.to_string(),
                "dBClusterIdentifier" if is_db_cluster_id(value) => {
                    format!("arn:*:rds:{region}:{account}:cluster:{value}")
                }
                "brokerId" | "dBClusterIdentifier" => {
                    return Err(EventError::Invalid {
                        field,
                        expected: if key == "brokerId" {
                            "an Amazon MQ broker id (b- and a UUID)"
                        } else {
                            "a DocumentDB cluster identifier or ARN"
                        },
                    })
                }
                _ if is_arn(value) => value.to_string(),
                _ => {
                    return Err(EventError::Invalid {
                        field,
                        expected: "an ARN",
                    })
                }
            };
            sources.insert(pattern);
        }
    }
    if sources.is_empty() {
        return Err(EventError::Missing {
            field: "detail.requestParameters.clusterArn".into(),
        });
    }
    Ok(Trigger::Source {
        event_name: event_name.to_string(),
        sources: sources.into_iter().collect(),
    })
}

/// `b-` and a UUID: an Amazon MQ broker id.
fn is_broker_id(text: &str) -> bool {
    text.strip_prefix("b-").is_some_and(is_uuid)
}

/// A DocumentDB (RDS) cluster identifier: a letter, then letters, digits and hyphens, at
/// most 63 characters.
fn is_db_cluster_id(text: &str) -> bool {
    text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn function_call(detail: &Value, event_name: &str) -> Result<Trigger, EventError> {
    const FIELD: &str = "detail.requestParameters.functionName";
    let request =
        object_at(detail, "requestParameters", "detail.requestParameters")?.ok_or_else(|| {
            EventError::Missing {
                field: FIELD.into(),
            }
        })?;
    let function = string_at(request, "functionName", FIELD)?;
    // A name or an ARN, as Lambda takes it: it becomes an API argument.
    let valid = !function.is_empty()
        && function.len() <= 256
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
    if !valid {
        return Err(EventError::Invalid {
            field: FIELD.into(),
            expected: "a function name or ARN",
        });
    }
    Ok(Trigger::Function {
        event_name: event_name.to_string(),
        function: function.to_string(),
    })
}

fn follow_up(event: &Value) -> Result<Trigger, EventError> {
    let detail = object_at(event, "detail", "detail")?.ok_or(EventError::Missing {
        field: "detail".into(),
    })?;
    let uuid = string_at(detail, "uuid", "detail.uuid")?;
    if !is_uuid(uuid) {
        return Err(EventError::Invalid {
            field: "detail.uuid".into(),
            expected: "a mapping UUID (8-4-4-4-12 hexadecimal digits)",
        });
    }
    let number = |key: &str, max: i64| -> Result<i64, EventError> {
        let field = format!("detail.{key}");
        match detail.get(key) {
            None | Some(Value::Null) => Err(EventError::Missing { field }),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (1..=max).contains(&v) => Ok(v),
                _ => Err(EventError::Invalid {
                    field,
                    expected: "a whole number in range",
                }),
            },
            Some(other) => Err(EventError::WrongType {
                field,
                expected: "a number",
                found: type_name(other),
            }),
        }
    };
    let cycle = number("cycle", i64::MAX)?;
    let attempt = u32::try_from(number("attempt", 100)?).unwrap_or(1);
    Ok(Trigger::FollowUp {
        uuid: uuid.to_string(),
        follow_up: confirm::FollowUp { cycle, attempt },
    })
}

/// An ARN as an API argument and a filter: `arn:PARTITION:SERVICE:...`, printable, bounded.
fn is_arn(text: &str) -> bool {
    text.starts_with("arn:")
        && text.len() <= 2048
        && text.split(':').count() >= 6
        && text.chars().all(|c| c.is_ascii_graphic())
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Why an event is not this function's to act on, if it is not: it comes from another
/// region or account than the function's (a cross-account or cross-region bus forwarded
/// it), or its `source` is not the service its CloudTrail record names (a forged PutEvents).
/// `account` is `None` when the function's own account is not known yet.
pub fn foreign(event: &Value, region: &str, account: Option<&str>) -> Option<String> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let detail = event.get("detail").unwrap_or(&Value::Null);
    for (field, value) in [
        ("region", text(event, "region")),
        ("detail.awsRegion", text(detail, "awsRegion")),
    ] {
        if let Some(value) = value.filter(|v| v != region) {
            return Some(format!(
                "{field} is {}: the function watches {region}",
                shown(&value)
            ));
        }
    }
    // EventBridge stamps every event with both; one without them was not delivered by it,
    // and the function cannot tell whether it concerns its own account and region.
    for field in ["region", "account"] {
        if text(event, field).is_none() {
            return Some(format!(
                "the event has no string `{field}`: EventBridge always sets it, so it cannot be told to be about {region}{}",
                account.map(|a| format!(" in account {a}")).unwrap_or_default()
            ));
        }
    }
    if let Some(account) = account {
        for (field, value) in [
            ("account", text(event, "account")),
            (
                "detail.recipientAccountId",
                text(detail, "recipientAccountId"),
            ),
        ] {
            if let Some(value) = value.filter(|v| v != account) {
                return Some(format!(
                    "{field} is {}: the function watches account {account}",
                    shown(&value)
                ));
            }
        }
    }
    if text(event, "detail-type").as_deref() == Some("AWS API Call via CloudTrail") {
        let service = text(detail, "eventSource").unwrap_or_default();
        let expected = format!("aws.{}", service.split('.').next().unwrap_or_default());
        let source = text(event, "source").unwrap_or_default();
        if source != expected {
            return Some(format!(
                "source {} is not {}, the service of eventSource {}",
                shown(&source),
                shown(&expected),
                shown(&service)
            ));
        }
    }
    None
}

/// Why a mapping in a CloudTrail response is not one esm-guard audits, if it is not.
fn not_kafka(response: &Value) -> Option<String> {
    if response
        .get("selfManagedEventSource")
        .is_some_and(|v| !v.is_null())
    {
        return None;
    }
    let arn = response.get("eventSourceArn")?.as_str()?;
    if arn.split(':').nth(2) == Some("kafka") {
        None
    } else {
        Some(format!(
            "the mapping reads from {}, not from Kafka",
            shown(arn)
        ))
    }
}

fn network_call(detail: &Value, event_name: &str) -> Result<Trigger, EventError> {
    let request = object_at(detail, "requestParameters", "detail.requestParameters")?;
    let response = object_at(detail, "responseElements", "detail.responseElements")?;
    let mut vpcs = BTreeSet::new();
    let mut resources = BTreeSet::new();
    for part in [request, response].into_iter().flatten() {
        walk(part, None, &mut vpcs, &mut resources);
    }
    Ok(Trigger::Network {
        event_name: event_name.to_string(),
        vpc_id: vpcs.into_iter().next(),
        resources: resources.into_iter().collect(),
    })
}

/// Finds VPC ids (under a `vpcId` key, in any casing) and resource ids anywhere in `value`.
fn walk(
    value: &Value,
    key: Option<&str>,
    vpcs: &mut BTreeSet<String>,
    resources: &mut BTreeSet<String>,
) {
    match value {
        Value::String(s) => {
            if key.is_some_and(|k| k.eq_ignore_ascii_case("vpcid")) && is_id(s, "vpc-") {
                vpcs.insert(s.clone());
            } else if RESOURCE_PREFIXES.iter().any(|p| is_id(s, p)) {
                resources.insert(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, key, vpcs, resources)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| walk(v, Some(k), vpcs, resources)),
        _ => {}
    }
}

/// `text` is `prefix` followed by an id's alphanumerics (and nothing else).
fn is_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_quote_and_cap_what_the_event_says() {
        assert_eq!(shown("a\"b\nc"), r#""a\"b\nc""#);
        let long = "x".repeat(300_000);
        let text = shown(&long);
        assert!(
            text.len() < 120 && text.ends_with("(300000 bytes)"),
            "{text}"
        );
        // Cut on a character boundary, never inside one.
        let wide = shown(&"é".repeat(100));
        assert_eq!(wide, format!("{:?}… (200 bytes)", "é".repeat(80)));
        let event = serde_json::json!({
            "source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "ec2.amazonaws.com", "eventName": format!("Evil\n{}", "y".repeat(10_000)), "errorCode": "X"}
        });
        match classify(&event).unwrap() {
            Trigger::Ignored { reason } => {
                assert!(!reason.contains('\n') && reason.len() < 300, "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_event_without_region_or_account_is_not_the_functions_own() {
        let event = serde_json::json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "region": "us-east-1", "detail": {}});
        let reason = foreign(&event, "us-east-1", Some("123456789012")).expect("no account");
        assert!(reason.contains("`account`"), "{reason}");
        let event = serde_json::json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "account": "123456789012", "detail": {}});
        let reason = foreign(&event, "us-east-1", Some("123456789012")).expect("no region");
        assert!(reason.contains("`region`"), "{reason}");
        let event = serde_json::json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "account": "123456789012", "region": "us-east-1", "detail": {}});
        assert_eq!(foreign(&event, "us-east-1", Some("123456789012")), None);
    }

    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn sample(path: &str) -> Value {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(path);
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
    }

    fn samples(kind: &str) -> Vec<(String, Value)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(kind);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no samples in {}", dir.display());
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    serde_json::from_str(&text).unwrap(),
                )
            })
            .collect()
    }

    fn load(kind: &str, name: &str) -> Value {
        samples(kind)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
    }

    #[test]
    fn every_handled_sample_is_handled() {
        for (name, event) in samples("handled") {
            let trigger = classify(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !matches!(trigger, Trigger::Ignored { .. }),
                "{name}: {trigger:?}"
            );
            let expected = if name.starts_with("ec2-") {
                "network"
            } else if name.starts_with("lambda-update-function") {
                "function"
            } else if name.starts_with("lambda-") {
                "mapping"
            } else if ["kafka-", "mq-", "docdb-"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                "source"
            } else {
                "sweep"
            };
            assert_eq!(trigger.kind(), expected, "{name}: {trigger:?}");
        }
    }

    #[test]
    fn every_ignored_sample_is_ignored() {
        for (name, event) in samples("ignored") {
            let trigger = classify(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                matches!(trigger, Trigger::Ignored { .. }),
                "{name}: {trigger:?}"
            );
        }
    }

    #[test]
    fn every_network_event_name_has_a_sample() {
        let names: Vec<String> = samples("handled")
            .into_iter()
            .filter_map(|(_, e)| match classify(&e).unwrap() {
                Trigger::Network { event_name, .. } => Some(event_name),
                _ => None,
            })
            .collect();
        for wanted in NETWORK_EVENTS {
            assert!(names.iter().any(|n| n == wanted), "no sample for {wanted}");
        }
    }

    #[test]
    fn mapping_events_carry_the_uuid_in_cloudtrail_casing() {
        let cases = [
            (
                "lambda-create-event-source-mapping-msk.json",
                "3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c",
                MappingChange::Created,
            ),
            (
                "lambda-create-event-source-mapping-self-managed.json",
                "8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a49",
                MappingChange::Created,
            ),
            (
                "lambda-update-event-source-mapping.json",
                "3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c",
                MappingChange::Updated,
            ),
            (
                "lambda-delete-event-source-mapping.json",
                "8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a49",
                MappingChange::Deleted,
            ),
        ];
        for (file, uuid, change) in cases {
            let trigger = classify(&load("handled", file)).unwrap();
            assert_eq!(
                trigger,
                Trigger::Mapping {
                    uuid: uuid.into(),
                    change,
                    event_name: format!(
                        "{}EventSourceMapping20150331",
                        match change {
                            MappingChange::Created => "Create",
                            MappingChange::Updated => "Update",
                            MappingChange::Deleted => "Delete",
                        }
                    ),
                },
                "{file}"
            );
        }
    }

    #[test]
    fn foreign_events_are_recognised() {
        let event = sample("handled/ec2-authorize-security-group-ingress.json");
        assert_eq!(foreign(&event, "us-east-1", Some("123456789012")), None);
        assert_eq!(foreign(&event, "us-east-1", None), None);
        let other_region = foreign(&event, "eu-west-1", None).unwrap();
        assert!(
            other_region.contains("us-east-1") && other_region.contains("eu-west-1"),
            "{other_region}"
        );
        let other_account = foreign(&event, "us-east-1", Some("210987654321")).unwrap();
        assert!(other_account.contains("210987654321"), "{other_account}");
        let mut spoofed = event.clone();
        spoofed["source"] = json!("com.example.spoof");
        assert!(foreign(&spoofed, "us-east-1", None)
            .unwrap()
            .contains("com.example.spoof"));
        let sweep = sample("handled/scheduler-sweep.json");
        assert_eq!(foreign(&sweep, "us-east-1", Some("123456789012")), None);
    }

    #[test]
    fn only_real_uuids_name_a_mapping() {
        let mut event = sample("handled/lambda-delete-event-source-mapping.json");
        event["detail"]["requestParameters"]["uUID"] = json!("8c7b6a59'; DROP TABLE x; -- <@U123>");
        let error = classify(&event).unwrap_err().to_string();
        assert!(
            error.contains("detail.requestParameters.uUID") && error.contains("UUID"),
            "{error}"
        );
        assert!(is_uuid("8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a49"));
        assert!(!is_uuid("8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a4"));
        assert!(!is_uuid("8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a4g"));
    }

    #[test]
    fn delete_takes_the_uuid_from_the_request() {
        let mut event = load("handled", "lambda-delete-event-source-mapping.json");
        event["detail"]["responseElements"] = Value::Null;
        match classify(&event).unwrap() {
            Trigger::Mapping { uuid, change, .. } => {
                assert_eq!(uuid, "8c7b6a59-4e3d-4c2b-a1f0-9e8d7c6b5a49");
                assert_eq!(change, MappingChange::Deleted);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn network_events_name_the_vpc_when_they_carry_it() {
        let cases = [
            (
                "ec2-modify-vpc-attribute.json",
                Some("vpc-0a1b2c3d4e5f60001"),
            ),
            (
                "ec2-create-vpc-endpoint.json",
                Some("vpc-0a1b2c3d4e5f60001"),
            ),
            ("ec2-create-nat-gateway.json", Some("vpc-0a1b2c3d4e5f60001")),
            ("ec2-authorize-security-group-ingress.json", None),
            ("ec2-create-route.json", None),
        ];
        for (file, vpc) in cases {
            match classify(&load("handled", file)).unwrap() {
                Trigger::Network { vpc_id, .. } => assert_eq!(vpc_id.as_deref(), vpc, "{file}"),
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn network_events_without_a_vpc_list_resources_to_look_up() {
        let cases: [(&str, &[&str]); 8] = [
            (
                "ec2-authorize-security-group-ingress.json",
                &["sg-0a1b2c3d4e5f62001"],
            ),
            (
                "ec2-revoke-security-group-ingress.json",
                &["sg-0a1b2c3d4e5f62001", "sg-0a1b2c3d4e5f62002"],
            ),
            (
                "ec2-modify-security-group-rules.json",
                &["sg-0a1b2c3d4e5f62002"],
            ),
            (
                "ec2-create-route.json",
                &["nat-0a1b2c3d4e5f64001", "rtb-0a1b2c3d4e5f63001"],
            ),
            (
                "ec2-disassociate-route-table.json",
                &["rtbassoc-0a1b2c3d4e5f69002"],
            ),
            ("ec2-delete-vpc-endpoints.json", &["vpce-0a1b2c3d4e5f67002"]),
            (
                "ec2-replace-network-acl-association.json",
                &[
                    "acl-0a1b2c3d4e5f66002",
                    "aclassoc-0a1b2c3d4e5f6a001",
                    "aclassoc-0a1b2c3d4e5f6a004",
                ],
            ),
            (
                "ec2-associate-route-table.json",
                &[
                    "rtb-0a1b2c3d4e5f63002",
                    "rtbassoc-0a1b2c3d4e5f69003",
                    "subnet-0a1b2c3d4e5f61003",
                ],
            ),
        ];
        for (file, want) in cases {
            match classify(&load("handled", file)).unwrap() {
                Trigger::Network {
                    vpc_id: None,
                    resources,
                    ..
                } => {
                    assert_eq!(
                        resources,
                        want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                        "{file}"
                    )
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn scheduler_detail_may_be_a_string() {
        let event = load("handled", "scheduler-sweep.json");
        assert_eq!(event["detail"], json!("{}"));
        assert_eq!(
            classify(&event).unwrap(),
            Trigger::Sweep {
                source: "aws.scheduler".into()
            }
        );
        let event = load("handled", "events-scheduled-rule-sweep.json");
        assert_eq!(
            classify(&event).unwrap(),
            Trigger::Sweep {
                source: "aws.events".into()
            }
        );
    }

    #[test]
    fn failed_calls_are_ignored_with_their_error_code() {
        match classify(&load(
            "ignored",
            "lambda-create-event-source-mapping-failed.json",
        ))
        .unwrap()
        {
            Trigger::Ignored { reason } => {
                assert!(reason.contains("ResourceConflictException"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_events_are_ignored_naming_source_and_detail_type() {
        let event = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
        match classify(&event).unwrap() {
            Trigger::Ignored { reason } => {
                assert!(
                    reason.contains("aws.s3") && reason.contains("Object Created"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        // A scheduled-looking event from another source is not a sweep.
        let event = json!({"source": "my.app", "detail-type": "Scheduled Event", "detail": {}});
        assert!(matches!(classify(&event).unwrap(), Trigger::Ignored { .. }));
    }

    #[test]
    fn non_kafka_mappings_are_ignored() {
        let mut event = load("handled", "lambda-create-event-source-mapping-msk.json");
        event["detail"]["responseElements"]["eventSourceArn"] =
            json!("arn:aws:sqs:us-east-1:123456789012:orders");
        match classify(&event).unwrap() {
            Trigger::Ignored { reason } => assert!(reason.contains("not from Kafka"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_events_name_the_field() {
        let create = load("handled", "lambda-create-event-source-mapping-msk.json");
        let cases: Vec<(Value, &str)> = vec![
            (json!([1, 2]), "JSON object"),
            (json!({"detail-type": "Scheduled Event"}), "`source`"),
            (json!({"source": null, "detail-type": "x"}), "`source`"),
            (
                json!({"source": 7, "detail-type": "x"}),
                "`source` should be a string, found a number",
            ),
            (json!({"source": "aws.ec2"}), "`detail-type`"),
            (
                json!({"source": "aws.ec2", "detail-type": CLOUDTRAIL_DETAIL_TYPE}),
                "`detail`",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": "{}"}),
                "`detail` should be an object, found a string",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": {"eventName": "CreateRoute"}}),
                "`detail.eventSource`",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": {"eventSource": "ec2.amazonaws.com", "eventName": ["CreateRoute"]}}),
                "`detail.eventName` should be a string, found an array",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateRoute", "requestParameters": 5}}),
                "`detail.requestParameters` should be an object",
            ),
            (
                {
                    let mut e = create.clone();
                    e["detail"]["responseElements"]["uUID"] = Value::Null;
                    e
                },
                "`detail.responseElements.uUID`",
            ),
            (
                {
                    let mut e = create.clone();
                    e["detail"]["responseElements"]["uUID"] = json!(42);
                    e
                },
                "`detail.responseElements.uUID` should be a string, found a number",
            ),
            (
                {
                    let mut e = create.clone();
                    e["detail"]["responseElements"] = Value::Null;
                    e
                },
                "`detail.responseElements.uUID`",
            ),
        ];
        for (event, want) in cases {
            let err = classify(&event).expect_err(&event.to_string()).to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    #[test]
    fn id_shapes() {
        assert!(is_id("sg-0a1b", "sg-"));
        assert!(!is_id("sg-", "sg-"));
        assert!(!is_id("sgr-0a1b", "sg-"));
        assert!(!is_id("sg-0a1b c", "sg-"));
        assert!(!is_id("vpce-0a1b", "vpc-"));
    }
}

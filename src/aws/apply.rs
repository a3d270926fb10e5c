//! Makes the planned changes, and only the narrow, additive ones of RULES.md: interface
//! endpoints and security-group rules, tagged, idempotent.

use aws_sdk_ec2::types::{
    IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair, VpcEndpointType,
};

use super::errors::classify;
use crate::model::Snapshot;
use crate::plan::{Action, ActionKind, TAG_MANAGED, TAG_MAPPING, TAG_REASON};
use crate::remediation::{gate, ActionResult, Gate, Outcome};

/// Runs the automatic actions that pass the gate. A failed action does not stop the others
/// (they are independent); each result says what happened, so a partial run is never silent.
pub async fn apply(
    ec2: &aws_sdk_ec2::Client,
    snapshot: &Snapshot,
    actions: &[Action],
    max: usize,
) -> Vec<ActionResult> {
    let mut results = Vec::new();
    for (action, gate) in gate(snapshot, actions, max) {
        let outcome = match gate {
            Gate::OptedOut(reason) => Outcome::OptedOut { reason },
            Gate::OverLimit => Outcome::Pending,
            Gate::Run => execute(ec2, action).await,
        };
        if let Outcome::Failed { error } = &outcome {
            tracing::warn!(action = %action.id, %error, "remediation action failed");
        } else {
            tracing::info!(action = %action.id, outcome = ?outcome, "remediation action");
        }
        results.push(ActionResult {
            action_id: action.id.clone(),
            description: action.description.clone(),
            outcome,
        });
    }
    results
}

fn tags(resource: ResourceType, action: &Action) -> TagSpecification {
    let uuid = action
        .fixes
        .first()
        .map(|f| f.esm_uuid.clone())
        .unwrap_or_default();
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(TAG_MANAGED).value("true").build())
        .tags(
            Tag::builder()
                .key(TAG_REASON)
                .value(action.reason().as_str())
                .build(),
        )
        .tags(Tag::builder().key(TAG_MAPPING).value(uuid).build())
        .build()
}

fn tcp_from_group((from, to): (u16, u16), group: &str, action: &Action) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(from))
        .to_port(i32::from(to))
        .user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group)
                .description(format!("esm-guard: {}", action.reason()))
                .build(),
        )
        .build()
}

/// One group-to-group TCP rule, tagged; ingress and egress differ only in the call.
macro_rules! authorize {
    ($call:literal, $request:expr, $group:expr, $port:expr, $peer:expr, $action:expr) => {{
        let result = $request
            .group_id($group)
            .ip_permissions(tcp_from_group($port, $peer, $action))
            .tag_specifications(tags(ResourceType::SecurityGroupRule, $action))
            .send()
            .await;
        match result {
            Ok(out) => Outcome::Applied {
                resource: out
                    .security_group_rules()
                    .first()
                    .and_then(|r| r.security_group_rule_id())
                    .map(str::to_string),
            },
            Err(e) => rule_error($call, &e),
        }
    }};
}

async fn execute(ec2: &aws_sdk_ec2::Client, action: &Action) -> Outcome {
    match &action.kind {
        ActionKind::AuthorizeIngress {
            group_id,
            port,
            to_port,
            source_group_id,
            ..
        } => authorize!(
            "ec2:AuthorizeSecurityGroupIngress",
            ec2.authorize_security_group_ingress(),
            group_id,
            (*port, to_port.unwrap_or(*port)),
            source_group_id,
            action
        ),
        ActionKind::AuthorizeEgress {
            group_id,
            port,
            to_port,
            destination_group_id,
            ..
        } => authorize!(
            "ec2:AuthorizeSecurityGroupEgress",
            ec2.authorize_security_group_egress(),
            group_id,
            (*port, to_port.unwrap_or(*port)),
            destination_group_id,
            action
        ),
        ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            service_name,
            subnet_ids,
            security_group_ids,
            private_dns_enabled,
            policy_document,
            client_token,
        } => {
            let result = ec2
                .create_vpc_endpoint()
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .vpc_id(vpc_id)
                .service_name(service_name)
                .set_subnet_ids(Some(subnet_ids.clone()))
                .set_security_group_ids(Some(security_group_ids.clone()))
                .private_dns_enabled(*private_dns_enabled)
                .policy_document(policy_document)
                .client_token(client_token)
                .tag_specifications(tags(ResourceType::VpcEndpoint, action))
                .send()
                .await;
            match result {
                Ok(out) => Outcome::Applied {
                    resource: out
                        .vpc_endpoint()
                        .and_then(|e| e.vpc_endpoint_id())
                        .map(str::to_string),
                },
                Err(e) => Outcome::Failed {
                    error: format!("ec2:CreateVpcEndpoint: {}", classify(&e).describe()),
                },
            }
        }
        ActionKind::Manual { .. } => Outcome::OptedOut {
            reason: "manual steps never run".into(),
        },
    }
}

fn rule_error<E>(
    call: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Outcome
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    // The rule exists already: someone (or a racing run) made it. That is done.
    if e.code() == Some("InvalidPermission.Duplicate") {
        Outcome::AlreadyDone { resource: None }
    } else {
        Outcome::Failed {
            error: format!("{call}: {}", classify(e).describe()),
        }
    }
}

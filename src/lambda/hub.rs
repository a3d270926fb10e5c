//! The hub (`MODE=hub`): the function audits the member accounts of an organization. Their
//! CloudTrail events reach it through the hub's event bus with their own account and region;
//! it reads each (account, region) through the member's audit role, the clients cached per
//! target for the credentials' lifetime; its sweep sends one SQS message per target, which
//! the function then consumes one by one.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;

use super::config::HubConfig;
use crate::aws::assume::{assume, AssumeError, RoleSpec, Target};
use crate::aws::{one_line, Clients};
use crate::model::Partition;

pub struct Hub {
    pub config: HubConfig,
    base: SdkConfig,
    sqs: aws_sdk_sqs::Client,
    organizations: aws_sdk_organizations::Client,
    clients: Mutex<HashMap<Target, Clients>>,
    /// The hub's own region: the members' default.
    region: String,
}

/// The body of one fan-out message.
pub fn sweep_message(target: &Target) -> String {
    serde_json::json!({"esm-guard": "sweep", "account": target.account, "region": target.region})
        .to_string()
}

/// The target of a fan-out message, or why the body is not one.
pub fn sweep_target(body: &str) -> Result<Target, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    match (
        text("esm-guard").as_deref(),
        text("account"),
        text("region"),
    ) {
        (Some("sweep"), Some(account), Some(region))
            if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) =>
        {
            Ok(Target { account, region })
        }
        _ => Err("not an esm-guard sweep message {esm-guard, account, region}".into()),
    }
}

impl Hub {
    pub fn new(sdk: &SdkConfig, config: HubConfig) -> Hub {
        Hub {
            config,
            base: sdk.clone(),
            sqs: aws_sdk_sqs::Client::new(sdk),
            organizations: aws_sdk_organizations::Client::new(sdk),
            clients: Mutex::new(HashMap::new()),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }

    fn regions(&self) -> Vec<String> {
        if self.config.regions.is_empty() {
            vec![self.region.clone()]
        } else {
            self.config.regions.clone()
        }
    }

    /// Why an event of `account` in `region` is not the hub's, if it is not.
    pub fn admits(&self, account: &str, region: &str) -> Option<String> {
        if !self.regions().iter().any(|r| r == region) {
            return Some(format!(
                "region {region} is not one the hub watches ({})",
                self.regions().join(", ")
            ));
        }
        if !self.config.members.is_empty() && !self.config.members.iter().any(|m| m == account) {
            return Some(format!("account {account} is not a member the hub watches"));
        }
        None
    }

    pub fn role_arn(&self, account: &str) -> String {
        RoleSpec {
            role: self.config.role_name.clone(),
            external_id: None,
        }
        .arn(Partition::of_region(&self.region).id(), account)
    }

    /// The clients of `target`, through its audit role; made once per target and kept.
    pub async fn clients(&self, target: &Target) -> Result<Clients, AssumeError> {
        if let Some(clients) = self
            .clients
            .lock()
            .ok()
            .and_then(|c| c.get(target).cloned())
        {
            return Ok(clients);
        }
        let config = assume(
            &self.base,
            &self.role_arn(&target.account),
            self.config.external_id.as_deref(),
            target,
        )
        .await?;
        let clients = Clients::new(&config);
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(target.clone(), clients.clone());
        }
        Ok(clients)
    }

    /// Every (account, region) the sweep covers: the listed members, or the organization's
    /// active accounts.
    pub async fn targets(&self) -> Result<Vec<Target>, String> {
        let accounts = if self.config.members.is_empty() {
            let organizations = &self.organizations;
            let mut accounts = Vec::new();
            let mut pages = organizations.list_accounts().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    format!(
                        "organizations:ListAccounts failed: {}",
                        one_line(&DisplayErrorContext(&e).to_string())
                    )
                })?;
                for a in page.accounts() {
                    let active = a
                        .status()
                        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("ACTIVE"));
                    if let (Some(id), true) = (a.id(), active) {
                        accounts.push(id.to_string());
                    }
                }
            }
            accounts
        } else {
            self.config.members.clone()
        };
        let regions = self.regions();
        Ok(accounts
            .iter()
            .flat_map(|a| {
                regions.iter().map(move |r| Target {
                    account: a.clone(),
                    region: r.clone(),
                })
            })
            .collect())
    }

    /// Sends one message per target to the sweep queue, ten a call; returns how many went.
    pub async fn fan_out(&self, targets: &[Target]) -> Result<usize, String> {
        let sqs = &self.sqs;
        let mut sent = 0;
        for chunk in targets.chunks(10) {
            let entries: Vec<SendMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("t{i}"))
                        .message_body(sweep_message(t))
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()?;
            let out = sqs
                .send_message_batch()
                .queue_url(&self.config.sweep_queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "sqs:SendMessage to {} failed: {}",
                        self.config.sweep_queue_url,
                        one_line(&DisplayErrorContext(&e).to_string())
                    )
                })?;
            if let Some(failed) = out.failed().first() {
                return Err(format!(
                    "sqs:SendMessage to {} refused an entry: {} {}",
                    self.config.sweep_queue_url,
                    failed.code(),
                    failed.message().unwrap_or_default()
                ));
            }
            sent += out.successful().len();
        }
        Ok(sent)
    }
}

/// Whether a failure to assume a member's role will pass by itself (throttled, a network
/// failure) rather than need someone (no role, a trust policy that refuses the hub).
pub fn is_transient(error: &AssumeError) -> bool {
    let m = error.message.to_ascii_lowercase();
    !(m.contains("accessdenied")
        || m.contains("not authorized")
        || m.contains("nosuchentity")
        || m.contains("invalidclienttokenid")
        || m.contains("validationerror"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_messages_round_trip_and_refuse_others() {
        let t = Target {
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        assert_eq!(sweep_target(&sweep_message(&t)), Ok(t));
        for body in [
            "",
            "{}",
            r#"{"esm-guard":"sweep","account":"1","region":"us-east-1"}"#,
            r#"{"esm-guard":"other","account":"111111111111","region":"us-east-1"}"#,
        ] {
            assert!(sweep_target(body).is_err(), "{body}");
        }
    }

    #[test]
    fn a_refused_role_needs_someone_a_throttled_one_does_not() {
        let e = |m: &str| AssumeError {
            role_arn: "arn:aws:iam::1:role/r".into(),
            message: m.into(),
        };
        assert!(!is_transient(&e(
            "service error: AccessDenied: User: x is not authorized"
        )));
        assert!(is_transient(&e("dispatch failure: connection reset")));
        assert!(is_transient(&e("service error: Throttling: Rate exceeded")));
    }
}

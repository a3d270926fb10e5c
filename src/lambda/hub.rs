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
    /// Members' names from Organizations (`None`: not readable), kept for the container's life.
    names: Mutex<HashMap<String, Option<String>>>,
    /// The hub's own region: the members' default.
    region: String,
}

/// The member account a hub run reads, and its name when Organizations told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: Option<String>,
}

/// The body of one fan-out message: the target, and the account's name when the sweep
/// read it (so the consumer need not ask Organizations again).
pub fn sweep_message(target: &Target, name: Option<&str>) -> String {
    let mut body = serde_json::json!({"esm-guard": "sweep", "account": target.account, "region": target.region});
    if let Some(name) = name {
        body["name"] = name.into();
    }
    body.to_string()
}

/// The account's name a fan-out message carries, if any.
pub fn sweep_name(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let name = value.get("name")?.as_str()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// An account of `ListAccounts` is swept unless Organizations says it is not active. `State`
/// replaced `Status` (retired on 2026-09-09); with neither, the account is swept: if it
/// cannot be read, its own alert says so, where a skip would say nothing.
fn swept(account: &aws_sdk_organizations::types::Account) -> bool {
    use aws_sdk_organizations::types::{AccountState, AccountStatus};
    match (account.state(), account.status()) {
        (Some(state), _) => *state == AccountState::Active,
        (None, Some(status)) => *status == AccountStatus::Active,
        (None, None) => true,
    }
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
            names: Mutex::new(HashMap::new()),
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

    /// Keeps what Organizations said an account is called (`None`: it could not say).
    pub fn remember_name(&self, account: &str, name: Option<&str>) {
        if let Ok(mut names) = self.names.lock() {
            names.insert(
                account.to_string(),
                name.filter(|n| !n.is_empty()).map(str::to_string),
            );
        }
    }

    fn known_name(&self, account: &str) -> Option<String> {
        self.names
            .lock()
            .ok()
            .and_then(|n| n.get(account).cloned().flatten())
    }

    /// The account's name, for the alerts: from the sweep or an earlier look-up, else
    /// `organizations:DescribeAccount` once per container (only the management account or a
    /// delegated administrator may call it; elsewhere the alerts show the id alone).
    pub async fn account_name(&self, account: &str) -> Option<String> {
        if let Some(known) = self.names.lock().ok().and_then(|n| n.get(account).cloned()) {
            return known;
        }
        let name = match self
            .organizations
            .describe_account()
            .account_id(account)
            .send()
            .await
        {
            Ok(out) => out.account().and_then(|a| a.name()).map(str::to_string),
            Err(e) => {
                tracing::debug!(
                    account,
                    error = %one_line(&DisplayErrorContext(&e).to_string()),
                    "the account's name is not readable; alerts show its id"
                );
                None
            }
        };
        self.remember_name(account, name.as_deref());
        name
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
                    if let (Some(id), true) = (a.id(), swept(a)) {
                        accounts.push(id.to_string());
                        self.remember_name(id, a.name());
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
    /// A refused call or entry does not stop the rest (each target is audited on its own);
    /// the error afterwards names what did not go, so the sweep is retried (a target sent
    /// twice is audited twice, which changes nothing).
    pub async fn fan_out(&self, targets: &[Target]) -> Result<usize, String> {
        let sqs = &self.sqs;
        let mut sent = 0;
        let mut problems: Vec<String> = Vec::new();
        for chunk in targets.chunks(10) {
            let entries: Vec<SendMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("t{i}"))
                        .message_body(sweep_message(t, self.known_name(&t.account).as_deref()))
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()?;
            match sqs
                .send_message_batch()
                .queue_url(&self.config.sweep_queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    sent += out.successful().len();
                    for failed in out.failed() {
                        let target = failed
                            .id()
                            .strip_prefix('t')
                            .and_then(|i| i.parse::<usize>().ok())
                            .and_then(|i| chunk.get(i));
                        problems.push(format!(
                            "{}: {} {}",
                            target.map_or_else(|| failed.id().to_string(), |t| t.to_string()),
                            failed.code(),
                            failed.message().unwrap_or_default()
                        ));
                    }
                }
                Err(e) => problems.push(format!(
                    "{} targets ({}): {}",
                    chunk.len(),
                    chunk
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    one_line(&DisplayErrorContext(&e).to_string())
                )),
            }
        }
        if problems.is_empty() {
            Ok(sent)
        } else {
            Err(format!(
                "sqs:SendMessage to {} sent {sent} of {} targets; not sent: {}",
                self.config.sweep_queue_url,
                targets.len(),
                problems.join("; ")
            ))
        }
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
        assert_eq!(sweep_target(&sweep_message(&t, None)), Ok(t.clone()));
        assert_eq!(sweep_name(&sweep_message(&t, None)), None);
        let named = sweep_message(&t, Some("payments \"prod\""));
        assert_eq!(sweep_target(&named), Ok(t));
        assert_eq!(sweep_name(&named).as_deref(), Some("payments \"prod\""));
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
    fn an_account_is_swept_unless_organizations_says_it_is_not_active() {
        use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
        let with = |state: Option<AccountState>, status: Option<AccountStatus>| {
            swept(
                &Account::builder()
                    .set_state(state)
                    .set_status(status)
                    .build(),
            )
        };
        assert!(with(Some(AccountState::Active), None));
        for state in [
            AccountState::Suspended,
            AccountState::Closed,
            AccountState::PendingClosure,
            AccountState::PendingActivation,
        ] {
            assert!(!with(Some(state.clone()), None), "{state:?}");
            // State decides when both are sent.
            assert!(!with(Some(state), Some(AccountStatus::Active)));
        }
        // Before State existed, Status; with neither, swept (and alerted if unreadable).
        assert!(!with(None, Some(AccountStatus::Suspended)));
        assert!(with(None, Some(AccountStatus::Active)));
        assert!(with(None, None));
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

//! The alert state of each mapping in DynamoDB (the template's `StateTable`).
//!
//! One item per mapping, key `pk` = `esm#<uuid>`, with a `version` that every write checks:
//! a write succeeds only if the item is still the version it was read at, so of two racing
//! invocations only one can claim a mapping and send its alert.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::alert::AlertState;
use crate::rules::Severity;

/// An open alert, and where its mapping lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    pub uuid: String,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// A stored state, the version it was read at, and any claim on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub state: AlertState,
    pub version: u64,
    /// An invocation is sending a message for this mapping until then (epoch seconds).
    pub claimed_until: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("DynamoDB {op} on table {table} failed: {message}")]
    Call {
        op: &'static str,
        table: String,
        message: String,
    },
    #[error(
        "the alert state {pk} in table {table} is unreadable: attribute {attribute} {problem}"
    )]
    Corrupt {
        pk: String,
        table: String,
        attribute: &'static str,
        problem: &'static str,
    },
}

pub struct StateStore {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    calls: AtomicU32,
}

pub fn key(uuid: &str) -> String {
    format!("esm#{uuid}")
}

/// The sparse index of open alerts by where their mapping lives (the template's
/// `StateTable`): an item has `open_target` only while its alert is open and its account and
/// region are known, so a hub's sweep of one member reads that member's open alerts alone.
pub const OPEN_INDEX: &str = "open-by-target";

/// The `open_target` of an alert of `account` in `region`.
pub fn open_target(account: &str, region: &str) -> String {
    format!("{account}#{region}")
}

impl StateStore {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        StateStore {
            dynamodb,
            table: table.into(),
            calls: AtomicU32::new(0),
        }
    }

    /// DynamoDB calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn failed<E: std::error::Error + 'static>(&self, op: &'static str, error: E) -> StateError {
        StateError::Call {
            op,
            table: self.table.clone(),
            message: DisplayErrorContext(error).to_string(),
        }
    }

    /// The mapping's state, read strongly consistent (a racing writer's version is seen).
    pub async fn get(&self, uuid: &str) -> Result<Option<Record>, StateError> {
        let dynamodb = &self.dynamodb;
        self.count();
        let out = dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key(uuid)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        match out.item() {
            None => Ok(None),
            Some(item) => self.record(uuid, item).map(Some),
        }
    }

    /// Writes `state` if the stored version is still `expected` (`None`: no item yet).
    /// Returns the new version, or `None` when another writer changed the item first.
    pub async fn put(
        &self,
        uuid: &str,
        state: &AlertState,
        expected: Option<u64>,
        claimed_until: Option<i64>,
        expires_at: i64,
    ) -> Result<Option<u64>, StateError> {
        let dynamodb = &self.dynamodb;
        let version = expected.map_or(1, |v| v + 1);
        let mut item: HashMap<String, AttributeValue> = HashMap::new();
        item.insert("pk".into(), AttributeValue::S(key(uuid)));
        item.insert("version".into(), number(version));
        item.insert("last_alerted".into(), number(state.last_alerted));
        item.insert("open".into(), AttributeValue::Bool(state.open));
        item.insert("expires_at".into(), number(expires_at));
        item.insert(
            "rules".into(),
            AttributeValue::L(
                state
                    .rules
                    .iter()
                    .map(|r| AttributeValue::S(r.clone()))
                    .collect(),
            ),
        );
        // Empty strings are left out rather than stored.
        if !state.fingerprint.is_empty() {
            item.insert(
                "fingerprint".into(),
                AttributeValue::S(state.fingerprint.clone()),
            );
        }
        if !state.function_arn.is_empty() {
            item.insert(
                "function_arn".into(),
                AttributeValue::S(state.function_arn.clone()),
            );
        }
        if let Some(severity) = state.severity {
            item.insert(
                "severity".into(),
                AttributeValue::S(severity.as_str().into()),
            );
        }
        if let Some(until) = claimed_until {
            item.insert("claimed_until".into(), number(until));
        }
        for (name, value) in [("account", &state.account), ("region", &state.region)] {
            if let Some(value) = value {
                item.insert(name.into(), AttributeValue::S(value.clone()));
            }
        }
        // Only mappings' alerts: an account's "cannot read" alert is closed by its own path.
        if let (true, false, Some(account), Some(region)) = (
            state.open,
            crate::alert::unreachable::is_thread(uuid),
            &state.account,
            &state.region,
        ) {
            item.insert(
                "open_target".into(),
                AttributeValue::S(open_target(account, region)),
            );
        }
        if let Some(confirm) = &state.confirm {
            // JSON in one string: the table's schema stays one flat item.
            let json = serde_json::to_string(confirm).unwrap_or_default();
            item.insert("confirm".into(), AttributeValue::S(json));
        }
        let mut request = dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", number(v)),
        };
        self.count();
        match request.send().await {
            Ok(_) => Ok(Some(version)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.failed("PutItem", e)),
        }
    }

    /// Deletes the state if it is still version `expected`; `false` when another writer
    /// changed it first.
    pub async fn delete(&self, uuid: &str, expected: u64) -> Result<bool, StateError> {
        let dynamodb = &self.dynamodb;
        self.count();
        let result = dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key(uuid)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", number(expected))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.failed("DeleteItem", e)),
        }
    }

    /// The open alerts of one member's mappings in one region, from the sparse index (a hub's
    /// table holds every member's rows: a scan would read them all for each member). The
    /// index is eventually consistent: an alert opened a moment ago may be missed, and is
    /// then closed by the next sweep; nothing is closed that should stay open.
    pub async fn open_mappings_of(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Vec<OpenAlert>, StateError> {
        let dynamodb = &self.dynamodb;
        let mut open = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            self.count();
            let out = dynamodb
                .query()
                .table_name(&self.table)
                .index_name(OPEN_INDEX)
                .key_condition_expression("open_target = :t")
                .expression_attribute_values(":t", AttributeValue::S(open_target(account, region)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.failed("Query", e))?;
            for item in out.items() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    if let Some(uuid) = pk.strip_prefix("esm#") {
                        open.push(OpenAlert {
                            uuid: uuid.to_string(),
                            account: Some(account.to_string()),
                            region: Some(region.to_string()),
                        });
                    }
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(open)
    }

    /// The mappings whose alert is open (a sweep closes those whose mapping is gone), with
    /// the account and region they were alerted in (none: the function's own). A scan: in
    /// a single account the table holds one small item per mapping that has alerted, and
    /// rows written before the index existed are found too.
    pub async fn open_mappings(&self) -> Result<Vec<OpenAlert>, StateError> {
        let dynamodb = &self.dynamodb;
        let mut open = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            self.count();
            let out = dynamodb
                .scan()
                .table_name(&self.table)
                .filter_expression("#open = :open")
                .expression_attribute_names("#open", "open")
                .expression_attribute_values(":open", AttributeValue::Bool(true))
                .projection_expression("pk, account, #region")
                .expression_attribute_names("#region", "region")
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.failed("Scan", e))?;
            for item in out.items() {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(s)) => Some(s.clone()),
                    _ => None,
                };
                if let Some(uuid) =
                    text("pk").and_then(|pk| pk.strip_prefix("esm#").map(str::to_string))
                {
                    open.push(OpenAlert {
                        uuid,
                        account: text("account"),
                        region: text("region"),
                    });
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(open)
    }

    fn record(
        &self,
        uuid: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<Record, StateError> {
        let corrupt = |attribute: &'static str, problem: &'static str| StateError::Corrupt {
            pk: key(uuid),
            table: self.table.clone(),
            attribute,
            problem,
        };
        let int = |name: &'static str| -> Result<Option<i64>, StateError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::N(n)) => n
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| corrupt(name, "is not a whole number")),
                Some(_) => Err(corrupt(name, "is not a number")),
            }
        };
        let text = |name: &'static str| -> Result<Option<String>, StateError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
                Some(_) => Err(corrupt(name, "is not a string")),
            }
        };
        let version = int("version")?.ok_or_else(|| corrupt("version", "is missing"))?;
        let version = u64::try_from(version).map_err(|_| corrupt("version", "is negative"))?;
        let open = match item.get("open") {
            None => false,
            Some(AttributeValue::Bool(b)) => *b,
            Some(_) => return Err(corrupt("open", "is not a boolean")),
        };
        let rules = match item.get("rules") {
            None => Vec::new(),
            Some(AttributeValue::L(items)) => items
                .iter()
                .map(|v| match v {
                    AttributeValue::S(s) => Ok(s.clone()),
                    _ => Err(corrupt("rules", "holds a value that is not a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(corrupt("rules", "is not a list")),
        };
        let severity = match text("severity")? {
            None => None,
            Some(s) => {
                Some(Severity::parse(&s).ok_or_else(|| corrupt("severity", "is not a severity"))?)
            }
        };
        let confirm = match text("confirm")? {
            None => None,
            Some(json) => Some(
                serde_json::from_str(&json)
                    .map_err(|_| corrupt("confirm", "is not a follow-up state"))?,
            ),
        };
        Ok(Record {
            state: AlertState {
                fingerprint: text("fingerprint")?.unwrap_or_default(),
                last_alerted: int("last_alerted")?.unwrap_or_default(),
                open,
                severity,
                rules,
                function_arn: text("function_arn")?.unwrap_or_default(),
                confirm,
                account: text("account")?,
                region: text("region")?,
            },
            version,
            claimed_until: int("claimed_until")?,
        })
    }
}

fn number(n: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

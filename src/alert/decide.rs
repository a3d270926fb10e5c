//! Whether a mapping's alert state changed, and the state to remember: the alert's state
//! machine (new, changed, reminder, resolved, deleted, remediated), pure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Finding, MappingReport, RuleId, Severity};

/// What the state table remembers about one mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertState {
    /// The fingerprint of the open problem; empty when none is open.
    pub fingerprint: String,
    /// When the last message about this mapping was sent (epoch seconds).
    pub last_alerted: i64,
    /// Whether a problem was alerted and has not been resolved since.
    pub open: bool,
    /// The worst alerting severity of the open (or last) problem.
    pub severity: Option<Severity>,
    /// The rule ids of the open (or last) problem.
    pub rules: Vec<String>,
    /// Kept so that a "deleted" message can still name the function.
    pub function_arn: String,
    /// A follow-up check pending or done for a change Lambda's report may predate.
    pub confirm: Option<ConfirmState>,
    /// Where the mapping lives (a hub's state table holds many accounts' mappings): a sweep
    /// of one account and region closes only its own.
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The findings of one mapping that alert (at or above the threshold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem<'r> {
    pub fingerprint: String,
    pub findings: Vec<&'r Finding>,
    pub severity: Severity,
    pub rules: Vec<RuleId>,
}

/// The findings of `mapping` at or above `min`, or `None` when there are none.
pub fn problem(mapping: &MappingReport, min: Severity) -> Option<Problem<'_>> {
    let findings: Vec<&Finding> = mapping
        .findings
        .iter()
        .filter(|f| f.severity >= min)
        .collect();
    let severity = findings.iter().map(|f| f.severity).max()?;
    let rules: Vec<RuleId> = findings
        .iter()
        .map(|f| f.rule)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Some(Problem {
        fingerprint: fingerprint(&findings),
        findings,
        severity,
        rules,
    })
}

/// sha256 of the sorted (rule, resources) pairs: the same problem always has the same
/// fingerprint, whatever the order or wording of the findings.
pub fn fingerprint(findings: &[&Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let mut resources = f.resources.clone();
            resources.sort();
            format!("{}\t{}", f.rule, resources.join(","))
        })
        .collect();
    lines.sort();
    lines.dedup();
    let digest = Sha256::digest(lines.join("\n"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A problem where none was open.
    New,
    /// The open problem is now a different one.
    Changed,
    /// The open problem is unchanged, and the last alert is older than RENOTIFY_HOURS.
    Reminder,
    /// The alerted mapping has no finding at or above the threshold any more.
    Resolved,
    /// The alerted mapping was deleted.
    Deleted,
    /// esm-guard changed the network for this mapping in this run (REMEDIATION=apply).
    Remediated,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::New => "new",
            AlertKind::Changed => "changed",
            AlertKind::Reminder => "reminder",
            AlertKind::Resolved => "resolved",
            AlertKind::Deleted => "deleted",
            AlertKind::Remediated => "remediated",
        }
    }

    pub fn closes(self) -> bool {
        matches!(self, AlertKind::Resolved | AlertKind::Deleted)
    }
}

/// Whether the mapping's alert state changed since `previous`.
pub fn decide(
    previous: Option<&AlertState>,
    current: Option<&Problem<'_>>,
    now: i64,
    renotify_secs: i64,
) -> Option<AlertKind> {
    match (previous.filter(|p| p.open), current) {
        (None, Some(_)) => Some(AlertKind::New),
        // The same findings at another severity (a stale report confirmed, or escalated) is
        // a change too.
        (Some(p), Some(c)) if p.fingerprint != c.fingerprint || p.severity != Some(c.severity) => {
            Some(AlertKind::Changed)
        }
        (Some(p), Some(_)) if now.saturating_sub(p.last_alerted) >= renotify_secs => {
            Some(AlertKind::Reminder)
        }
        (Some(_), None) => Some(AlertKind::Resolved),
        _ => None,
    }
}

/// The mapping was deleted: close its alert if one is open.
pub fn decide_deleted(previous: Option<&AlertState>) -> Option<AlertKind> {
    previous.filter(|p| p.open).map(|_| AlertKind::Deleted)
}

/// The state to store once the message of `kind` has been sent.
pub fn next_state(
    kind: AlertKind,
    previous: Option<&AlertState>,
    current: Option<&Problem<'_>>,
    function_arn: &str,
    now: i64,
) -> AlertState {
    match (kind.closes(), current) {
        (false, Some(c)) => AlertState {
            fingerprint: c.fingerprint.clone(),
            last_alerted: now,
            open: true,
            severity: Some(c.severity),
            rules: c.rules.iter().map(|r| r.as_str().to_string()).collect(),
            function_arn: function_arn.to_string(),
            confirm: previous.and_then(|p| p.confirm.clone()),
            account: previous.and_then(|p| p.account.clone()),
            region: previous.and_then(|p| p.region.clone()),
        },
        _ => AlertState {
            fingerprint: String::new(),
            last_alerted: now,
            open: false,
            severity: previous.and_then(|p| p.severity),
            rules: previous.map(|p| p.rules.clone()).unwrap_or_default(),
            function_arn: function_arn.to_string(),
            confirm: None,
            account: previous.and_then(|p| p.account.clone()),
            region: previous.and_then(|p| p.region.clone()),
        },
    }
}

/// When DynamoDB may forget a state: an open one outlives its next reminder by a week, so
/// it is never forgotten while the problem lasts; a closed one is kept a week.
pub fn expires_at(state: &AlertState, now: i64, renotify_secs: i64) -> i64 {
    const WEEK: i64 = 7 * 24 * 3600;
    if state.open {
        now + renotify_secs + WEEK
    } else {
        now + WEEK
    }
}

/// What the state table remembers of a pending confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfirmState {
    /// The change Lambda's report may predate, for a person.
    pub change: String,
    /// When the change was made or seen (epoch seconds): names the follow-ups of this change.
    pub cycle: i64,
    /// The follow-up scheduled last (1-based).
    pub attempt: u32,
    /// When it is due (epoch seconds).
    pub due: i64,
    /// Every follow-up came back and Lambda still reported the problem.
    pub exhausted: bool,
}

//! The facts every part of a message shares (label, headline, severity, rules, the
//! function), and the words for what remediation did.

use crate::plan::Action;
use crate::remediation::{ActionResult, MappingHealing, Mode as Remediation, Outcome};
use crate::rules::{MappingReport, Severity};

use super::decide::{AlertKind, AlertState, Problem};
use super::text::*;

// Bounds of esm-guard's own, not AWS's: the custom-notification page
// (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html) gives the schema
// and no length limit for any field. They keep a Slack message readable; what bounds the
// whole message for certain is SNS's publish limit (SNS_MAX_BYTES), enforced below.
pub(super) const TITLE_MAX: usize = 250;
pub(super) const DESCRIPTION_MAX: usize = 7500;
pub(super) const NEXT_STEPS_MAX: usize = 8;
pub(super) const KEYWORDS_MAX: usize = 10;
pub(super) const RELATED_MAX: usize = 20;
pub(super) const SUBJECT_MAX: usize = 99;

/// Everything a message is made of.
#[derive(Debug, Clone)]
pub struct AlertContext<'a> {
    pub kind: AlertKind,
    pub region: &'a str,
    pub uuid: &'a str,
    /// The mapping's report; `None` when it was deleted.
    pub mapping: Option<&'a MappingReport>,
    pub problem: Option<&'a Problem<'a>>,
    pub previous: Option<&'a AlertState>,
    /// The plan of the run (the actions of every mapping; this message picks its own).
    pub actions: &'a [Action],
    pub remediation: Remediation,
    /// What this run did (or, in plan mode, would do) for this mapping.
    pub results: Vec<&'a ActionResult>,
    /// With REMEDIATION=apply: healed, improved or still failing, and what was created.
    pub healing: Option<&'a MappingHealing>,
    pub min_severity: Severity,
    pub renotify_hours: u32,
    pub now: i64,
}

/// The facts every part of the message shares.
pub(super) struct Facts {
    /// FAIL, WARN, UNKNOWN, INFO, RESOLVED, CLOSED.
    pub(super) label: String,
    pub(super) headline: String,
    pub(super) subject_tail: String,
    pub(super) severity: Severity,
    pub(super) verdict: &'static str,
    pub(super) rules: Vec<String>,
    pub(super) function_arn: String,
    pub(super) function_name: String,
    pub(super) mapping_arn: Option<String>,
}

impl Facts {
    pub(super) fn of(ctx: &AlertContext<'_>) -> Facts {
        let function_arn = ctx
            .mapping
            .map(|m| m.function_arn.clone())
            .or_else(|| ctx.previous.map(|p| p.function_arn.clone()))
            .unwrap_or_default();
        let function_name = function_name(&function_arn).to_string();
        let previous_rules = ctx.previous.map(|p| p.rules.clone()).unwrap_or_default();
        let (label, severity, rules) = match (ctx.kind, ctx.problem) {
            (AlertKind::Resolved, _) => (
                "RESOLVED".to_string(),
                ctx.previous.and_then(|p| p.severity),
                previous_rules,
            ),
            (AlertKind::Deleted, _) => (
                "CLOSED".to_string(),
                ctx.previous.and_then(|p| p.severity),
                previous_rules,
            ),
            // A close carries what it closes: a filter on severity=fail sees the heal too.
            (AlertKind::Remediated, p) => (
                healing_word(ctx.healing).to_uppercase(),
                p.map(|p| p.severity)
                    .or_else(|| ctx.previous.and_then(|p| p.severity)),
                p.map(|p| p.rules.iter().map(|r| r.as_str().to_string()).collect())
                    .unwrap_or(previous_rules),
            ),
            (_, Some(p)) => (
                p.severity.as_str().to_uppercase(),
                Some(p.severity),
                p.rules.iter().map(|r| r.as_str().to_string()).collect(),
            ),
            (_, None) => ("INFO".to_string(), None, vec![]),
        };
        let who = if function_name.is_empty() {
            "an unknown function".to_string()
        } else {
            function_name.clone()
        };
        let headline = match ctx.kind {
            AlertKind::Resolved if confirmed(ctx).is_some() => format!(
                "RESOLVED: the Kafka event source mapping of {who} passes again, confirmed by Lambda"
            ),
            AlertKind::Resolved => {
                format!("RESOLVED: the Kafka event source mapping of {who} passes again")
            }
            AlertKind::Deleted => {
                format!("CLOSED: the Kafka event source mapping of {who} was deleted")
            }
            AlertKind::Remediated => format!(
                "{label}: esm-guard changed the network of the Kafka event source mapping of {who}"
            ),
            _ => format!(
                "{label}: the Kafka event source mapping of {who} {}",
                severity_phrase(severity)
            ),
        };
        Facts {
            subject_tail: format!(
                "Kafka mapping of {who}{}",
                match ctx.kind {
                    AlertKind::Resolved => " passes again",
                    AlertKind::Deleted => " was deleted",
                    AlertKind::Reminder => " still has a problem",
                    AlertKind::Remediated => " changed by esm-guard",
                    _ => "",
                }
            ),
            label,
            headline,
            severity: severity.unwrap_or(Severity::Info),
            verdict: match (ctx.kind, ctx.mapping) {
                (AlertKind::Deleted, _) | (_, None) => "deleted",
                (_, Some(m)) => m.verdict.as_str(),
            },
            rules,
            function_arn,
            function_name,
            mapping_arn: ctx.mapping.and_then(|m| m.arn.clone()),
        }
    }
}

/// A close that a follow-up check confirmed: Lambda's own report cleared after a change.
pub(super) fn confirmed(ctx: &AlertContext<'_>) -> Option<String> {
    let confirm = ctx.previous.and_then(|p| p.confirm.as_ref())?;
    (ctx.kind == AlertKind::Resolved).then(|| {
        format!(
            "Confirmed: Lambda's own report has cleared after {}.",
            confirm.change
        )
    })
}

pub(super) fn healing_word(healing: Option<&MappingHealing>) -> &'static str {
    healing.map_or("changed", |h| h.outcome.words())
}

pub(super) fn healing_sentence(ctx: &AlertContext<'_>) -> String {
    match ctx.healing {
        Some(h) => format!(
            "esm-guard changed the network for this mapping: {} (verdict {} before, {} now){}.",
            healing_word(Some(h)),
            h.verdict_before.as_str(),
            h.verdict_after.as_str(),
            if h.created.is_empty() {
                String::new()
            } else {
                format!("; created {}", h.created.join(", "))
            }
        ),
        None => "esm-guard changed the network for this mapping.".to_string(),
    }
}

/// An action's outcome in a word, and its detail (the resource made, or why not).
pub(super) fn result_words(r: &ActionResult) -> (&'static str, String) {
    match &r.outcome {
        Outcome::Planned => ("would run", String::new()),
        Outcome::Applied { resource } => (
            "done",
            resource
                .as_ref()
                .map(|id| format!(" -> {id}"))
                .unwrap_or_default(),
        ),
        Outcome::AlreadyDone { .. } => ("already in place", String::new()),
        Outcome::OptedOut { reason } => ("not changed", format!(": {reason}")),
        Outcome::Pending => (
            "pending",
            ": over MAX_ACTIONS_PER_RUN, the next run takes it".into(),
        ),
        Outcome::Failed { error } => ("FAILED", format!(": {error}")),
    }
}

pub(super) fn severity_phrase(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Fail) => "is broken",
        Some(Severity::Unknown) => "cannot be judged",
        Some(Severity::Warn) => "works against the guide",
        _ => "has advice",
    }
}

pub(super) fn emoji(ctx: &AlertContext<'_>, severity: Severity) -> &'static str {
    match ctx.kind {
        AlertKind::Resolved => ":white_check_mark:",
        AlertKind::Deleted => ":wastebasket:",
        AlertKind::Remediated => ":wrench:",
        _ => match severity {
            Severity::Fail => ":red_circle:",
            Severity::Unknown => ":grey_question:",
            Severity::Warn => ":warning:",
            Severity::Info => ":information_source:",
        },
    }
}

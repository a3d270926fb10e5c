//! What an alert says: the facts every part shares, the Chatbot custom notification and the
//! e-mail put together, and the whole bounded to one SNS publish.

use serde_json::{json, Value};

use crate::plan::Action;
use crate::remediation::{ActionResult, MappingHealing, Mode as Remediation, Outcome};
use crate::rules::{MappingReport, Severity, SourceSummary};

use super::decide::{AlertKind, AlertState, Problem};
use super::email::email_body;
use super::slack::{next_steps, slack_description, slack_title};
use super::text::*;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    /// `String` or `String.Array` (a JSON array, matched element-wise by filter policies).
    pub data_type: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The e-mail subject (ASCII, one line, under 100 characters as SNS requires).
    pub subject: String,
    /// The Chatbot custom notification.
    pub chatbot: Value,
    /// The plain-text e-mail body.
    pub email: String,
    pub attributes: Vec<Attribute>,
    /// Something was cut to fit Chatbot's fields or SNS's size: the function logs the full
    /// report beside it.
    pub cut: bool,
}

impl Message {
    /// The `Message` of a `MessageStructure=json` publish: Chatbot's HTTPS endpoint and the
    /// default get the notification JSON, e-mail subscribers the text.
    pub fn sns_json(&self) -> String {
        let chatbot = self.chatbot.to_string();
        json!({"default": chatbot, "email": self.email, "https": chatbot}).to_string()
    }
}

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

pub fn compose(ctx: &AlertContext<'_>) -> Message {
    let facts = Facts::of(ctx);
    let steps = next_steps(ctx);
    let title = truncate(&slack_title(ctx, &facts), TITLE_MAX);
    let description =
        truncate_with_note(&slack_description(ctx, &facts), DESCRIPTION_MAX, ctx.uuid);
    let summary = plain(&format!(
        "{}: {}",
        facts.headline,
        one_line_rules(&facts.rules)
    ));

    let mut keywords = vec!["esm-guard".to_string(), facts.label.to_lowercase()];
    keywords.extend(facts.rules.iter().cloned());
    keywords.truncate(KEYWORDS_MAX);

    let mut related: Vec<String> = Vec::new();
    let mut add = |r: &str| {
        if !r.is_empty() && !related.iter().any(|x| x == r) {
            related.push(r.to_string());
        }
    };
    add(facts.mapping_arn.as_deref().unwrap_or(ctx.uuid));
    add(&facts.function_arn);
    if let Some(m) = ctx.mapping {
        if let SourceSummary::Msk { cluster_arn } = &m.source {
            add(cluster_arn);
        }
    }
    for f in ctx
        .problem
        .map(|p| p.findings.as_slice())
        .unwrap_or_default()
    {
        f.resources.iter().for_each(|r| add(r));
    }
    related.truncate(RELATED_MAX);

    let chatbot = json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("esm-guard/{}/{}/{}", ctx.uuid, ctx.kind.as_str(), ctx.now),
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": steps.iter().map(|s| s.slack.clone()).collect::<Vec<_>>(),
            "keywords": keywords.iter().map(|k| md(k)).collect::<Vec<_>>(),
        },
        "metadata": {
            "threadId": ctx.uuid,
            "summary": md(&summary),
            "eventType": format!("esm-guard.{}", ctx.kind.as_str()),
            "relatedResources": related.iter().map(|r| code_text(r)).collect::<Vec<_>>(),
        }
    });

    let subject = subject(&facts, ctx.uuid);
    let mut attributes = vec![
        Attribute {
            name: "severity",
            data_type: "String",
            value: facts.severity.as_str().to_string(),
        },
        Attribute {
            name: "verdict",
            data_type: "String",
            value: facts.verdict.to_string(),
        },
        Attribute {
            name: "esm_uuid",
            data_type: "String",
            value: non_empty(ctx.uuid),
        },
        Attribute {
            name: "function_name",
            data_type: "String",
            value: non_empty(&facts.function_name),
        },
        Attribute {
            name: "alert_kind",
            data_type: "String",
            value: ctx.kind.as_str().to_string(),
        },
    ];
    // What the open alert said before this message: a filter on it also sees a failure
    // that turns into a warning (a change, not a close).
    if let Some(before) = ctx.previous.filter(|p| p.open).and_then(|p| p.severity) {
        attributes.push(Attribute {
            name: "previous_severity",
            data_type: "String",
            value: before.as_str().to_string(),
        });
    }
    if !facts.rules.is_empty() {
        attributes.insert(
            2,
            Attribute {
                name: "rules",
                data_type: "String.Array",
                value: Value::from(facts.rules.clone()).to_string(),
            },
        );
    }
    let cut = description.chars().count() < slack_description(ctx, &facts).chars().count();
    let mut message = Message {
        subject,
        chatbot,
        email: email_body(ctx, &facts, &steps),
        attributes,
        cut,
    };
    bound_to_sns(&mut message, ctx.uuid);
    message
}

/// SNS takes at most 262,144 bytes of message, subject and attributes together
/// (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html); with `MessageStructure`
/// json the Chatbot notification goes twice (default and https) beside the e-mail.
pub const SNS_MAX_BYTES: usize = 262_144;
/// Kept free for the JSON escaping of what is cut and the publish's own fields.
pub(super) const SNS_MARGIN: usize = 8 * 1024;

impl Message {
    /// The bytes SNS counts: the message, the subject, the attributes' names, types and values.
    pub fn sns_bytes(&self) -> usize {
        self.sns_json().len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|a| a.name.len() + a.data_type.len() + a.value.len())
                .sum::<usize>()
    }
}

/// Cuts the e-mail (the only part without a fixed bound) until the whole publish fits SNS,
/// saying what was left out and where the full report is: a publish must never fail for
/// its size, or the mapping is never alerted.
pub(super) fn bound_to_sns(message: &mut Message, uuid: &str) {
    let limit = SNS_MAX_BYTES - SNS_MARGIN;
    let over = message.sns_bytes().saturating_sub(limit);
    if over == 0 {
        return;
    }
    let note = |dropped: usize| {
        format!(
            "\n\n[... cut to fit an SNS message: {dropped} more characters. The function's log has the full report of this mapping; `esm-guard audit --esm {uuid}` prints it too.]\n"
        )
    };
    // JSON escaping can grow text: cut twice what is over, on a character boundary.
    let reserve = note(usize::MAX).len();
    let mut cut = message.email.len().saturating_sub(over * 2 + reserve);
    while cut > 0 && !message.email.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = message.email[cut..].chars().count();
    message.email.truncate(cut);
    message.email.push_str(&note(dropped));
    message.cut = true;
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
    fn of(ctx: &AlertContext<'_>) -> Facts {
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

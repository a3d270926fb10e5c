//! Per mapping: whether to alert, and what the alert says.
//!
//! Pure: the previous stored state, the mapping's report and `now` in; a decision, the next
//! state and the message out. The message is an AWS Chatbot custom notification (Slack)
//! and a plain-text e-mail, published together with `MessageStructure=json`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::config::Remediation;
use crate::plan::Action;
use crate::remediation::{ActionResult, Healing, MappingHealing, Outcome};
use crate::rules::{explain, Finding, MappingReport, RuleId, Severity, SourceSummary};

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

    fn closes(self) -> bool {
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
        (Some(p), Some(c)) if p.fingerprint != c.fingerprint => Some(AlertKind::Changed),
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
        },
        _ => AlertState {
            fingerprint: String::new(),
            last_alerted: now,
            open: false,
            severity: previous.and_then(|p| p.severity),
            rules: previous.map(|p| p.rules.clone()).unwrap_or_default(),
            function_arn: function_arn.to_string(),
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

// ---- the message ------------------------------------------------------------------------------

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
const TITLE_MAX: usize = 250;
const DESCRIPTION_MAX: usize = 7500;
const NEXT_STEPS_MAX: usize = 8;
const KEYWORDS_MAX: usize = 10;
const RELATED_MAX: usize = 20;
const SUBJECT_MAX: usize = 99;

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
const SNS_MARGIN: usize = 8 * 1024;

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
fn bound_to_sns(message: &mut Message, uuid: &str) {
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
struct Facts {
    /// FAIL, WARN, UNKNOWN, INFO, RESOLVED, CLOSED.
    label: String,
    headline: String,
    subject_tail: String,
    severity: Severity,
    verdict: &'static str,
    rules: Vec<String>,
    function_arn: String,
    function_name: String,
    mapping_arn: Option<String>,
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

fn healing_word(healing: Option<&MappingHealing>) -> &'static str {
    match healing.map(|h| h.outcome) {
        Some(Healing::Healed) => "healed",
        Some(Healing::Improved) => "improved",
        Some(Healing::StillFailing) => "still failing",
        None => "changed",
    }
}

fn healing_sentence(ctx: &AlertContext<'_>) -> String {
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
fn result_words(r: &ActionResult) -> (&'static str, String) {
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

fn severity_phrase(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Fail) => "is broken",
        Some(Severity::Unknown) => "cannot be judged",
        Some(Severity::Warn) => "works against the guide",
        _ => "has advice",
    }
}

fn emoji(ctx: &AlertContext<'_>, severity: Severity) -> &'static str {
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

fn slack_title(ctx: &AlertContext<'_>, facts: &Facts) -> String {
    let prefix = match ctx.kind {
        AlertKind::Changed => "Changed - ",
        AlertKind::Reminder => "Still open - ",
        _ => "",
    };
    let name = if facts.function_name.is_empty() {
        "(unknown function)".to_string()
    } else {
        code(&facts.function_name)
    };
    let rest = match ctx.kind {
        AlertKind::Resolved => "passes again".to_string(),
        AlertKind::Deleted => "was deleted".to_string(),
        AlertKind::Remediated => format!("{} by esm-guard", healing_word(ctx.healing)),
        _ => severity_phrase(Some(facts.severity)).to_string(),
    };
    format!(
        "{} {prefix}{}: Kafka event source mapping {} of {name} {rest}",
        emoji(ctx, facts.severity),
        facts.label,
        code(short(ctx.uuid)),
    )
}

fn slack_description(ctx: &AlertContext<'_>, facts: &Facts) -> String {
    let mut out = String::new();
    match ctx.kind {
        AlertKind::Resolved => {
            let verdict = ctx.mapping.map(|m| m.verdict.as_str()).unwrap_or("pass");
            let _ = writeln!(
                out,
                "The problem alerted earlier ({}) is gone: no finding at or above *{}* remains. Verdict now: *{verdict}*.",
                rule_list_md(&facts.rules),
                ctx.min_severity.as_str(),
            );
        }
        AlertKind::Deleted => {
            let _ = writeln!(
                out,
                "The mapping was deleted, so the alert opened for it ({}) is closed.",
                rule_list_md(&facts.rules)
            );
        }
        AlertKind::Changed => {
            let before: BTreeSet<&str> = ctx
                .previous
                .map(|p| p.rules.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let now: BTreeSet<&str> = facts.rules.iter().map(String::as_str).collect();
            let added: Vec<String> = now.difference(&before).map(|s| s.to_string()).collect();
            let gone: Vec<String> = before.difference(&now).map(|s| s.to_string()).collect();
            let _ = write!(out, "The problem changed since the last alert.");
            if !added.is_empty() {
                let _ = write!(out, " New: {}.", rule_list_md(&added));
            }
            if !gone.is_empty() {
                let _ = write!(out, " Cleared: {}.", rule_list_md(&gone));
            }
            if added.is_empty() && gone.is_empty() {
                let _ = write!(out, " Same rules, other resources.");
            }
            out.push('\n');
        }
        AlertKind::Reminder => {
            let hours = ctx
                .previous
                .map(|p| (ctx.now - p.last_alerted) / 3600)
                .unwrap_or_default();
            let _ = writeln!(out, "Unchanged since the last alert {hours} h ago.");
        }
        AlertKind::Remediated => {
            let _ = writeln!(out, "{}", md(&healing_sentence(ctx)));
        }
        AlertKind::New => {}
    }
    if !out.is_empty() {
        out.push('\n');
    }
    write_mapping_md(&mut out, ctx, facts);
    if !ctx.results.is_empty() {
        let _ = writeln!(
            out,
            "\n*What esm-guard did* (REMEDIATION={})",
            ctx.remediation.as_str()
        );
        for r in &ctx.results {
            let (word, detail) = result_words(r);
            let _ = writeln!(out, "• *{word}* {}{}", md(&r.description), md(&detail));
        }
    }
    if let Some(problem) = ctx.problem.filter(|_| !ctx.kind.closes()) {
        let _ = writeln!(
            out,
            "\n*What is wrong* ({} finding{} at or above {})",
            problem.findings.len(),
            if problem.findings.len() == 1 { "" } else { "s" },
            ctx.min_severity.as_str()
        );
        for f in &problem.findings {
            let _ = writeln!(
                out,
                "• *{}* {}: {}",
                f.severity.as_str().to_uppercase(),
                code(f.rule.as_str()),
                md(&f.message)
            );
            if !f.resources.is_empty() {
                let _ = writeln!(
                    out,
                    "    Resources: {}",
                    f.resources
                        .iter()
                        .map(|r| code(r))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let _ = writeln!(out, "\n*Why it matters* (the AWS guide)");
        for rule in &problem.rules {
            let _ = writeln!(out, "• {}: {}", code(rule.as_str()), md(explain(*rule).why));
        }
        let _ = writeln!(
            out,
            "\nesm-guard re-checks on every change to the mapping or its network, says so here when it is fixed, and reminds every {} h while it stays open.",
            ctx.renotify_hours
        );
    }
    out.trim_end().to_string()
}

fn write_mapping_md(out: &mut String, ctx: &AlertContext<'_>, facts: &Facts) {
    let function = if facts.function_name.is_empty() {
        "(unknown)".to_string()
    } else {
        code(&facts.function_name)
    };
    let _ = write!(
        out,
        "*Mapping* {} of function {function} in {}",
        code(ctx.uuid),
        code(ctx.region)
    );
    if let Some(m) = ctx.mapping {
        match &m.source {
            SourceSummary::Msk { cluster_arn } => {
                let _ = write!(out, " · MSK cluster {}", code(cluster_name(cluster_arn)));
            }
            SourceSummary::MskVpcConnection { connection_arn } => {
                let _ = write!(out, " · MSK VPC connection {}", code(connection_arn));
            }
            SourceSummary::SelfManaged { bootstrap_servers } => {
                let _ = write!(
                    out,
                    " · self-managed Kafka {}",
                    code_list(bootstrap_servers)
                );
            }
        }
        let _ = writeln!(out, " · {} mode", m.mode.as_str());
        if let Some(net) = &m.network {
            match &net.vpc_id {
                Some(vpc) => {
                    let _ = writeln!(
                        out,
                        "*Network* VPC {} · subnets {} · security groups {} · broker port {}",
                        code(vpc),
                        code_list(&net.subnet_ids),
                        code_list(&net.security_group_ids),
                        net.ports_text()
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "*Network* brokers reached over the internet · broker port {}",
                        net.ports_text()
                    );
                }
            }
        }
    } else {
        out.push('\n');
    }
}

/// One next step: the Slack line and the e-mail lines.
struct Step {
    slack: String,
    email: String,
}

fn next_steps(ctx: &AlertContext<'_>) -> Vec<Step> {
    let Some(problem) = ctx.problem.filter(|_| !ctx.kind.closes()) else {
        return vec![];
    };
    let mut steps = Vec::new();
    let mut covered: BTreeSet<RuleId> = BTreeSet::new();
    let mine: Vec<&Action> = ctx
        .actions
        .iter()
        .filter(|a| {
            problem
                .findings
                .iter()
                .any(|f| a.fixes_finding(ctx.uuid, f))
        })
        .collect();
    for a in &mine {
        for f in problem
            .findings
            .iter()
            .filter(|f| a.fixes_finding(ctx.uuid, f))
        {
            covered.insert(f.rule);
        }
        let who = match (ctx.remediation, a.automatic) {
            (Remediation::Plan, true) => {
                "esm-guard would make this change with REMEDIATION=apply: "
            }
            (Remediation::Plan, false) => "Manual: ",
            _ => "",
        };
        steps.push(Step {
            slack: format!("{who}{}: {}", md(&a.description), code(&a.command)),
            email: format!(
                "{who}{}\n     $ {}",
                plain(&a.description),
                plain(&a.command)
            ),
        });
    }
    // Findings no action covers still get the rule's fix, in the guide's words.
    for rule in problem.rules.iter().filter(|r| !covered.contains(r)) {
        let fix = explain(*rule).fix;
        steps.push(Step {
            slack: format!(
                "{}: {} (details: {})",
                code(rule.as_str()),
                md(fix),
                code(&format!("esm-guard explain {rule}"))
            ),
            email: format!("{rule}: {}\n     $ esm-guard explain {rule}", plain(fix)),
        });
    }
    if steps.len() > NEXT_STEPS_MAX {
        let rest = steps.len() - (NEXT_STEPS_MAX - 1);
        steps.truncate(NEXT_STEPS_MAX - 1);
        let audit = format!("esm-guard audit --esm {}", ctx.uuid);
        steps.push(Step {
            slack: format!("{rest} more step(s): {}", code(&audit)),
            email: format!(
                "{rest} more step(s): see the full report\n     $ {}",
                plain(&audit)
            ),
        });
    }
    steps
}

fn email_body(ctx: &AlertContext<'_>, facts: &Facts, steps: &[Step]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", plain(&facts.headline));
    let _ = writeln!(out, "{}", "=".repeat(72));
    match ctx.kind {
        AlertKind::Resolved => {
            let verdict = ctx.mapping.map(|m| m.verdict.as_str()).unwrap_or("pass");
            let _ = writeln!(
                out,
                "\nThe problem alerted earlier ({}) is gone: no finding at or above {} remains.\nVerdict now: {verdict}.",
                plain(&facts.rules.join(", ")),
                ctx.min_severity.as_str()
            );
        }
        AlertKind::Deleted => {
            let _ = writeln!(
                out,
                "\nThe mapping was deleted, so the alert opened for it ({}) is closed.",
                plain(&facts.rules.join(", "))
            );
        }
        AlertKind::Changed => {
            let before = ctx.previous.map(|p| p.rules.join(", ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "\nThe problem changed since the last alert (then: {}).",
                plain(&before)
            );
        }
        AlertKind::Reminder => {
            let hours = ctx
                .previous
                .map(|p| (ctx.now - p.last_alerted) / 3600)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "\nStill open: unchanged since the last alert {hours} h ago."
            );
        }
        AlertKind::Remediated => {
            let _ = writeln!(out, "\n{}", plain(&healing_sentence(ctx)));
        }
        AlertKind::New => {}
    }
    if !ctx.results.is_empty() {
        let _ = writeln!(
            out,
            "\nWhat esm-guard did (REMEDIATION={})",
            ctx.remediation.as_str()
        );
        for r in &ctx.results {
            let (word, detail) = result_words(r);
            let _ = writeln!(
                out,
                "  - [{word}] {}{}",
                plain(&r.description),
                plain(&detail)
            );
        }
    }
    let _ = writeln!(out, "\nMapping");
    let _ = writeln!(out, "  UUID:      {}", plain(ctx.uuid));
    if let Some(arn) = &facts.mapping_arn {
        let _ = writeln!(out, "  ARN:       {}", plain(arn));
    }
    let _ = writeln!(
        out,
        "  Function:  {}",
        plain(if facts.function_arn.is_empty() {
            "(unknown)"
        } else {
            &facts.function_arn
        })
    );
    let _ = writeln!(out, "  Region:    {}", plain(ctx.region));
    if let Some(m) = ctx.mapping {
        let source = m.source.text(false);
        let _ = writeln!(
            out,
            "  Source:    {} ({} mode)",
            plain(&source),
            m.mode.as_str()
        );
        if let Some(net) = &m.network {
            match &net.vpc_id {
                Some(vpc) => {
                    let _ = writeln!(out, "  VPC:       {}", plain(vpc));
                    let _ = writeln!(out, "  Subnets:   {}", plain(&net.subnet_ids.join(", ")));
                    let _ = writeln!(
                        out,
                        "  Security groups: {}",
                        plain(&net.security_group_ids.join(", "))
                    );
                }
                None => {
                    let _ = writeln!(out, "  Network:   brokers reached over the internet");
                }
            }
            let _ = writeln!(out, "  Broker port: {}", net.ports_text());
        }
    }
    if let Some(problem) = ctx.problem.filter(|_| !ctx.kind.closes()) {
        let _ = writeln!(
            out,
            "\nWhat is wrong ({} at or above {})",
            problem.findings.len(),
            ctx.min_severity.as_str()
        );
        for f in &problem.findings {
            let _ = writeln!(
                out,
                "  - [{}] {}: {}",
                f.severity.as_str().to_uppercase(),
                f.rule,
                plain(&f.message)
            );
            if !f.resources.is_empty() {
                let _ = writeln!(out, "    Resources: {}", plain(&f.resources.join(", ")));
            }
        }
        let _ = writeln!(out, "\nWhy it matters (the AWS guide)");
        for rule in &problem.rules {
            let _ = writeln!(out, "  - {rule}: {}", explain(*rule).why);
        }
        if !steps.is_empty() {
            let _ = writeln!(out, "\nNext steps");
            for (i, s) in steps.iter().enumerate() {
                let _ = writeln!(out, "  {}. {}", i + 1, s.email);
            }
        }
        let _ = writeln!(
            out,
            "\nesm-guard re-checks on every change to the mapping or its network, mails again when it is fixed, and reminds every {} h while it stays open.",
            ctx.renotify_hours
        );
    }
    let _ = writeln!(
        out,
        "\n-- \nesm-guard (alert {}, {})",
        ctx.kind.as_str(),
        ctx.uuid
    );
    out
}

// ---- escaping -----------------------------------------------------------------------------------

/// Free text from AWS (names, tags, messages) for Slack markdown: nothing in it can become
/// a mention, a link or formatting. Slack's own escapes for `&`, `<` and `>` stop `<!channel>`,
/// `<@U…>` and `<url|text>`; the formatting characters become look-alikes, since Slack has
/// no escape for them; `@` gets a word joiner so `@here` is never a mention.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' => out.push('\u{2217}'),
            '_' => out.push('\u{02CD}'),
            '~' => out.push('\u{223C}'),
            '`' => out.push('\u{02CB}'),
            '@' => out.push_str("@\u{2060}"),
            c if crate::escape::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a Slack code span: no formatting applies there, so only what could end
/// the span or form a control sequence is changed.
fn code_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\u{02CB}'),
            c if crate::escape::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An identifier or command, shown exactly, as a Slack code span.
pub fn code(text: &str) -> String {
    if text.is_empty() {
        return "(none)".to_string();
    }
    format!("`{}`", code_text(text))
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ")
}

fn rule_list_md(rules: &[String]) -> String {
    if rules.is_empty() {
        return "no rule recorded".to_string();
    }
    code_list(rules)
}

/// Text for the e-mail: control and bidi characters (a forged line break in a name, a
/// right-to-left override) become spaces.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if crate::escape::is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// The e-mail subject: printable ASCII, under 100 characters as SNS requires ("UTF-8 text
/// with no line breaks or control characters, and less than 100 characters long",
/// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), always with the verdict and
/// the whole mapping id; only the description after them is cut, with an ASCII "...".
fn subject(facts: &Facts, uuid: &str) -> String {
    let verdict = facts.verdict;
    let head = if facts.label.eq_ignore_ascii_case(verdict) {
        format!("esm-guard {} {}: ", facts.label, ascii_line(uuid))
    } else {
        format!(
            "esm-guard {} ({verdict}) {}: ",
            facts.label,
            ascii_line(uuid)
        )
    };
    if head.len() >= SUBJECT_MAX {
        return head.chars().take(SUBJECT_MAX).collect();
    }
    let tail = ascii_line(&facts.subject_tail);
    let room = SUBJECT_MAX - head.len();
    if tail.len() <= room {
        format!("{head}{tail}")
    } else {
        let cut: String = tail.chars().take(room.saturating_sub(3)).collect();
        format!("{head}{}...", cut.trim_end())
    }
}

/// SNS subjects: printable ASCII on one line.
fn ascii_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('\u{2026}');
    out
}

fn truncate_with_note(text: &str, max: usize, uuid: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let note = format!(
        "\n\u{2026} (cut short: {} has the full report)",
        code(&format!("esm-guard audit --esm {uuid}"))
    );
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(&note);
    out
}

fn one_line_rules(rules: &[String]) -> String {
    if rules.is_empty() {
        "no findings".to_string()
    } else {
        rules.join(", ")
    }
}

fn non_empty(text: &str) -> String {
    if text.is_empty() {
        "unknown".to_string()
    } else {
        text.to_string()
    }
}

fn short(uuid: &str) -> &str {
    uuid.get(..8).unwrap_or(uuid)
}

fn cluster_name(arn: &str) -> &str {
    // arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID
    arn.split('/').nth(1).unwrap_or(arn)
}

fn function_name(arn: &str) -> &str {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if arn.starts_with("arn:") {
        arn.split(':').nth(6).unwrap_or(arn)
    } else {
        arn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScalingMode;
    use crate::plan::{ActionKind, FindingRef};
    use crate::rules::{NetworkSummary, Verdict};

    const UUID: &str = "3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders-consumer";

    fn finding(rule: RuleId, severity: Severity, resources: &[&str], message: &str) -> Finding {
        Finding {
            id: format!("{rule}/{}", resources.join(",")),
            rule,
            severity,
            resources: resources.iter().map(|s| s.to_string()).collect(),
            message: message.to_string(),
            fixes: vec![],
        }
    }

    fn mapping(findings: Vec<Finding>) -> MappingReport {
        MappingReport {
            uuid: UUID.into(),
            arn: Some(format!("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{UUID}")),
            function_arn: FUNCTION.into(),
            source: SourceSummary::Msk {
                cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/orders-msk/5f8e2a1c-3b4d-4e6f-9a0b-1c2d3e4f5a6b-2".into(),
            },
            mode: ScalingMode::OnDemand,
            network: Some(NetworkSummary {
                vpc_id: Some("vpc-0a1b2c3d4e5f60001".into()),
                subnet_ids: vec!["subnet-0a1b2c3d4e5f61001".into(), "subnet-0a1b2c3d4e5f61002".into()],
                security_group_ids: vec!["sg-0a1b2c3d4e5f62001".into()],
                broker_ports: vec![9098],
                broker_port_ranges: vec![],
            }),
            verdict: Verdict::from_severities(findings.iter().map(|f| f.severity)),
            findings,
        }
    }

    fn broken() -> MappingReport {
        mapping(vec![
            finding(
                RuleId::NoServicePath,
                Severity::Fail,
                &["subnet-0a1b2c3d4e5f61001", "subnet-0a1b2c3d4e5f61002"],
                "Subnets subnet-0a1b2c3d4e5f61001, subnet-0a1b2c3d4e5f61002 reach neither Lambda nor STS: no interface endpoint with private DNS and no NAT route",
            ),
            finding(RuleId::EndpointPolicyOpen, Severity::Info, &["vpce-1"], "advice"),
        ])
    }

    fn action() -> Action {
        Action {
            id: "create-endpoint/vpc-0a1b2c3d4e5f60001/lambda".into(),
            kind: ActionKind::Manual { rule: RuleId::NoServicePath, resources: vec![] },
            automatic: true,
            description: "Create an interface endpoint for com.amazonaws.us-east-1.lambda in vpc-0a1b2c3d4e5f60001".into(),
            command: "aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id vpc-0a1b2c3d4e5f60001 --service-name com.amazonaws.us-east-1.lambda && echo <done>".into(),
            fixes: vec![FindingRef {
                esm_uuid: UUID.into(),
                finding: "no-service-path/subnet-0a1b2c3d4e5f61001,subnet-0a1b2c3d4e5f61002".into(),
                rule: RuleId::NoServicePath,
            }],
        }
    }

    fn ctx<'a>(
        kind: AlertKind,
        m: Option<&'a MappingReport>,
        p: Option<&'a Problem<'a>>,
        prev: Option<&'a AlertState>,
        actions: &'a [Action],
    ) -> AlertContext<'a> {
        AlertContext {
            kind,
            region: "us-east-1",
            uuid: UUID,
            mapping: m,
            problem: p,
            previous: prev,
            actions,
            remediation: Remediation::Off,
            results: vec![],
            healing: None,
            min_severity: Severity::Warn,
            renotify_hours: 24,
            now: 1_700_000_000,
        }
    }

    #[test]
    fn problem_keeps_findings_at_or_above_the_threshold() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        assert_eq!(p.rules, vec![RuleId::NoServicePath]);
        assert_eq!(p.severity, Severity::Fail);
        assert!(problem(&m, Severity::Info)
            .unwrap()
            .rules
            .contains(&RuleId::EndpointPolicyOpen));
        let only_info = mapping(vec![finding(
            RuleId::EndpointPolicyOpen,
            Severity::Info,
            &["vpce-1"],
            "advice",
        )]);
        assert!(problem(&only_info, Severity::Warn).is_none());
        // unknown sits between warn and fail
        let unknown = mapping(vec![finding(
            RuleId::InsufficientData,
            Severity::Unknown,
            &["ec2:DescribeRouteTables"],
            "x",
        )]);
        assert!(problem(&unknown, Severity::Warn).is_some());
        assert!(problem(&unknown, Severity::Fail).is_none());
    }

    #[test]
    fn fingerprint_ignores_order_and_wording() {
        let a = finding(
            RuleId::BrokerIngress,
            Severity::Fail,
            &["sg-2", "sg-1"],
            "one wording",
        );
        let b = finding(RuleId::NoServicePath, Severity::Fail, &["subnet-1"], "x");
        let a2 = finding(
            RuleId::BrokerIngress,
            Severity::Fail,
            &["sg-1", "sg-2"],
            "another wording",
        );
        assert_eq!(fingerprint(&[&a, &b]), fingerprint(&[&b, &a2]));
        assert_ne!(fingerprint(&[&a]), fingerprint(&[&a, &b]));
        let c = finding(
            RuleId::BrokerIngress,
            Severity::Fail,
            &["sg-3"],
            "one wording",
        );
        assert_ne!(fingerprint(&[&a]), fingerprint(&[&c]));
        assert_eq!(fingerprint(&[&a]).len(), 64);
    }

    #[test]
    fn decisions() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let now = 1_700_000_000;
        let day = 86_400;
        let open = AlertState {
            fingerprint: p.fingerprint.clone(),
            last_alerted: now - 3600,
            open: true,
            severity: Some(Severity::Fail),
            rules: vec!["no-service-path".into()],
            function_arn: FUNCTION.into(),
        };
        let closed = AlertState {
            open: false,
            fingerprint: String::new(),
            ..open.clone()
        };
        // new
        assert_eq!(decide(None, Some(&p), now, day), Some(AlertKind::New));
        assert_eq!(
            decide(Some(&closed), Some(&p), now, day),
            Some(AlertKind::New)
        );
        // same, within the window: nothing
        assert_eq!(decide(Some(&open), Some(&p), now, day), None);
        // same, after the window: reminder (exactly at the boundary too)
        assert_eq!(
            decide(Some(&open), Some(&p), open.last_alerted + day, day),
            Some(AlertKind::Reminder)
        );
        assert_eq!(
            decide(Some(&open), Some(&p), open.last_alerted + day - 1, day),
            None
        );
        // changed
        let other = AlertState {
            fingerprint: "0".repeat(64),
            ..open.clone()
        };
        assert_eq!(
            decide(Some(&other), Some(&p), now, day),
            Some(AlertKind::Changed)
        );
        // resolved, and nothing for a mapping never alerted
        assert_eq!(
            decide(Some(&open), None, now, day),
            Some(AlertKind::Resolved)
        );
        assert_eq!(decide(Some(&closed), None, now, day), None);
        assert_eq!(decide(None, None, now, day), None);
        // deleted
        assert_eq!(decide_deleted(Some(&open)), Some(AlertKind::Deleted));
        assert_eq!(decide_deleted(Some(&closed)), None);
        assert_eq!(decide_deleted(None), None);
    }

    #[test]
    fn next_states() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let s = next_state(AlertKind::New, None, Some(&p), FUNCTION, 100);
        assert!(s.open);
        assert_eq!(s.fingerprint, p.fingerprint);
        assert_eq!(s.last_alerted, 100);
        assert_eq!(s.rules, vec!["no-service-path".to_string()]);
        let r = next_state(AlertKind::Resolved, Some(&s), None, FUNCTION, 200);
        assert!(!r.open);
        assert!(r.fingerprint.is_empty());
        assert_eq!(
            r.rules, s.rules,
            "the closed state remembers what it closed"
        );
        assert_eq!(r.severity, Some(Severity::Fail));
        assert!(expires_at(&s, 100, 86_400) > 100 + 86_400);
        assert!(expires_at(&r, 200, 86_400) > 200);
    }

    #[test]
    fn new_alert_is_a_chatbot_custom_notification() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let actions = [action()];
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
        let c = &msg.chatbot;
        let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["content", "id", "metadata", "source", "version"]);
        let mut keys: Vec<&String> = c["content"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["description", "keywords", "nextSteps", "textType", "title"]
        );
        let mut keys: Vec<&String> = c["metadata"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["eventType", "relatedResources", "summary", "threadId"]
        );
        assert_eq!(c["version"], "1.0");
        assert_eq!(c["source"], "custom");
        assert_eq!(c["content"]["textType"], "client-markdown");
        assert_eq!(c["metadata"]["threadId"], UUID);
        assert_eq!(c["metadata"]["eventType"], "esm-guard.new");
        let title = c["content"]["title"].as_str().unwrap();
        assert!(title.starts_with(":red_circle: FAIL"), "{title}");
        assert!(title.contains("`orders-consumer`"), "{title}");
        let description = c["content"]["description"].as_str().unwrap();
        assert!(description.contains("`no-service-path`"), "{description}");
        assert!(
            description.contains("`subnet-0a1b2c3d4e5f61001`"),
            "{description}"
        );
        assert!(
            description.contains("PrivateLink"),
            "the guide's terms: {description}"
        );
        assert!(
            !description.contains("endpoint-policy-open"),
            "info is below the threshold"
        );
        let steps = c["content"]["nextSteps"].as_array().unwrap();
        assert_eq!(steps.len(), 1);
        let step = steps[0].as_str().unwrap();
        assert!(step.contains("`aws ec2 create-vpc-endpoint"), "{step}");
        assert!(
            step.contains("&amp;&amp; echo &lt;done&gt;"),
            "the command is escaped, not altered: {step}"
        );
        let related = c["metadata"]["relatedResources"].as_array().unwrap();
        assert!(related.iter().any(|r| r == FUNCTION));
        assert!(related.iter().any(|r| r == "subnet-0a1b2c3d4e5f61002"));
        assert!(c["content"]["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "no-service-path"));

        // the SNS message: Chatbot JSON as default and https, text for e-mail
        let structure: Value = serde_json::from_str(&msg.sns_json()).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(structure["default"].as_str().unwrap()).unwrap(),
            msg.chatbot
        );
        assert_eq!(structure["https"], structure["default"]);
        assert_eq!(structure["email"], msg.email.as_str());
        assert_eq!(structure.as_object().unwrap().len(), 3);

        let attrs: Vec<(&str, &str, &str)> = msg
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type, a.value.as_str()))
            .collect();
        assert_eq!(
            attrs,
            [
                ("severity", "String", "fail"),
                ("verdict", "String", "fail"),
                ("rules", "String.Array", r#"["no-service-path"]"#),
                ("esm_uuid", "String", UUID),
                ("function_name", "String", "orders-consumer"),
                ("alert_kind", "String", "new"),
            ]
        );
        assert!(
            msg.subject.len() < 100 && msg.subject.starts_with("esm-guard FAIL"),
            "{}",
            msg.subject
        );
        println!(
            "{}\n\n{}",
            serde_json::to_string_pretty(&msg.chatbot).unwrap(),
            msg.email
        );
    }

    #[test]
    fn email_is_readable_plain_text() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let actions = [action()];
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
        let email = &msg.email;
        assert!(
            email
                .starts_with("FAIL: the Kafka event source mapping of orders-consumer is broken\n"),
            "{email}"
        );
        assert!(email.contains(&format!("UUID:      {UUID}")), "{email}");
        assert!(email.contains("[FAIL] no-service-path:"), "{email}");
        assert!(
            email.contains("Next steps\n  1. Create an interface endpoint"),
            "{email}"
        );
        assert!(
            email.contains("$ aws ec2 create-vpc-endpoint") && email.contains("&& echo <done>"),
            "{email}"
        );
        assert!(
            !email.contains('`') && !email.contains("&amp;"),
            "no markup in e-mail: {email}"
        );
    }

    #[test]
    fn plan_mode_says_what_esm_guard_would_do() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let actions = [action()];
        let mut c = ctx(AlertKind::New, Some(&m), Some(&p), None, &actions);
        c.remediation = Remediation::Plan;
        let msg = compose(&c);
        assert!(msg.chatbot["content"]["nextSteps"][0]
            .as_str()
            .unwrap()
            .starts_with("esm-guard would make this change with REMEDIATION=apply"));
    }

    #[test]
    fn findings_without_an_action_get_the_guides_fix() {
        let m = mapping(vec![finding(
            RuleId::NatCrossAz,
            Severity::Warn,
            &["nat-1"],
            "cross AZ",
        )]);
        let p = problem(&m, Severity::Warn).unwrap();
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
        let step = msg.chatbot["content"]["nextSteps"][0].as_str().unwrap();
        assert!(
            step.starts_with("`nat-cross-az`:")
                && step.contains("`esm-guard explain nat-cross-az`"),
            "{step}"
        );
        assert!(msg.chatbot["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with(":warning: WARN"));
    }

    #[test]
    fn resolved_and_deleted_messages() {
        let healthy = mapping(vec![]);
        let prev = AlertState {
            fingerprint: "f".repeat(64),
            last_alerted: 1,
            open: true,
            severity: Some(Severity::Fail),
            rules: vec!["broker-ingress".into()],
            function_arn: FUNCTION.into(),
        };
        let msg = compose(&ctx(
            AlertKind::Resolved,
            Some(&healthy),
            None,
            Some(&prev),
            &[],
        ));
        assert!(msg.chatbot["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: RESOLVED"));
        assert_eq!(msg.chatbot["metadata"]["eventType"], "esm-guard.resolved");
        assert_eq!(msg.chatbot["content"]["nextSteps"], json!([]));
        assert!(msg.chatbot["content"]["description"]
            .as_str()
            .unwrap()
            .contains("`broker-ingress`"));
        let attr = |n: &str| {
            msg.attributes
                .iter()
                .find(|a| a.name == n)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(
            attr("severity"),
            "fail",
            "a resolved fail still reaches fail-only subscribers"
        );
        assert_eq!(attr("verdict"), "pass");
        assert_eq!(attr("rules"), r#"["broker-ingress"]"#);
        assert!(
            msg.email.starts_with(
                "RESOLVED: the Kafka event source mapping of orders-consumer passes again"
            ),
            "{}",
            msg.email
        );

        let msg = compose(&ctx(AlertKind::Deleted, None, None, Some(&prev), &[]));
        assert!(msg.chatbot["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with(":wastebasket: CLOSED"));
        assert!(msg.chatbot["content"]["title"]
            .as_str()
            .unwrap()
            .contains("`orders-consumer`"));
        let attr = |n: &str| {
            msg.attributes
                .iter()
                .find(|a| a.name == n)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(attr("verdict"), "deleted");
        assert_eq!(attr("function_name"), "orders-consumer");
    }

    #[test]
    fn changed_and_reminder_say_so() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let prev = AlertState {
            fingerprint: "0".repeat(64),
            last_alerted: 1_700_000_000 - 30 * 3600,
            open: true,
            severity: Some(Severity::Fail),
            rules: vec!["broker-ingress".into()],
            function_arn: FUNCTION.into(),
        };
        let msg = compose(&ctx(
            AlertKind::Changed,
            Some(&m),
            Some(&p),
            Some(&prev),
            &[],
        ));
        let d = msg.chatbot["content"]["description"].as_str().unwrap();
        assert!(
            d.contains("New: `no-service-path`") && d.contains("Cleared: `broker-ingress`"),
            "{d}"
        );
        let msg = compose(&ctx(
            AlertKind::Reminder,
            Some(&m),
            Some(&p),
            Some(&prev),
            &[],
        ));
        assert!(msg.chatbot["content"]["title"]
            .as_str()
            .unwrap()
            .contains("Still open"));
        assert!(msg.chatbot["content"]["description"]
            .as_str()
            .unwrap()
            .contains("30 h ago"));
    }

    const HOSTILE: [&str; 6] = [
        "<!channel>",
        "<@U123>",
        "<http://x|y>",
        "*bold*",
        "`code`",
        "@here",
    ];

    /// Outside code spans nothing may format or mention; inside them (where Slack formats
    /// nothing) nothing may end the span early or open a control sequence.
    fn assert_inert(text: &str) {
        let mut outside = String::new();
        for (i, part) in text.split('`').enumerate() {
            if i % 2 == 1 {
                assert!(
                    !part.contains('<') && !part.contains('>'),
                    "{part:?} in a code span of {text:?}"
                );
            } else {
                outside.push_str(part);
            }
        }
        assert_eq!(
            text.matches('`').count() % 2,
            0,
            "unbalanced code spans in {text:?}"
        );
        let text = outside.as_str();
        for bad in [
            "<!channel>",
            "<@U123>",
            "<http://x|y>",
            "*bold*",
            "`",
            "<!",
            "<@",
            "<http",
        ] {
            assert!(!text.contains(bad), "{bad:?} survives in {text:?}");
        }
        assert!(!text.contains("@here"), "{text:?}");
    }

    #[test]
    fn md_neutralizes_slack_markup_and_mentions() {
        for bad in HOSTILE {
            assert_inert(&md(bad));
        }
        assert_eq!(md("<!channel>"), "&lt;!channel&gt;");
        assert_eq!(md("a & b"), "a &amp; b");
        assert_eq!(md("line\nbreak"), "line break");
        // ids stay readable
        assert_eq!(md("subnet-0a1b2c3d"), "subnet-0a1b2c3d");
    }

    #[test]
    fn code_spans_cannot_be_escaped() {
        assert_eq!(code("sg-1"), "`sg-1`");
        let c = code("x` <!channel> `y");
        assert_eq!(c.matches('`').count(), 2, "{c}");
        assert!(!c.contains("<!channel>"), "{c}");
    }

    #[test]
    fn hostile_names_tags_and_messages_are_inert_everywhere() {
        let hostile = HOSTILE.join(" ");
        let mut m = mapping(vec![finding(
            RuleId::EsmReportedProblem,
            Severity::Fail,
            &[&format!("sg-1 {hostile}")],
            &format!("Lambda reports for this mapping: \"PROBLEM: {hostile}\""),
        )]);
        m.function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{hostile}");
        m.source = SourceSummary::SelfManaged {
            bootstrap_servers: vec![format!("{hostile}:9092")],
        };
        let p = problem(&m, Severity::Warn).unwrap();
        let mut a = action();
        a.description = format!("Fix {hostile}");
        a.command = format!("aws x {hostile}");
        a.fixes[0].rule = RuleId::EsmReportedProblem;
        a.fixes[0].finding = format!("esm-reported-problem/sg-1 {hostile}");
        let actions = [a];
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
        let content = &msg.chatbot["content"];
        assert_inert(content["title"].as_str().unwrap());
        assert_inert(content["description"].as_str().unwrap());
        for v in content["nextSteps"]
            .as_array()
            .unwrap()
            .iter()
            .chain(content["keywords"].as_array().unwrap())
        {
            assert_inert(v.as_str().unwrap());
        }
        assert_inert(msg.chatbot["metadata"]["summary"].as_str().unwrap());
        for r in msg.chatbot["metadata"]["relatedResources"]
            .as_array()
            .unwrap()
        {
            let r = r.as_str().unwrap();
            assert!(!r.contains('<') && !r.contains('`'), "{r}");
        }
        // the code spans stay balanced: every backtick in the description is ours
        let d = content["description"].as_str().unwrap();
        for line in d.lines() {
            assert_eq!(line.matches('`').count() % 2, 0, "{line}");
        }
        // the subject is one ASCII line
        assert!(msg.subject.chars().all(|c| c.is_ascii() && !c.is_control()));
        // the e-mail keeps the text as it is (plain text has no markup), minus line breaks
        assert!(msg.email.contains("<!channel>"));
    }

    #[test]
    fn forged_line_breaks_do_not_reach_the_email() {
        let m = mapping(vec![finding(
            RuleId::EsmReportedProblem,
            Severity::Fail,
            &["x"],
            "PROBLEM: a\n\nNext steps\n  1. rm -rf /",
        )]);
        let p = problem(&m, Severity::Warn).unwrap();
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
        assert!(!msg.email.contains("\n  1. rm -rf"), "{}", msg.email);
    }

    #[test]
    fn long_content_is_cut_to_chatbots_limits() {
        let findings: Vec<Finding> = (0..200)
            .map(|i| {
                finding(
                    RuleId::NaclBlocks,
                    Severity::Fail,
                    &[&format!("acl-{i:04}")],
                    &"blocked ".repeat(20),
                )
            })
            .collect();
        let m = mapping(findings);
        let p = problem(&m, Severity::Warn).unwrap();
        let actions: Vec<Action> = (0..20)
            .map(|i| {
                let mut a = action();
                a.id = format!("a{i}");
                a.fixes[0].rule = RuleId::NaclBlocks;
                a.fixes[0].finding = format!("nacl-blocks/acl-{i:04}");
                a
            })
            .collect();
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
        let d = msg.chatbot["content"]["description"].as_str().unwrap();
        assert!(d.chars().count() <= DESCRIPTION_MAX, "{}", d.len());
        assert!(d.contains("esm-guard audit --esm"));
        let steps = msg.chatbot["content"]["nextSteps"].as_array().unwrap();
        assert_eq!(steps.len(), NEXT_STEPS_MAX);
        assert!(steps
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("more step"));
        assert!(
            msg.chatbot["metadata"]["relatedResources"]
                .as_array()
                .unwrap()
                .len()
                <= RELATED_MAX
        );
    }

    #[test]
    fn subjects_keep_the_verdict_and_the_whole_mapping_id_in_ascii_under_100() {
        // The longest function name Lambda allows (64 characters).
        let long = "f".repeat(64);
        let mut m = broken();
        m.function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{long}");
        let p = problem(&m, Severity::Warn).unwrap();
        for kind in [AlertKind::New, AlertKind::Reminder, AlertKind::Changed] {
            let msg = compose(&ctx(kind, Some(&m), Some(&p), None, &[]));
            assert!(
                msg.subject.len() < 100,
                "{} ({})",
                msg.subject,
                msg.subject.len()
            );
            assert!(msg.subject.is_ascii(), "{}", msg.subject);
            assert!(msg.subject.contains(UUID), "{}", msg.subject);
            assert!(msg.subject.contains("FAIL"), "{}", msg.subject);
        }
        // The closes, of an alert opened for that function.
        let open = next_state(AlertKind::New, None, Some(&p), &m.function_arn, 0);
        let mut healed = m.clone();
        healed.findings.clear();
        healed.verdict = Verdict::Pass;
        let healing = MappingHealing {
            uuid: UUID.into(),
            outcome: Healing::Healed,
            verdict_before: Verdict::Fail,
            verdict_after: Verdict::Pass,
            created: vec!["vpce-0123456789abcdef0".into()],
        };
        for (kind, word) in [
            (AlertKind::Resolved, "RESOLVED"),
            (AlertKind::Deleted, "CLOSED"),
            (AlertKind::Remediated, "HEALED"),
        ] {
            let mapping = (kind != AlertKind::Deleted).then_some(&healed);
            let mut c = ctx(kind, mapping, None, Some(&open), &[]);
            if kind == AlertKind::Remediated {
                c.healing = Some(&healing);
            }
            let msg = compose(&c);
            assert!(
                msg.subject.len() < 100 && msg.subject.is_ascii(),
                "{}",
                msg.subject
            );
            assert!(
                msg.subject.contains(UUID) && msg.subject.contains(word),
                "{}",
                msg.subject
            );
        }
    }

    #[test]
    fn a_close_carries_the_attributes_of_what_it_closes() {
        let m = broken();
        let p = problem(&m, Severity::Warn).unwrap();
        let open = next_state(AlertKind::New, None, Some(&p), FUNCTION, 0);
        let mut healed = mapping(vec![]);
        healed.verdict = Verdict::Pass;
        let attribute = |msg: &Message, name: &str| {
            msg.attributes
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.value.clone())
                .unwrap_or_default()
        };
        for kind in [
            AlertKind::Resolved,
            AlertKind::Deleted,
            AlertKind::Remediated,
        ] {
            let mapping = (kind != AlertKind::Deleted).then_some(&healed);
            let msg = compose(&ctx(kind, mapping, None, Some(&open), &[]));
            assert_eq!(attribute(&msg, "severity"), "fail", "{kind:?}");
            assert_eq!(attribute(&msg, "alert_kind"), kind.as_str(), "{kind:?}");
            assert!(
                attribute(&msg, "rules").contains("no-service-path"),
                "{kind:?}"
            );
            assert!(msg.subject.contains(UUID) && msg.subject.len() < 100);
            assert_eq!(attribute(&msg, "previous_severity"), "fail", "{kind:?}");
        }
        // A failure that becomes a warning is a change: it says what it was.
        let warn = mapping(vec![finding(
            RuleId::NatCrossAz,
            Severity::Warn,
            &["nat-1"],
            "the NAT gateway is in another AZ",
        )]);
        let wp = problem(&warn, Severity::Warn).unwrap();
        let fp = problem(&m, Severity::Warn).unwrap();
        let failing = next_state(AlertKind::New, None, Some(&fp), FUNCTION, 0);
        let msg = compose(&ctx(
            AlertKind::Changed,
            Some(&warn),
            Some(&wp),
            Some(&failing),
            &[],
        ));
        assert_eq!(attribute(&msg, "severity"), "warn");
        assert_eq!(attribute(&msg, "previous_severity"), "fail");
        // A new alert has nothing before it.
        let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
        assert_eq!(attribute(&msg, "previous_severity"), "");
    }
}

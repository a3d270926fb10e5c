//! The report as the JSON contract of ARCHITECTURE.md, and as text for a person.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::escape::terminal as safe;
use crate::model::function_name;
use crate::plan::{Action, ActionsByFinding};
use crate::remediation::{ActionResult, Healing, MappingHealing, Mode, Outcome};
use crate::rules::{Finding, MappingReport, Report, Severity, SourceSummary, Summary, Verdict};

pub const REPORT_SCHEMA: &str = "esm-guard/report/v1";

/// The text report shows this many fixes of one finding, then counts the rest: one ACL
/// between many subnet pairs needs many entries, and the text must stay readable.
const FIXES_SHOWN: usize = 12;

#[derive(Debug, Serialize)]
pub struct ReportDocument<'a> {
    pub schema: &'static str,
    pub region: &'a str,
    pub mappings: Vec<MappingDocument<'a>>,
    pub actions: &'a [Action],
    pub summary: Summary,
    /// One row per account and region, when one run reads several.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub targets: &'a [crate::rules::TargetSummary],
    /// With `--remediate plan|apply`: what would run, or what ran and what it achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationDocument<'a>>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct RemediationDocument<'a> {
    pub mode: Mode,
    pub results: &'a [ActionResult],
    pub healing: &'a [MappingHealing],
}

#[derive(Debug, Serialize)]
pub struct MappingDocument<'a> {
    /// The account, when one run reads several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    pub uuid: &'a str,
    pub arn: Option<&'a str>,
    pub function_arn: &'a str,
    pub source: &'a SourceSummary,
    pub mode: &'static str,
    pub network: Option<&'a crate::rules::NetworkSummary>,
    pub verdict: Verdict,
    pub findings: Vec<FindingDocument<'a>>,
    /// Lambda's own report of a problem, classified, and what esm-guard knows of a change
    /// it may predate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_report: Option<&'a crate::rules::reported::LambdaReport>,
}

#[derive(Debug, Serialize)]
pub struct FindingDocument<'a> {
    /// Unique within the mapping; the actions' `fixes` name findings by it.
    pub id: &'a str,
    pub rule: &'static str,
    pub severity: Severity,
    pub resources: &'a [String],
    pub message: &'a str,
    pub remediation: Remediation,
}

#[derive(Debug, Serialize)]
pub struct Remediation {
    /// True when esm-guard can make the fix itself.
    pub automatic: bool,
    /// The ids of the actions (in the top-level `actions`) that clear this finding.
    pub actions: Vec<String>,
}

pub fn document<'a>(report: &'a Report, actions: &'a [Action]) -> ReportDocument<'a> {
    let by_finding = ActionsByFinding::new(actions);
    ReportDocument {
        schema: REPORT_SCHEMA,
        region: &report.region,
        mappings: report
            .mappings
            .iter()
            .map(|m| MappingDocument {
                account: m.account.as_deref(),
                uuid: &m.uuid,
                arn: m.arn.as_deref(),
                function_arn: &m.function_arn,
                source: &m.source,
                mode: m.mode.as_str(),
                network: m.network.as_ref(),
                verdict: m.verdict,
                findings: m
                    .findings
                    .iter()
                    .map(|f| {
                        let fixing: Vec<&Action> = by_finding.get(&m.uuid, f).collect();
                        FindingDocument {
                            id: &f.id,
                            rule: f.rule.as_str(),
                            severity: f.severity,
                            resources: &f.resources,
                            message: &f.message,
                            remediation: Remediation {
                                automatic: fixing.iter().any(|a| a.automatic),
                                actions: fixing.iter().map(|a| a.id.clone()).collect(),
                            },
                        }
                    })
                    .collect(),
                lambda_report: m.lambda_report.as_ref(),
            })
            .collect(),
        actions,
        summary: report.summary,
        targets: &report.targets,
        remediation: None,
    }
}

/// The JSON report, pretty-printed.
pub fn to_json(report: &Report, actions: &[Action]) -> String {
    to_json_with(report, actions, None)
}

/// Writes the JSON report (pretty-printed, with a final newline) without building it in
/// memory first: at ten thousand mappings the document is tens of megabytes.
pub fn write_json(
    out: impl std::io::Write,
    report: &Report,
    actions: &[Action],
    remediation: Option<RemediationDocument<'_>>,
) -> std::io::Result<()> {
    let mut doc = document(report, actions);
    doc.remediation = remediation;
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, &doc)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    std::io::Write::flush(&mut out)
}

/// The JSON report with the remediation section.
pub fn to_json_with(
    report: &Report,
    actions: &[Action],
    remediation: Option<RemediationDocument<'_>>,
) -> String {
    let mut doc = document(report, actions);
    doc.remediation = remediation;
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The remediation section for a person: each action's outcome, then each mapping's.
pub fn remediation_text(r: &RemediationDocument<'_>) -> String {
    let mut out = String::new();
    let title = match r.mode {
        Mode::Off => return out,
        Mode::Plan => "Remediation plan (nothing was changed)",
        Mode::Apply => "Remediation",
    };
    let _ = writeln!(out, "\n{title}: {} automatic action(s)", r.results.len());
    for result in r.results {
        let (word, detail) = match &result.outcome {
            Outcome::Planned => ("would run", String::new()),
            Outcome::Applied { resource } => (
                "done",
                resource
                    .clone()
                    .map(|r| format!(" -> {r}"))
                    .unwrap_or_default(),
            ),
            Outcome::AlreadyDone { .. } => ("already in place", String::new()),
            Outcome::OptedOut { reason } => ("skipped", format!(": {reason}")),
            Outcome::Pending => (
                "pending",
                ": over the per-run limit, the next run takes it".to_string(),
            ),
            Outcome::Failed { error } => ("FAILED", format!(": {error}")),
        };
        let _ = writeln!(
            out,
            "  {word:<16} {}  {}{}",
            safe(&result.action_id),
            safe(&result.description),
            safe(&detail)
        );
    }
    for h in r.healing {
        let word = h.outcome.words();
        let created = if h.created.is_empty() {
            String::new()
        } else {
            format!(" (created {})", safe(&h.created.join(", ")))
        };
        let _ = writeln!(
            out,
            "  mapping {}: {word}, {} -> {}{created}",
            safe(&h.uuid),
            h.verdict_before.as_str(),
            h.verdict_after.as_str()
        );
        if h.outcome == Healing::AwaitingConfirmation {
            let uuid = safe(&h.uuid);
            let _ = writeln!(
                out,
                "    Lambda clears its report on its next poll: aws lambda get-event-source-mapping --uuid {uuid} --query LastProcessingResult (or esm-guard audit --esm {uuid} --wait-confirm 10)"
            );
        }
    }
    out
}

fn verdict_style(verdict: Verdict) -> Style {
    let color = match verdict {
        Verdict::Pass => AnsiColor::Green,
        Verdict::Warn => AnsiColor::Yellow,
        Verdict::Unknown => AnsiColor::Magenta,
        Verdict::Fail => AnsiColor::Red,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

fn severity_mark(severity: Severity) -> (&'static str, Style) {
    let (mark, color) = match severity {
        Severity::Fail => ("FAIL", AnsiColor::Red),
        Severity::Unknown => ("UNKNOWN", AnsiColor::Magenta),
        Severity::Warn => ("WARN", AnsiColor::Yellow),
        Severity::Info => ("INFO", AnsiColor::Cyan),
    };
    (mark, Style::new().fg_color(Some(color.into())))
}

/// The report for a person: one block per mapping, worst first. Styles are ANSI escapes;
/// the caller's stream strips them where colour is off (`NO_COLOR`, not a terminal).
pub fn to_text(report: &Report, actions: &[Action]) -> String {
    let mut out = String::new();
    let s = report.summary;
    let total = report.mappings.len();
    let _ = writeln!(
        out,
        "esm-guard audit of {total} event source mapping{} in {}: {} pass, {} warn, {} fail, {} unknown",
        if total == 1 { "" } else { "s" },
        safe(&report.region),
        s.pass,
        s.warn,
        s.fail,
        s.unknown
    );
    for t in &report.targets {
        let row = match &t.error {
            Some(error) => format!("not read: {}", safe(error)),
            None => format!(
                "{} mapping(s): {} pass, {} warn, {} fail, {} unknown",
                t.summary.pass + t.summary.warn + t.summary.fail + t.summary.unknown,
                t.summary.pass,
                t.summary.warn,
                t.summary.fail,
                t.summary.unknown
            ),
        };
        let _ = writeln!(
            out,
            "  account {} {:<15} {row}",
            safe(&t.account),
            safe(&t.region)
        );
    }
    let by_finding = ActionsByFinding::new(actions);
    let mut mappings: Vec<&MappingReport> = report.mappings.iter().collect();
    mappings.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.uuid.cmp(&b.uuid)));
    for m in mappings {
        let style = verdict_style(m.verdict);
        let source = m.source.text(true);
        let account = m
            .account
            .as_deref()
            .map(|a| format!("account {}  ", safe(a)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{style}{:<7}{style:#} {account}{}  {} <- {} ({})",
            m.verdict.as_str().to_uppercase(),
            safe(&m.uuid),
            safe(function_name(&m.function_arn)),
            safe(&source),
            m.mode.as_str()
        );
        if let Some(net) = &m.network {
            match &net.vpc_id {
                Some(vpc) => {
                    let _ = writeln!(
                        out,
                        "        network: {}; subnets {}; security groups {}; broker port {}",
                        safe(vpc),
                        safe(&net.subnet_ids.join(", ")),
                        safe(&net.security_group_ids.join(", ")),
                        net.ports_text()
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "        network: brokers reached over the internet; broker port {}",
                        net.ports_text()
                    );
                }
            }
        }
        for f in &m.findings {
            write_finding(&mut out, m, f, &by_finding);
        }
    }
    let automatic = actions.iter().filter(|a| a.automatic).count();
    if automatic > 0 {
        let _ = writeln!(
            out,
            "\n{automatic} of the fixes above are narrow, additive changes esm-guard can make itself: --remediate plan lists them."
        );
    }
    out
}

fn write_finding(
    out: &mut String,
    m: &MappingReport,
    f: &Finding,
    by_finding: &ActionsByFinding<'_>,
) {
    let (mark, style) = severity_mark(f.severity);
    let _ = writeln!(
        out,
        "  {style}{mark:<7}{style:#} {}: {}",
        f.rule,
        safe(&f.message)
    );
    if !f.resources.is_empty() {
        let _ = writeln!(
            out,
            "          resources: {}",
            safe(&f.resources.join(", "))
        );
    }
    let fixing: Vec<&Action> = by_finding.get(&m.uuid, f).collect();
    for a in fixing.iter().take(FIXES_SHOWN) {
        let how = if a.automatic {
            "fix (automatic)"
        } else {
            "fix (manual)"
        };
        let _ = writeln!(out, "          {how}: {}", safe(&a.description));
        let _ = writeln!(out, "            $ {}", safe(&a.command));
    }
    if fixing.len() > FIXES_SHOWN {
        let _ = writeln!(
            out,
            "          ... and {} more fixes of this finding (all of them: --output json, in \"actions\")",
            fixing.len() - FIXES_SHOWN
        );
    }
}

//! The Slack side of a message: its title, its markdown description and its next steps.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::plan::Action;
use crate::remediation::Mode as Remediation;
use crate::rules::{explain, RuleId, SourceSummary};

use super::decide::AlertKind;
use super::facts::*;
use super::text::*;

pub(super) fn slack_title(ctx: &AlertContext<'_>, facts: &Facts) -> String {
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
        AlertKind::Resolved if confirmed(ctx).is_some() => {
            "passes again, confirmed by Lambda".to_string()
        }
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

pub(super) fn slack_description(ctx: &AlertContext<'_>, facts: &Facts) -> String {
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
            if let Some(confirmed) = confirmed(ctx) {
                let _ = writeln!(out, "{}", md(&confirmed));
            }
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
            let was = ctx.previous.and_then(|p| p.severity);
            if added.is_empty() && gone.is_empty() {
                if was.is_some_and(|w| w != facts.severity) {
                    let _ = write!(
                        out,
                        " Same rules, now *{}* (was *{}*).",
                        facts.severity.as_str(),
                        was.map_or("", |w| w.as_str())
                    );
                } else {
                    let _ = write!(out, " Same rules, other resources.");
                }
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

pub(super) fn write_mapping_md(out: &mut String, ctx: &AlertContext<'_>, facts: &Facts) {
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
    if let Some(account) = ctx
        .mapping
        .and_then(|m| m.account.as_deref())
        .or_else(|| ctx.previous.and_then(|p| p.account.as_deref()))
    {
        let _ = write!(out, " of account {}", code(account));
        if let Some(name) = ctx.mapping.and_then(|m| m.account_name.as_deref()) {
            let _ = write!(out, " ({})", code(name));
        }
    }
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
            SourceSummary::Mq { broker_arn } => {
                let _ = write!(out, " · Amazon MQ broker {}", code(broker_arn));
            }
            SourceSummary::DocumentDb { cluster_arn } => {
                let _ = write!(out, " · DocumentDB cluster {}", code(cluster_arn));
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
pub(super) struct Step {
    pub(super) slack: String,
    pub(super) email: String,
}

pub(super) fn next_steps(ctx: &AlertContext<'_>) -> Vec<Step> {
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

//! The e-mail side of a message: the same facts as plain text.

use std::fmt::Write as _;

use crate::rules::explain;

use super::decide::AlertKind;
use super::facts::*;
use super::slack::Step;
use super::text::*;

pub(super) fn email_body(ctx: &AlertContext<'_>, facts: &Facts, steps: &[Step]) -> String {
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
            if let Some(confirmed) = confirmed(ctx) {
                let _ = writeln!(out, "{}", plain(&confirmed));
            }
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
    // A hub's alerts name the member account (and its name, when Organizations told it).
    if let Some(account) = ctx
        .mapping
        .and_then(|m| m.account.as_deref())
        .or_else(|| ctx.previous.and_then(|p| p.account.as_deref()))
    {
        match ctx.mapping.and_then(|m| m.account_name.as_deref()) {
            Some(name) => {
                let _ = writeln!(out, "  Account:   {} ({})", plain(account), plain(name));
            }
            None => {
                let _ = writeln!(out, "  Account:   {}", plain(account));
            }
        }
    }
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

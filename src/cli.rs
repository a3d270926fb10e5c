//! The `esm-guard` command line: arguments parsed and validated here, then passed down.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::aws::{self, Clients, CollectOptions, Scope};
use crate::model::Snapshot;
use crate::plan::{plan, Action};
use crate::remediation::{planned, Mode};
use crate::report::{remediation_text, to_text, write_json, RemediationDocument};
use crate::rules::{evaluate, explain, Report, RuleId, Verdict};

#[derive(Debug, Parser)]
#[command(
    name = "esm-guard",
    version,
    about = "Audit the network path of Lambda's Kafka event source mappings"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge every Kafka event source mapping (or those in scope) against the rules.
    Audit(AuditArgs),
    /// Record the facts to a file, for offline audits (`audit --snapshot`) and bug reports.
    Snapshot {
        #[command(flatten)]
        target: Target,
        /// Where to write the snapshot (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Explain a rule: what it checks, why, and how to fix it.
    Explain {
        /// A rule id, e.g. no-service-path.
        rule: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// AWS region (default: the standard chain, AWS_REGION or the profile's).
    #[arg(long)]
    pub region: Option<String>,
    /// Only these mappings (UUID or ARN); repeatable.
    #[arg(long = "esm", value_name = "UUID|ARN")]
    pub esms: Vec<String>,
    /// Only mappings whose network lies in these VPCs; repeatable.
    #[arg(long = "vpc", value_name = "VPC_ID", value_parser = parse_vpc_id)]
    pub vpcs: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// off: report only; plan: also list the changes esm-guard would make, with ids;
    /// apply: make them (endpoints and security-group rules only), then audit again.
    #[arg(long, value_enum, default_value_t = Remediate::Off)]
    pub remediate: Remediate,
    /// At most this many changes per run; the rest are reported as pending.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_actions: usize,
    /// Audit a saved snapshot instead of AWS (no AWS access).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Remediate {
    Off,
    Plan,
    Apply,
}

impl Remediate {
    fn mode(self) -> Mode {
        match self {
            Remediate::Off => Mode::Off,
            Remediate::Plan => Mode::Plan,
            Remediate::Apply => Mode::Apply,
        }
    }
}

fn parse_vpc_id(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("vpc-").unwrap_or_default();
    if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a VPC id (vpc- followed by hex digits)"
        ))
    }
}

/// Exit statuses of ARCHITECTURE.md.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "esm-guard: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Explain { rule } => explain_rule(&rule),
        Command::Snapshot { target, out } => {
            let snapshot = collect(&target).await?;
            write_atomically(
                &out,
                &serde_json::to_string_pretty(&snapshot).map_err(|e| e.to_string())?,
            )?;
            let _ = writeln!(
                std::io::stderr(),
                "wrote the facts of {} mapping(s) in {} to {}",
                snapshot.mappings.len(),
                snapshot.region,
                out.display()
            );
            Ok(EXIT_OK)
        }
        Command::Audit(args) => {
            let mode = args.remediate.mode();
            let (report, actions, results, healing) = match &args.snapshot {
                Some(path) => {
                    if mode == Mode::Apply {
                        return Err(
                            "--remediate apply needs AWS: it cannot run on a --snapshot".into()
                        );
                    }
                    let mut snapshot = read_snapshot(path)?;
                    scope_saved(&mut snapshot, &args.target);
                    let report = evaluate(&snapshot);
                    let actions = plan(&snapshot, &report);
                    let results = if mode == Mode::Plan {
                        planned(&snapshot, &actions, args.max_actions)
                    } else {
                        vec![]
                    };
                    (report, actions, results, vec![])
                }
                None => {
                    let run = remediate(&args.target, mode, args.max_actions).await?;
                    (
                        run.after_report,
                        run.after_actions,
                        run.results,
                        run.healing,
                    )
                }
            };
            let remediation = (mode != Mode::Off).then_some(RemediationDocument {
                mode,
                results: &results,
                healing: &healing,
            });
            print_report(&report, &actions, remediation, args.output);
            let failed_action = results
                .iter()
                .any(|r| matches!(r.outcome, crate::remediation::Outcome::Failed { .. }));
            Ok(
                if report.mappings.iter().any(|m| m.verdict == Verdict::Fail) || failed_action {
                    EXIT_FAIL
                } else {
                    EXIT_OK
                },
            )
        }
    }
}

fn print_report(
    report: &Report,
    actions: &[Action],
    remediation: Option<RemediationDocument<'_>>,
    output: Output,
) {
    let mut out = anstream::stdout();
    match output {
        Output::Json => {
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = write_json(std::io::stdout().lock(), report, actions, remediation);
        }
        Output::Text => {
            let _ = write!(out, "{}", to_text(report, actions));
            if let Some(r) = remediation {
                let _ = write!(out, "{}", remediation_text(&r));
            }
        }
    }
}

fn explain_rule(id: &str) -> Result<u8, String> {
    let Some(rule) = RuleId::parse(id) else {
        let known: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        return Err(format!(
            "unknown rule {id:?}; the rules are: {}",
            known.join(", ")
        ));
    };
    let e = explain(rule);
    let mut out = anstream::stdout();
    let _ = writeln!(
        out,
        "{rule} (severity {}, applies to {})\n\nChecks: {}\n\nWhy: {}\n\nFix: {}\n\nAutomated: {}",
        e.severity.as_str(),
        e.applies,
        e.checks,
        e.why,
        e.fix,
        if e.automated {
            "yes, with --remediate apply (REMEDIATION=apply in the function)"
        } else {
            "never; esm-guard prints the exact AWS CLI command"
        }
    );
    Ok(EXIT_OK)
}

fn spinner() -> indicatif::ProgressBar {
    // Drawn on stderr, and only when stderr is a terminal (indicatif hides it otherwise).
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

async fn clients(target: &Target) -> Result<Clients, String> {
    let config = aws::load_config(target.region.clone()).await;
    if config.region().is_none() {
        return Err("no AWS region: pass --region or set AWS_REGION".to_string());
    }
    Ok(Clients::new(&config))
}

fn scope(target: &Target) -> Scope {
    Scope {
        mappings: target.esms.clone(),
        vpcs: target.vpcs.clone(),
    }
}

async fn collect(target: &Target) -> Result<Snapshot, String> {
    let clients = clients(target).await?;
    let spinner = spinner();
    let progress = |step: &str| spinner.set_message(step.to_string());
    let options = CollectOptions {
        scope: scope(target),
        for_remediation: false,
        deadline: None,
    };
    let result = aws::collect(&clients, &options, &progress).await;
    spinner.finish_and_clear();
    let collection = result.map_err(|e| e.to_string())?;
    tracing::info!(calls = collection.total_calls(), "collected");
    Ok(collection.snapshot)
}

async fn remediate(target: &Target, mode: Mode, max_actions: usize) -> Result<aws::Run, String> {
    let clients = clients(target).await?;
    let spinner = spinner();
    let progress = |step: &str| spinner.set_message(step.to_string());
    let options = CollectOptions {
        scope: scope(target),
        for_remediation: false,
        deadline: None,
    };
    let result = aws::remediate(&clients, &options, mode, max_actions, &progress).await;
    spinner.finish_and_clear();
    let run = result.map_err(|e| e.to_string())?;
    tracing::info!(calls = run.calls, "audited");
    Ok(run)
}

fn read_snapshot(path: &Path) -> Result<Snapshot, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read snapshot {}: {e}", path.display()))?;
    let snapshot: Snapshot = serde_json::from_str(&text).map_err(|e| {
        format!(
            "snapshot {} is not a valid esm-guard snapshot: {e}",
            path.display()
        )
    })?;
    if snapshot.schema != crate::model::SNAPSHOT_SCHEMA {
        return Err(format!(
            "snapshot {} has schema {:?}, expected {:?}",
            path.display(),
            snapshot.schema,
            crate::model::SNAPSHOT_SCHEMA
        ));
    }
    Ok(snapshot)
}

/// `--esm` and `--vpc` narrow a saved snapshot as they narrow a live collection.
fn scope_saved(snapshot: &mut Snapshot, target: &Target) {
    if !target.esms.is_empty() {
        snapshot.mappings.retain(|m| {
            target
                .esms
                .iter()
                .any(|e| *e == m.uuid || m.arn.as_deref() == Some(e.as_str()))
        });
    }
    if !target.vpcs.is_empty() {
        let report = evaluate(snapshot);
        let keep: Vec<String> = report
            .mappings
            .iter()
            .filter(|m| {
                m.network
                    .as_ref()
                    .and_then(|n| n.vpc_id.as_ref())
                    .is_some_and(|v| target.vpcs.contains(v))
            })
            .map(|m| m.uuid.clone())
            .collect();
        snapshot.mappings.retain(|m| keep.contains(&m.uuid));
    }
}

/// Writes via a temporary file and a rename, so a failed run never leaves half a file.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

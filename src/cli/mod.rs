//! The `esm-guard` command line: arguments parsed and validated here, then passed down.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::aws::{self, Clients, CollectError, CollectOptions, Scope, Timeouts};
use crate::model::Snapshot;
use crate::plan::{plan, Action};
use crate::remediation::{planned, Mode};
use crate::report::{remediation_text, to_text, write_json, RemediationDocument};
use crate::rules::{evaluate, explain, Report, RuleId, Verdict};

mod values;
use values::{
    parse_esm, parse_minutes, parse_region, parse_role_arn, parse_vpc_id, quote, read_accounts,
};

#[derive(Debug, Parser)]
#[command(
    name = "esm-guard",
    version,
    about = "Audit the network path of Lambda's event source mappings on Kafka, Amazon MQ and DocumentDB"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge every event source mapping on Kafka, Amazon MQ or DocumentDB (or those in scope)
    /// against the rules.
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
    #[arg(long = "esm", value_name = "UUID|ARN", value_parser = parse_esm)]
    pub esms: Vec<String>,
    /// Only mappings whose network lies in these VPCs; repeatable.
    #[arg(long = "vpc", value_name = "VPC_ID", value_parser = parse_vpc_id)]
    pub vpcs: Vec<String>,
    /// Seconds to wait for a connection to AWS.
    #[arg(long, default_value_t = 5, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Seconds to wait for an answer to one attempt of a call.
    #[arg(long, default_value_t = 30, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Seconds one call may take, its retries included; a call that takes longer leaves
    /// its facts unknown (insufficient-data naming it).
    #[arg(long, default_value_t = 120, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub operation_timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// off: report only; plan: also list the changes esm-guard would make, with ids;
    /// apply: make them (endpoints and security-group rules only), then audit again.
    #[arg(long, value_enum, default_value_t = Mode::Off)]
    pub remediate: Mode,
    /// At most this many changes per run; the rest are reported as pending.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_actions: usize,
    /// Audit a saved snapshot instead of AWS (no AWS access).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// The largest snapshot file read, in bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024, value_name = "BYTES")]
    pub max_snapshot_bytes: u64,
    /// With one --esm: wait up to MINUTES (fractions allowed) for Lambda's report of a
    /// problem on that mapping to clear, then judge it again; still reported then: fail.
    #[arg(long, value_name = "MINUTES", value_parser = parse_minutes)]
    pub wait_confirm: Option<f64>,
    /// Read another account through this role, assumed with the standard credentials.
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn, conflicts_with = "accounts")]
    pub role_arn: Option<String>,
    /// Audit every account listed in FILE (one 12-digit id per line; `#` starts a comment),
    /// each through the role --role-name names there.
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,
    /// With --accounts: the role to assume in each account.
    #[arg(long, default_value = "esm-guard-audit", value_name = "NAME")]
    pub role_name: String,
    /// With --role-arn or --accounts: the external id the roles' trust policies require.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// With --role-arn or --accounts: the regions to audit, comma-separated (default: the
    /// configured region).
    #[arg(long, value_delimiter = ',', value_name = "REGION,...", value_parser = parse_region)]
    pub regions: Vec<String>,
    /// With --accounts: how many targets are read at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// With --wait-confirm: seconds between two looks at Lambda's report.
    #[arg(long, default_value_t = 30, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub poll_interval: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Why the command line stops with status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("no AWS region: pass --region or set AWS_REGION")]
    NoRegion,
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("snapshot {path}: {problem}")]
    Snapshot { path: String, problem: String },
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Exit statuses of ARCHITECTURE.md.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let message = crate::escape::terminal(&error.to_string()).into_owned();
            let _ = writeln!(std::io::stderr(), "esm-guard: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Explain { rule } => explain_rule(&rule),
        Command::Snapshot { target, out } => {
            let snapshot = collect(&target).await?;
            let text = serde_json::to_string_pretty(&snapshot).map_err(|e| CliError::Write {
                path: out.display().to_string(),
                source: std::io::Error::other(e),
            })?;
            write_atomically(&out, &text)?;
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
            let mode = args.remediate;
            let fleet = args.role_arn.is_some() || args.accounts.is_some();
            if fleet && (args.snapshot.is_some() || args.wait_confirm.is_some()) {
                return Err(CliError::Usage(
                    "--role-arn and --accounts read AWS accounts: not with --snapshot or --wait-confirm".into(),
                ));
            }
            if !fleet && (!args.regions.is_empty() || args.external_id.is_some()) {
                return Err(CliError::Usage(
                    "--regions and --external-id go with --role-arn or --accounts".into(),
                ));
            }
            if args.wait_confirm.is_some() {
                if args.snapshot.is_some() {
                    return Err(CliError::Usage(
                        "--wait-confirm watches AWS: it cannot run on a --snapshot".into(),
                    ));
                }
                if args.target.esms.len() != 1 {
                    return Err(CliError::Usage(format!(
                        "--wait-confirm needs exactly one --esm (given {})",
                        args.target.esms.len()
                    )));
                }
            }
            let (report, actions, results, healing) = match &args.snapshot {
                Some(path) => {
                    if mode == Mode::Apply {
                        return Err(CliError::Usage(
                            "--remediate apply needs AWS: it cannot run on a --snapshot".into(),
                        ));
                    }
                    let mut snapshot = read_snapshot(path, args.max_snapshot_bytes)?;
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
                None if fleet => {
                    let run = audit_fleet_args(&args).await?;
                    (run.report, run.actions, run.results, run.healing)
                }
                None => {
                    let run = remediate(&args.target, mode, args.max_actions).await?;
                    match args.wait_confirm {
                        Some(minutes) => {
                            let (report, actions) = wait_confirm(&args, &run, minutes).await?;
                            (report, actions, run.results, run.healing)
                        }
                        None => (
                            run.after_report,
                            run.after_actions,
                            run.results,
                            run.healing,
                        ),
                    }
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
            // A target that could not be read needs a look as much as a failing mapping.
            let unread = report.targets.iter().any(|t| t.error.is_some());
            Ok(
                if report.mappings.iter().any(|m| m.verdict == Verdict::Fail)
                    || failed_action
                    || unread
                {
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

fn explain_rule(id: &str) -> Result<u8, CliError> {
    let Some(rule) = RuleId::parse(id) else {
        let known: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        return Err(CliError::Usage(format!(
            "unknown rule {}; the rules are: {}",
            quote(id),
            known.join(", ")
        )));
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
        e.automated_text()
    );
    Ok(EXIT_OK)
}

fn spinner() -> indicatif::ProgressBar {
    // Drawn on stderr, and only when stderr is a terminal (indicatif hides it otherwise).
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

async fn clients(target: &Target) -> Result<Clients, CliError> {
    let timeouts = Timeouts {
        connect: Some(Duration::from_secs(target.connect_timeout)),
        read: Some(Duration::from_secs(target.read_timeout)),
        operation: Some(Duration::from_secs(target.operation_timeout)),
    };
    let config = aws::load_config_with(target.region.clone(), timeouts, 5).await;
    if config.region().is_none() {
        return Err(CliError::NoRegion);
    }
    Ok(Clients::new(&config))
}

fn scope(target: &Target) -> Scope {
    Scope {
        mappings: target.esms.clone(),
        vpcs: target.vpcs.clone(),
        ..Scope::default()
    }
}

async fn collect(target: &Target) -> Result<Snapshot, CliError> {
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
    let collection = result?;
    tracing::info!(calls = collection.total_calls(), "collected");
    Ok(collection.snapshot)
}

async fn remediate(
    target: &Target,
    mode: Mode,
    max_actions: usize,
) -> Result<crate::audit::Run, CliError> {
    let clients = clients(target).await?;
    let spinner = spinner();
    let progress = |step: &str| spinner.set_message(step.to_string());
    let options = CollectOptions {
        scope: scope(target),
        for_remediation: false,
        deadline: None,
    };
    let result = crate::audit::remediate(&clients, &options, mode, max_actions, &progress).await;
    spinner.finish_and_clear();
    let run = result?;
    tracing::info!(calls = run.calls, "audited");
    Ok(run)
}

/// `--role-arn` / `--accounts`: every (account, region) through its role, a few at once.
async fn audit_fleet_args(args: &AuditArgs) -> Result<crate::fleet::FleetRun, CliError> {
    use crate::aws::assume::{RoleSpec, Target};
    let timeouts = Timeouts {
        connect: Some(Duration::from_secs(args.target.connect_timeout)),
        read: Some(Duration::from_secs(args.target.read_timeout)),
        operation: Some(Duration::from_secs(args.target.operation_timeout)),
    };
    let base = aws::load_config_with(args.target.region.clone(), timeouts, 5).await;
    let Some(home) = base.region().map(|r| r.to_string()) else {
        return Err(CliError::NoRegion);
    };
    let (accounts, role) = match (&args.role_arn, &args.accounts) {
        (Some(arn), _) => (
            vec![arn.split(':').nth(4).unwrap_or_default().to_string()],
            arn.clone(),
        ),
        (None, Some(file)) => (read_accounts(file)?, args.role_name.clone()),
        (None, None) => return Err(CliError::Usage("no account to audit".into())),
    };
    let regions = if args.regions.is_empty() {
        vec![home]
    } else {
        args.regions.clone()
    };
    let targets: Vec<Target> = accounts
        .iter()
        .flat_map(|a| {
            regions.iter().map(move |r| Target {
                account: a.clone(),
                region: r.clone(),
            })
        })
        .collect();
    let spinner = spinner();
    let progress = |step: &str| spinner.set_message(step.to_string());
    let options = CollectOptions {
        scope: scope(&args.target),
        for_remediation: false,
        deadline: None,
    };
    let run = crate::fleet::audit_fleet(
        &base,
        &targets,
        &RoleSpec {
            role,
            external_id: args.external_id.clone(),
        },
        &options,
        args.remediate,
        args.max_actions,
        usize::from(args.concurrency),
        &progress,
    )
    .await;
    spinner.finish_and_clear();
    Ok(run)
}

/// `--wait-confirm`: polls Lambda's report on the one mapping until it no longer reports a
/// problem or `minutes` pass, then judges the mapping again. A report still there at the
/// end is judged `StillFailing` (fail): waiting was the follow-up check.
async fn wait_confirm(
    args: &AuditArgs,
    run: &crate::audit::Run,
    minutes: f64,
) -> Result<(Report, Vec<Action>), CliError> {
    use crate::rules::reported::{reassess, Confirmation};
    let esm = &args.target.esms[0];
    let uuid = esm.rsplit(':').next().unwrap_or(esm).to_string();
    let reported = run
        .after_report
        .mapping(&uuid)
        .is_some_and(|m| m.lambda_report.is_some());
    if !reported {
        let _ = writeln!(
            std::io::stderr(),
            "Lambda reports no problem on {uuid}: nothing to wait for"
        );
        return Ok((run.after_report.clone(), run.after_actions.clone()));
    }
    let clients = clients(&args.target).await?;
    let started = tokio::time::Instant::now();
    let limit = Duration::from_secs_f64(minutes * 60.0);
    let interval = Duration::from_secs(args.poll_interval);
    let spinner = spinner();
    let mut looks = 0u32;
    let cleared = loop {
        looks += 1;
        let result = clients
            .lambda
            .get_event_source_mapping()
            .uuid(&uuid)
            .send()
            .await;
        let text = match result {
            Ok(out) => out.last_processing_result().unwrap_or_default().to_string(),
            Err(e) => {
                // A failed look is not a confirmation: try again until the time is up.
                let error = aws::one_line(
                    &aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                );
                tracing::warn!(%error, "lambda:GetEventSourceMapping failed");
                "PROBLEM: (not read)".to_string()
            }
        };
        if !text.trim_start().starts_with("PROBLEM:") {
            break Some(text);
        }
        let waited = started.elapsed();
        if waited + interval > limit {
            break None;
        }
        spinner.set_message(format!(
            "waiting for Lambda to confirm {uuid}: {}s of {}s",
            waited.as_secs(),
            limit.as_secs()
        ));
        tokio::time::sleep(interval).await;
    };
    spinner.finish_and_clear();
    let waited = started.elapsed().as_secs();
    let fresh = remediate(&args.target, Mode::Off, 0).await?;
    let mut report = fresh.after_report;
    match &cleared {
        Some(text) => {
            let _ = writeln!(
                std::io::stderr(),
                "Lambda confirmed: the last processing result of {uuid} is now \"{}\" (after {waited}s)",
                crate::escape::terminal(&aws::one_line(text))
            );
        }
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "Lambda still reports a problem on {uuid} after {waited}s ({looks} looks)"
            );
            let created = crate::audit::changed_mappings(&run.actions, &run.results)
                .remove(uuid.as_str())
                .unwrap_or_default();
            let change = if run.results.iter().any(|r| r.changed()) {
                crate::audit::change_text(&created)
            } else {
                "the last change to its path".to_string()
            };
            if let Some(m) = report.mappings.iter_mut().find(|m| m.uuid == uuid) {
                reassess(
                    m,
                    Some(Confirmation::StillFailing {
                        change,
                        attempts: looks,
                    }),
                );
            }
            report.summary = crate::rules::Summary::of(&report.mappings);
        }
    }
    Ok((report, fresh.after_actions))
}

/// Reads a saved snapshot: a regular file (a FIFO or a device would block or never end),
/// opened without blocking, at most `max` bytes.
fn read_snapshot(path: &Path, max: u64) -> Result<Snapshot, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |problem: String| CliError::Snapshot {
        path: path.display().to_string(),
        problem,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| failed(format!("cannot be read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| failed(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(failed("is not a regular file".into()));
    }
    if meta.len() > max {
        return Err(failed(format!(
            "is {} bytes, more than --max-snapshot-bytes {max}",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| failed(format!("cannot be read: {e}")))?;
    if text.len() as u64 > max {
        return Err(failed(format!("is larger than --max-snapshot-bytes {max}")));
    }
    let snapshot: Snapshot = serde_json::from_str(&text)
        .map_err(|e| failed(format!("is not a valid esm-guard snapshot: {e}")))?;
    if snapshot.schema != crate::model::SNAPSHOT_SCHEMA {
        return Err(failed(format!(
            "has schema {}, expected {:?}",
            quote(&snapshot.schema),
            crate::model::SNAPSHOT_SCHEMA
        )));
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

/// Writes a fresh temporary file beside `path` (created exclusively, under a random name:
/// nothing planted there is followed) and renames it into place, so a failed run never
/// leaves half a file.
fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let failed = |source: std::io::Error| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".esm-guard-snapshot-")
        .tempfile_in(dir)
        .map_err(failed)?;
    tmp.write_all(text.as_bytes()).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

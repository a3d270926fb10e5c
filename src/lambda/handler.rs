//! The function: an EventBridge event in; the mappings it touches re-audited; one SNS
//! message per mapping whose alert state changed; a summary out.
//!
//! event → scope → collect → evaluate → plan → per mapping: decide, claim, publish, record.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::config::Config;
use super::event::{classify, foreign, EventError, MappingChange, Trigger};
use super::metrics::Metrics;
use crate::alert::confirm::{self, FollowUp};
use crate::alert::{self, AlertContext, AlertKind, AlertState};
use crate::audit::remediate;
use crate::aws::alert::{PublishError, Publisher};
use crate::aws::followup::{FollowUps, Scheduled};
use crate::aws::locate::{LocateError, Locator, MappingStatus};
use crate::aws::state::{StateError, StateStore};
use crate::aws::{Clients, CollectError, CollectOptions, Scope};
use crate::model::{GapCause, Snapshot};
use crate::plan::Action;
use crate::remediation::{ActionResult, MappingHealing};
use crate::rules::reported::reassess;
use crate::rules::{MappingReport, RuleId, Severity, Summary, Verdict};

/// Timing of the waits; the defaults fit the function's 120 s timeout.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a claim holds a mapping while its message is sent; longer than the
    /// function's timeout, so a crashed invocation's claim lapses and a later one alerts.
    pub claim_secs: i64,
    /// How often to read again when another invocation holds the claim or won the race.
    pub race_reads: u32,
    pub race_pause: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            claim_secs: 180,
            race_reads: 4,
            race_pause: Duration::from_millis(750),
        }
    }
}

/// What the handler works with; built once per execution environment.
pub struct Deps {
    /// The function's own account, from the ARN it is invoked under (set on the first
    /// invocation); events from other accounts are ignored.
    pub account: std::sync::OnceLock<String>,
    /// The ARN it is invoked under: follow-up checks invoke it again.
    pub function_arn: std::sync::OnceLock<String>,
    pub clients: Clients,
    pub publisher: Publisher,
    pub state: StateStore,
    pub follow_ups: FollowUps,
    pub config: Config,
    pub options: Options,
}

impl Deps {
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> Deps {
        Deps {
            account: std::sync::OnceLock::new(),
            function_arn: std::sync::OnceLock::new(),
            clients: Clients::new(sdk),
            follow_ups: FollowUps::new(
                aws_sdk_scheduler::Client::new(sdk),
                config.follow_ups.clone(),
            ),
            publisher: Publisher::new(
                aws_sdk_sns::Client::new(sdk),
                config.alert_topic_arn.clone(),
            ),
            state: StateStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                config.state_table.clone(),
            ),
            config,
            options: Options::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("malformed event: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("{failed} of {total} mapping(s) could not be settled; the first error: {first}")]
    Mappings {
        failed: usize,
        total: usize,
        first: String,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Locate(_) | HandlerError::Collect(_) => "CollectError",
            HandlerError::State(_) => "StateError",
            HandlerError::Publish(_) => "PublishError",
            HandlerError::Mappings { .. } => "AlertError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentAlert {
    pub uuid: String,
    pub kind: &'static str,
    pub message_id: String,
}

/// The invocation's result (also its return value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub trigger: String,
    /// The event name, or why the event was ignored.
    pub detail: String,
    pub scope: ScopeSummary,
    pub mappings_audited: usize,
    pub verdicts: Summary,
    pub alerts: Vec<SentAlert>,
    pub api_calls: u32,
    /// With REMEDIATION=plan|apply: each automatic action's outcome.
    pub remediation: Vec<ActionResult>,
    /// Mappings left `unknown` only by a transient failure (throttled, unavailable, out of
    /// time): their alert state is kept as it was, and nothing is sent; the next run judges
    /// them again. A permission gap is not transient: it alerts.
    pub deferred: Vec<String>,
    /// The follow-up checks scheduled (EventBridge Scheduler schedule names).
    pub follow_ups: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScopeSummary {
    pub mappings: Vec<String>,
    pub vpcs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

impl Outcome {
    pub fn metrics(&self) -> Metrics {
        Metrics {
            trigger: self.trigger.clone(),
            mappings_audited: self.mappings_audited,
            verdicts: self.verdicts,
            alerts_sent: self.alerts.len(),
            mappings_deferred: self.deferred.len(),
            api_calls: self.api_calls,
        }
    }
}

/// Time kept back from the invocation's deadline: for the alerts and state writes after
/// the collection, and the runtime's own reply.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// The Lambda entry point with no deadline (tests, tools).
pub async fn invoke(deps: &Deps, event: Value) -> Result<Outcome, HandlerError> {
    invoke_until(deps, event, None).await
}

/// The Lambda entry point: reads the clock, handles, prints the metrics line. `deadline_ms`
/// is the invocation's deadline (epoch milliseconds, from the runtime's context): no AWS
/// call is started, nor left running, past it less `DEADLINE_MARGIN`; what could not be
/// read is reported as `insufficient-data`.
pub async fn invoke_until(
    deps: &Deps,
    event: Value,
    deadline_ms: Option<u64>,
) -> Result<Outcome, HandlerError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let deadline = deadline_ms.and_then(|d| {
        // Lambda sends epoch milliseconds. Anything before 2001 is not one (cargo lambda's
        // emulator sends its timeout, 600000): run without a deadline rather than none left.
        if d < 1_000_000_000_000 {
            warn!(
                deadline_ms = d,
                "the runtime's deadline is not a timestamp: ignoring it"
            );
            return None;
        }
        let left = Duration::from_millis((d as i64).saturating_sub(now).max(0) as u64);
        Some(tokio::time::Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
    });
    let outcome = handle_until(deps, &event, now / 1000, deadline).await?;
    // EMF goes to stdout as one line of its own, apart from the tracing logs.
    println!("{}", outcome.metrics().emf_line(now));
    Ok(outcome)
}

/// Handles one event at `now` (epoch seconds).
pub async fn handle(deps: &Deps, event: &Value, now: i64) -> Result<Outcome, HandlerError> {
    handle_until(deps, event, now, None).await
}

/// Handles one event at `now` (epoch seconds), collecting no later than `deadline`.
pub async fn handle_until(
    deps: &Deps,
    event: &Value,
    now: i64,
    deadline: Option<tokio::time::Instant>,
) -> Result<Outcome, HandlerError> {
    let mut trigger = classify(event)?;
    if !matches!(trigger, Trigger::Ignored { .. }) {
        if let Some(reason) = foreign(
            event,
            &deps.clients.region,
            deps.account.get().map(String::as_str),
        ) {
            trigger = Trigger::Ignored { reason };
        }
    }
    let before = deps.state.calls() + deps.publisher.calls();
    let locator = Locator::new(&deps.clients);
    let mut outcome = Outcome {
        trigger: trigger.kind().to_string(),
        ..Outcome::default()
    };
    let result = run(deps, &trigger, &locator, now, deadline, &mut outcome).await;
    outcome.api_calls +=
        (locator.calls() + deps.state.calls() + deps.publisher.calls()).saturating_sub(before);
    result.map(|()| outcome)
}

async fn run(
    deps: &Deps,
    trigger: &Trigger,
    locator: &Locator<'_>,
    now: i64,
    deadline: Option<tokio::time::Instant>,
    outcome: &mut Outcome,
) -> Result<(), HandlerError> {
    let scope = match trigger {
        Trigger::Ignored { reason } => {
            info!(%reason, "event ignored");
            outcome.detail = reason.clone();
            return Ok(());
        }
        Trigger::Sweep { source } => {
            outcome.detail = format!("scheduled sweep ({source})");
            Scope::default()
        }
        Trigger::Mapping {
            uuid,
            change,
            event_name,
        } => {
            outcome.detail = event_name.clone();
            outcome.scope.mappings = vec![uuid.clone()];
            // A mapping is closed only when AWS says it is gone, never on an event's word:
            // a forged or replayed delete of a live mapping must not close its alert. A
            // mapping still being created is judged at once: its network does not depend
            // on its state.
            match locator.mapping_status(uuid).await? {
                MappingStatus::NotFound => {
                    info!(%uuid, "the mapping no longer exists");
                    return close_deleted(deps, uuid, now, outcome).await;
                }
                MappingStatus::Found { kafka: false, .. } => {
                    info!(%uuid, "the mapping does not read from Kafka: nothing to audit");
                    outcome.detail = format!("{event_name}: not a Kafka mapping");
                    return Ok(());
                }
                MappingStatus::Found { .. } => {
                    if *change == MappingChange::Deleted {
                        warn!(%uuid, %event_name, "a delete event names a mapping that still exists: auditing it instead of closing its alert");
                    }
                    Scope {
                        mappings: vec![uuid.clone()],
                        ..Scope::default()
                    }
                }
            }
        }
        Trigger::FollowUp { uuid, follow_up } => {
            outcome.detail = format!(
                "follow-up check {} of mapping {uuid} (change of {})",
                follow_up.attempt, follow_up.cycle
            );
            outcome.scope.mappings = vec![uuid.clone()];
            match locator.mapping_status(uuid).await? {
                MappingStatus::NotFound => {
                    info!(%uuid, "the mapping of a follow-up no longer exists");
                    return close_deleted(deps, uuid, now, outcome).await;
                }
                MappingStatus::Found { kafka: false, .. } => return Ok(()),
                MappingStatus::Found { .. } => Scope {
                    mappings: vec![uuid.clone()],
                    ..Scope::default()
                },
            }
        }
        Trigger::Source {
            event_name,
            sources,
        } => {
            outcome.detail = event_name.clone();
            outcome.scope.sources = sources.clone();
            Scope {
                sources: sources.clone(),
                ..Scope::default()
            }
        }
        Trigger::Function {
            event_name,
            function,
        } => {
            outcome.detail = event_name.clone();
            outcome.scope.functions = vec![function.clone()];
            Scope {
                functions: vec![function.clone()],
                ..Scope::default()
            }
        }
        Trigger::Network {
            event_name,
            vpc_id,
            resources,
        } => {
            outcome.detail = event_name.clone();
            let vpcs = match vpc_id {
                Some(vpc) => vec![vpc.clone()],
                None => match locator.vpcs_of(resources).await {
                    Ok(vpcs) if !vpcs.is_empty() => vpcs.into_iter().collect(),
                    Ok(_) => {
                        // An event may name thousands of ids: log how many and the first few.
                        let first: Vec<&String> = resources.iter().take(5).collect();
                        warn!(resources = resources.len(), ?first, %event_name, "no VPC found for the event's resources: auditing every mapping");
                        vec![]
                    }
                    Err(error) => {
                        warn!(%error, %event_name, "cannot look up the event's VPC: auditing every mapping");
                        vec![]
                    }
                },
            };
            outcome.scope.vpcs = vpcs.clone();
            Scope {
                vpcs,
                ..Scope::default()
            }
        }
    };

    let options = CollectOptions {
        scope,
        for_remediation: false,
        deadline,
    };
    let progress = |step: &str| tracing::debug!(step, "collecting");
    let mode = deps.config.remediation;
    let max_actions = deps.config.max_actions_per_run as usize;
    // Off: collect, judge, plan. Plan: also gate the plan. Apply: make the changes, then
    // collect and judge again; the alerts speak of the state after.
    let run = match remediate(&deps.clients, &options, mode, max_actions, &progress).await {
        Ok(run) => run,
        // Deleted between the event and now: close it like a deletion.
        Err(CollectError::MappingNotFound(uuid)) => {
            return close_deleted(deps, &uuid, now, outcome).await
        }
        Err(e) => return Err(e.into()),
    };
    outcome.api_calls += run.calls;
    let report = &run.after_report;
    let actions = &run.after_actions;
    outcome.mappings_audited = report.mappings.len();
    outcome.verdicts = report.summary;
    outcome.remediation = run.results.clone();
    info!(
        trigger = outcome.trigger,
        mappings = report.mappings.len(),
        pass = report.summary.pass,
        warn = report.summary.warn,
        fail = report.summary.fail,
        unknown = report.summary.unknown,
        changes = run.results.iter().filter(|r| r.changed()).count(),
        "audited"
    );

    let mut errors = Vec::new();
    let changed = crate::audit::changed_mappings(&run.actions, &run.results);
    for mapping in &report.mappings {
        let changed_here = run.results.iter().any(|r| {
            r.changed()
                && run.actions.iter().any(|a| {
                    a.id == r.action_id && a.fixes.iter().any(|f| f.esm_uuid == mapping.uuid)
                })
        });
        if !changed_here && undecided_for_now(&run.after, mapping) {
            // A 503 or a throttle must not flip an open alert to "cannot be judged" and
            // back on the next run: keep the last verdict, say so in the log and metrics.
            let calls: Vec<&str> = mapping
                .findings
                .iter()
                .filter(|f| f.rule == RuleId::InsufficientData)
                .filter_map(|f| f.resources.first().map(String::as_str))
                .collect();
            warn!(uuid = %mapping.uuid, ?calls, "not judged this time (a transient failure): the alert state is kept");
            outcome.deferred.push(mapping.uuid.clone());
            continue;
        }
        // The results of the actions planned for this mapping, and what they achieved.
        let results: Vec<&ActionResult> = run
            .results
            .iter()
            .filter(|r| {
                run.actions.iter().any(|a| {
                    a.id == r.action_id && a.fixes.iter().any(|f| f.esm_uuid == mapping.uuid)
                })
            })
            .collect();
        let healing = run.healing.iter().find(|h| h.uuid == mapping.uuid);
        let change = changed
            .get(mapping.uuid.as_str())
            .map(|created| crate::audit::change_text(created));
        let follow_up = match trigger {
            Trigger::FollowUp { uuid, follow_up } if *uuid == mapping.uuid => Some(*follow_up),
            _ => None,
        };
        let remediation = Remediated {
            results,
            healing,
            change: change.as_deref(),
            follow_up,
        };
        match settle(
            deps,
            &mapping.uuid,
            Some(mapping),
            actions,
            &remediation,
            &report.region,
            now,
        )
        .await
        {
            Ok(settled) => {
                outcome.alerts.extend(settled.sent);
                outcome.follow_ups.extend(settled.scheduled);
                if let Some(verdict) = settled.verdict.filter(|v| *v != mapping.verdict) {
                    // Lambda's report judged again (a pending confirmation): count it so.
                    outcome.verdicts.recount(mapping.verdict, verdict);
                }
            }
            Err(error) => {
                warn!(uuid = %mapping.uuid, %error, "alert not settled");
                errors.push(error);
            }
        }
    }
    if matches!(trigger, Trigger::Sweep { .. }) {
        // Deletes the function did not see (no trail for a while, an event lost): every
        // open alert whose mapping the sweep no longer lists is closed, once AWS says the
        // mapping is gone.
        let listed: std::collections::HashSet<&str> =
            report.mappings.iter().map(|m| m.uuid.as_str()).collect();
        for uuid in deps.state.open_mappings().await? {
            if listed.contains(uuid.as_str()) {
                continue;
            }
            match locator.mapping_status(&uuid).await {
                Ok(MappingStatus::NotFound) => {
                    info!(%uuid, "an open alert's mapping is gone: closing it");
                    if let Err(error) = close_deleted(deps, &uuid, now, outcome).await {
                        errors.push(error);
                    }
                }
                Ok(MappingStatus::Found { .. }) => {}
                Err(error) => errors.push(error.into()),
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        failed => Err(HandlerError::Mappings {
            failed,
            total: report.mappings.len(),
            first: errors[0].to_string(),
        }),
    }
}

/// Whether `mapping` is unknown only because calls failed transiently: every
/// `insufficient-data` finding names a call whose gaps are all throttled, unavailable or out
/// of time (none denied), and nothing else left it undecided.
fn undecided_for_now(snapshot: &Snapshot, mapping: &MappingReport) -> bool {
    if mapping.verdict != Verdict::Unknown {
        return false;
    }
    let gaps = mapping
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Unknown);
    let mut any = false;
    for finding in gaps {
        any = true;
        let call = finding.resources.first().map(String::as_str);
        let causes: Vec<GapCause> = snapshot
            .gaps
            .iter()
            .filter(|g| Some(g.api_call.as_str()) == call)
            .map(|g| g.cause)
            .collect();
        if finding.rule != RuleId::InsufficientData
            || causes.is_empty()
            || causes.contains(&GapCause::Denied)
        {
            return false;
        }
    }
    any
}

/// What this run did for one mapping, and which follow-up it is.
struct Remediated<'r> {
    results: Vec<&'r ActionResult>,
    healing: Option<&'r MappingHealing>,
    /// What esm-guard changed for it, for a person (`audit::change_text`).
    change: Option<&'r str>,
    follow_up: Option<FollowUp>,
}

/// What settling one mapping did: the alert sent, the follow-up scheduled.
#[derive(Debug, Default)]
struct Settled {
    sent: Option<SentAlert>,
    scheduled: Option<String>,
    /// The mapping's verdict once Lambda's report was judged again.
    verdict: Option<Verdict>,
}

async fn close_deleted(
    deps: &Deps,
    uuid: &str,
    now: i64,
    outcome: &mut Outcome,
) -> Result<(), HandlerError> {
    let nothing = Remediated {
        results: vec![],
        healing: None,
        change: None,
        follow_up: None,
    };
    let settled = settle(deps, uuid, None, &[], &nothing, &deps.clients.region, now).await?;
    outcome.alerts.extend(settled.sent);
    Ok(())
}

/// Brings one mapping's alert state up to date: decides, claims the mapping with a
/// conditional write, publishes, then records the new state. `mapping` is `None` when the
/// mapping was deleted.
///
/// Only the invocation whose claim succeeds sends; a loser reads again and decides on
/// the winner's state. A failed publish releases the claim and fails, so nothing records
/// an alert that was not sent.
async fn settle(
    deps: &Deps,
    uuid: &str,
    mapping: Option<&MappingReport>,
    actions: &[Action],
    remediated: &Remediated<'_>,
    region: &str,
    now: i64,
) -> Result<Settled, HandlerError> {
    let config = &deps.config;
    let renotify = config.renotify_secs();
    let reads = deps.options.race_reads.max(1);
    for read in 1..=reads {
        let record = deps.state.get(uuid).await?;
        if let Some(until) = record
            .as_ref()
            .and_then(|r| r.claimed_until)
            .filter(|t| *t > now)
        {
            if read < reads {
                tokio::time::sleep(deps.options.race_pause).await;
                continue;
            }
            info!(%uuid, claimed_until = until, "another invocation is alerting this mapping: leaving it to that one");
            return Ok(Settled::default());
        }
        let previous = record.as_ref().map(|r| &r.state);
        let version = record.as_ref().map(|r| r.version);
        // Lambda's report judged in the light of what changed and what follow-ups said.
        let step = match mapping {
            Some(m) => confirm::step(
                previous,
                m,
                remediated.change,
                remediated.follow_up,
                now,
                &config.confirm,
            ),
            None => confirm::Step::default(),
        };
        let judged = mapping.map(|m| {
            let mut m = m.clone();
            reassess(&mut m, step.confirmation.clone());
            m
        });
        let problem = judged
            .as_ref()
            .and_then(|m| alert::problem(m, config.alert_min_severity));
        let kind = match mapping {
            // A change esm-guard made is always told, whatever was alerted before.
            Some(_) if remediated.results.iter().any(|r| r.changed()) => {
                Some(AlertKind::Remediated)
            }
            Some(_) => alert::decide(previous, problem.as_ref(), now, renotify),
            None => alert::decide_deleted(previous),
        };
        let Some(kind) = kind else {
            if mapping.is_none() {
                // A deleted mapping with nothing open: forget it.
                if let Some(v) = version {
                    deps.state.delete(uuid, v).await?;
                }
                return Ok(Settled::default());
            }
            // Nothing to say, but a follow-up may have moved on.
            let held = previous.and_then(|p| p.confirm.as_ref());
            if step.next.as_ref() == held {
                return Ok(Settled {
                    verdict: judged.as_ref().map(|m| m.verdict),
                    ..Settled::default()
                });
            }
            let mut state = previous.cloned().unwrap_or_default();
            state.confirm = step.next.clone();
            if state.function_arn.is_empty() {
                state.function_arn = mapping.map(|m| m.function_arn.clone()).unwrap_or_default();
            }
            let written = deps
                .state
                .put(
                    uuid,
                    &state,
                    version,
                    None,
                    alert::expires_at(&state, now, renotify),
                )
                .await?;
            if written.is_none() {
                continue;
            }
            let scheduled = follow_up(deps, uuid, region, previous, &step, now).await;
            return Ok(Settled {
                sent: None,
                scheduled,
                verdict: judged.as_ref().map(|m| m.verdict),
            });
        };

        let held = previous.cloned().unwrap_or_default();
        let claim = deps
            .state
            .put(
                uuid,
                &held,
                version,
                Some(now + deps.options.claim_secs),
                alert::expires_at(&held, now, renotify),
            )
            .await?;
        let Some(claim) = claim else {
            info!(%uuid, "another invocation changed this mapping's state first: reading it again");
            continue;
        };
        // Only the claim's holder schedules: racing invocations make one follow-up.
        let scheduled = follow_up(deps, uuid, region, previous, &step, now).await;

        let function_arn = mapping
            .map(|m| m.function_arn.clone())
            .or_else(|| previous.map(|p| p.function_arn.clone()))
            .unwrap_or_default();
        let message = alert::compose(&AlertContext {
            kind,
            region,
            uuid,
            mapping: judged.as_ref(),
            problem: problem.as_ref(),
            previous,
            actions,
            remediation: config.remediation,
            results: remediated.results.clone(),
            healing: remediated.healing,
            min_severity: config.alert_min_severity,
            renotify_hours: config.renotify_hours,
            now,
        });
        if message.cut {
            // The message points here for what it had to leave out.
            info!(%uuid, report = %judged.as_ref().map(|m| serde_json::to_string(m).unwrap_or_default()).unwrap_or_default(), "the alert was cut to fit; the mapping's full report");
        }
        let message_id = match deps.publisher.publish(&message).await {
            Ok(id) => id,
            Err(error) => {
                // Put back what was there: the retry of this invocation alerts again.
                let released = match previous {
                    Some(p) => deps
                        .state
                        .put(
                            uuid,
                            p,
                            Some(claim),
                            None,
                            alert::expires_at(p, now, renotify),
                        )
                        .await
                        .map(|v| v.is_some()),
                    None => deps.state.delete(uuid, claim).await,
                };
                if let Err(e) = &released {
                    warn!(%uuid, error = %e, "could not release the claim; it lapses by itself");
                }
                return Err(error.into());
            }
        };
        let recorded = if kind == AlertKind::Deleted {
            deps.state.delete(uuid, claim).await?
        } else {
            let mut next = alert::next_state(kind, previous, problem.as_ref(), &function_arn, now);
            if !kind.closes() {
                next.confirm = step.next.clone();
            }
            deps.state
                .put(
                    uuid,
                    &next,
                    Some(claim),
                    None,
                    alert::expires_at(&next, now, renotify),
                )
                .await?
                .is_some()
        };
        if !recorded {
            warn!(%uuid, "the claim lapsed before the state was recorded: a later run may repeat this alert");
        }
        info!(%uuid, kind = kind.as_str(), %message_id, "alert sent");
        return Ok(Settled {
            sent: Some(SentAlert {
                uuid: uuid.to_string(),
                kind: kind.as_str(),
                message_id,
            }),
            scheduled,
            verdict: judged.as_ref().map(|m| m.verdict),
        });
    }
    info!(%uuid, "the state kept changing under this invocation: leaving the mapping to the others");
    Ok(Settled::default())
}

/// Schedules the follow-up `step` asks for, and deletes the one it supersedes; returns the
/// schedule's name. A failure is logged, never fatal: the next sweep looks again.
async fn follow_up(
    deps: &Deps,
    uuid: &str,
    region: &str,
    previous: Option<&AlertState>,
    step: &confirm::Step,
    now: i64,
) -> Option<String> {
    // A pending follow-up that this step no longer waits for.
    if let Some(held) = previous
        .and_then(|p| p.confirm.as_ref())
        .filter(|h| !h.exhausted && h.due > now)
    {
        let still = step
            .next
            .as_ref()
            .is_some_and(|n| n.cycle == held.cycle && n.attempt == held.attempt);
        if !still {
            if let Err(error) = deps.follow_ups.cancel(uuid, held.cycle, held.attempt).await {
                warn!(%uuid, %error, "could not delete a follow-up no longer needed; it finds nothing to do");
            }
        }
    }
    let schedule = step.schedule.as_ref()?;
    let (Some(target), Some(account)) = (deps.function_arn.get(), deps.account.get()) else {
        warn!(%uuid, "the function's own ARN is not known: no follow-up scheduled; the next sweep looks again");
        return None;
    };
    match deps
        .follow_ups
        .schedule(target, account, region, uuid, schedule)
        .await
    {
        Ok(Scheduled::Created { name }) => {
            info!(%uuid, %name, due = schedule.due, "follow-up check scheduled");
            Some(name)
        }
        Ok(Scheduled::Exists { name }) => {
            info!(%uuid, %name, "the follow-up check was already scheduled");
            Some(name)
        }
        Ok(Scheduled::Off) => None,
        Err(error) => {
            warn!(%uuid, %error, "could not schedule the follow-up check; the next sweep looks again");
            None
        }
    }
}

//! The function: an EventBridge event in; the mappings it touches re-audited; one SNS
//! message per mapping whose alert state changed; a summary out.
//!
//! event → scope → collect → evaluate → plan → per mapping: decide, claim, publish, record.

use std::time::Duration;

use serde_json::Value;
use tracing::{info, warn};

pub use super::deps::{Deps, HandlerError, Options, SentAlert};
use super::event::{classify, foreign, MappingChange, Trigger};
use super::hub::{is_transient, sweep_name, sweep_target, Hub, Member};
pub use super::outcome::{BatchItemFailure, Outcome, ScopeSummary};
use super::settle::{settle, settle_unreachable, Remediated};
use crate::audit::remediate;
use crate::aws::assume::Target;
use crate::aws::locate::{Locator, MappingStatus};
use crate::aws::{Clients, CollectError, CollectOptions, Scope};
use crate::model::{GapCause, Snapshot};
use crate::remediation::ActionResult;
use crate::rules::{MappingReport, RuleId, Severity, Verdict};

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
    if let Some(hub) = &deps.hub {
        if is_sqs_batch(event) {
            return handle_batch(deps, hub, event, now, deadline).await;
        }
    }
    let mut trigger = classify(event)?;
    let mut outcome = Outcome {
        trigger: trigger.kind().to_string(),
        ..Outcome::default()
    };
    let before = deps.state.calls() + deps.publisher.calls();
    // Whose network: the function's own account, or (hub) the member the event comes from.
    let (clients, account) = match &deps.hub {
        None => {
            if !matches!(trigger, Trigger::Ignored { .. }) {
                if let Some(reason) = foreign(
                    event,
                    &deps.clients.region,
                    deps.account.get().map(String::as_str),
                ) {
                    trigger = Trigger::Ignored { reason };
                }
            }
            (deps.clients.clone(), None)
        }
        Some(hub) => {
            if matches!(trigger, Trigger::Sweep { .. }) {
                fan_out(hub, &mut outcome).await?;
                return Ok(outcome);
            }
            let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
            let target = Target {
                account: text("account").to_string(),
                region: text("region").to_string(),
            };
            if let Some(reason) = hub.admits(&target.account, &target.region) {
                trigger = Trigger::Ignored { reason };
            }
            if let Trigger::Ignored { reason } = &trigger {
                info!(%reason, "event ignored");
                outcome.trigger = "ignored".into();
                outcome.detail = reason.clone();
                return Ok(outcome);
            }
            match member_clients(deps, hub, &target, now, &mut outcome).await? {
                Some(clients) => {
                    let name = hub.account_name(&target.account).await;
                    (
                        clients,
                        Some(Member {
                            id: target.account,
                            name,
                        }),
                    )
                }
                None => return Ok(outcome),
            }
        }
    };
    outcome.trigger = trigger.kind().to_string();
    let locator = Locator::new(&clients);
    let result = run(
        deps,
        &clients,
        account.as_ref(),
        &trigger,
        &locator,
        now,
        deadline,
        &mut outcome,
    )
    .await;
    outcome.api_calls +=
        (locator.calls() + deps.state.calls() + deps.publisher.calls()).saturating_sub(before);
    result.map(|()| outcome)
}

/// A hub's scheduled sweep: one queue message per member and region.
async fn fan_out(hub: &Hub, outcome: &mut Outcome) -> Result<(), HandlerError> {
    let targets = hub.targets().await.map_err(HandlerError::Hub)?;
    let sent = hub.fan_out(&targets).await.map_err(HandlerError::Hub)?;
    info!(targets = targets.len(), sent, "sweep fanned out");
    outcome.detail = format!("sweep fanned out to {sent} account-region target(s)");
    outcome.fanned_out = Some(sent);
    Ok(())
}

/// A member's clients, or `None` when its role cannot be assumed: then its own alert says
/// so (never a silent skip), and a transient failure is an error, for a retry.
async fn member_clients(
    deps: &Deps,
    hub: &Hub,
    target: &Target,
    now: i64,
    outcome: &mut Outcome,
) -> Result<Option<Clients>, HandlerError> {
    let role_arn = hub.role_arn(&target.account);
    match hub.clients(target).await {
        Ok(clients) => {
            // It may not have been readable before: close that alert.
            let sent =
                settle_unreachable(deps, &target.account, &target.region, &role_arn, None, now)
                    .await?;
            outcome.alerts.extend(sent);
            Ok(Some(clients))
        }
        Err(error) if is_transient(&error) => Err(HandlerError::Hub(error.to_string())),
        Err(error) => {
            warn!(%error, account = %target.account, region = %target.region, "a member cannot be read");
            let sent = settle_unreachable(
                deps,
                &target.account,
                &target.region,
                &role_arn,
                Some(&error.message),
                now,
            )
            .await?;
            outcome.alerts.extend(sent);
            outcome.detail = format!("{target}: {error}");
            Ok(None)
        }
    }
}

/// A batch of the hub's sweep queue: each record one (account, region) swept; a record
/// that fails for a reason that may pass is reported back for a retry of its own.
async fn handle_batch(
    deps: &Deps,
    hub: &Hub,
    event: &Value,
    now: i64,
    deadline: Option<tokio::time::Instant>,
) -> Result<Outcome, HandlerError> {
    let mut outcome = Outcome {
        trigger: "sweep-target".into(),
        ..Outcome::default()
    };
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for record in records {
        let id = record
            .get("messageId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body = record
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let target = match sweep_target(body) {
            Ok(t) => t,
            Err(why) => {
                // Not ours, and never will be: dropped with a log line, not retried forever.
                warn!(%id, %why, "a sweep queue message that is not a target");
                continue;
            }
        };
        let result = async {
            if let Some(reason) = hub.admits(&target.account, &target.region) {
                info!(%reason, "sweep target ignored");
                return Ok(());
            }
            let before = deps.state.calls() + deps.publisher.calls();
            let Some(clients) = member_clients(deps, hub, &target, now, &mut outcome).await? else {
                return Ok(());
            };
            if let Some(name) = sweep_name(body) {
                hub.remember_name(&target.account, Some(&name));
            }
            let member = Member {
                id: target.account.clone(),
                name: hub.account_name(&target.account).await,
            };
            let locator = Locator::new(&clients);
            let sweep = Trigger::Sweep {
                source: format!("hub sweep of {target}"),
            };
            let mut one = Outcome::default();
            let result = run(
                deps,
                &clients,
                Some(&member),
                &sweep,
                &locator,
                now,
                deadline,
                &mut one,
            )
            .await;
            one.api_calls += (locator.calls() + deps.state.calls() + deps.publisher.calls())
                .saturating_sub(before);
            outcome.absorb(one);
            result
        }
        .await;
        if let Err(error) = result {
            warn!(%id, %target, %error, "sweep target failed: it is delivered again");
            outcome.batch_item_failures.push(BatchItemFailure {
                item_identifier: id,
            });
        }
    }
    Ok(outcome)
}

/// An SQS event (the hub's sweep queue), not an EventBridge one.
fn is_sqs_batch(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter()
                .all(|x| x.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        })
}

/// Audits what `trigger` touches through `clients` (the function's own account, or a
/// member's: then `member` names it), and settles each mapping's alert.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    deps: &Deps,
    clients: &Clients,
    member: Option<&Member>,
    trigger: &Trigger,
    locator: &Locator<'_>,
    now: i64,
    deadline: Option<tokio::time::Instant>,
    outcome: &mut Outcome,
) -> Result<(), HandlerError> {
    let region = clients.region.as_str();
    let account = member.map(|m| m.id.as_str());
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
                    return close_deleted(deps, region, uuid, now, outcome).await;
                }
                MappingStatus::Found { audited: false, .. } => {
                    info!(%uuid, "the mapping's pollers do not run in a VPC of the account (SQS, Kinesis, ...): nothing to audit");
                    outcome.detail = format!("{event_name}: not a mapping esm-guard audits (Kafka, Amazon MQ, DocumentDB)");
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
                    return close_deleted(deps, region, uuid, now, outcome).await;
                }
                MappingStatus::Found { audited: false, .. } => return Ok(()),
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
    let run = match remediate(clients, &options, mode, max_actions, &progress).await {
        Ok(run) => run,
        // Deleted between the event and now: close it like a deletion.
        Err(CollectError::MappingNotFound(uuid)) => {
            return close_deleted(deps, region, &uuid, now, outcome).await
        }
        Err(e) => return Err(e.into()),
    };
    outcome.api_calls += run.calls;
    // A hub's mappings carry their member account into the state and the alerts.
    let mut owned = run.after_report.clone();
    for m in &mut owned.mappings {
        m.account = account.map(str::to_string);
        m.account_name = member.and_then(|m| m.name.clone());
    }
    let report = &owned;
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
            region,
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
        // Only the alerts of this account and region: a hub's table holds many.
        let own = account.or(deps.account.get().map(String::as_str));
        let here = |a: &Option<String>, r: &Option<String>| {
            a.as_deref().is_none_or(|a| Some(a) == own) && r.as_deref().is_none_or(|r| r == region)
        };
        // A hub reads one member's open alerts from the index; a single account scans its
        // own small table (rows from before the index included).
        let open_alerts = match account {
            Some(member) => deps.state.open_mappings_of(member, region).await?,
            None => deps.state.open_mappings().await?,
        };
        for open in open_alerts {
            if listed.contains(open.uuid.as_str()) || !here(&open.account, &open.region) {
                continue;
            }
            // An account's "cannot read" alert is not a mapping's: it closes when the role
            // works (settle_unreachable), never by asking Lambda for a mapping of that name.
            if crate::alert::unreachable::is_thread(&open.uuid) {
                continue;
            }
            // A row without its account (written before accounts were kept) in a hub run
            // could be any member's: never close it on this member's word.
            if account.is_some() && open.account.is_none() {
                continue;
            }
            let uuid = open.uuid;
            match locator.mapping_status(&uuid).await {
                Ok(MappingStatus::NotFound) => {
                    info!(%uuid, "an open alert's mapping is gone: closing it");
                    if let Err(error) = close_deleted(deps, region, &uuid, now, outcome).await {
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

async fn close_deleted(
    deps: &Deps,
    region: &str,
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
    let settled = settle(deps, uuid, None, &[], &nothing, region, now).await?;
    outcome.alerts.extend(settled.sent);
    Ok(())
}

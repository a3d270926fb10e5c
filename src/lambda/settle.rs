//! Settling one mapping after an audit: judge Lambda's report in the light of what changed
//! (`alert::confirm`), decide the alert, claim the mapping with a conditional write, publish,
//! record the new state, and schedule the follow-up check a change asks for.

use tracing::{info, warn};

use super::deps::{Deps, HandlerError, SentAlert};
use crate::alert::confirm::{self, FollowUp};
use crate::alert::{self, AlertContext, AlertKind, AlertState};
use crate::aws::followup::Scheduled;
use crate::plan::Action;
use crate::remediation::{ActionResult, MappingHealing};
use crate::rules::reported::reassess;
use crate::rules::{MappingReport, Verdict};

/// What this run did for one mapping, and which follow-up it is.
pub(super) struct Remediated<'r> {
    pub results: Vec<&'r ActionResult>,
    pub healing: Option<&'r MappingHealing>,
    /// What esm-guard changed for it, for a person (`audit::change_text`).
    pub change: Option<&'r str>,
    pub follow_up: Option<FollowUp>,
}

/// What settling one mapping did: the alert sent, the follow-up scheduled.
#[derive(Debug, Default)]
pub(super) struct Settled {
    pub sent: Option<SentAlert>,
    pub scheduled: Option<String>,
    /// The mapping's verdict once Lambda's report was judged again.
    pub verdict: Option<Verdict>,
}

/// Brings one mapping's alert state up to date: decides, claims the mapping with a
/// conditional write, publishes, then records the new state. `mapping` is `None` when the
/// mapping was deleted.
///
/// Only the invocation whose claim succeeds sends; a loser reads again and decides on
/// the winner's state. A failed publish releases the claim and fails, so nothing records
/// an alert that was not sent.
pub(super) async fn settle(
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
            state.region = Some(region.to_string());
            if let Some(a) = mapping.and_then(|m| m.account.clone()) {
                state.account = Some(a);
            }
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
            let scheduled = follow_up(
                deps,
                uuid,
                region,
                mapping.and_then(|m| m.account.as_deref()),
                previous,
                &step,
                now,
            )
            .await;
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
        let scheduled = follow_up(
            deps,
            uuid,
            region,
            mapping.and_then(|m| m.account.as_deref()),
            previous,
            &step,
            now,
        )
        .await;

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
            next.region = Some(region.to_string());
            if let Some(a) = mapping.and_then(|m| m.account.clone()) {
                next.account = Some(a);
            }
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
    member: Option<&str>,
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
    // The follow-up event names the mapping's account (a hub's member) and region.
    let account = member.or(deps.account.get().map(String::as_str));
    let (Some(target), Some(account)) = (deps.function_arn.get(), account) else {
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

/// Brings the alert about a member the hub cannot read (`error`), or can read again
/// (`None`), up to date: one thread per account and region, sent once per change.
pub(super) async fn settle_unreachable(
    deps: &Deps,
    account: &str,
    region: &str,
    role_arn: &str,
    error: Option<&str>,
    now: i64,
) -> Result<Option<SentAlert>, HandlerError> {
    let key = crate::alert::unreachable::thread(account, region);
    let record = deps.state.get(&key).await?;
    let open = record.as_ref().is_some_and(|r| r.state.open);
    let kind = match (open, error) {
        (false, Some(_)) => AlertKind::New,
        (true, None) => AlertKind::Resolved,
        _ => return Ok(None),
    };
    let next = AlertState {
        open: error.is_some(),
        last_alerted: now,
        severity: Some(crate::rules::Severity::Unknown),
        rules: vec!["insufficient-data".into()],
        account: Some(account.to_string()),
        region: Some(region.to_string()),
        ..AlertState::default()
    };
    // Written first, conditionally: of two racing sweeps only one sends.
    let renotify = deps.config.renotify_secs();
    let Some(written) = deps
        .state
        .put(
            &key,
            &next,
            record.as_ref().map(|r| r.version),
            None,
            alert::expires_at(&next, now, renotify),
        )
        .await?
    else {
        return Ok(None);
    };
    let message = crate::alert::unreachable::compose(account, region, role_arn, error, now);
    let message_id = match deps.publisher.publish(&message).await {
        Ok(id) => id,
        Err(e) => {
            // Put back what was there: the retry alerts again.
            let undone = match &record {
                Some(r) => deps
                    .state
                    .put(
                        &key,
                        &r.state,
                        Some(written),
                        None,
                        alert::expires_at(&r.state, now, renotify),
                    )
                    .await
                    .map(|_| ()),
                None => deps.state.delete(&key, written).await.map(|_| ()),
            };
            if let Err(undo) = undone {
                warn!(%account, %region, error = %undo, "could not undo the member alert's state");
            }
            return Err(e.into());
        }
    };
    info!(%account, %region, kind = kind.as_str(), "member account alert sent");
    Ok(Some(SentAlert {
        uuid: key,
        kind: kind.as_str(),
        message_id,
    }))
}

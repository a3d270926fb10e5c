//! Follow-up checks: when a change should clear Lambda's report (esm-guard healed the
//! mapping, or a change fixed what its open alert named) or an endpoint is still coming up,
//! look at the mapping again a few minutes later instead of waiting for the next sweep.
//!
//! Pure: the stored state, the mapping's report, what this run changed and which follow-up
//! (if any) triggered it in; how to judge Lambda's report, the state to remember and the
//! follow-up to schedule out. At most `attempts` follow-ups per change, each later than the
//! last (`after`, then twice, four times that): never a loop.

use super::decide::AlertState;
pub use super::decide::ConfirmState;
use crate::rules::reported::{path_looks_fine, Confirmation, PlannedCheck};
use crate::rules::{MappingReport, RuleId};

/// How follow-ups are spaced (`CONFIRM_AFTER_MINUTES`) and how many are made per change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub after_minutes: u32,
    pub attempts: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            after_minutes: 5,
            attempts: 3,
        }
    }
}

impl Policy {
    /// When follow-up `attempt` (1-based) of a change seen at `from` is due.
    pub fn due(&self, from: i64, attempt: u32) -> i64 {
        let factor = 1_i64 << attempt.saturating_sub(1).min(10);
        from + i64::from(self.after_minutes) * 60 * factor
    }
}

/// The follow-up an invocation runs for, as its event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    pub cycle: i64,
    pub attempt: u32,
}

/// A follow-up to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub cycle: i64,
    pub attempt: u32,
    pub due: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// How to judge Lambda's report now (`rules::reported::reassess`).
    pub confirmation: Option<Confirmation>,
    /// The confirmation to remember.
    pub next: Option<ConfirmState>,
    pub schedule: Option<Schedule>,
}

/// The source and detail-type of the follow-up checks esm-guard schedules for itself.
pub const FOLLOW_UP_SOURCE: &str = "esm-guard.follow-up";
pub const FOLLOW_UP_DETAIL_TYPE: &str = "esm-guard follow-up check";

/// The event a follow-up schedule delivers: EventBridge's envelope (so the account and
/// region checks apply as to any event), the mapping and which follow-up it is.
pub fn follow_up_event(
    account: &str,
    region: &str,
    uuid: &str,
    follow_up: FollowUp,
) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": format!("esm-{uuid}-{}-{}", follow_up.cycle, follow_up.attempt),
        "source": FOLLOW_UP_SOURCE,
        "detail-type": FOLLOW_UP_DETAIL_TYPE,
        "account": account,
        "region": region,
        "resources": [],
        "detail": {"uuid": uuid, "cycle": follow_up.cycle, "attempt": follow_up.attempt},
    })
}

/// One step of a mapping's confirmation. `changed_here` describes what this run changed
/// for the mapping (esm-guard's own fixes); `follow_up` is the follow-up this run is, if any.
pub fn step(
    previous: Option<&AlertState>,
    report: &MappingReport,
    changed_here: Option<&str>,
    follow_up: Option<FollowUp>,
    now: i64,
    policy: &Policy,
) -> Step {
    let stale = path_looks_fine(report);
    let pending_endpoints: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule == RuleId::EndpointPending)
        .flat_map(|f| f.resources.iter().map(String::as_str))
        .collect();
    if !stale && pending_endpoints.is_empty() {
        return Step::default();
    }
    let held = previous.and_then(|p| p.confirm.as_ref());
    let start = |change: String| {
        let due = policy.due(now, 1);
        Step {
            confirmation: Some(pending(&change, 1, due, policy)),
            next: Some(ConfirmState {
                change,
                cycle: now,
                attempt: 1,
                due,
                exhausted: false,
            }),
            schedule: Some(Schedule {
                cycle: now,
                attempt: 1,
                due,
            }),
        }
    };
    if policy.attempts == 0 {
        return Step::default();
    }
    // A new change: esm-guard's own, or the open alert named more than this report and
    // it is gone now.
    if let Some(change) = changed_here {
        return start(change.to_string());
    }
    if let Some(fixed) = fixed_since(previous, stale) {
        return start(fixed);
    }
    if held.is_none() && !pending_endpoints.is_empty() {
        return start(format!(
            "the creation of {} (still coming up)",
            pending_endpoints.join(", ")
        ));
    }
    let Some(held) = held else {
        // No change known: Lambda's word stands.
        return Step::default();
    };
    if held.exhausted {
        return Step {
            confirmation: Some(Confirmation::StillFailing {
                change: held.change.clone(),
                attempts: held.attempt,
            }),
            next: Some(held.clone()),
            schedule: None,
        };
    }
    let this_one = follow_up.is_some_and(|f| f.cycle == held.cycle && f.attempt == held.attempt);
    if !this_one {
        // Another event while a follow-up is pending: nothing new to say about it.
        return Step {
            confirmation: Some(pending(&held.change, held.attempt, held.due, policy)),
            next: Some(held.clone()),
            schedule: None,
        };
    }
    if held.attempt < policy.attempts {
        let attempt = held.attempt + 1;
        let due = policy.due(now, attempt);
        return Step {
            confirmation: Some(pending(&held.change, attempt, due, policy)),
            next: Some(ConfirmState {
                attempt,
                due,
                ..held.clone()
            }),
            schedule: Some(Schedule {
                cycle: held.cycle,
                attempt,
                due,
            }),
        };
    }
    Step {
        confirmation: Some(Confirmation::StillFailing {
            change: held.change.clone(),
            attempts: held.attempt,
        }),
        next: Some(ConfirmState {
            exhausted: true,
            ..held.clone()
        }),
        schedule: None,
    }
}

fn pending(change: &str, attempt: u32, due: i64, policy: &Policy) -> Confirmation {
    Confirmation::Pending {
        change: change.to_string(),
        follow_up: Some(PlannedCheck {
            attempt,
            of: policy.attempts,
            due,
        }),
    }
}

/// The fix a report that is fine now may follow: the open alert named rules beyond Lambda's
/// report (and pending endpoints), and they are gone.
fn fixed_since(previous: Option<&AlertState>, stale: bool) -> Option<String> {
    let previous = previous.filter(|p| p.open)?;
    if !stale {
        return None;
    }
    let fixed: Vec<&str> = previous
        .rules
        .iter()
        .map(String::as_str)
        .filter(|r| {
            *r != RuleId::EsmReportedProblem.as_str() && *r != RuleId::EndpointPending.as_str()
        })
        .collect();
    (!fixed.is_empty()).then(|| format!("the fix of {}", fixed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::reported::{LambdaReport, ProblemKind};
    use crate::rules::{Finding, Severity, SourceSummary, Verdict};

    const NOW: i64 = 1_800_000_000;

    fn report(extra: &[(RuleId, Severity)], reported: Option<ProblemKind>) -> MappingReport {
        let mut findings: Vec<Finding> = extra
            .iter()
            .map(|(rule, severity)| Finding {
                id: format!("{rule}/x"),
                rule: *rule,
                severity: *severity,
                resources: vec!["vpce-1".into()],
                message: String::new(),
                fixes: vec![],
            })
            .collect();
        if reported.is_some() {
            findings.push(Finding {
                id: "esm-reported-problem/u".into(),
                rule: RuleId::EsmReportedProblem,
                severity: Severity::Fail,
                resources: vec!["u".into()],
                message: String::new(),
                fixes: vec![],
            });
        }
        MappingReport {
            uuid: "u".into(),
            arn: None,
            function_arn: "f".into(),
            source: SourceSummary::SelfManaged {
                bootstrap_servers: vec![],
            },
            mode: crate::model::ScalingMode::OnDemand,
            network: None,
            verdict: Verdict::from_severities(findings.iter().map(|f| f.severity)),
            findings,
            lambda_report: reported.map(|kind| LambdaReport {
                text: "PROBLEM: Connection error.".into(),
                kind,
                confirmation: None,
            }),
            account: None,
            account_name: None,
        }
    }

    fn open(rules: &[&str], confirm: Option<ConfirmState>) -> AlertState {
        AlertState {
            open: true,
            rules: rules.iter().map(|r| r.to_string()).collect(),
            confirm,
            ..AlertState::default()
        }
    }

    #[test]
    fn a_fix_starts_follow_ups_that_grow_and_end() {
        let policy = Policy::default();
        let stale = report(&[], Some(ProblemKind::Connection));
        // The alert named a network rule and Lambda's report; only the report is left.
        let before = open(&["no-service-path", "esm-reported-problem"], None);
        let first = step(Some(&before), &stale, None, None, NOW, &policy);
        assert_eq!(
            first.schedule,
            Some(Schedule {
                cycle: NOW,
                attempt: 1,
                due: NOW + 300
            })
        );
        assert!(matches!(
            &first.confirmation,
            Some(Confirmation::Pending { change, follow_up: Some(PlannedCheck { attempt: 1, of: 3, .. }) }) if change == "the fix of no-service-path"
        ));
        // Follow-ups 1 and 2 come back still failing: 10, then 20 minutes later.
        let mut state = open(&["esm-reported-problem"], first.next.clone());
        let mut dues = vec![];
        for attempt in 1..=2 {
            let at = NOW + 1000 * i64::from(attempt);
            let s = step(
                Some(&state),
                &stale,
                None,
                Some(FollowUp {
                    cycle: NOW,
                    attempt,
                }),
                at,
                &policy,
            );
            let schedule = s.schedule.expect("another follow-up");
            assert_eq!(schedule.attempt, attempt + 1);
            dues.push(schedule.due - at);
            state.confirm = s.next;
        }
        assert_eq!(dues, vec![600, 1200]);
        // The last one: escalated, nothing more scheduled, and it stays so.
        let last = step(
            Some(&state),
            &stale,
            None,
            Some(FollowUp {
                cycle: NOW,
                attempt: 3,
            }),
            NOW + 5000,
            &policy,
        );
        assert_eq!(last.schedule, None);
        assert!(matches!(
            last.confirmation,
            Some(Confirmation::StillFailing { attempts: 3, .. })
        ));
        state.confirm = last.next;
        let later = step(Some(&state), &stale, None, None, NOW + 9000, &policy);
        assert_eq!(later.schedule, None);
        assert!(matches!(
            later.confirmation,
            Some(Confirmation::StillFailing { .. })
        ));
    }

    #[test]
    fn only_the_pending_follow_up_moves_the_count() {
        let policy = Policy::default();
        let stale = report(&[], Some(ProblemKind::Connection));
        let held = ConfirmState {
            change: "x".into(),
            cycle: NOW,
            attempt: 2,
            due: NOW + 600,
            exhausted: false,
        };
        let state = open(&["esm-reported-problem"], Some(held.clone()));
        // An unrelated event, a replayed earlier follow-up, a follow-up of another change.
        for follow_up in [
            None,
            Some(FollowUp {
                cycle: NOW,
                attempt: 1,
            }),
            Some(FollowUp {
                cycle: NOW - 1,
                attempt: 2,
            }),
        ] {
            let s = step(Some(&state), &stale, None, follow_up, NOW + 60, &policy);
            assert_eq!(s.schedule, None, "{follow_up:?}");
            assert_eq!(s.next, Some(held.clone()));
            assert!(matches!(
                s.confirmation,
                Some(Confirmation::Pending {
                    follow_up: Some(PlannedCheck { attempt: 2, .. }),
                    ..
                })
            ));
        }
    }

    #[test]
    fn nothing_to_confirm_without_a_change_or_with_real_findings() {
        let policy = Policy::default();
        // Lambda's report, no change known: its word stands (no confirmation).
        let stale = report(&[], Some(ProblemKind::Connection));
        assert_eq!(
            step(None, &stale, None, None, NOW, &policy),
            Step::default()
        );
        let quiet = open(&["esm-reported-problem"], None);
        assert_eq!(
            step(Some(&quiet), &stale, None, None, NOW, &policy),
            Step::default()
        );
        // Something esm-guard sees is still wrong: not a stale report.
        let broken = report(
            &[(RuleId::NoServicePath, Severity::Fail)],
            Some(ProblemKind::Connection),
        );
        let before = open(&["no-service-path", "esm-reported-problem"], None);
        assert_eq!(
            step(
                Some(&before),
                &broken,
                Some("esm-guard's changes"),
                None,
                NOW,
                &policy
            ),
            Step::default()
        );
        // Not a connection problem: a path change cannot clear it.
        let auth = report(&[], Some(ProblemKind::Authentication));
        assert_eq!(
            step(Some(&before), &auth, Some("x"), None, NOW, &policy),
            Step::default()
        );
        // No follow-ups configured.
        let none = Policy {
            attempts: 0,
            ..policy
        };
        assert_eq!(
            step(Some(&before), &stale, Some("x"), None, NOW, &none),
            Step::default()
        );
    }

    #[test]
    fn esm_guards_own_fix_and_pending_endpoints_start_a_follow_up() {
        let policy = Policy::default();
        let stale = report(&[], Some(ProblemKind::Connection));
        let s = step(
            None,
            &stale,
            Some("esm-guard's changes (vpce-1)"),
            None,
            NOW,
            &policy,
        );
        assert_eq!(s.schedule.map(|s| s.attempt), Some(1));
        // An endpoint still pending, no report from Lambda: look again when it should serve.
        let pending = report(&[(RuleId::EndpointPending, Severity::Warn)], None);
        let s = step(None, &pending, None, None, NOW, &policy);
        assert!(s.schedule.is_some());
        assert_eq!(
            s.next.map(|n| n.change),
            Some("the creation of vpce-1 (still coming up)".to_string())
        );
        assert_eq!(s.confirmation.map(|_| ()), Some(()));
    }
}

//! Follow-up checks as EventBridge Scheduler one-time schedules: `at(...)` a few minutes
//! ahead, invoking this function with a follow-up event, deleted by Scheduler once run
//! (`ActionAfterCompletion=DELETE`). The name comes from the mapping, the change and the
//! attempt (`esm-<uuid>-<cycle>-<attempt>`, 53 characters of Scheduler's 64), and the client
//! token is the name: a retry of the same call cannot make two.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::alert::confirm::{follow_up_event, FollowUp, Schedule};

/// Where follow-ups go: the schedule group, the role Scheduler invokes the function with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpConfig {
    pub group: String,
    pub role_arn: String,
}

pub struct FollowUps {
    scheduler: aws_sdk_scheduler::Client,
    config: Option<FollowUpConfig>,
    calls: AtomicU32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    Created {
        name: String,
    },
    /// A schedule of that name exists already (a racing or retried invocation made it).
    Exists {
        name: String,
    },
    /// Follow-ups are not configured (no group or role): the next sweep looks again.
    Off,
}

#[derive(Debug, thiserror::Error)]
#[error("scheduler:{op} {name} failed: {message}")]
pub struct FollowUpError {
    pub op: &'static str,
    pub name: String,
    pub message: String,
}

/// The schedule's name for follow-up `attempt` of the change seen at `cycle`.
pub fn name(uuid: &str, cycle: i64, attempt: u32) -> String {
    format!("esm-{uuid}-{cycle}-{attempt}")
}

/// `at(yyyy-mm-ddThh:mm:ss)` for epoch seconds `t`, in UTC.
pub fn at_expression(t: i64) -> String {
    let minute = crate::rules::reported::utc_minute(t); // "YYYY-MM-DD HH:MM UTC"
    let (date, rest) = minute.split_once(' ').unwrap_or((&minute, "00:00 UTC"));
    let hm = rest.trim_end_matches(" UTC");
    format!("at({date}T{hm}:{:02})", t.rem_euclid(60))
}

impl FollowUps {
    pub fn new(scheduler: aws_sdk_scheduler::Client, config: Option<FollowUpConfig>) -> Self {
        FollowUps {
            scheduler,
            config,
            calls: AtomicU32::new(0),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Schedules follow-up `schedule` of mapping `uuid`, invoking `target` (the function's
    /// ARN) in `account`/`region`.
    pub async fn schedule(
        &self,
        target: &str,
        account: &str,
        region: &str,
        uuid: &str,
        schedule: &Schedule,
    ) -> Result<Scheduled, FollowUpError> {
        let Some(config) = &self.config else {
            return Ok(Scheduled::Off);
        };
        let name = name(uuid, schedule.cycle, schedule.attempt);
        let input = follow_up_event(
            account,
            region,
            uuid,
            FollowUp {
                cycle: schedule.cycle,
                attempt: schedule.attempt,
            },
        );
        let failed = |e: String| FollowUpError {
            op: "CreateSchedule",
            name: name.clone(),
            message: e,
        };
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let target = Target::builder()
            .arn(target)
            .role_arn(&config.role_arn)
            .input(input.to_string())
            .build()
            .map_err(|e| failed(e.to_string()))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = self
            .scheduler
            .create_schedule()
            .name(&name)
            .group_name(&config.group)
            .schedule_expression(at_expression(schedule.due))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .client_token(&name)
            .description(format!(
                "esm-guard: follow-up check {} of mapping {uuid}",
                schedule.attempt
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Scheduled::Created { name }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                Ok(Scheduled::Exists { name })
            }
            Err(e) => Err(failed(DisplayErrorContext(e).to_string())),
        }
    }

    /// Deletes a follow-up no longer needed (its change was confirmed or superseded); one
    /// already gone (run and deleted by Scheduler) is fine.
    pub async fn cancel(&self, uuid: &str, cycle: i64, attempt: u32) -> Result<(), FollowUpError> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        let name = name(uuid, cycle, attempt);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = self
            .scheduler
            .delete_schedule()
            .name(&name)
            .group_name(&config.group)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(FollowUpError {
                op: "DeleteSchedule",
                name,
                message: DisplayErrorContext(e).to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times_fit_schedulers_rules() {
        let n = name("3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c", 1_800_000_000, 3);
        assert!(n.len() <= 64, "{n}");
        assert!(n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert_eq!(at_expression(1_800_000_042), "at(2027-01-15T08:00:42)");
    }
}

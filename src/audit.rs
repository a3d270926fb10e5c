//! One audit run, the flow of ARCHITECTURE.md in one place: collect, judge and plan; in
//! `plan` mode say what would run; in `apply` mode run it, then collect and judge again and
//! say per mapping whether it healed. The CLI and the function both run it.

use std::collections::BTreeMap;

use crate::aws::{apply, collect, Clients, CollectError, CollectOptions, Collection};
use crate::model::Snapshot;
use crate::plan::{plan, Action};
use crate::remediation::{healing, planned, ActionResult, MappingHealing, Mode, Outcome};
use crate::rules::reported::{reassess, Confirmation};
use crate::rules::{evaluate, Report, Summary};

/// One remediation run: the state before, what was done, the state after.
#[derive(Debug, Clone)]
pub struct Run {
    pub before: Collection,
    pub before_report: Report,
    pub actions: Vec<Action>,
    pub results: Vec<ActionResult>,
    /// After `apply`: collected and judged again. Otherwise the same as before.
    pub after: Snapshot,
    pub after_report: Report,
    pub after_actions: Vec<Action>,
    pub healing: Vec<MappingHealing>,
    /// API calls of the whole run, collections and changes.
    pub calls: u32,
}

/// Collects, judges and plans; in `plan` mode says what would run, in `apply` mode runs it
/// (at most `max_actions`), then collects and judges again.
pub async fn remediate(
    clients: &Clients,
    options: &CollectOptions,
    mode: Mode,
    max_actions: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Run, CollectError> {
    let options = CollectOptions {
        for_remediation: mode != Mode::Off,
        ..options.clone()
    };
    let before = collect(clients, &options, progress).await?;
    let before_report = evaluate(&before.snapshot);
    let actions = plan(&before.snapshot, &before_report);
    let mut calls = before.total_calls();
    let results = match mode {
        Mode::Off => Vec::new(),
        Mode::Plan => planned(&before.snapshot, &actions, max_actions),
        Mode::Apply => {
            progress("applying the planned changes");
            let results = apply(&clients.ec2, &before.snapshot, &actions, max_actions).await;
            calls += results
                .iter()
                .filter(|r| {
                    matches!(
                        r.outcome,
                        Outcome::Applied { .. }
                            | Outcome::AlreadyDone { .. }
                            | Outcome::Failed { .. }
                    )
                })
                .count() as u32;
            results
        }
    };
    let (after, after_report, after_actions) = if results.iter().any(ActionResult::changed) {
        progress("checking the result");
        let after = collect(clients, &options, progress).await?;
        calls += after.total_calls();
        let report = evaluate(&after.snapshot);
        let actions = plan(&after.snapshot, &report);
        (after.snapshot, report, actions)
    } else {
        (
            before.snapshot.clone(),
            before_report.clone(),
            actions.clone(),
        )
    };
    // A change esm-guard made may clear Lambda's report on its next poll, minutes from now:
    // until then the report is not a failure of its own (rules::reported).
    let mut after_report = after_report;
    for (uuid, created) in changed_mappings(&actions, &results) {
        if let Some(m) = after_report.mappings.iter_mut().find(|m| m.uuid == uuid) {
            let change = change_text(&created);
            reassess(
                m,
                Some(Confirmation::Pending {
                    change,
                    follow_up: None,
                }),
            );
        }
    }
    after_report.summary = Summary::of(&after_report.mappings);
    let healing = healing(&before_report, &after_report, &actions, &results);
    Ok(Run {
        before,
        before_report,
        actions,
        results,
        after,
        after_report,
        after_actions,
        healing,
        calls,
    })
}

/// The mappings this run changed something for, with the ids of what it created.
pub fn changed_mappings<'a>(
    actions: &'a [Action],
    results: &'a [ActionResult],
) -> BTreeMap<&'a str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for result in results.iter().filter(|r| r.changed()) {
        let Some(action) = actions.iter().find(|a| a.id == result.action_id) else {
            continue;
        };
        for fix in &action.fixes {
            let entry = out.entry(fix.esm_uuid.as_str()).or_default();
            if let Outcome::Applied { resource: Some(r) } = &result.outcome {
                if !entry.contains(r) {
                    entry.push(r.clone());
                }
            }
        }
    }
    out
}

/// esm-guard's changes for a mapping, for a person: `esm-guard's changes (vpce-1, sgr-2)`.
pub fn change_text(created: &[String]) -> String {
    if created.is_empty() {
        "esm-guard's changes".to_string()
    } else {
        format!("esm-guard's changes ({})", created.join(", "))
    }
}

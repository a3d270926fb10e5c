//! Many accounts and regions in one run (`esm-guard audit --accounts FILE --regions ...`,
//! `--role-arn`): each target read through its assumed role, a few at a time, and the runs
//! combined into one report with a row per target and the account on every mapping. A target
//! that cannot be read is a row of its own; it never stops the others.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_config::SdkConfig;
use tokio::sync::Semaphore;

use crate::audit::{remediate, Run};
use crate::aws::assume::{assume, RoleSpec, Target};
use crate::aws::{Clients, CollectOptions};
use crate::plan::Action;
use crate::remediation::{ActionResult, MappingHealing, Mode};
use crate::rules::{Report, Summary, TargetSummary};

/// What a run over several targets gave, combined.
#[derive(Debug, Clone)]
pub struct FleetRun {
    pub report: Report,
    pub actions: Vec<Action>,
    pub results: Vec<ActionResult>,
    pub healing: Vec<MappingHealing>,
}

/// Audits every target, at most `concurrency` at once.
#[allow(clippy::too_many_arguments)]
pub async fn audit_fleet(
    base: &SdkConfig,
    targets: &[Target],
    role: &RoleSpec,
    options: &CollectOptions,
    mode: Mode,
    max_actions: usize,
    concurrency: usize,
    progress: &(dyn Fn(&str) + Sync),
) -> FleetRun {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let partition = crate::model::Partition::of_region(
        &base.region().map(|r| r.to_string()).unwrap_or_default(),
    );
    for target in targets.iter().cloned() {
        let permits = permits.clone();
        let base = base.clone();
        let options = options.clone();
        let role_arn = role.arn(partition.id(), &target.account);
        let external_id = role.external_id.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let config = match assume(&base, &role_arn, external_id.as_deref(), &target).await {
                Ok(config) => config,
                Err(e) => return (target, Err(e.to_string())),
            };
            let clients = Clients::new(&config);
            let run = remediate(&clients, &options, mode, max_actions, &|_| {}).await;
            (target, run.map_err(|e| e.to_string()))
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((target, run)) => {
                progress(&format!(
                    "{}/{} targets read",
                    done.len() + 1,
                    targets.len()
                ));
                done.push((target, run));
            }
            Err(e) => tracing::error!(error = %e, "an audit task failed"),
        }
    }
    done.sort_by(|a, b| a.0.cmp(&b.0));
    combine(done)
}

/// One report of the targets' runs: mappings tagged with their account, a row per target.
pub fn combine(runs: Vec<(Target, Result<Run, String>)>) -> FleetRun {
    let mut report = Report {
        region: String::new(),
        mappings: Vec::new(),
        summary: Summary::default(),
        targets: Vec::new(),
    };
    let mut actions = Vec::new();
    let mut results = Vec::new();
    let mut healing = Vec::new();
    let mut regions = BTreeSet::new();
    for (target, run) in runs {
        regions.insert(target.region.clone());
        match run {
            Ok(run) => {
                let mut mappings = run.after_report.mappings;
                for m in &mut mappings {
                    m.account = Some(target.account.clone());
                }
                report.targets.push(TargetSummary {
                    account: target.account,
                    region: target.region,
                    summary: Summary::of(&mappings),
                    error: None,
                });
                report.mappings.extend(mappings);
                actions.extend(run.after_actions);
                results.extend(run.results);
                healing.extend(run.healing);
            }
            Err(error) => report.targets.push(TargetSummary {
                account: target.account,
                region: target.region,
                summary: Summary::default(),
                error: Some(error),
            }),
        }
    }
    report.region = regions.into_iter().collect::<Vec<_>>().join(",");
    report.summary = Summary::of(&report.mappings);
    FleetRun {
        report,
        actions,
        results,
        healing,
    }
}

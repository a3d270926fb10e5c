//! Self-healing, the pure part: which planned actions may run (opt-out tags, the per-run
//! limit), and what a run achieved per mapping. The AWS calls live in `aws::apply`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::index::Index;
use crate::model::Snapshot;
use crate::plan::{Action, ActionKind};
use crate::rules::reported::Confirmation;
use crate::rules::{Report, Severity, Verdict};

/// The tag that stops esm-guard from changing a mapping, a VPC or a security group.
pub const TAG_OPT_OUT: &str = "esm-guard:remediate";

/// How far self-healing goes: the CLI's `--remediate`, the function's `REMEDIATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Report only.
    Off,
    /// Report, and say exactly which actions would run.
    Plan,
    /// Run them (endpoints and security-group rules only), then audit again.
    Apply,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "off" => Some(Mode::Off),
            "plan" => Some(Mode::Plan),
            "apply" => Some(Mode::Apply),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Plan => "plan",
            Mode::Apply => "apply",
        }
    }
}

/// Whether an automatic action may run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Run,
    /// A resource it touches carries `esm-guard:remediate=off` (or its tags are unknown).
    OptedOut(String),
    /// Beyond the per-run limit: the next run takes it.
    OverLimit,
}

/// The automatic actions, in plan order, each with its gate. At most `max` run.
pub fn gate<'a>(snapshot: &Snapshot, actions: &'a [Action], max: usize) -> Vec<(&'a Action, Gate)> {
    let index = Index::new(snapshot);
    let mut running = 0;
    actions
        .iter()
        .filter(|a| a.automatic)
        .map(|action| {
            let gate = match opted_out(&index, action) {
                Some(reason) => Gate::OptedOut(reason),
                None if running < max => {
                    running += 1;
                    Gate::Run
                }
                None => Gate::OverLimit,
            };
            (action, gate)
        })
        .collect()
}

fn is_off(tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_OPT_OUT)
        .is_some_and(|v| v.eq_ignore_ascii_case("off"))
}

/// Why `action` must not run, if it must not: the first opted-out resource it touches.
fn opted_out(index: &Index<'_>, action: &Action) -> Option<String> {
    let (groups, vpc): (Vec<&str>, Option<&str>) = match &action.kind {
        ActionKind::AuthorizeIngress {
            group_id,
            source_group_id,
            ..
        } => (vec![group_id, source_group_id], None),
        ActionKind::AuthorizeEgress {
            group_id,
            destination_group_id,
            ..
        } => (vec![group_id, destination_group_id], None),
        ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            security_group_ids,
            ..
        } => (
            security_group_ids.iter().map(String::as_str).collect(),
            Some(vpc_id.as_str()),
        ),
        ActionKind::Manual { .. } => return Some("manual steps never run".into()),
    };
    // Every opt-out tag the action touches must be read and not "off": a tag that could
    // not be read stops the action as surely as one that says off.
    let mut unreadable: Option<String> = None;
    for fix in &action.fixes {
        let Some(esm) = index
            .snapshot
            .mappings
            .iter()
            .find(|m| m.uuid == fix.esm_uuid)
        else {
            unreadable.get_or_insert(format!("mapping {} is not in the facts read", fix.esm_uuid));
            continue;
        };
        if is_off(&esm.tags) {
            return Some(format!("mapping {} is tagged {TAG_OPT_OUT}=off", esm.uuid));
        }
        if index.snapshot.unreadable_tags.contains(&esm.uuid) {
            unreadable.get_or_insert(format!("the tags of mapping {} could not be read (lambda:ListTags), so its opt-out cannot be checked", esm.uuid));
        }
    }
    let mut vpcs: BTreeSet<&str> = vpc.into_iter().collect();
    for group in &groups {
        match index.security_groups.get(group) {
            Some(g) if is_off(&g.tags) => {
                return Some(format!(
                    "security group {group} is tagged {TAG_OPT_OUT}=off"
                ))
            }
            Some(g) => {
                vpcs.insert(g.vpc_id.as_str());
            }
            None => {
                unreadable.get_or_insert(format!("security group {group} was not in the answer of ec2:DescribeSecurityGroups, so its opt-out tag cannot be checked"));
            }
        }
    }
    for vpc in vpcs {
        match index.vpcs.get(vpc).and_then(|v| v.tags.as_ref()) {
            Some(tags) if is_off(tags) => {
                return Some(format!("VPC {vpc} is tagged {TAG_OPT_OUT}=off"))
            }
            Some(_) => {}
            None => {
                unreadable.get_or_insert(format!("the tags of VPC {vpc} could not be read (ec2:DescribeVpcs), so its opt-out cannot be checked"));
            }
        }
    }
    unreadable
}

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Made now; `resource` is what was created (an endpoint id, a rule id).
    Applied {
        resource: Option<String>,
    },
    /// AWS already had it (a duplicate rule, an endpoint with the same client token).
    AlreadyDone {
        resource: Option<String>,
    },
    OptedOut {
        reason: String,
    },
    /// Over `MAX_ACTIONS_PER_RUN`: left for the next run.
    Pending,
    /// `plan` mode: would run.
    Planned,
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    pub action_id: String,
    pub description: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl ActionResult {
    pub fn changed(&self) -> bool {
        matches!(self.outcome, Outcome::Applied { .. })
    }
}

/// What `plan` mode reports: each automatic action would run, is opted out, or is pending.
pub fn planned(snapshot: &Snapshot, actions: &[Action], max: usize) -> Vec<ActionResult> {
    gate(snapshot, actions, max)
        .into_iter()
        .map(|(action, gate)| ActionResult {
            action_id: action.id.clone(),
            description: action.description.clone(),
            outcome: match gate {
                Gate::Run => Outcome::Planned,
                Gate::OptedOut(reason) => Outcome::OptedOut { reason },
                Gate::OverLimit => Outcome::Pending,
            },
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Healing {
    /// Failed before, does not fail now.
    Healed,
    /// Nothing esm-guard can see fails now, but Lambda's report of a connection problem
    /// predates the change: its next poll confirms the heal.
    AwaitingConfirmation,
    /// Still fails, with fewer failing findings.
    Improved,
    StillFailing,
}

impl Healing {
    /// For a person: `healed`, `healed (waiting for Lambda to confirm)`, ...
    pub fn words(self) -> &'static str {
        match self {
            Healing::Healed => "healed",
            Healing::AwaitingConfirmation => "healed (waiting for Lambda to confirm)",
            Healing::Improved => "improved",
            Healing::StillFailing => "still failing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingHealing {
    pub uuid: String,
    pub outcome: Healing,
    pub verdict_before: Verdict,
    pub verdict_after: Verdict,
    /// What this run created for it.
    pub created: Vec<String>,
}

/// Per mapping an action was meant for: healed, improved or still failing.
pub fn healing(
    before: &Report,
    after: &Report,
    actions: &[Action],
    results: &[ActionResult],
) -> Vec<MappingHealing> {
    let fails = |r: &Report, uuid: &str| -> (Verdict, usize) {
        r.mapping(uuid)
            .map(|m| {
                (
                    m.verdict,
                    m.findings
                        .iter()
                        .filter(|f| f.severity == Severity::Fail)
                        .count(),
                )
            })
            .unwrap_or((Verdict::Unknown, 0))
    };
    let mut created: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // Only mappings something was attempted for: plan mode, opt-outs and pending actions
    // heal nothing.
    let attempted = results.iter().filter(|r| {
        matches!(
            r.outcome,
            Outcome::Applied { .. } | Outcome::AlreadyDone { .. } | Outcome::Failed { .. }
        )
    });
    for result in attempted {
        let Some(action) = actions.iter().find(|a| a.id == result.action_id) else {
            continue;
        };
        for fix in &action.fixes {
            let entry = created.entry(fix.esm_uuid.as_str()).or_default();
            if let Outcome::Applied { resource: Some(r) } = &result.outcome {
                if !entry.contains(r) {
                    entry.push(r.clone());
                }
            }
        }
    }
    created
        .into_iter()
        .filter_map(|(uuid, created)| {
            let (verdict_before, fails_before) = fails(before, uuid);
            let (verdict_after, fails_after) = fails(after, uuid);
            (verdict_before == Verdict::Fail).then(|| MappingHealing {
                uuid: uuid.to_string(),
                outcome: if verdict_after != Verdict::Fail {
                    let awaiting = after
                        .mapping(uuid)
                        .and_then(|m| m.lambda_report.as_ref())
                        .is_some_and(|r| {
                            matches!(r.confirmation, Some(Confirmation::Pending { .. }))
                        });
                    if awaiting {
                        Healing::AwaitingConfirmation
                    } else {
                        Healing::Healed
                    }
                } else if fails_after < fails_before {
                    Healing::Improved
                } else {
                    Healing::StillFailing
                },
                verdict_before,
                verdict_after,
                created,
            })
        })
        .collect()
}

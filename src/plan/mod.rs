//! Findings to actions: the narrow, additive changes of `RULES.md` that esm-guard may make,
//! and for everything else a manual step with the exact AWS CLI command.
//!
//! Planning is convergent: it simulates its own automated actions on a copy of the snapshot
//! and plans again until nothing new is needed, so one plan clears what it targets.
//! `actions` turns one fix into an action, `endpoints` sizes and merges new endpoints,
//! `simulate` applies actions to a snapshot.

mod actions;
mod endpoints;
mod simulate;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::model::Snapshot;
use crate::rules::{evaluate_where, Finding, Fix, MappingReport, Report, RuleId};

use actions::tag_spec;
pub use actions::{shell_quote, TAG_MANAGED, TAG_MAPPING, TAG_REASON};
pub use endpoints::client_token;
pub use simulate::{simulate, simulate_all};

use actions::{action_for, number_acl_entries};
use endpoints::{merge, planned_endpoint, Serving};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Stable and derived from what the action does: the same change has the same id.
    pub id: String,
    #[serde(flatten)]
    pub kind: ActionKind,
    /// True when esm-guard can make this change itself (with remediation enabled).
    pub automatic: bool,
    pub description: String,
    /// The AWS CLI command(s) that make the change, with the real ids filled in.
    pub command: String,
    /// The findings this action clears.
    pub fixes: Vec<FindingRef>,
}

/// A finding an action clears: the mapping and the finding's id (its rule for readers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingRef {
    pub esm_uuid: String,
    pub finding: String,
    pub rule: RuleId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ActionKind {
    AuthorizeIngress {
        group_id: String,
        port: u16,
        /// The last port of a range (an MSK VPC connection's 14001-14100); absent for one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_port: Option<u16>,
        source_group_id: String,
        reason: RuleId,
    },
    AuthorizeEgress {
        group_id: String,
        port: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_port: Option<u16>,
        destination_group_id: String,
        reason: RuleId,
    },
    CreateInterfaceEndpoint {
        vpc_id: String,
        service_name: String,
        subnet_ids: Vec<String>,
        security_group_ids: Vec<String>,
        private_dns_enabled: bool,
        policy_document: String,
        /// Derived from (VPC, service): a retried create cannot make a second endpoint.
        client_token: String,
    },
    Manual {
        rule: RuleId,
        resources: Vec<String>,
    },
}

impl Action {
    pub fn reason(&self) -> RuleId {
        match &self.kind {
            ActionKind::AuthorizeIngress { reason, .. }
            | ActionKind::AuthorizeEgress { reason, .. } => *reason,
            ActionKind::CreateInterfaceEndpoint { .. } => RuleId::NoServicePath,
            ActionKind::Manual { rule, .. } => *rule,
        }
    }

    /// Whether this action clears `finding` of `esm_uuid`.
    pub fn fixes_finding(&self, esm_uuid: &str, finding: &Finding) -> bool {
        self.fixes
            .iter()
            .any(|f| f.esm_uuid == esm_uuid && f.finding == finding.id)
    }
}

/// The actions that clear each finding, looked up by (mapping, finding id): rendering a
/// report asks once per finding, and scanning every action's `fixes` each time made
/// rendering quadratic in the account's size.
pub struct ActionsByFinding<'a> {
    by_finding: HashMap<(&'a str, &'a str), Vec<&'a Action>>,
}

impl<'a> ActionsByFinding<'a> {
    pub fn new(actions: &'a [Action]) -> Self {
        let mut by_finding: HashMap<(&str, &str), Vec<&Action>> = HashMap::new();
        for action in actions {
            for f in &action.fixes {
                let entry = by_finding
                    .entry((f.esm_uuid.as_str(), f.finding.as_str()))
                    .or_default();
                // `fixes` is deduplicated after planning; stay exact if it is not.
                if !entry.iter().any(|a| std::ptr::eq(*a, action)) {
                    entry.push(action);
                }
            }
        }
        ActionsByFinding { by_finding }
    }

    /// The actions that clear `finding` of `esm_uuid`, in the order of the action list.
    pub fn get<'s>(
        &'s self,
        esm_uuid: &'s str,
        finding: &'s Finding,
    ) -> impl Iterator<Item = &'a Action> + 's {
        self.by_finding
            .get(&(esm_uuid, finding.id.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
    }
}

/// Plans the actions for every finding of `report` (which must come from `snapshot`).
pub fn plan(snapshot: &Snapshot, report: &Report) -> Vec<Action> {
    let mut actions: BTreeMap<String, Action> = BTreeMap::new();
    // The planned ACL entries by action id: numbered once the plan is complete.
    let mut acl_entries: BTreeMap<String, Fix> = BTreeMap::new();
    let mut simulated: Option<Snapshot> = None;
    // Round one plans from the caller's report; later rounds from their own judgement.
    let mut current = std::borrow::Cow::Borrowed(report);
    // Each round's automated actions can reveal follow-ups (a new endpoint's security group
    // must admit 443); four rounds is more than the longest such chain (endpoint, ingress).
    for _ in 0..4 {
        let snap = simulated.as_ref().unwrap_or(snapshot);
        let index = Index::new(snap);
        let serving = Serving::new(&index, &current);
        let mut new_automatic = Vec::new();
        // Findings with the same rule and fix plan the same action (thousands of mappings
        // behind one missing rule or endpoint): build it once a round, then only add the
        // finding to it.
        let mut planned: HashMap<(RuleId, &Fix), Option<String>> = HashMap::new();
        for mapping in &current.mappings {
            for finding in &mapping.findings {
                for fix in &finding.fixes {
                    if let Some(known) = planned.get(&(finding.rule, fix)) {
                        if let Some(existing) = known.as_ref().and_then(|id| actions.get_mut(id)) {
                            existing.fixes.push(finding_ref(mapping, finding));
                        }
                        continue;
                    }
                    if let Some(id) = planned_endpoint(&actions, fix) {
                        // Every mapping of the VPC that lacks the service points at the same
                        // endpoint (same subnets, same policy): add the finding, and skip
                        // building a policy-sized action only to merge it away.
                        if let Some(existing) = actions.get_mut(&id) {
                            existing.fixes.push(finding_ref(mapping, finding));
                        }
                        continue;
                    }
                    let produced = action_for(&index, &serving, mapping, finding, fix);
                    planned.insert((finding.rule, fix), produced.as_ref().map(|a| a.id.clone()));
                    let Some(action) = produced else { continue };
                    if matches!(fix, Fix::NaclEntry { .. }) {
                        acl_entries
                            .entry(action.id.clone())
                            .or_insert_with(|| fix.clone());
                    }
                    match actions.get_mut(&action.id) {
                        Some(existing) => merge(&index, existing, action),
                        None => {
                            if action.automatic {
                                new_automatic.push(action.id.clone());
                            }
                            actions.insert(action.id.clone(), action);
                        }
                    }
                }
            }
        }
        // Adding a security-group rule only ever allows more, and every rule looks for a
        // missing allow: such changes clear findings and never raise one, so judging again
        // after them can find nothing new. Only a new endpoint brings checks of its own.
        let only_rules = new_automatic.iter().all(|id| {
            matches!(
                actions[id].kind,
                ActionKind::AuthorizeIngress { .. } | ActionKind::AuthorizeEgress { .. }
            )
        });
        if only_rules {
            break;
        }
        // Every automated change stays inside one VPC (a group's rules, an endpoint), so
        // only the mappings of the VPCs it touches can judge differently next round; the
        // rest were planned already.
        let touched = touched_vpcs(&index, new_automatic.iter().map(|id| &actions[id]));
        let again: HashSet<&str> = report
            .mappings
            .iter()
            .filter(|m| match &touched {
                None => true,
                Some(vpcs) => m
                    .network
                    .as_ref()
                    .and_then(|n| n.vpc_id.as_deref())
                    .is_some_and(|v| vpcs.contains(v)),
            })
            .map(|m| m.uuid.as_str())
            .collect();
        let mut next = simulated.take().unwrap_or_else(|| snapshot.clone());
        simulate_all(&mut next, new_automatic.iter().map(|id| &actions[id]));
        current = std::borrow::Cow::Owned(evaluate_where(&Index::new(&next), |esm| {
            again.contains(esm.uuid.as_str())
        }));
        simulated = Some(next);
    }
    number_acl_entries(&Index::new(snapshot), &mut actions, &acl_entries);
    let mut actions: Vec<Action> = actions.into_values().collect();
    for action in &mut actions {
        action.fixes.sort();
        action.fixes.dedup();
    }
    actions
}

fn finding_ref(mapping: &MappingReport, finding: &Finding) -> FindingRef {
    FindingRef {
        esm_uuid: mapping.uuid.clone(),
        finding: finding.id.clone(),
        rule: finding.rule,
    }
}

/// The VPCs that `actions` change; `None` when one of them cannot be placed (then every
/// mapping is judged again).
fn touched_vpcs<'a>(
    index: &Index<'_>,
    actions: impl Iterator<Item = &'a Action>,
) -> Option<HashSet<String>> {
    let mut vpcs = HashSet::new();
    for action in actions {
        let vpc = match &action.kind {
            ActionKind::AuthorizeIngress { group_id, .. }
            | ActionKind::AuthorizeEgress { group_id, .. } => {
                index.security_groups.get(group_id.as_str())?.vpc_id.clone()
            }
            ActionKind::CreateInterfaceEndpoint { vpc_id, .. } => vpc_id.clone(),
            ActionKind::Manual { .. } => continue,
        };
        vpcs.insert(vpc);
    }
    Some(vpcs)
}

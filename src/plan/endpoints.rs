//! New interface endpoints: with private DNS one captures its service for the whole VPC, so
//! its subnets and policy must serve every on-demand mapping there that needs the service;
//! the findings of all of them merge into one action, created once (its client token).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{shell_quote, tag_spec, Action, ActionKind};
use crate::index::Index;
use crate::model::{EventSourceMapping, ScalingMode};
use crate::rules::{required_services, Fix, MappingReport, Report, RuleId};

/// The on-demand mappings of each VPC, to size a new endpoint for all it will serve. Built
/// once per planning round; each (VPC, service) is worked out once.
pub(super) struct Serving<'a> {
    by_vpc: HashMap<&'a str, Vec<(&'a MappingReport, &'a EventSourceMapping)>>,
    cache: RefCell<HashMap<(String, String), EndpointShape>>,
}

/// A new endpoint's subnets (one per AZ) and policy (`None` when it cannot be written).
type EndpointShape = (Vec<String>, Option<String>);

impl<'a> Serving<'a> {
    pub fn new(index: &Index<'a>, report: &'a Report) -> Self {
        let esms: HashMap<&str, &EventSourceMapping> = index
            .snapshot
            .mappings
            .iter()
            .map(|m| (m.uuid.as_str(), m))
            .collect();
        let mut by_vpc: HashMap<&str, Vec<_>> = HashMap::new();
        for m in &report.mappings {
            let vpc = m.network.as_ref().and_then(|n| n.vpc_id.as_deref());
            if let (Some(vpc), Some(esm), ScalingMode::OnDemand) =
                (vpc, esms.get(m.uuid.as_str()), m.mode)
            {
                by_vpc.entry(vpc).or_default().push((m, *esm));
            }
        }
        Serving {
            by_vpc,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The subnets (one per AZ) and the guide's policy of a new `service` endpoint in
    /// `vpc_id` serving every on-demand mapping there that needs the service; no policy when
    /// one of them cannot be written (an unknown execution role).
    pub fn get(&self, index: &Index<'_>, vpc_id: &str, service: &str) -> EndpointShape {
        let key = (vpc_id.to_string(), service.to_string());
        if let Some(hit) = self.cache.borrow().get(&key) {
            return hit.clone();
        }
        let mut by_az: BTreeMap<&str, &str> = BTreeMap::new();
        let mut statements: Vec<Value> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut writable = true;
        for (m, esm) in self
            .by_vpc
            .get(vpc_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(needed) = required_services(esm)
                .into_iter()
                .find(|s| s.short == service)
            else {
                continue;
            };
            for id in m.network.iter().flat_map(|n| &n.subnet_ids) {
                if let Some(subnet) = index.subnets.get(id.as_str()) {
                    let entry = by_az.entry(&subnet.availability_zone).or_insert(&subnet.id);
                    if subnet.id.as_str() < *entry {
                        *entry = &subnet.id;
                    }
                }
            }
            match needed.guide_policy(esm.execution_role.as_deref()) {
                Ok(policy) => {
                    let parsed: Value = serde_json::from_str(&policy).unwrap_or(Value::Null);
                    for statement in parsed
                        .get("Statement")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if seen.insert(statement.to_string()) {
                            statements.push(statement.clone());
                        }
                    }
                }
                Err(_) => writable = false,
            }
        }
        let subnets = by_az.into_values().map(str::to_string).collect();
        let policy = (writable && !statements.is_empty())
            .then(|| serde_json::json!({ "Statement": statements }).to_string());
        let result = (subnets, policy);
        self.cache.borrow_mut().insert(key, result.clone());
        result
    }
}

/// The id of an automatic endpoint creation already planned that `finding` would plan
/// again: the same (VPC, service), and nothing about this mapping that would make its
/// own action manual instead.
pub(super) fn planned_endpoint(actions: &BTreeMap<String, Action>, fix: &Fix) -> Option<String> {
    let Fix::CreateEndpoint {
        vpc_id,
        service,
        security_group_id,
        policy: Some(_),
        private_dns_off: None,
        ..
    } = fix
    else {
        return None;
    };
    if security_group_id.is_empty() {
        return None;
    }
    let id = endpoint_action_id(vpc_id, service);
    actions.get(&id).is_some_and(|a| a.automatic).then_some(id)
}

pub(super) fn endpoint_action_id(vpc_id: &str, service: &str) -> String {
    format!("create-endpoint/{vpc_id}/{service}")
}

/// Merges a second action for the same endpoint into the first: its findings, the
/// statements of its policy, its AZs.
pub(super) fn merge(index: &Index<'_>, existing: &mut Action, more: Action) {
    let first_uuid = existing.fixes.first().map(|f| f.esm_uuid.clone());
    existing.fixes.extend(more.fixes);
    let before = existing.kind.clone();
    if let (
        ActionKind::CreateInterfaceEndpoint {
            policy_document,
            subnet_ids,
            ..
        },
        ActionKind::CreateInterfaceEndpoint {
            policy_document: other,
            subnet_ids: other_subnets,
            ..
        },
    ) = (&mut existing.kind, more.kind)
    {
        // Within a round every finding of a (VPC, service) brings the same document.
        if *policy_document != other {
            *policy_document = merge_policies(policy_document, &other);
        }
        // An endpoint takes at most one subnet per AZ: AWS rejects a second one.
        let az = |id: &str| index.subnets.get(id).map(|s| s.availability_zone.clone());
        for s in other_subnets {
            if !subnet_ids
                .iter()
                .any(|t| *t == s || az(t).is_some() && az(t) == az(&s))
            {
                subnet_ids.push(s);
            }
        }
        subnet_ids.sort();
    }
    // The command and description show what the merged action does.
    if existing.kind == before {
        return;
    }
    if let Some((description, command)) =
        endpoint_text(&existing.kind, first_uuid.as_deref().unwrap_or_default())
    {
        existing.description = description;
        existing.command = command;
    }
}

/// The description and CLI command of an automatic endpoint creation.
pub(super) fn endpoint_text(kind: &ActionKind, uuid: &str) -> Option<(String, String)> {
    let ActionKind::CreateInterfaceEndpoint {
        vpc_id,
        service_name,
        subnet_ids,
        security_group_ids,
        policy_document,
        client_token,
        ..
    } = kind
    else {
        return None;
    };
    let description = format!(
        "Create an interface endpoint for {service_name} in {vpc_id} (subnets {}, security group {}, private DNS, the guide's restrictive policy)",
        subnet_ids.join(", "),
        security_group_ids.join(", ")
    );
    let command = format!(
        "aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {vpc_id} --service-name {service_name} --subnet-ids {} --security-group-ids {} --private-dns-enabled --policy-document {} --client-token {client_token} --tag-specifications {}",
        subnet_ids.join(" "),
        security_group_ids.join(" "),
        shell_quote(policy_document),
        shell_quote(&tag_spec("vpc-endpoint", RuleId::NoServicePath, uuid)),
    );
    Some((description, command))
}

/// One policy holding the statements of both (identical statements once).
fn merge_policies(a: &str, b: &str) -> String {
    let statements = |doc: &str| -> Vec<Value> {
        serde_json::from_str::<Value>(doc)
            .ok()
            .and_then(|v| v.get("Statement").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    };
    let mut all = statements(a);
    let mut seen: HashSet<String> = all.iter().map(Value::to_string).collect();
    for s in statements(b) {
        if seen.insert(s.to_string()) {
            all.push(s);
        }
    }
    serde_json::json!({ "Statement": all }).to_string()
}

/// A token for `CreateVpcEndpoint`'s `ClientToken`: the same (VPC, service) always gives
/// the same token, so a retry or a racing second run cannot create a second endpoint.
/// EC2 keeps a token for a while after the endpoint it made is gone and answers its reuse
/// with that endpoint (or IdempotentParameterMismatch), never a new one: `gone` (the
/// endpoints of the service in the VPC that are deleted, failed, ...) makes a replacement's
/// token differ from the one of the endpoint it replaces.
pub fn client_token(vpc_id: &str, service_name: &str, gone: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut seed = format!("esm-guard/{vpc_id}/{service_name}");
    if !gone.is_empty() {
        let mut gone = gone.to_vec();
        gone.sort();
        seed.push_str("/after/");
        seed.push_str(&gone.join(","));
    }
    let digest = Sha256::digest(seed);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

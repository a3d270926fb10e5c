//! Findings to actions: the narrow, additive changes of `RULES.md` that esm-guard may make,
//! and for everything else a manual step with the exact AWS CLI command.
//!
//! Planning is convergent: it simulates its own automated actions on a copy of the snapshot
//! and plans again until nothing new is needed, so one plan clears what it targets.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::index::Index;
use crate::model::{EventSourceMapping, ScalingMode, SgRule, Snapshot, VpcEndpoint};
use crate::rules::{
    evaluate_where, required_services, Finding, Fix, MappingReport, Report, RuleId,
};

/// Tags on everything esm-guard creates.
pub const TAG_MANAGED: &str = "esm-guard:managed";
pub const TAG_REASON: &str = "esm-guard:reason";
pub const TAG_MAPPING: &str = "esm-guard:esm-uuid";

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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingRef {
    pub esm_uuid: String,
    pub rule: RuleId,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ActionKind {
    AuthorizeIngress {
        group_id: String,
        port: u16,
        source_group_id: String,
        reason: RuleId,
    },
    AuthorizeEgress {
        group_id: String,
        port: u16,
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
        self.fixes.iter().any(|f| {
            f.esm_uuid == esm_uuid && f.rule == finding.rule && f.resources == finding.resources
        })
    }
}

/// The actions that clear each finding, looked up by (mapping, rule, resources): rendering
/// a report asks once per finding, and scanning every action's `fixes` each time made
/// rendering quadratic in the account's size.
pub struct ActionsByFinding<'a> {
    /// Per mapping: (rule, resources, action) for each finding an action clears; a
    /// mapping has a handful, so the inner list is scanned.
    by_mapping: HashMap<&'a str, Vec<Clears<'a>>>,
}

/// One finding (rule, resources) of a mapping, and an action that clears it.
type Clears<'a> = (RuleId, &'a [String], &'a Action);

impl<'a> ActionsByFinding<'a> {
    pub fn new(actions: &'a [Action]) -> Self {
        let mut by_mapping: HashMap<&str, Vec<Clears<'a>>> = HashMap::new();
        for action in actions {
            for f in &action.fixes {
                let entry = by_mapping.entry(f.esm_uuid.as_str()).or_default();
                let item = (f.rule, f.resources.as_slice(), action);
                // `fixes` is deduplicated after planning; stay exact if it is not.
                if !entry
                    .iter()
                    .any(|(r, res, a)| (*r, *res) == (item.0, item.1) && std::ptr::eq(*a, action))
                {
                    entry.push(item);
                }
            }
        }
        ActionsByFinding { by_mapping }
    }

    /// The actions that clear `finding` of `esm_uuid`, in the order of the action list.
    pub fn get<'s>(
        &'s self,
        esm_uuid: &str,
        finding: &'s Finding,
    ) -> impl Iterator<Item = &'a Action> + 's {
        self.by_mapping
            .get(esm_uuid)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|(rule, resources, _)| {
                *rule == finding.rule && *resources == finding.resources.as_slice()
            })
            .map(|(_, _, action)| *action)
    }
}

/// Plans the actions for every finding of `report` (which must come from `snapshot`).
pub fn plan(snapshot: &Snapshot, report: &Report) -> Vec<Action> {
    let mut actions: BTreeMap<String, Action> = BTreeMap::new();
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
                if let Some(known) = planned.get(&(finding.rule, &finding.fix)) {
                    if let Some(existing) = known.as_ref().and_then(|id| actions.get_mut(id)) {
                        existing.fixes.push(finding_ref(mapping, finding));
                    }
                    continue;
                }
                if let Some(id) = planned_endpoint(&actions, finding) {
                    // Every mapping of the VPC that lacks the service points at the same
                    // endpoint (same subnets, same policy): add the finding, and skip building
                    // a policy-sized action only to merge it away.
                    if let Some(existing) = actions.get_mut(&id) {
                        existing.fixes.push(finding_ref(mapping, finding));
                    }
                    continue;
                }
                let produced = actions_for(&index, &serving, mapping, finding);
                planned.insert(
                    (finding.rule, &finding.fix),
                    produced.first().map(|a| a.id.clone()),
                );
                for action in produced {
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
    let mut actions: Vec<Action> = actions.into_values().collect();
    for action in &mut actions {
        action.fixes.sort();
        action.fixes.dedup();
    }
    actions
}

/// The id of an automatic endpoint creation already planned that `finding` would plan
/// again: the same (VPC, service), and nothing about this mapping that would make its
/// own action manual instead.
fn planned_endpoint(actions: &BTreeMap<String, Action>, finding: &Finding) -> Option<String> {
    let Fix::CreateEndpoint {
        vpc_id,
        service,
        security_group_id,
        policy: Some(_),
        private_dns_off: None,
        ..
    } = &finding.fix
    else {
        return None;
    };
    if security_group_id.is_empty() {
        return None;
    }
    let id = format!("create-endpoint/{vpc_id}/{service}");
    actions.get(&id).is_some_and(|a| a.automatic).then_some(id)
}

fn finding_ref(mapping: &MappingReport, finding: &Finding) -> FindingRef {
    FindingRef {
        esm_uuid: mapping.uuid.clone(),
        rule: finding.rule,
        resources: finding.resources.clone(),
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

fn merge(index: &Index<'_>, existing: &mut Action, more: Action) {
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
fn endpoint_text(kind: &ActionKind, uuid: &str) -> Option<(String, String)> {
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

/// Applies an automated action to the model, as AWS would after it succeeds.
pub fn simulate(snapshot: &mut Snapshot, action: &Action) {
    simulate_all(snapshot, std::iter::once(action));
}

/// Applies automated actions to the model, finding each group by id once.
pub fn simulate_all<'a>(snapshot: &mut Snapshot, actions: impl Iterator<Item = &'a Action>) {
    let groups: HashMap<String, usize> = snapshot
        .security_groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for action in actions {
        apply_to_model(snapshot, &groups, action);
    }
}

fn apply_to_model(snapshot: &mut Snapshot, groups: &HashMap<String, usize>, action: &Action) {
    match &action.kind {
        ActionKind::AuthorizeIngress {
            group_id,
            port,
            source_group_id,
            ..
        } => {
            if let Some(&i) = groups.get(group_id) {
                snapshot.security_groups[i]
                    .ingress
                    .push(tcp_rule(*port, source_group_id));
            }
        }
        ActionKind::AuthorizeEgress {
            group_id,
            port,
            destination_group_id,
            ..
        } => {
            if let Some(&i) = groups.get(group_id) {
                snapshot.security_groups[i]
                    .egress
                    .push(tcp_rule(*port, destination_group_id));
            }
        }
        ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            service_name,
            subnet_ids,
            security_group_ids,
            policy_document,
            client_token,
            ..
        } => snapshot.vpc_endpoints.push(VpcEndpoint {
            id: format!("vpce-{client_token}"),
            vpc_id: vpc_id.clone(),
            service_name: service_name.clone(),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            subnet_ids: subnet_ids.clone(),
            security_group_ids: security_group_ids.clone(),
            route_table_ids: vec![],
            private_dns_enabled: true,
            policy_document: Some(policy_document.clone()),
            tags: Default::default(),
        }),
        ActionKind::Manual { .. } => {}
    }
}

fn tcp_rule(port: u16, group: &str) -> SgRule {
    SgRule {
        protocol: "tcp".into(),
        from_port: Some(i32::from(port)),
        to_port: Some(i32::from(port)),
        group_ids: vec![group.to_string()],
        ..SgRule::default()
    }
}

/// A token for `CreateVpcEndpoint`'s `ClientToken`: the same (VPC, service) always gives
/// the same token, so a retry or a racing second run cannot create a second endpoint.
pub fn client_token(vpc_id: &str, service_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("esm-guard/{vpc_id}/{service_name}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn actions_for(
    index: &Index<'_>,
    serving: &Serving<'_>,
    mapping: &MappingReport,
    finding: &Finding,
) -> Vec<Action> {
    let snapshot = index.snapshot;
    let fixes = vec![finding_ref(mapping, finding)];
    let manual = |key: &str, description: String, command: String| Action {
        id: format!("manual/{}/{key}", finding.rule),
        kind: ActionKind::Manual {
            rule: finding.rule,
            resources: finding.resources.clone(),
        },
        automatic: false,
        description,
        command,
        fixes: fixes.clone(),
    };
    let action = match &finding.fix {
        Fix::None => return vec![],
        Fix::SelfReference { group_id, .. } if group_id.is_empty() => return vec![],
        Fix::SelfReference { group_id, port, egress: false } => {
            authorize(false, group_id, *port, group_id, finding.rule, fixes)
        }
        Fix::SelfReference { group_id, port, egress: true } => {
            authorize(true, group_id, *port, group_id, finding.rule, fixes)
        }
        Fix::EndpointIngress { endpoint_group, esm_group, .. } if !endpoint_group.is_empty() && !esm_group.is_empty() => {
            authorize(false, endpoint_group, 443, esm_group, finding.rule, fixes)
        }
        Fix::EndpointEgress { esm_group, endpoint_group, .. } if !endpoint_group.is_empty() && !esm_group.is_empty() => {
            authorize(true, esm_group, 443, endpoint_group, finding.rule, fixes)
        }
        Fix::EndpointIngress { endpoint_id, .. } | Fix::EndpointEgress { endpoint_id, .. } => manual(
            endpoint_id,
            format!("Give endpoint {endpoint_id} and the mapping security groups, then allow TCP 443 between them"),
            format!("aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id}"),
        ),
        Fix::CreateEndpoint {
            vpc_id,
            service,
            subnet_ids,
            security_group_id,
            policy,
            private_dns_off,
            ..
        } => {
            let service_name = format!("com.amazonaws.{}.{service}", snapshot.region);
            // With private DNS the endpoint serves every mapping of the VPC, not only this
            // one: its subnets and policy must cover all that need the service.
            let (subnet_ids, policy) = match policy {
                Some(_) => serving.get(index, vpc_id, service),
                None => (subnet_ids.clone(), None),
            };
            let (subnet_ids, policy) = (&subnet_ids, &policy);
            if let Some(endpoint_id) = private_dns_off {
                manual(
                    &format!("{vpc_id}/{service}"),
                    format!("Enable private DNS on the existing {service} endpoint {endpoint_id} (esm-guard never switches private DNS itself)"),
                    format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled"),
                )
            } else {
                let token = client_token(vpc_id, &service_name);
                let policy_text = policy.clone().unwrap_or_else(|| {
                    format!("<a policy allowing what the mapping needs of {service}: the execution role is not known>")
                });
                let command = format!(
                    "aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {vpc_id} --service-name {service_name} --subnet-ids {} --security-group-ids {security_group_id} --private-dns-enabled --policy-document {} --client-token {token} --tag-specifications {}",
                    subnet_ids.join(" "),
                    shell_quote(&policy_text),
                    shell_quote(&tag_spec("vpc-endpoint", finding.rule, &mapping.uuid)),
                );
                // Private DNS needs both VPC DNS attributes: AWS rejects the endpoint without
                // them, and esm-guard never changes VPC attributes itself. Unread attributes
                // (a plain audit reads them only where an endpoint relies on them) do not
                // block: remediation reads them before it plans.
                let dns_ready = index.vpcs.get(vpc_id.as_str()).is_none_or(|v| {
                    v.dns_support != Some(false) && v.dns_hostnames != Some(false)
                });
                match policy {
                    Some(policy_document) if !security_group_id.is_empty() && dns_ready => {
                        let kind = ActionKind::CreateInterfaceEndpoint {
                            vpc_id: vpc_id.clone(),
                            service_name: service_name.clone(),
                            subnet_ids: subnet_ids.clone(),
                            security_group_ids: vec![security_group_id.clone()],
                            private_dns_enabled: true,
                            policy_document: policy_document.clone(),
                            client_token: token,
                        };
                        let (description, command) =
                            endpoint_text(&kind, &mapping.uuid).unwrap_or_default();
                        Action {
                            id: format!("create-endpoint/{vpc_id}/{service}"),
                            kind,
                            automatic: true,
                            description,
                            command,
                            fixes,
                        }
                    }
                    _ if !dns_ready => manual(
                        &format!("{vpc_id}/{service}"),
                        format!("Enable DNS support and DNS hostnames on {vpc_id}, which private DNS needs, then create an interface endpoint for {service_name} in it (esm-guard never changes VPC attributes)"),
                        format!(
                            "aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-support '{{\"Value\":true}}' && aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames '{{\"Value\":true}}' && {command}"
                        ),
                    ),
                    _ => manual(
                        &format!("{vpc_id}/{service}"),
                        if security_group_id.is_empty() {
                            format!("Create an interface endpoint for {service_name} in {vpc_id}; the mapping has no security group to give it")
                        } else {
                            format!("Create an interface endpoint for {service_name} in {vpc_id}; esm-guard cannot write its policy because the function's execution role is not known")
                        },
                        command,
                    ),
                }
            }
        }
        Fix::EgressAnywhere { esm_group } => manual(
            esm_group,
            format!("Allow TCP 443 out of {esm_group} to 0.0.0.0/0 for the NAT path (esm-guard never opens 0.0.0.0/0 itself)"),
            format!("aws ec2 authorize-security-group-egress --group-id {esm_group} --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{{CidrIp=0.0.0.0/0,Description=\"esm-guard: https-egress\"}}]'"),
        ),
        Fix::BrokerEgressCidr { group_id, port, hosts } => {
            let ranges: Vec<String> = hosts
                .iter()
                .map(|h| crate::rules::host_ipv4(h).map(|ip| format!("{{CidrIp={ip}/32}}")).unwrap_or_else(|| format!("{{CidrIp=<address range of {h}>}}")))
                .collect();
            manual(
                &format!("{group_id}/{port}"),
                format!("Allow TCP {port} out of {group_id} to the self-managed brokers {}", hosts.join(", ")),
                format!(
                    "aws ec2 authorize-security-group-egress --group-id {group_id} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},IpRanges=[{}]'",
                    ranges.join(",")
                ),
            )
        }
        Fix::EnablePrivateDns { endpoint_id } => manual(
            endpoint_id,
            format!("Enable private DNS on endpoint {endpoint_id}"),
            format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled"),
        ),
        Fix::Nat { subnet_id, availability_zone, route_table_id, .. } => {
            let public = public_subnet_in(index, availability_zone, subnet_id)
                .unwrap_or_else(|| format!("<a public subnet in {availability_zone}>"));
            manual(
                &format!("{route_table_id}/{subnet_id}"),
                format!(
                    "Create a public NAT gateway in public subnet {public} ({availability_zone}) and route 0.0.0.0/0 of {route_table_id} (serving {subnet_id}) to it (esm-guard never creates NAT gateways: they cost money and hold a public address)"
                ),
                format!(
                    "aws ec2 allocate-address --domain vpc && aws ec2 create-nat-gateway --subnet-id {public} --connectivity-type public --allocation-id <AllocationId from allocate-address> && aws ec2 replace-route --route-table-id {route_table_id} --destination-cidr-block 0.0.0.0/0 --nat-gateway-id <NatGatewayId from create-nat-gateway>"
                ),
            )
        }
        Fix::EnableVpcDns { vpc_id, support, hostnames } => {
            let mut commands = Vec::new();
            if *support {
                commands.push(format!("aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-support '{{\"Value\":true}}'"));
            }
            if *hostnames {
                commands.push(format!("aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames '{{\"Value\":true}}'"));
            }
            manual(vpc_id, format!("Enable DNS support and DNS hostnames on {vpc_id}"), commands.join(" && "))
        }
        Fix::EndpointSubnets { endpoint_id, subnet_ids } => manual(
            endpoint_id,
            format!("Add subnet(s) {} to endpoint {endpoint_id}", subnet_ids.join(", ")),
            format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --add-subnet-ids {}", subnet_ids.join(" ")),
        ),
        Fix::EndpointPolicy { endpoint_id, policy } => manual(
            endpoint_id,
            format!("Set the guide's restrictive policy on endpoint {endpoint_id} (check first that nothing else in the VPC relies on the current one)"),
            format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --policy-document {}", shell_quote(policy)),
        ),
        Fix::NaclEntry { acl_id, egress, port_from, port_to, cidr, rule_number } => manual(
            &format!("{acl_id}/{}/{port_from}-{port_to}/{cidr}", if *egress { "egress" } else { "ingress" }),
            format!(
                "Allow {} TCP {port_from}-{port_to} {} {cidr} in network ACL {acl_id}, as rule {rule_number}",
                if *egress { "outbound" } else { "inbound" },
                if *egress { "to" } else { "from" }
            ),
            format!(
                "aws ec2 create-network-acl-entry --network-acl-id {acl_id} {} --rule-number {rule_number} --protocol tcp --port-range From={port_from},To={port_to} --cidr-block {cidr} --rule-action allow",
                if *egress { "--egress" } else { "--ingress" }
            ),
        ),
        Fix::GrantIam { action } => manual(
            action,
            format!("Grant {action} to the role esm-guard runs as"),
            format!(
                "aws iam put-role-policy --role-name <esm-guard role> --policy-name esm-guard-{} --policy-document {}",
                action.replace(':', "-"),
                shell_quote(&serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}).to_string())
            ),
        ),
        Fix::ReviewMapping { uuid } if finding.rule == RuleId::ClusterNotFound => manual(
            uuid,
            format!("Mapping {uuid} points at a cluster that does not exist: delete it (or recreate it on the right cluster)"),
            format!("aws lambda delete-event-source-mapping --uuid {uuid}"),
        ),
        Fix::ReviewMapping { uuid } => manual(
            uuid,
            format!("Fix the other findings of {uuid}, then check that Lambda's LastProcessingResult clears"),
            format!("aws lambda get-event-source-mapping --uuid {uuid} --query LastProcessingResult"),
        ),
        Fix::EndpointState { endpoint_id } => manual(
            endpoint_id,
            format!("Endpoint {endpoint_id} is not available: wait if pending, accept it if pending acceptance, or delete and recreate it if failed or rejected"),
            format!("aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id} --query 'VpcEndpoints[0].State'"),
        ),
    };
    vec![action]
}

/// The on-demand mappings of each VPC, to size a new endpoint for all it will serve: with
/// private DNS it captures its service for the whole VPC, not only for the mapping that
/// lacked it. Built once per planning round; each (VPC, service) is worked out once.
struct Serving<'a> {
    by_vpc: HashMap<&'a str, Vec<(&'a MappingReport, &'a EventSourceMapping)>>,
    cache: RefCell<HashMap<(String, String), EndpointShape>>,
}

/// A new endpoint's subnets (one per AZ) and policy (`None` when it cannot be written).
type EndpointShape = (Vec<String>, Option<String>);

impl<'a> Serving<'a> {
    fn new(index: &Index<'a>, report: &'a Report) -> Self {
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
    fn get(&self, index: &Index<'_>, vpc_id: &str, service: &str) -> EndpointShape {
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
            match needed.guide_policy() {
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

fn authorize(
    egress: bool,
    group_id: &str,
    port: u16,
    peer_group: &str,
    reason: RuleId,
    fixes: Vec<FindingRef>,
) -> Action {
    let (kind, id, verb, toward) = if egress {
        (
            ActionKind::AuthorizeEgress {
                group_id: group_id.to_string(),
                port,
                destination_group_id: peer_group.to_string(),
                reason,
            },
            format!("authorize-egress/{group_id}/tcp-{port}/{peer_group}"),
            "egress",
            "to",
        )
    } else {
        (
            ActionKind::AuthorizeIngress {
                group_id: group_id.to_string(),
                port,
                source_group_id: peer_group.to_string(),
                reason,
            },
            format!("authorize-ingress/{group_id}/tcp-{port}/{peer_group}"),
            "ingress",
            "from",
        )
    };
    let uuid = fixes
        .first()
        .map(|f| f.esm_uuid.as_str())
        .unwrap_or_default();
    Action {
        id,
        command: format!(
            "aws ec2 authorize-security-group-{verb} --group-id {group_id} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},UserIdGroupPairs=[{{GroupId={peer_group},Description=\"esm-guard: {reason}\"}}]' --tag-specifications {}",
            shell_quote(&tag_spec("security-group-rule", reason, uuid))
        ),
        kind,
        automatic: true,
        description: format!("Allow TCP {port} {verb} on {group_id} {toward} {peer_group} ({reason})"),
        fixes,
    }
}

fn tag_spec(resource_type: &str, reason: RuleId, uuid: &str) -> String {
    format!(
        "ResourceType={resource_type},Tags=[{{Key={TAG_MANAGED},Value=true}},{{Key={TAG_REASON},Value={reason}}},{{Key={TAG_MAPPING},Value={uuid}}}]"
    )
}

fn public_subnet_in(index: &Index<'_>, az: &str, near: &str) -> Option<String> {
    let vpc = &index.subnets.get(near)?.vpc_id;
    let mut candidates: Vec<&str> = index
        .subnets_in(vpc)
        .iter()
        .filter(|s| s.availability_zone == az && index.is_public(s))
        .map(|s| s.id.as_str())
        .collect();
    candidates.sort_unstable();
    candidates.first().map(|s| s.to_string())
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

//! Each fix as an action: the narrow, additive changes of RULES.md as automatic actions,
//! everything else as a manual step with the exact AWS CLI command and the real ids.

use std::collections::{BTreeMap, BTreeSet};

use super::endpoints::{client_token, endpoint_action_id, endpoint_text, Serving};
use super::{finding_ref, Action, ActionKind, FindingRef};
use crate::index::Index;
use crate::rules::{Finding, Fix, MappingReport, RuleId};

/// Tags on everything esm-guard creates.
pub const TAG_MANAGED: &str = "esm-guard:managed";
pub const TAG_REASON: &str = "esm-guard:reason";
pub const TAG_MAPPING: &str = "esm-guard:esm-uuid";

/// The action that makes `fix` for `finding` of `mapping`: automatic where RULES.md allows,
/// else a manual step with the exact command.
pub(super) fn action_for(
    index: &Index<'_>,
    serving: &Serving<'_>,
    mapping: &MappingReport,
    finding: &Finding,
    fix: &Fix,
) -> Option<Action> {
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
    let action = match fix {
        Fix::SelfReference { group_id, .. } if group_id.is_empty() => return None,
        Fix::SelfReference { group_id, ports, egress } => {
            authorize(*egress, group_id, *ports, group_id, finding.rule, fixes)
        }
        Fix::EndpointIngress { endpoint_group, esm_group, .. } if !endpoint_group.is_empty() && !esm_group.is_empty() => {
            authorize(false, endpoint_group, (443, 443), esm_group, finding.rule, fixes)
        }
        Fix::EndpointEgress { esm_group, endpoint_group, .. } if !endpoint_group.is_empty() && !esm_group.is_empty() => {
            authorize(true, esm_group, (443, 443), endpoint_group, finding.rule, fixes)
        }
        Fix::EndpointIngress { endpoint_id, .. } | Fix::EndpointEgress { endpoint_id, .. } => manual(
            endpoint_id,
            format!("Give endpoint {endpoint_id} and the mapping security groups, then allow TCP 443 between them"),
            format!("aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id}"),
        ),
        Fix::CreateEndpoint {
            vpc_id,
            service,
            service_name,
            subnet_ids,
            security_group_id,
            policy,
            private_dns_off,
            gone,
            ..
        } => {
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
                let token = client_token(vpc_id, service_name, gone);
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
                            id: endpoint_action_id(vpc_id, service),
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
        // The rule number is chosen once the whole plan is known (`number_acl_entries`).
        Fix::NaclEntry { acl_id, egress, port_from, port_to, cidr, .. } => Action {
            id: acl_entry_id(acl_id, *egress, *port_from, *port_to, cidr),
            kind: ActionKind::Manual {
                rule: RuleId::NaclBlocks,
                resources: vec![acl_id.clone()],
            },
            automatic: false,
            description: String::new(),
            command: String::new(),
            fixes,
        },
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
        Fix::AwaitLambda { uuid } => manual(
            uuid,
            format!("The path esm-guard can see for {uuid} is fine: check that Lambda's LastProcessingResult clears on its next poll (minutes); if it does not, look at what esm-guard cannot see: the brokers' own firewall, the brokers' DNS names, the brokers themselves"),
            format!("aws lambda get-event-source-mapping --uuid {uuid} --query LastProcessingResult"),
        ),
        Fix::EndpointState { endpoint_id } => manual(
            endpoint_id,
            format!("Endpoint {endpoint_id} is not available: wait a few minutes if it is pending, accept it if it is pending acceptance, look at it otherwise"),
            format!("aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id} --query 'VpcEndpoints[0].State'"),
        ),
    };
    Some(action)
}

pub(super) fn authorize(
    egress: bool,
    group_id: &str,
    (port, last): (u16, u16),
    peer_group: &str,
    reason: RuleId,
    fixes: Vec<FindingRef>,
) -> Action {
    // One port keeps the action's shape (and id) as it always was; a range says its end.
    let to_port = (last != port).then_some(last);
    let ports = match to_port {
        Some(last) => format!("{port}-{last}"),
        None => port.to_string(),
    };
    let (kind, id, verb, toward) = if egress {
        (
            ActionKind::AuthorizeEgress {
                group_id: group_id.to_string(),
                port,
                to_port,
                destination_group_id: peer_group.to_string(),
                reason,
            },
            format!("authorize-egress/{group_id}/tcp-{ports}/{peer_group}"),
            "egress",
            "to",
        )
    } else {
        (
            ActionKind::AuthorizeIngress {
                group_id: group_id.to_string(),
                port,
                to_port,
                source_group_id: peer_group.to_string(),
                reason,
            },
            format!("authorize-ingress/{group_id}/tcp-{ports}/{peer_group}"),
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
            "aws ec2 authorize-security-group-{verb} --group-id {group_id} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={last},UserIdGroupPairs=[{{GroupId={peer_group},Description=\"esm-guard: {reason}\"}}]' --tag-specifications {}",
            shell_quote(&tag_spec("security-group-rule", reason, uuid))
        ),
        kind,
        automatic: true,
        description: format!("Allow TCP {ports} {verb} on {group_id} {toward} {peer_group} ({reason})"),
        fixes,
    }
}

pub(super) fn tag_spec(resource_type: &str, reason: RuleId, uuid: &str) -> String {
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

fn acl_entry_id(acl_id: &str, egress: bool, from: u16, to: u16, cidr: &str) -> String {
    format!(
        "manual/nacl-blocks/{acl_id}/{}/tcp-{from}-{to}/{cidr}",
        if egress { "egress" } else { "ingress" }
    )
}

/// Gives every planned network ACL entry a rule number: free in its ACL and direction,
/// distinct across the whole plan, inside the range its fix allows (above the denies it
/// must not override, below the entry that blocks), as close under the blocker as possible.
pub(super) fn number_acl_entries(
    index: &Index<'_>,
    actions: &mut BTreeMap<String, Action>,
    entries: &BTreeMap<String, Fix>,
) {
    let mut used: BTreeMap<(String, bool), BTreeSet<i32>> = BTreeMap::new();
    for (id, fix) in entries {
        let Fix::NaclEntry {
            acl_id,
            egress,
            port_from,
            port_to,
            cidr,
            above,
            below,
        } = fix
        else {
            continue;
        };
        let Some(action) = actions.get_mut(id) else {
            continue;
        };
        let taken = used.entry((acl_id.clone(), *egress)).or_insert_with(|| {
            index
                .snapshot
                .network_acls
                .iter()
                .filter(|a| a.id == *acl_id)
                .flat_map(|a| &a.entries)
                .filter(|e| e.egress == *egress)
                .map(|e| e.rule_number)
                .collect()
        });
        // Below a blocking entry: as close under it as possible. Below the final `*` rule:
        // after the last entry the ACL has, where a person would add it.
        let number = if *below == crate::rules::path::DEFAULT_RULE {
            let last = taken
                .iter()
                .copied()
                .filter(|n| *n < *below)
                .max()
                .unwrap_or(0)
                .max(*above);
            (last + 1..*below)
                .find(|n| !taken.contains(n))
                .or_else(|| (above + 1..*below).rev().find(|n| !taken.contains(n)))
        } else {
            (above + 1..*below).rev().find(|n| !taken.contains(n))
        };
        let (direction, flag, toward) = if *egress {
            ("outbound", "--egress", "to")
        } else {
            ("inbound", "--ingress", "from")
        };
        match number {
            Some(n) => {
                taken.insert(n);
                action.description = format!(
                    "Allow {direction} TCP {port_from}-{port_to} {toward} {cidr} in network ACL {acl_id}, as entry {n} (below the blocking entry {below}{})",
                    if *above > 0 { format!(", above the deny {above} it must not override") } else { String::new() }
                );
                action.command = format!(
                    "aws ec2 create-network-acl-entry --network-acl-id {acl_id} {flag} --rule-number {n} --protocol tcp --port-range From={port_from},To={port_to} --cidr-block {cidr} --rule-action allow"
                );
            }
            None => {
                action.description = format!(
                    "Allow {direction} TCP {port_from}-{port_to} {toward} {cidr} in network ACL {acl_id}: it must be numbered between {above} and {below}, and no number is free there; renumber the ACL's entries first"
                );
                action.command = format!(
                    "aws ec2 describe-network-acls --network-acl-ids {acl_id} --query 'NetworkAcls[0].Entries'"
                );
            }
        }
    }
}

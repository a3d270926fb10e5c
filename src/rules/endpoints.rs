//! The endpoint path: once a private-DNS interface endpoint captures a service, it decides.
//! Its name resolves to its ENIs in all its subnets, so from every ESM subnet each of them
//! is a path (RULES.md, "Path semantics").
//! Rules: `endpoint-unavailable`, `endpoint-pending`, `vpc-dns-disabled`,
//! `endpoint-sg-ingress`, `https-egress` (endpoint path), `path-degraded`,
//! `endpoint-az-coverage`, `endpoint-policy-denies`, `endpoint-policy-scope`,
//! `endpoint-policy-open`.

use std::collections::BTreeSet;

use super::flow::{report_alternatives, report_required, sg_leg, Hop, Pair, SgBlock};
use super::path::{Peer, SgPeer};
use super::services::{one_subnet_per_az, Caller, Service, LAMBDA_PRINCIPAL};
use super::{https_egress, nacl, Ctx, Findings, Fix, RuleId, Severity};
use crate::index::Index;
use crate::model::{EndpointLife, Subnet, VpcEndpoint};
use crate::policy::{Decision, KeyValue, Policy, Principal, Request};

pub(crate) fn check(
    ctx: &Ctx<'_, '_>,
    service: &Service,
    endpoint: &VpcEndpoint,
    findings: &mut Findings,
) {
    let index = ctx.index;
    let net = ctx.net;
    let label = service.label;

    match endpoint.life() {
        EndpointLife::Serving => {}
        EndpointLife::Pending => findings.push(
            RuleId::EndpointPending,
            Severity::Warn,
            &endpoint.id,
            vec![endpoint.id.clone()],
            format!(
                "Interface endpoint {} captures {label} for the VPC but is still {}: it serves within minutes, or is stuck (accept it if it waits for acceptance)",
                endpoint.id, endpoint.state
            ),
            Some(Fix::EndpointState {
                endpoint_id: endpoint.id.clone(),
            }),
        ),
        EndpointLife::Partial => {
            findings
                .add(RuleId::PathDegraded, Severity::Warn, service.short)
                .headline(|| {
                    format!(
                        "Interface endpoint {} ({label}) is partial: it serves in some of its subnets only, and EC2 does not say which, so some connections fail",
                        endpoint.id
                    )
                })
                .resource(&endpoint.id)
                .fix(Fix::EndpointState {
                    endpoint_id: endpoint.id.clone(),
                });
        }
        EndpointLife::Gone | EndpointLife::Other => findings.push(
            RuleId::EndpointUnavailable,
            Severity::Fail,
            &endpoint.id,
            vec![endpoint.id.clone()],
            format!(
                "Interface endpoint {} captures {label} for the VPC but its state is {:?}, not available: {label} is unreachable until it is available",
                endpoint.id, endpoint.state
            ),
            Some(Fix::EndpointState {
                endpoint_id: endpoint.id.clone(),
            }),
        ),
    }

    vpc_dns(ctx, findings);
    paths(ctx, service, endpoint, findings);

    let endpoint_azs: BTreeSet<&str> = endpoint
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.availability_zone.as_str())
        .collect();
    let uncovered: Vec<&Subnet> = ctx
        .subnets
        .iter()
        .copied()
        .filter(|s| !endpoint_azs.contains(s.availability_zone.as_str()))
        .collect();
    if !uncovered.is_empty() && !endpoint_azs.is_empty() {
        let azs: BTreeSet<&str> = uncovered
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect();
        let add = one_subnet_per_az(&uncovered);
        findings.push(
            RuleId::EndpointAzCoverage,
            Severity::Warn,
            &endpoint.id,
            vec![endpoint.id.clone()],
            format!(
                "Endpoint {} ({label}) has no subnet in {}, where the mapping has subnets: traffic crosses AZs and fails with that AZ; add subnet(s) {} to it",
                endpoint.id,
                azs.into_iter().collect::<Vec<_>>().join(", "),
                add.join(", ")
            ),
            Some(Fix::EndpointSubnets {
                endpoint_id: endpoint.id.clone(),
                subnet_ids: add,
            }),
        );
    }
    let _ = net;
    check_policy(ctx, service, endpoint, findings);
}

fn vpc_dns(ctx: &Ctx<'_, '_>, findings: &mut Findings) {
    let net = ctx.net;
    match ctx.index.vpcs.get(net.vpc_id.as_str()).map(|v| (v.dns_support, v.dns_hostnames)) {
        Some((Some(true), Some(true))) => {}
        Some((Some(support), Some(hostnames))) => findings.push(
            RuleId::VpcDnsDisabled,
            Severity::Fail,
            &net.vpc_id,
            vec![net.vpc_id.clone()],
            format!(
                "VPC {} has {}, which private DNS for interface endpoints needs: enable enableDnsSupport and enableDnsHostnames",
                net.vpc_id,
                [(!support).then_some("enableDnsSupport off"), (!hostnames).then_some("enableDnsHostnames off")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Some(Fix::EnableVpcDns { vpc_id: net.vpc_id.clone(), support: !support, hostnames: !hostnames }),
        ),
        _ => findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            &net.vpc_id,
            vec![net.vpc_id.clone()],
            format!(
                "The DNS attributes of VPC {} were not read (ec2:DescribeVpcAttribute), so whether endpoint private DNS resolves cannot be judged",
                net.vpc_id
            ),
            Some(Fix::GrantIam { action: "ec2:DescribeVpcAttribute".into() }),
        ),
    }
}

/// From every ESM subnet to every ENI of the endpoint: the mapping's egress, the ACLs of
/// both subnets both ways, the endpoint's ingress.
fn paths(ctx: &Ctx<'_, '_>, service: &Service, endpoint: &VpcEndpoint, findings: &mut Findings) {
    let index = ctx.index;
    let net = ctx.net;
    let label = service.label;
    let first = net.first_group().unwrap_or_default().to_string();
    let mut missing: Vec<Hop> = Vec::new();
    let mut enis: Vec<&Subnet> = Vec::new();
    for id in &endpoint.subnet_ids {
        match index.subnets.get(id.as_str()) {
            Some(s) => enis.push(s),
            None => missing.push(Hop::unknown(
                "ec2:DescribeSubnets",
                &format!("subnet {id} of endpoint {}", endpoint.id),
                &format!("the path to {label}"),
            )),
        }
    }
    if endpoint.subnet_ids.is_empty() {
        missing.push(Hop::unknown(
            "ec2:DescribeVpcEndpoints",
            &format!("the subnets of endpoint {}", endpoint.id),
            &format!("the path to {label}"),
        ));
    }
    if endpoint.security_group_ids.is_empty() {
        // Every interface endpoint has at least one group (the VPC's default otherwise).
        missing.push(Hop::unknown(
            "ec2:DescribeVpcEndpoints",
            &format!("the security groups of endpoint {}", endpoint.id),
            &format!("the path to {label}"),
        ));
    }
    if !missing.is_empty() {
        report_required(findings, &missing);
        return;
    }
    let endpoint_group = endpoint
        .security_group_ids
        .first()
        .cloned()
        .unwrap_or_default();
    for from in &ctx.subnets {
        let mut pairs = Vec::new();
        for to in &enis {
            let mut hops: Vec<Hop> = Vec::new();
            hops.extend(https_egress::to_endpoint(ctx, endpoint, label, from, to));
            hops.extend(nacl::subnet_pair(
                ctx,
                from,
                to,
                (443, 443),
                &format!("TCP 443 to the {label} endpoint {}", endpoint.id),
            ));
            let from_enis = SgPeer {
                groups: &net.security_group_ids,
                addresses: Peer::Net(from.cidr),
            };
            hops.extend(sg_leg(
                ctx,
                &endpoint.security_group_ids,
                false,
                (443, 443),
                from_enis,
                &format!("the mapping's ENIs in {}", from.id),
                || SgBlock {
                    rule: RuleId::EndpointSgIngress,
                    subject: endpoint.id.clone(),
                    resources: vec![endpoint.id.clone(), endpoint_group.clone()],
                    headline: format!(
                        "Endpoint {} ({label}) has security group(s) {} that admit no TCP 443 from the mapping's security group(s) {}: add an inbound rule for TCP 443 on {endpoint_group} from {first}",
                        endpoint.id,
                        endpoint.security_group_ids.join(", "),
                        net.security_group_ids.join(", ")
                    ),
                    detail: format!("from subnet {} to its ENI in {}", from.id, to.id),
                    fix: Some(Fix::EndpointIngress {
                        endpoint_id: endpoint.id.clone(),
                        endpoint_group: endpoint_group.clone(),
                        esm_group: first.clone(),
                    }),
                },
            ));
            pairs.push(Pair {
                name: format!(
                    "from subnet {} to the ENI of {} in {}",
                    from.id, endpoint.id, to.id
                ),
                hops,
            });
        }
        report_alternatives(findings, label, &from.id, &pairs);
    }
}

/// The condition keys known for a request through `endpoint` by `caller`.
fn context<'a>(
    endpoint: &'a VpcEndpoint,
    caller: Caller,
    role: Option<&'a str>,
    account: Option<&'a str>,
) -> Vec<(&'static str, KeyValue<'a>)> {
    let mut keys = vec![
        ("aws:sourcevpc", KeyValue::Is(endpoint.vpc_id.as_str())),
        ("aws:sourcevpce", KeyValue::Is(endpoint.id.as_str())),
    ];
    match (caller, role) {
        // Keys only IAM principals carry are absent for a service principal.
        (Caller::LambdaService, _) => keys.extend([
            ("aws:principalaccount", KeyValue::Absent),
            ("aws:principalorgid", KeyValue::Absent),
            ("aws:principalarn", KeyValue::Absent),
            ("aws:principalisawsservice", KeyValue::Is("true")),
            ("aws:principalservicename", KeyValue::Is(LAMBDA_PRINCIPAL)),
        ]),
        (Caller::ExecutionRole, Some(role)) => {
            keys.extend([
                ("aws:principalarn", KeyValue::Is(role)),
                ("aws:principalisawsservice", KeyValue::Is("false")),
                ("aws:principalservicename", KeyValue::Absent),
            ]);
            if let Some(account) = account {
                keys.push(("aws:principalaccount", KeyValue::Is(account)));
            }
        }
        // The role is not known: neither are its keys.
        (Caller::ExecutionRole, None) => {}
    }
    keys
}

/// How `policy` decides each of `service`'s uses through `endpoint`.
fn decisions(
    policy: &Policy,
    service: &Service,
    endpoint: &VpcEndpoint,
    role: Option<&str>,
) -> Vec<Decision> {
    let account = role
        .and_then(|r| r.split(':').nth(4))
        .filter(|a| !a.is_empty());
    service
        .uses
        .iter()
        .map(|u| {
            let keys = context(endpoint, u.caller, role, account);
            let principal = match (u.caller, role) {
                (Caller::LambdaService, _) => Principal::Service(LAMBDA_PRINCIPAL),
                (Caller::ExecutionRole, Some(role)) => Principal::Aws(role),
                (Caller::ExecutionRole, None) => Principal::Unknown,
            };
            policy.evaluate(&Request {
                action: u.action,
                principal,
                resource: u.resource.as_deref(),
                context: &keys,
            })
        })
        .collect()
}

/// Whether the execution role would change how `endpoint`'s policy decides `service`'s
/// uses: then the collector reads it (one call per function).
pub fn role_decides(index: &Index<'_>, service: &Service, endpoint: &VpcEndpoint) -> bool {
    match index.endpoint_policy(endpoint) {
        Some(Ok(policy)) => decisions(policy, service, endpoint, None)
            .iter()
            .any(|d| matches!(d, Decision::Undecidable(_))),
        _ => false,
    }
}

fn check_policy(
    ctx: &Ctx<'_, '_>,
    service: &Service,
    endpoint: &VpcEndpoint,
    findings: &mut Findings,
) {
    let label = service.label;
    let role = ctx.esm.execution_role.as_deref();
    // Built only for a finding: most endpoints pass, and the role policy is JSON work.
    let fix = || {
        service
            .guide_policy(role)
            .ok()
            .map(|policy| Fix::EndpointPolicy {
                endpoint_id: endpoint.id.clone(),
                policy,
            })
    };
    let policy = match ctx.index.endpoint_policy(endpoint) {
        None => {
            findings.push(
                RuleId::InsufficientData,
                Severity::Unknown,
                &format!("{}/policy", endpoint.id),
                vec!["ec2:DescribeVpcEndpoints".into(), endpoint.id.clone()],
                format!(
                    "The policy of endpoint {} ({label}) was not in the answer of ec2:DescribeVpcEndpoints (AWS returns one for every endpoint of a service that takes a policy), so whether it allows the mapping cannot be judged",
                    endpoint.id
                ),
                None,
            );
            return;
        }
        Some(Err(e)) => {
            findings.push(
                RuleId::EndpointPolicyDenies,
                Severity::Warn,
                &endpoint.id,
                vec![endpoint.id.clone()],
                format!(
                    "The policy of endpoint {} ({label}) cannot be judged: {e}",
                    endpoint.id
                ),
                fix(),
            );
            return;
        }
        Some(Ok(p)) => p,
    };
    if policy.is_full_access() {
        findings.push(
            RuleId::EndpointPolicyOpen,
            Severity::Info,
            &endpoint.id,
            vec![endpoint.id.clone()],
            format!(
                "Endpoint {} ({label}) keeps the default full-access policy; the guide's best practice restricts it to what the mapping needs",
                endpoint.id
            ),
            fix(),
        );
    }
    let decided = decisions(policy, service, endpoint, role);
    let mut all_allowed = true;
    for (u, decision) in service.uses.iter().zip(decided) {
        let who = match (u.caller, role) {
            (Caller::LambdaService, _) => "the Lambda service principal".to_string(),
            (Caller::ExecutionRole, None) => {
                "the function's execution role (not known)".to_string()
            }
            (Caller::ExecutionRole, Some(role)) => format!("the execution role {role}"),
        };
        let on = u
            .resource
            .as_deref()
            .unwrap_or("the execution role (not known)");
        let (severity, why) = match decision {
            Decision::Allow => continue,
            Decision::ExplicitDeny(sid) => (
                Severity::Fail,
                format!(
                    "denies it explicitly{}",
                    sid.map(|s| format!(" (statement {s:?})"))
                        .unwrap_or_default()
                ),
            ),
            Decision::ImplicitDeny => (Severity::Fail, "allows it in no statement".to_string()),
            Decision::Undecidable(reasons) => (
                Severity::Warn,
                format!(
                    "allows it only under conditions esm-guard cannot judge: {}",
                    reasons.join("; ")
                ),
            ),
        };
        all_allowed = false;
        let draft = findings.add(RuleId::EndpointPolicyDenies, severity, &endpoint.id);
        draft
            .headline(|| {
                format!(
                    "The policy of endpoint {} ({label}) does not allow what the mapping needs",
                    endpoint.id
                )
            })
            .resource(&endpoint.id)
            .detail(format!("{} for {who} on {on}: it {why}", u.action));
        if let Some(fix) = fix() {
            draft.fix(fix);
        }
    }
    // The guide: the Lambda and STS endpoint policies use "Resource": "*".
    if all_allowed && service.resource_star && !allows_any_resource(policy, service, endpoint, role)
    {
        findings.push(
            RuleId::EndpointPolicyScope,
            Severity::Warn,
            &endpoint.id,
            vec![endpoint.id.clone()],
            format!(
                "The policy of endpoint {} ({label}) allows what the mapping needs only on specific resources; the guide's policy for this endpoint uses \"Resource\": \"*\" (a renamed function or a new execution role would break the mapping)",
                endpoint.id
            ),
            fix(),
        );
    }
}

/// Whether the uses are allowed whatever resource they name: only `*` (or a `NotResource`)
/// then matches.
fn allows_any_resource(
    policy: &Policy,
    service: &Service,
    endpoint: &VpcEndpoint,
    role: Option<&str>,
) -> bool {
    const ANY: &str = "\u{0}esm-guard:any-resource";
    let mut any = service.clone();
    for u in &mut any.uses {
        u.resource = Some(ANY.to_string());
    }
    decisions(policy, &any, endpoint, role)
        .iter()
        .all(|d| *d == Decision::Allow)
}

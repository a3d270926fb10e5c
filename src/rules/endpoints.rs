//! The endpoint path: once a private-DNS interface endpoint captures a service, it decides.
//! Rules: `endpoint-unavailable`, `vpc-dns-disabled`, `endpoint-sg-ingress`, `https-egress`
//! (endpoint path), `endpoint-az-coverage`, `endpoint-policy-denies`, `endpoint-policy-open`.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

use super::service_path::{one_subnet_per_az, Service};
use super::sg::{admits, Peer};
use super::{Ctx, Findings, Fix, RuleId, Severity};
use crate::index::Index;
use crate::model::{Subnet, VpcEndpoint};
use crate::policy::{Decision, Principal, Request};

pub(crate) fn check(
    ctx: &Ctx<'_, '_>,
    service: &Service,
    endpoint: &VpcEndpoint,
    findings: &mut Findings,
) {
    let index = ctx.index;
    let net = ctx.net;
    let label = service.label;
    let first = net.first_group().unwrap_or_default().to_string();

    if endpoint.state != "available" {
        findings.push(
            RuleId::EndpointUnavailable,
            Severity::Fail,
            vec![endpoint.id.clone()],
            format!(
                "Interface endpoint {} captures {label} for the VPC but its state is {:?}, not available: {label} is unreachable until it is available (recreate it if it failed or was rejected)",
                endpoint.id, endpoint.state
            ),
            Fix::EndpointState { endpoint_id: endpoint.id.clone() },
        );
    }

    match index.vpcs.get(net.vpc_id.as_str()).map(|v| (v.dns_support, v.dns_hostnames)) {
        Some((Some(true), Some(true))) => {}
        Some((Some(support), Some(hostnames))) => findings.push(
            RuleId::VpcDnsDisabled,
            Severity::Fail,
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
            Fix::EnableVpcDns { vpc_id: net.vpc_id.clone(), support: !support, hostnames: !hostnames },
        ),
        _ => findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            vec![net.vpc_id.clone()],
            format!(
                "The DNS attributes of VPC {} were not read (ec2:DescribeVpcAttribute), so whether endpoint private DNS resolves cannot be judged",
                net.vpc_id
            ),
            Fix::GrantIam { action: "ec2:DescribeVpcAttribute".into() },
        ),
    }

    let esm_subnets: Vec<&Subnet> = net
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()).copied())
        .collect();
    let endpoint_group = endpoint
        .security_group_ids
        .first()
        .cloned()
        .unwrap_or_default();
    let from_enis = Peer {
        groups: &net.security_group_ids,
        cidrs: esm_subnets.iter().map(|s| s.cidr).collect(),
        unknown_address: false,
    };
    if !admits(
        index.groups(&endpoint.security_group_ids),
        false,
        443,
        &from_enis,
    ) {
        findings.push(
            RuleId::EndpointSgIngress,
            Severity::Fail,
            vec![endpoint.id.clone(), endpoint_group.clone()],
            format!(
                "Endpoint {} ({label}) has security group(s) {} that admit no TCP 443 from the mapping's security group(s) {}: add an inbound rule for TCP 443 on {endpoint_group} from {first}",
                endpoint.id,
                endpoint.security_group_ids.join(", "),
                net.security_group_ids.join(", ")
            ),
            Fix::EndpointIngress {
                endpoint_id: endpoint.id.clone(),
                endpoint_group: endpoint_group.clone(),
                esm_group: first.clone(),
            },
        );
    }

    let endpoint_cidrs: Vec<Ipv4Net> = endpoint
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.cidr)
        .collect();
    let to_endpoint = Peer {
        groups: &endpoint.security_group_ids,
        cidrs: endpoint_cidrs,
        unknown_address: false,
    };
    if !admits(
        index.groups(&net.security_group_ids),
        true,
        443,
        &to_endpoint,
    ) {
        findings.push(
            RuleId::HttpsEgress,
            Severity::Fail,
            vec![first.clone(), endpoint.id.clone()],
            format!(
                "The mapping's security group(s) {} let no TCP 443 out to endpoint {} ({label}): add an outbound rule for TCP 443 on {first} to {endpoint_group}",
                net.security_group_ids.join(", "),
                endpoint.id
            ),
            Fix::EndpointEgress {
                esm_group: first.clone(),
                endpoint_id: endpoint.id.clone(),
                endpoint_group,
            },
        );
    }

    let endpoint_azs: BTreeSet<&str> = endpoint
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()))
        .map(|s| s.availability_zone.as_str())
        .collect();
    let uncovered: Vec<&Subnet> = esm_subnets
        .iter()
        .copied()
        .filter(|s| !endpoint_azs.contains(s.availability_zone.as_str()))
        .collect();
    if !uncovered.is_empty() {
        let azs: BTreeSet<&str> = uncovered
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect();
        let add = one_subnet_per_az(&uncovered);
        findings.push(
            RuleId::EndpointAzCoverage,
            Severity::Warn,
            vec![endpoint.id.clone()],
            format!(
                "Endpoint {} ({label}) has no subnet in {}, where the mapping has subnets: traffic crosses AZs and fails with that AZ; add subnet(s) {} to it",
                endpoint.id,
                azs.into_iter().collect::<Vec<_>>().join(", "),
                add.join(", ")
            ),
            Fix::EndpointSubnets { endpoint_id: endpoint.id.clone(), subnet_ids: add },
        );
    }

    check_policy(ctx.index, service, endpoint, findings);
}

fn check_policy(
    index: &Index<'_>,
    service: &Service,
    endpoint: &VpcEndpoint,
    findings: &mut Findings,
) {
    let label = service.label;
    // Built only for a finding: most endpoints pass, and the role policy is JSON work.
    let fix = || match service.guide_policy() {
        Ok(policy) => Fix::EndpointPolicy {
            endpoint_id: endpoint.id.clone(),
            policy,
        },
        Err(_) => Fix::None,
    };
    let Some(parsed) = index.endpoint_policy(endpoint) else {
        findings.push(
            RuleId::EndpointPolicyOpen,
            Severity::Info,
            vec![endpoint.id.clone()],
            open_message(endpoint, label),
            fix(),
        );
        return;
    };
    let policy = match parsed {
        Ok(p) => p,
        Err(e) => {
            findings.push(
                RuleId::EndpointPolicyDenies,
                Severity::Warn,
                vec![endpoint.id.clone()],
                format!(
                    "The policy of endpoint {} ({label}) cannot be judged: {e}",
                    endpoint.id
                ),
                fix(),
            );
            return;
        }
    };
    if policy.is_full_access() {
        findings.push(
            RuleId::EndpointPolicyOpen,
            Severity::Info,
            vec![endpoint.id.clone()],
            open_message(endpoint, label),
            fix(),
        );
    }
    for u in &service.uses {
        let principal = match &u.role {
            None => Principal::Service("lambda.amazonaws.com"),
            Some(role) if role.is_empty() => Principal::Unknown,
            Some(role) => Principal::Aws(role),
        };
        let who = match &u.role {
            None => "the Lambda service principal".to_string(),
            Some(role) if role.is_empty() => {
                "the function's execution role (not known)".to_string()
            }
            Some(role) => format!("the execution role {role}"),
        };
        let request = Request {
            action: u.action,
            principal,
            resource: &u.resource,
        };
        let (severity, why) = match policy.evaluate(&request) {
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
        findings.push(
            RuleId::EndpointPolicyDenies,
            severity,
            vec![endpoint.id.clone()],
            format!(
                "The policy of endpoint {} ({label}) must allow {} for {who} on {}, but {why}: allow it (the guide's policy for this endpoint is shown in the fix)",
                endpoint.id, u.action, u.resource
            ),
            fix(),
        );
    }
}

fn open_message(endpoint: &VpcEndpoint, label: &str) -> String {
    format!(
        "Endpoint {} ({label}) keeps the default full-access policy; the guide's best practice restricts it to what the mapping needs",
        endpoint.id
    )
}

//! Lookups shared by the engine tests.

use esm_guard::model::{Snapshot, VpcEndpoint};
use esm_guard::rules::MappingReport;
use esm_guard::sample::Sample;
use esm_guard::{evaluate, Finding, Report, RuleId, Severity};

/// The report of one mapping; panics with the whole report when it is missing.
pub fn mapping<'r>(report: &'r Report, uuid: &str) -> &'r MappingReport {
    report
        .mapping(uuid)
        .unwrap_or_else(|| panic!("no mapping {uuid} in {report:#?}"))
}

/// The findings of `rule` on mapping `uuid`.
pub fn findings<'r>(report: &'r Report, uuid: &str, rule: RuleId) -> Vec<&'r Finding> {
    mapping(report, uuid)
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .collect()
}

/// The rule ids found on mapping `uuid`, sorted, once each.
pub fn rules_of(report: &Report, uuid: &str) -> Vec<RuleId> {
    let mut rules: Vec<RuleId> = mapping(report, uuid)
        .findings
        .iter()
        .map(|f| f.rule)
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

pub fn fires(snapshot: &Snapshot, uuid: &str, rule: RuleId) -> bool {
    !findings(&evaluate(snapshot), uuid, rule).is_empty()
}

/// Checks that `rule` fires on `uuid` exactly as described, and that its message names
/// every resource; returns the finding, or what is wrong.
pub fn check_finding<'r>(
    report: &'r Report,
    uuid: &str,
    rule: RuleId,
    severity: Severity,
    resources: &[String],
) -> Result<&'r Finding, String> {
    let mut expected = resources.to_vec();
    expected.sort();
    let found = findings(report, uuid, rule);
    let finding = found
        .iter()
        .find(|f| f.resources == expected)
        .ok_or_else(|| {
            format!(
                "{rule} on {expected:?} not found for {uuid}; its findings: {:#?}",
                mapping(report, uuid).findings
            )
        })?;
    if finding.severity != severity {
        return Err(format!(
            "{rule} has severity {:?}, not {severity:?}",
            finding.severity
        ));
    }
    if let Some(r) = finding
        .resources
        .iter()
        .find(|r| !finding.message.contains(r.as_str()))
    {
        return Err(format!(
            "the message of {rule} does not name {r}: {}",
            finding.message
        ));
    }
    Ok(finding)
}

pub fn assert_finding<'r>(
    report: &'r Report,
    uuid: &str,
    rule: RuleId,
    severity: Severity,
    resources: &[String],
) -> &'r Finding {
    check_finding(report, uuid, rule, severity, resources).unwrap_or_else(|e| panic!("{e}"))
}

/// The broker subnets of the sample's first (provisioned) cluster.
pub fn cluster_subnets(s: &Sample) -> Vec<String> {
    match &s.snapshot.clusters[0].kind {
        esm_guard::model::ClusterKind::Provisioned { broker_subnets, .. } => broker_subnets.clone(),
        esm_guard::model::ClusterKind::Serverless { vpc_configs } => vpc_configs
            .iter()
            .flat_map(|c| c.subnet_ids.clone())
            .collect(),
    }
}

/// The one security group of the sample, or the first.
pub fn first_group(s: &Sample) -> String {
    s.snapshot.security_groups[0].id.clone()
}

pub fn subnet_ids(s: &Sample) -> Vec<String> {
    s.snapshot.subnets.iter().map(|s| s.id.clone()).collect()
}

pub fn vpc_id(s: &Sample) -> String {
    s.snapshot.vpcs[0].id.clone()
}

pub fn cluster_arn(s: &Sample) -> String {
    s.snapshot.clusters[0].arn.clone()
}

/// The endpoint for `service` (`lambda`, `sts`, ...).
pub fn endpoint_of<'s>(s: &'s Sample, service: &str) -> &'s VpcEndpoint {
    s.snapshot
        .vpc_endpoints
        .iter()
        .find(|e| e.short_service() == service)
        .unwrap_or_else(|| panic!("no {service} endpoint"))
}

/// The id of the route table explicitly associated with `subnet`.
pub fn route_table_id(s: &Sample, subnet: &str) -> String {
    s.snapshot
        .route_tables
        .iter()
        .find(|t| t.subnet_ids.iter().any(|x| x == subnet))
        .map(|t| t.id.clone())
        .expect("subnet has a route table")
}

/// The guide's restrictive policy for Lambda or STS, as the guide prints it.
pub fn guide_service_policy(action: &str) -> String {
    serde_json::json!({
        "Statement": [{
            "Action": action,
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Resource": "*"
        }]
    })
    .to_string()
}

//! The alert's tests, by concern; the fixtures they share are here.

mod decide;
mod escaping;
mod messages;

use crate::alert::decide::AlertKind;
use crate::alert::decide::{AlertState, Problem};
use crate::alert::AlertContext;
use crate::model::ScalingMode;
use crate::plan::{Action, ActionKind, FindingRef};
use crate::remediation::Mode as Remediation;
use crate::rules::{
    Finding, MappingReport, NetworkSummary, RuleId, Severity, SourceSummary, Verdict,
};

pub(super) const UUID: &str = "3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c";
pub(super) const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders-consumer";

pub(super) fn finding(
    rule: RuleId,
    severity: Severity,
    resources: &[&str],
    message: &str,
) -> Finding {
    Finding {
        id: format!("{rule}/{}", resources.join(",")),
        rule,
        severity,
        resources: resources.iter().map(|s| s.to_string()).collect(),
        message: message.to_string(),
        fixes: vec![],
    }
}

pub(super) fn mapping(findings: Vec<Finding>) -> MappingReport {
    MappingReport {
        uuid: UUID.into(),
        arn: Some(format!("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{UUID}")),
        function_arn: FUNCTION.into(),
        source: SourceSummary::Msk {
            cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/orders-msk/5f8e2a1c-3b4d-4e6f-9a0b-1c2d3e4f5a6b-2".into(),
        },
        mode: ScalingMode::OnDemand,
        network: Some(NetworkSummary {
            vpc_id: Some("vpc-0a1b2c3d4e5f60001".into()),
            subnet_ids: vec!["subnet-0a1b2c3d4e5f61001".into(), "subnet-0a1b2c3d4e5f61002".into()],
            security_group_ids: vec!["sg-0a1b2c3d4e5f62001".into()],
            broker_ports: vec![9098],
            broker_port_ranges: vec![],
        }),
        verdict: Verdict::from_severities(findings.iter().map(|f| f.severity)),
        findings,
        lambda_report: None,
        account: None,
        account_name: None,
    }
}

pub(super) fn broken() -> MappingReport {
    mapping(vec![
        finding(
            RuleId::NoServicePath,
            Severity::Fail,
            &["subnet-0a1b2c3d4e5f61001", "subnet-0a1b2c3d4e5f61002"],
            "Subnets subnet-0a1b2c3d4e5f61001, subnet-0a1b2c3d4e5f61002 reach neither Lambda nor STS: no interface endpoint with private DNS and no NAT route",
        ),
        finding(RuleId::EndpointPolicyOpen, Severity::Info, &["vpce-1"], "advice"),
    ])
}

pub(super) fn action() -> Action {
    Action {
        id: "create-endpoint/vpc-0a1b2c3d4e5f60001/lambda".into(),
        kind: ActionKind::Manual { rule: RuleId::NoServicePath, resources: vec![] },
        automatic: true,
        description: "Create an interface endpoint for com.amazonaws.us-east-1.lambda in vpc-0a1b2c3d4e5f60001".into(),
        command: "aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id vpc-0a1b2c3d4e5f60001 --service-name com.amazonaws.us-east-1.lambda && echo <done>".into(),
        fixes: vec![FindingRef {
            esm_uuid: UUID.into(),
            finding: "no-service-path/subnet-0a1b2c3d4e5f61001,subnet-0a1b2c3d4e5f61002".into(),
            rule: RuleId::NoServicePath,
        }],
    }
}

pub(super) fn ctx<'a>(
    kind: AlertKind,
    m: Option<&'a MappingReport>,
    p: Option<&'a Problem<'a>>,
    prev: Option<&'a AlertState>,
    actions: &'a [Action],
) -> AlertContext<'a> {
    AlertContext {
        kind,
        region: "us-east-1",
        uuid: UUID,
        mapping: m,
        problem: p,
        previous: prev,
        actions,
        remediation: Remediation::Off,
        results: vec![],
        healing: None,
        min_severity: Severity::Warn,
        renotify_hours: 24,
        now: 1_700_000_000,
    }
}

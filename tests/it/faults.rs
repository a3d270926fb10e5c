//! Faults injected at the emulator (its fault rules act as the fault-injecting layer in
//! front of moto): never a false pass, retries bounded, the deadline respected.

use std::time::Duration;

use esm_guard::aws::{collect, Clients, CollectError, CollectOptions, Scope};
use esm_guard::rules::{evaluate, Report, RuleId, Verdict};
use serde_json::json;

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};

/// A healthy provisioned mapping: it passes when every fact can be read.
async fn healthy(account: &Account, octet: u8) -> String {
    let b = Builder::new(account);
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = b.cluster_group(&vpc, "cluster", 9098).await;
    let cluster = b.msk_cluster("c", &subnets, &[sg], Auth::Iam).await;
    let f = b.function("f").await;
    b.msk_mapping(&f, &cluster, true, None).await
}

async fn audit(account: &Account, deadline: Option<Duration>) -> Result<Report, CollectError> {
    let clients = Clients::new(&account.config);
    let options = CollectOptions {
        scope: Scope::default(),
        for_remediation: false,
        deadline: deadline.map(|d| tokio::time::Instant::now() + d),
    };
    let result = collect(&clients, &options, &|_| {}).await;
    account.clear_faults();
    result.map(|c| evaluate(&c.snapshot))
}

fn unknown_naming(report: &Report, uuid: &str, call: &str) {
    let m = report.mapping(uuid).expect("mapping");
    assert_eq!(m.verdict, Verdict::Unknown, "{:?}", m.findings);
    assert!(
        m.findings
            .iter()
            .any(|f| f.rule == RuleId::InsufficientData && f.message.contains(call)),
        "{:?}",
        m.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_throttling_burst_is_retried_and_passes() {
    let account = account().await;
    let uuid = healthy(&account, 40).await;
    for (service, action, code) in [
        ("ec2", "DescribeRouteTables", "RequestLimitExceeded"),
        ("kafka", "DescribeClusterV2", "ThrottlingException"),
        ("ec2", "DescribeSecurityGroups", "ServiceUnavailable"),
    ] {
        let status = if code == "ServiceUnavailable" {
            503
        } else {
            400
        };
        account.clear_requests();
        account.fault(json!({"service": service, "action": action, "status": status, "code": code, "count": 2}));
        let report = audit(&account, None).await.expect("retried past the burst");
        assert_eq!(
            report.mapping(&uuid).unwrap().verdict,
            Verdict::Pass,
            "{code}"
        );
        let attempts = account
            .requests()
            .iter()
            .filter(|r| r.ends_with(&format!(":{action}")))
            .count();
        assert_eq!(
            attempts, 3,
            "{code}: two failures, then the retry that succeeds"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_past_the_retries_is_unknown_never_pass() {
    let account = account().await;
    let uuid = healthy(&account, 41).await;
    account.clear_requests();
    account.fault(json!({"service": "ec2", "action": "DescribeNetworkAcls", "status": 400, "code": "RequestLimitExceeded"}));
    let report = audit(&account, None).await.expect("a gap, not an error");
    unknown_naming(&report, &uuid, "ec2:DescribeNetworkAcls");
    let attempts = account
        .requests()
        .iter()
        .filter(|r| r.ends_with(":DescribeNetworkAcls"))
        .count();
    assert_eq!(attempts, 3, "bounded: the test config allows 3 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_on_each_call_is_unknown_naming_the_call() {
    let account = account().await;
    let uuid = healthy(&account, 42).await;
    for (service, action, code) in [
        ("kafka", "DescribeClusterV2", "ForbiddenException"),
        ("ec2", "DescribeSubnets", "UnauthorizedOperation"),
        ("ec2", "DescribeNatGateways", "UnauthorizedOperation"),
        ("ec2", "DescribeVpcEndpoints", "UnauthorizedOperation"),
        ("ec2", "DescribeSecurityGroups", "UnauthorizedOperation"),
    ] {
        account.fault(json!({"service": service, "action": action, "status": 403, "code": code}));
        let report = audit(&account, None).await.expect("a gap, not an error");
        unknown_naming(&report, &uuid, &format!("{service}:{action}"));
    }
    // Without the mapping list there is nothing to judge: exit-2 material, naming the call.
    account.fault(json!({"service": "lambda", "action": "ListEventSourceMappings", "status": 403, "code": "AccessDeniedException"}));
    let error = audit(&account, None)
        .await
        .expect_err("cannot list mappings");
    assert!(
        error.to_string().contains("lambda:ListEventSourceMappings"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_server_error_stops_the_run_naming_the_call() {
    let account = account().await;
    healthy(&account, 43).await;
    account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "status": 500, "code": "InternalError", "message": "boom"}));
    let error = audit(&account, None)
        .await
        .expect_err("an unexplained failure is not a gap");
    assert!(
        error.to_string().contains("ec2:DescribeRouteTables"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_is_retried() {
    let account = account().await;
    let uuid = healthy(&account, 44).await;
    account
        .fault(json!({"service": "ec2", "action": "DescribeSubnets", "reset": true, "count": 1}));
    let report = audit(&account, None).await.expect("the retry succeeds");
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);
    account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "reset": true}));
    let error = audit(&account, None)
        .await
        .expect_err("a connection that keeps failing stops the run");
    assert!(
        error.to_string().contains("ec2:DescribeRouteTables"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_slower_than_the_deadline_is_unknown() {
    let account = account().await;
    let uuid = healthy(&account, 45).await;
    account.fault(json!({"service": "ec2", "action": "DescribeNetworkAcls", "delay_ms": 4000}));
    let started = std::time::Instant::now();
    let report = audit(&account, Some(Duration::from_millis(1500)))
        .await
        .expect("a gap, not an error");
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "the deadline cut the slow call short"
    );
    unknown_naming(&report, &uuid, "ec2:DescribeNetworkAcls");
    // With the deadline already past, nothing is started and nothing passes.
    let error = audit(&account, Some(Duration::ZERO))
        .await
        .expect_err("cannot even list mappings");
    assert!(error.to_string().contains("deadline"), "{error}");
}

//! Faults injected at the emulator (its fault rules, for API errors and slow answers) and
//! on the wire by the fault proxy in front of it (resets between pages, responses cut off):
//! never a false pass, retries bounded, the deadline respected.

use std::time::Duration;

use esm_guard::aws::{collect, Clients, CollectError, CollectOptions, Scope};
use esm_guard::rules::{evaluate, Report, RuleId, Verdict};
use serde_json::json;

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};
use crate::support::proxy::account_via_proxy;

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
async fn a_persistent_server_error_is_unknown_naming_the_call() {
    let account = account().await;
    let uuid = healthy(&account, 43).await;
    for (status, code) in [(500, "InternalError"), (503, "Unavailable")] {
        account.clear_requests();
        account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "status": status, "code": code, "message": "boom"}));
        let report = audit(&account, None).await.expect("a gap, not an error");
        unknown_naming(&report, &uuid, "ec2:DescribeRouteTables");
        let m = report.mapping(&uuid).unwrap();
        assert!(
            m.findings.iter().any(|f| f.message.contains(code)
                && f.message.contains("the next run")
                && !f.message.contains("grant")),
            "a server error is not a missing permission: {:?}",
            m.findings
        );
        let attempts = account
            .requests()
            .iter()
            .filter(|r| r.ends_with(":DescribeRouteTables"))
            .count();
        assert_eq!(
            attempts, 3,
            "{code}: bounded by the 3 attempts of the config"
        );
    }
    // A request AWS calls invalid is a defect, not the network: the run stops, naming it.
    account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "status": 400, "code": "InvalidParameterValue", "message": "bad filter"}));
    let error = audit(&account, None)
        .await
        .expect_err("an invalid request is not a gap");
    assert!(
        error.to_string().contains("ec2:DescribeRouteTables")
            && error.to_string().contains("InvalidParameterValue"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_is_retried_then_unknown() {
    let account = account().await;
    let uuid = healthy(&account, 44).await;
    account
        .fault(json!({"service": "ec2", "action": "DescribeSubnets", "reset": true, "count": 1}));
    let report = audit(&account, None).await.expect("the retry succeeds");
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);
    account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "reset": true}));
    let report = audit(&account, None)
        .await
        .expect("a connection that keeps failing is a gap");
    unknown_naming(&report, &uuid, "ec2:DescribeRouteTables");
}

/// A healthy mapping in a VPC with enough route tables that `DescribeRouteTables` (pages of
/// 100) takes two pages: the mapping's own table is on the first.
async fn healthy_with_two_pages_of_route_tables(account: &Account, octet: u8) -> String {
    let uuid = healthy(account, octet).await;
    let b = Builder::new(account);
    let vpc = b
        .ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("cidr")
                .values(format!("10.{octet}.0.0/16"))
                .build(),
        )
        .send()
        .await
        .expect("DescribeVpcs")
        .vpcs()[0]
        .vpc_id()
        .expect("VPC id")
        .to_string();
    for _ in 0..100 {
        b.ec2
            .create_route_table()
            .vpc_id(&vpc)
            .send()
            .await
            .expect("CreateRouteTable");
    }
    uuid
}

/// The fault proxy resets the connection after page 1 of `DescribeRouteTables`: once, the
/// SDK retries page 2 and the verdict stands; every time, the mapping is unknown, never
/// judged on page 1 alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_between_pages_is_retried_or_unknown_never_half_read() {
    let account = account_via_proxy().await;
    let uuid = healthy_with_two_pages_of_route_tables(&account, 46).await;
    let report = audit(&account, None).await.expect("no fault");
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);
    let pages = |account: &Account| -> Vec<(bool, Option<String>)> {
        account
            .wire_requests()
            .into_iter()
            .filter(|(action, _, _)| action == "DescribeRouteTables")
            .map(|(_, paged, fault)| (paged, fault))
            .collect()
    };
    assert_eq!(
        pages(&account),
        vec![(false, None), (true, None)],
        "two pages"
    );

    account.wire_fault(
        json!({"action": "DescribeRouteTables", "paged": true, "reset": true, "count": 1}),
    );
    let report = audit(&account, None).await.expect("the retry succeeds");
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);
    assert_eq!(
        pages(&account)[2..],
        [(false, None), (true, Some("reset".into())), (true, None)],
        "page 1, page 2 reset, page 2 again"
    );

    account.wire_fault(json!({"action": "DescribeRouteTables", "paged": true, "reset": true}));
    let report = audit(&account, None).await.expect("a gap, not an error");
    account.clear_wire_faults();
    unknown_naming(&report, &uuid, "ec2:DescribeRouteTables");
    assert_eq!(
        pages(&account)[5..],
        [
            (false, None),
            (true, Some("reset".into())),
            (true, Some("reset".into())),
            (true, Some("reset".into()))
        ],
        "page 1, then page 2 three times (the config's attempts), each reset"
    );
}

/// A response cut off mid-body (the connection reset after half of it) is never parsed as
/// a shorter list: retried, and unknown when it keeps happening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_off_mid_body_is_retried_or_unknown() {
    let account = account_via_proxy().await;
    let uuid = healthy(&account, 47).await;
    account.wire_fault(json!({"action": "DescribeSecurityGroups", "truncate": true, "count": 1}));
    let report = audit(&account, None).await.expect("the retry succeeds");
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);
    account.wire_fault(json!({"action": "DescribeSecurityGroups", "truncate": true}));
    let report = audit(&account, None).await.expect("a gap, not an error");
    account.clear_wire_faults();
    unknown_naming(&report, &uuid, "ec2:DescribeSecurityGroups");
    let cut = account
        .wire_requests()
        .iter()
        .filter(|(action, _, fault)| {
            action == "DescribeSecurityGroups" && fault.as_deref() == Some("truncate")
        })
        .count();
    assert_eq!(cut, 1 + 3, "one cut retried, then three attempts cut");
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

/// Through the binary: a proxy's HTML 502 on a read is an unknown verdict (exit 0, not 2);
/// on the listing of the mappings it stops the run naming the call in one short line,
/// without the headers and body of the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_of_any_shape_are_unknown_or_one_line_naming_the_call() {
    let account = account_via_proxy().await;
    let uuid = healthy(&account, 48).await;
    let html = "<html><head><title>502 Bad Gateway</title></head><body>".to_string()
        + &"x".repeat(2000)
        + "</body></html>";
    let run = |account: &Account| {
        std::process::Command::new(env!("CARGO_BIN_EXE_esm-guard"))
            .args(["audit", "--output", "json", "--read-timeout", "5"])
            .env_remove("AWS_PROFILE")
            .envs(account.env())
            .output()
            .expect("run esm-guard")
    };
    account.wire_fault(json!({"service": "ec2", "action": "DescribeNetworkAcls", "raw": {"status": 502, "body": html, "content_type": "text/html"}}));
    let out = run(&account);
    account.clear_wire_faults();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = doc["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["uuid"] == uuid.as_str())
        .unwrap();
    assert_eq!(m["verdict"], "unknown");

    account.wire_fault(json!({"service": "lambda", "action": "*", "raw": {"status": 502, "body": html, "content_type": "text/html"}}));
    let out = run(&account);
    account.clear_wire_faults();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lambda:ListEventSourceMappings"),
        "{stderr}"
    );
    assert!(
        stderr.trim().lines().count() == 1 && stderr.len() < 500,
        "{stderr}"
    );
    assert!(
        !stderr.contains("xxxxxxxxxx"),
        "the body is not dumped: {stderr}"
    );
}

//! The CLI and Lambda's own verdict: a heal reads "waiting for Lambda to confirm", and
//! `--wait-confirm` polls the mapping until Lambda's report clears or the time is up.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};

const CONNECTION_ERROR: &str = "PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured).";

fn command(account: &Account, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esm-guard"));
    command
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .envs(account.env());
    command
}

fn run(account: &Account, args: &[&str]) -> (i32, String, String) {
    let out = command(account, args).output().expect("run esm-guard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An on-demand mapping whose path is complete (endpoints for Lambda and STS, the groups
/// right) while Lambda still reports a connection error, or with `endpoints` false, one
/// with no path at all. Returns the mapping's UUID.
async fn mapping(b: &Builder, octet: u8, endpoints: bool) -> String {
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = b.cluster_group(&vpc, "orders-msk", 9098).await;
    if endpoints {
        let groups = std::slice::from_ref(&sg);
        b.endpoint(&vpc, "lambda", &subnets, groups, true).await;
        b.endpoint(&vpc, "sts", &subnets, groups, true).await;
    }
    let cluster = b
        .msk_cluster("orders", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = b.function("orders-consumer").await;
    let uuid = b.msk_mapping(&function, &cluster, false, None).await;
    b.set_last_processing_result(&uuid, CONNECTION_ERROR);
    uuid
}

fn mapping_json<'a>(report: &'a Value, uuid: &str) -> &'a Value {
    report["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["uuid"] == uuid)
        .expect("the mapping in the report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_before_a_heal_reads_as_waiting_for_lambda() {
    let account = account().await;
    let b = Builder::new(&account);
    let uuid = mapping(&b, 101, false).await;
    let (code, out, err) = run(&account, &["audit", "--remediate", "apply"]);
    assert_eq!(code, 0, "no mapping fails: {out}\n{err}");
    assert!(
        out.contains(&format!(
            "mapping {uuid}: healed (waiting for Lambda to confirm), fail -> warn"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "aws lambda get-event-source-mapping --uuid {uuid} --query LastProcessingResult"
        )),
        "{out}"
    );
    // The JSON says the same.
    let (_, json, _) = run(&account, &["audit", "--output", "json"]);
    let report: Value = serde_json::from_str(&json).unwrap();
    let m = mapping_json(&report, &uuid);
    // A second look, with no change of its own, has no change to wait for: Lambda's word
    // stands (fail), and the message says what esm-guard cannot see.
    assert_eq!(m["verdict"], "fail");
    assert_eq!(m["lambda_report"]["kind"], "connection");
    assert!(m["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("every check esm-guard can make passes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_confirm_ends_as_soon_as_lambda_clears_its_report() {
    let account = account().await;
    let b = Builder::new(&account);
    let uuid = mapping(&b, 102, true).await;
    let child = command(
        &account,
        &[
            "audit",
            "--esm",
            &uuid,
            "--wait-confirm",
            "1",
            "--poll-interval",
            "1",
            "--output",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn esm-guard");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.set_last_processing_result(&uuid, "OK");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("esm-guard ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Lambda confirmed: the last processing result of {uuid} is now \"OK\""
        )),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = mapping_json(&report, &uuid);
    assert_eq!(m["verdict"], "pass", "{m}");
    assert!(m.get("lambda_report").is_none(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_confirm_that_runs_out_is_a_failure_naming_what_esm_guard_cannot_see() {
    let account = account().await;
    let b = Builder::new(&account);
    let uuid = mapping(&b, 103, true).await;
    account.clear_requests();
    // 0.05 minutes: three seconds, a look every second.
    let (code, out, err) = run(
        &account,
        &[
            "audit",
            "--esm",
            &uuid,
            "--wait-confirm",
            "0.05",
            "--poll-interval",
            "1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let looks: usize = err
        .split(" looks)")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of looks in {err}"));
    assert!((2..=4).contains(&looks), "{err}");
    // Exactly: one look per poll, plus one read by each of the two audits.
    let gets = account
        .requests()
        .iter()
        .filter(|r| *r == "lambda:GetEventSourceMapping")
        .count();
    assert_eq!(gets, looks + 2, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let m = mapping_json(&report, &uuid);
    assert_eq!(m["verdict"], "fail");
    assert_eq!(
        m["lambda_report"]["confirmation"]["state"], "still-failing",
        "{m}"
    );
    let message = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "esm-reported-problem")
        .unwrap()["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("out of its sight"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_confirm_refuses_what_it_cannot_do() {
    let account = account().await;
    let uuid = "3f2a9c1e-7b4d-4e8a-9c6f-0d1e2f3a4b5c";
    for (args, says) in [
        (
            vec!["audit", "--wait-confirm", "5"],
            "--wait-confirm needs exactly one --esm (given 0)",
        ),
        (
            vec!["audit", "--esm", uuid, "--esm", uuid, "--wait-confirm", "5"],
            "needs exactly one --esm (given 2)",
        ),
        (
            vec![
                "audit",
                "--esm",
                uuid,
                "--wait-confirm",
                "5",
                "--snapshot",
                "/dev/null",
            ],
            "cannot run on a --snapshot",
        ),
        (
            vec!["audit", "--esm", uuid, "--wait-confirm", "0"],
            "\"0\" is not a number of minutes",
        ),
        (
            vec!["audit", "--esm", uuid, "--wait-confirm", "soon"],
            "\"soon\" is not a number of minutes",
        ),
        (
            vec![
                "audit",
                "--esm",
                uuid,
                "--wait-confirm",
                "1",
                "--poll-interval",
                "0",
            ],
            "--poll-interval",
        ),
    ] {
        account.clear_requests();
        let (code, _, err) = run(&account, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(account.requests().is_empty(), "{args:?} called AWS");
    }
}

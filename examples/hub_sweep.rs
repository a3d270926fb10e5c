//! The hub's sweep at organization scale against the emulator (bench/hub.sh runs it):
//! seeds N member accounts of M mappings each, fans the sweep out, then handles each queue
//! message as its own invocation (the template's BatchSize 1), timing each and counting its
//! calls. `--one ACCOUNT` handles a single member's message in a fresh process and prints
//! the process's peak memory: one invocation, as Lambda runs it.
//!
//!   cargo run --release --example hub_sweep -- seed-and-sweep 100 10
//!   cargo run --release --example hub_sweep -- one 900000000001

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use esm_guard::lambda::config::{Config, HubConfig, Remediation};
use esm_guard::lambda::handler::{handle, Deps};
use esm_guard::rules::Severity;
use serde_json::{json, Value};
use support::account::{Auth, Builder};
use support::emulator::{control_at, Account};

const HUB: &str = "900000000000";
const ROLE: &str = "esm-guard-audit";
const NOW: i64 = 1_800_000_000;

fn member_id(n: usize) -> String {
    format!("9000000{:05}", n)
}

async fn account(id: &str, endpoint: &str) -> Account {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            id, "secret", None, None, "bench",
        ))
        .load()
        .await;
    Account {
        id: id.to_string(),
        config,
        endpoint: endpoint.to_string(),
    }
}

async fn seed_member(endpoint: &str, n: usize, mappings: usize) {
    let id = member_id(n);
    control_at(
        endpoint,
        "POST",
        "/_esm_guard/iam/role",
        Some(&json!({
            "Account": id, "RoleName": ROLE,
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{HUB}:root")},
                "Action": "sts:AssumeRole"}]}
        })),
    );
    let member = account(&id, endpoint).await;
    let b = Builder::new(&member);
    let vpc = b.vpc("10.0.0.0/16").await;
    let subnets = vec![
        b.private_subnet(&vpc, "10.0.1.0/24", "us-east-1a").await,
        b.private_subnet(&vpc, "10.0.2.0/24", "us-east-1b").await,
    ];
    let sg = b.cluster_group(&vpc, "brokers", 9098).await;
    for service in ["lambda", "sts"] {
        b.endpoint(&vpc, service, &subnets, std::slice::from_ref(&sg), true)
            .await;
    }
    let cluster = b
        .msk_cluster("orders", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    // One function per mapping: Lambda refuses a second mapping of the same function,
    // source and topics.
    for i in 0..mappings {
        let function = b.function(&format!("orders-consumer-{i}")).await;
        b.msk_mapping(&function, &cluster, false, None).await;
    }
}

async fn hub_deps(endpoint: &str, members: usize) -> (Deps, String) {
    let hub = account(HUB, endpoint).await;
    let queue = aws_sdk_sqs::Client::new(&hub.config)
        .get_queue_url()
        .queue_name("esm-guard-sweep")
        .send()
        .await
        .ok()
        .and_then(|o| o.queue_url().map(str::to_string));
    let queue = match queue {
        Some(q) => q,
        None => {
            support::function::create_state_table(&hub).await;
            aws_sdk_sns::Client::new(&hub.config)
                .create_topic()
                .name("esm-guard-alerts")
                .send()
                .await
                .unwrap();
            aws_sdk_sqs::Client::new(&hub.config)
                .create_queue()
                .queue_name("esm-guard-sweep")
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_string()
        }
    };
    let config = Config {
        alert_topic_arn: format!("arn:aws:sns:us-east-1:{HUB}:esm-guard-alerts"),
        alert_email_topic_arn: None,
        state_table: support::function::TABLE.into(),
        remediation: Remediation::Off,
        alert_min_severity: Severity::Warn,
        renotify_hours: 24,
        max_actions_per_run: 10,
        confirm: Default::default(),
        follow_ups: None,
        hub: Some(HubConfig {
            role_name: ROLE.into(),
            external_id: None,
            members: (1..=members).map(member_id).collect(),
            regions: vec!["us-east-1".into()],
            sweep_queue_url: queue.clone(),
        }),
    };
    let deps = Deps::new(&hub.config, config);
    deps.account.set(HUB.into()).unwrap();
    (deps, queue)
}

fn record(account: &str) -> Value {
    json!({"Records": [{
        "messageId": format!("m-{account}"), "receiptHandle": "r",
        "body": json!({"esm-guard": "sweep", "account": account, "region": "us-east-1"}).to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:900000000000:esm-guard-sweep",
        "awsRegion": "us-east-1"}]})
}

fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("ESM_GUARD_EMULATOR_URL").expect("ESM_GUARD_EMULATOR_URL");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seed-and-sweep") => {
            let accounts: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
            let mappings: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
            let started = Instant::now();
            for n in 1..=accounts {
                seed_member(&endpoint, n, mappings).await;
            }
            let seeded = started.elapsed().as_secs_f64();
            let (deps, queue) = hub_deps(&endpoint, accounts).await;
            let sweep = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event",
                "source": "aws.scheduler", "account": HUB, "time": "2027-01-15T08:00:00Z",
                "region": "us-east-1", "resources": [], "detail": "{}"});
            let t = Instant::now();
            let fanned = handle(&deps, &sweep, NOW).await.expect("fan out");
            let fan_out_secs = t.elapsed().as_secs_f64();
            let _ = queue;
            let mut times = Vec::new();
            let mut calls = Vec::new();
            let mut audited = 0;
            let mut alerts = 0;
            let t = Instant::now();
            for n in 1..=accounts {
                let one = Instant::now();
                let outcome = handle(&deps, &record(&member_id(n)), NOW + 60)
                    .await
                    .expect("one target");
                times.push(one.elapsed().as_secs_f64());
                calls.push(outcome.api_calls);
                audited += outcome.mappings_audited;
                alerts += outcome.alerts.len();
            }
            let total = t.elapsed().as_secs_f64();
            times.sort_by(f64::total_cmp);
            calls.sort_unstable();
            println!(
                "{}",
                json!({
                    "accounts": accounts, "mappings_per_account": mappings,
                    "seed_secs": seeded, "fanned_out": fanned.fanned_out, "fan_out_secs": fan_out_secs,
                    "sweep_secs_sequential": total, "mappings_audited": audited, "alerts": alerts,
                    "invocation_secs_median": times[times.len() / 2], "invocation_secs_max": times.last(),
                    "calls_per_invocation_min": calls.first(), "calls_per_invocation_max": calls.last(),
                    "calls_total": calls.iter().sum::<u32>(),
                    "peak_rss_kib_whole_process": peak_rss_kib(),
                })
            );
        }
        Some("one") => {
            let member = args.get(1).cloned().unwrap_or_else(|| member_id(1));
            let accounts: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
            let (deps, _) = hub_deps(&endpoint, accounts).await;
            let t = Instant::now();
            let outcome = handle(&deps, &record(&member), NOW + 120)
                .await
                .expect("one");
            println!(
                "{}",
                json!({"member": member, "secs": t.elapsed().as_secs_f64(),
                    "mappings_audited": outcome.mappings_audited, "api_calls": outcome.api_calls,
                    "peak_rss_kib": peak_rss_kib()})
            );
        }
        _ => {
            eprintln!(
                "usage: hub_sweep seed-and-sweep [ACCOUNTS] [MAPPINGS] | one [ACCOUNT] [ACCOUNTS]"
            );
            std::process::exit(2);
        }
    }
}

//! Every wire fault on every call an audit makes, for failing and warning accounts: no
//! verdict ever improves (a fail, warn or unknown never becomes a pass; a fail never becomes
//! a warn), a server error of any body shape is a gap, and only the listing of the mappings
//! themselves may stop the run, naming the call in one short line.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use esm_guard::aws::{collect, Clients, CollectError, CollectOptions, Scope};
use esm_guard::rules::{evaluate, Report, Verdict};
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::Account;
use crate::support::proxy::account_via_proxy;

/// A wire fault, as the proxy takes it (without action, skip and account).
fn faults() -> Vec<(&'static str, Value)> {
    let mut faults = Vec::new();
    for at in [0.1, 0.3, 0.5, 0.7, 0.9] {
        faults.push((
            "cut, length framing",
            json!({"cut": {"at": at, "framing": "length"}}),
        ));
    }
    faults.push((
        "cut, chunked",
        json!({"cut": {"at": 0.5, "framing": "chunked"}}),
    ));
    faults.push((
        "cut, closed",
        json!({"cut": {"at": 0.6, "framing": "close"}}),
    ));
    faults.push(("hollow", json!({"hollow": true})));
    faults.push((
        "an HTML 502",
        json!({"raw": {"status": 502, "body": "<html><body><h1>502 Bad Gateway</h1></body></html>", "content_type": "text/html"}}),
    ));
    faults.push(("an empty 503", json!({"raw": {"status": 503, "body": ""}})));
    faults.push(("an empty 500", json!({"raw": {"status": 500, "body": ""}})));
    faults.push((
        "an unknown code",
        json!({"status": 500, "code": "NoOneDocumentedThis", "message": "what?"}),
    ));
    faults.push(("a stall", json!({"stall": true})));
    faults.push(("cut with a reset", json!({"truncate": true})));
    faults.push(("a reset", json!({"reset": true})));
    faults
}

/// The account builders: each gives its mappings' baseline verdicts a reason.
async fn failing(account: &Account) {
    let b = Builder::new(account);
    let vpc = b.vpc("10.60.0.0/16").await;
    let a = b.private_subnet(&vpc, "10.60.1.0/24", "us-east-1a").await;
    let c = b.private_subnet(&vpc, "10.60.2.0/24", "us-east-1b").await;
    let subnets = vec![a.clone(), c.clone()];
    let sg = b.cluster_group(&vpc, "cluster", 9096).await;
    // A rule on the path that references a prefix list: its entries are read.
    let list = b
        .ec2
        .create_managed_prefix_list()
        .prefix_list_name("anywhere")
        .address_family("IPv4")
        .max_entries(2)
        .entries(
            aws_sdk_ec2::types::AddPrefixListEntry::builder()
                .cidr("10.60.0.0/16")
                .build(),
        )
        .send()
        .await
        .expect("CreateManagedPrefixList")
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .expect("pl")
        .to_string();
    b.ec2
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8443)
                .to_port(8443)
                .prefix_list_ids(
                    aws_sdk_ec2::types::PrefixListId::builder()
                        .prefix_list_id(list)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("rule");
    let groups = vec![sg.clone()];
    b.endpoint(&vpc, "lambda", &subnets, &groups, true).await;
    b.endpoint(&vpc, "sts", &subnets, &groups, true).await;
    let sm = b
        .endpoint(&vpc, "secretsmanager", &subnets, &groups, true)
        .await;
    // A policy naming principals: the execution role is read.
    b.ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(&sm)
        .policy_document(format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}}"#,
            account.id
        ))
        .send()
        .await
        .expect("policy");
    // An ACL that drops the broker port between the subnets: fail (nacl-blocks).
    let acl = b
        .ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("CreateNetworkAcl")
        .network_acl()
        .and_then(|a| a.network_acl_id())
        .expect("acl")
        .to_string();
    for egress in [false, true] {
        b.ec2
            .create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(90)
            .protocol("6")
            .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .port_range(
                aws_sdk_ec2::types::PortRange::builder()
                    .from(9096)
                    .to(9096)
                    .build(),
            )
            .send()
            .await
            .expect("deny 9096");
        b.ec2
            .create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(100)
            .protocol("-1")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .send()
            .await
            .expect("allow the rest");
    }
    b.replace_acl(&subnets, &acl).await;
    let cluster = b.msk_cluster("scram", &subnets, &groups, Auth::Scram).await;
    let f = b.function("consumer").await;
    b.msk_mapping(
        &f,
        &cluster,
        false,
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_s"),
    )
    .await;
    // A provisioned mapping on a cluster whose group admits nothing: fail (broker-ingress).
    let bare = b.security_group(&vpc, "bare").await;
    let other = b.msk_cluster("bare", &subnets, &[bare], Auth::Iam).await;
    let g = b.function("consumer-2").await;
    b.msk_mapping(&g, &other, true, None).await;
}

async fn warning(account: &Account) {
    let b = Builder::new(account);
    let vpc = b.vpc("10.61.0.0/16").await;
    let a = b.private_subnet(&vpc, "10.61.1.0/24", "us-east-1a").await;
    let c = b.private_subnet(&vpc, "10.61.2.0/24", "us-east-1b").await;
    let public = b.public_subnet(&vpc, "10.61.100.0/24", "us-east-1a").await;
    // One NAT gateway in us-east-1a for both: nat-cross-az (warn) for the other AZ.
    let nat = b.nat_route(&public, &a).await;
    let table = b.route_table_of(&c).await;
    b.ec2
        .create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .expect("route to the NAT in the other AZ");
    let sg = b.cluster_group(&vpc, "cluster", 9098).await;
    let cluster = b
        .msk_cluster("iam", &[a, c], std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("consumer").await;
    b.msk_mapping(&f, &cluster, false, None).await;
}

/// The audit, through the proxy, with short timeouts so a stall ends quickly.
async fn audit(account: &Account) -> Result<Report, CollectError> {
    let config = account
        .config
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .read_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        )
        .build();
    let clients = Clients::new(&config);
    let options = CollectOptions {
        scope: Scope::default(),
        for_remediation: false,
        deadline: None,
    };
    collect(&clients, &options, &|_| {})
        .await
        .map(|c| evaluate(&c.snapshot))
}

/// Runs every fault on every call of `account`'s audit; returns the cases run and the
/// problems found.
async fn matrix(account: &Account, name: &str) -> (usize, Vec<String>) {
    account.clear_wire_faults();
    let baseline = audit(account).await.expect("the baseline audit");
    let before: BTreeMap<String, Verdict> = baseline
        .mappings
        .iter()
        .map(|m| (m.uuid.clone(), m.verdict))
        .collect();
    // The calls of an audit, from the proxy's log: (service, action, nth of that action).
    let log: Vec<Value> = {
        let clear = crate::support::emulator::control_at(
            &crate::support::proxy::proxy().url,
            "DELETE",
            &format!("/_proxy/requests?account={}", account.id),
            None,
        );
        let _ = clear;
        audit(account).await.expect("the logged audit");
        crate::support::emulator::control_at(
            &crate::support::proxy::proxy().url,
            "GET",
            &format!("/_proxy/requests?account={}", account.id),
            None,
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    };
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut calls = Vec::new();
    for entry in &log {
        let service = entry["service"].as_str().unwrap_or("?").to_string();
        let action = entry["action"].as_str().unwrap_or("?").to_string();
        let nth = seen.entry((service.clone(), action.clone())).or_default();
        calls.push((service, action, *nth));
        *nth += 1;
    }
    assert!(calls.len() >= 9, "{name}: {calls:?}");
    let mut problems = Vec::new();
    let mut cases = 0;
    for (service, action, nth) in &calls {
        for (what, effect) in faults() {
            let mut rule = effect.clone();
            rule["service"] = json!(service);
            rule["action"] = json!(action);
            rule["skip"] = json!(nth);
            account.wire_fault(rule);
            let result = audit(account).await;
            account.clear_wire_faults();
            cases += 1;
            let case = format!("{name}: {what} on {service}:{action} #{nth}");
            match result {
                Err(e) => {
                    let text = e.to_string();
                    let listing = action.contains("event-source-mappings");
                    if !listing {
                        problems.push(format!("{case}: the run stopped: {text}"));
                    } else if text.len() > 400 || text.contains('\n') || !text.contains("lambda:") {
                        problems.push(format!(
                            "{case}: the error is not one short line naming the call: {text:?}"
                        ));
                    }
                }
                Ok(report) => {
                    for (uuid, was) in &before {
                        let Some(now) = report.mapping(uuid).map(|m| m.verdict) else {
                            problems.push(format!("{case}: mapping {uuid} vanished"));
                            continue;
                        };
                        // Unknown is allowed anywhere a fact could not be read; better is not.
                        let improved = (*was != Verdict::Pass && now == Verdict::Pass)
                            || (*was == Verdict::Fail && now == Verdict::Warn);
                        if improved {
                            problems.push(format!("{case}: {uuid} went from {was:?} to {now:?}"));
                        }
                    }
                }
            }
        }
    }
    (cases, problems)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_wire_fault_on_any_call_improves_a_verdict() {
    let (fail_account, warn_account) = (account_via_proxy().await, account_via_proxy().await);
    failing(&fail_account).await;
    warning(&warn_account).await;
    let baseline = |r: &Report| -> Vec<Verdict> { r.mappings.iter().map(|m| m.verdict).collect() };
    assert_eq!(
        baseline(&audit(&fail_account).await.unwrap()),
        [Verdict::Fail, Verdict::Fail],
        "the failing account fails"
    );
    assert_eq!(
        baseline(&audit(&warn_account).await.unwrap()),
        [Verdict::Warn],
        "the warning account warns"
    );
    let started = std::time::Instant::now();
    let ((fail_cases, fail_problems), (warn_cases, warn_problems)) = tokio::join!(
        matrix(&fail_account, "failing"),
        matrix(&warn_account, "warning")
    );
    let cases = fail_cases + warn_cases;
    println!(
        "wire fault matrix: {cases} cases ({} faults x the calls of 2 accounts: {fail_cases} + {warn_cases}) in {:.0?}",
        faults().len(),
        started.elapsed()
    );
    let problems: Vec<String> = fail_problems.into_iter().chain(warn_problems).collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

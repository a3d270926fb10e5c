//! One guardrail for an organization: the hub reads its members through their audit roles.
//! Members' CloudTrail events reach it with their own account; its sweep fans out one SQS
//! message per (account, region) and audits each once; a member whose role cannot be
//! assumed is an alert of its own and stops nobody else.

use std::collections::BTreeMap;

use esm_guard::lambda::config::{HubConfig, Remediation};
use esm_guard::lambda::handler::{handle, Deps};
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, control, Account};
use crate::support::function::{deps, drain_envelopes};

const NOW: i64 = 1_800_000_000;
const ROLE: &str = "esm-guard-audit";

/// A member whose audit role trusts the hub (none when `role` is false).
async fn member(hub: &Account, role: bool) -> Account {
    let member = account().await;
    if role {
        give_role(hub, &member);
    }
    member
}

/// The member's audit role, trusting the hub.
fn give_role(hub: &Account, member: &Account) {
    control(
        "POST",
        "/_esm_guard/iam/role",
        Some(&json!({
            "Account": member.id,
            "RoleName": ROLE,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:root", hub.id)},
                    "Action": "sts:AssumeRole"
                }]
            }
        })),
    );
}

/// A mapping in `member` whose cluster group admits its broker port (healthy) or not.
async fn mapping(member: &Account, octet: u8, healthy: bool) -> String {
    let b = Builder::new(member);
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = if healthy {
        b.cluster_group(&vpc, "brokers", 9098).await
    } else {
        b.security_group(&vpc, "brokers").await
    };
    let cluster = b
        .msk_cluster("orders", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = b.function("orders-consumer").await;
    // Provisioned: the broker path alone decides.
    b.msk_mapping(&function, &cluster, true, None).await
}

/// The hub's function: its topic, table and sweep queue in `hub`, reaching `members`.
async fn hub_deps(hub: &Account, members: &[&Account], regions: &[&str]) -> (Deps, String) {
    let queue = aws_sdk_sqs::Client::new(&hub.config)
        .create_queue()
        .queue_name("esm-guard-sweep")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_string();
    let base = deps(hub, Remediation::Off).await;
    let mut config = base.config.clone();
    config.hub = Some(HubConfig {
        role_name: ROLE.into(),
        external_id: None,
        members: members.iter().map(|m| m.id.clone()).collect(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        sweep_queue_url: queue.clone(),
    });
    let d = Deps::new(&hub.config, config);
    d.account.set(hub.id.clone()).unwrap();
    (d, queue)
}

/// A queue subscribed to the hub's alert topic.
async fn subscribed_queue(hub: &Account, deps: &Deps) -> String {
    let sqs = aws_sdk_sqs::Client::new(&hub.config);
    let url = sqs
        .create_queue()
        .queue_name("hub-alerts")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_string();
    aws_sdk_sns::Client::new(&hub.config)
        .subscribe()
        .topic_arn(&deps.config.alert_topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:us-east-1:{}:hub-alerts", hub.id))
        .send()
        .await
        .expect("Subscribe");
    url
}

/// The messages (SNS `Message`, Chatbot JSON as text) the queue holds, removed from it.
async fn received(hub: &Account, url: &str) -> Vec<String> {
    drain_envelopes(&aws_sdk_sqs::Client::new(&hub.config), url)
        .await
        .iter()
        .map(|e| e["Message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A member's CreateEventSourceMapping, as the hub's bus delivers it.
fn forwarded(member: &Account, uuid: &str) -> Value {
    let path = format!(
        "{}/events/handled/lambda-create-event-source-mapping-msk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    e["account"] = json!(member.id);
    e["detail"]["recipientAccountId"] = json!(member.id);
    e["detail"]["responseElements"]["uUID"] = json!(uuid);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_event_alerts_at_the_hub_with_the_members_account() {
    let hub = account().await;
    let broken = member(&hub, true).await;
    let healthy = member(&hub, true).await;
    let bad = mapping(&broken, 121, false).await;
    let good = mapping(&healthy, 122, true).await;
    let (deps, _) = hub_deps(&hub, &[&broken, &healthy], &["us-east-1"]).await;
    // The broken member is in the hub's organization, under a name; the healthy one is not.
    control(
        "POST",
        "/_esm_guard/organizations/account",
        Some(&json!({"ManagementAccount": hub.id, "Id": broken.id, "Name": "payments-prod"})),
    );
    let alerts = subscribed_queue(&hub, &deps).await;

    let outcome = handle(&deps, &forwarded(&broken, &bad), NOW)
        .await
        .expect("handler");
    assert_eq!(outcome.trigger, "mapping", "{outcome:?}");
    assert_eq!(outcome.verdicts.fail, 1, "{outcome:?}");
    assert_eq!(outcome.alerts.len(), 1, "{outcome:?}");
    // The member's calls were made in the member's account, through its role.
    let calls = broken.requests();
    assert!(
        calls.iter().any(|c| c == "lambda:GetEventSourceMapping"),
        "{calls:?}"
    );
    assert!(hub.requests().iter().any(|c| c == "sts:AssumeRole"));
    // The alert names the member account, and its name from Organizations.
    let messages = received(&hub, &alerts).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let text = &messages[0];
    assert!(
        text.contains(&broken.id) && text.contains("payments-prod"),
        "{text}"
    );
    // The state row carries the member's account.
    let item = aws_sdk_dynamodb::Client::new(&hub.config)
        .get_item()
        .table_name(crate::support::function::TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("esm#{bad}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        item.item()
            .and_then(|i| i.get("account"))
            .and_then(|a| a.as_s().ok()),
        Some(&broken.id)
    );

    // The healthy member stays quiet; a non-member is not the hub's.
    let quiet = handle(&deps, &forwarded(&healthy, &good), NOW)
        .await
        .unwrap();
    assert_eq!(
        (quiet.verdicts.pass, quiet.alerts.len()),
        (1, 0),
        "{quiet:?}"
    );
    let stranger = account().await;
    let ignored = handle(&deps, &forwarded(&stranger, &good), NOW)
        .await
        .unwrap();
    assert_eq!(ignored.trigger, "ignored", "{ignored:?}");
    assert!(ignored.detail.contains("not a member"), "{ignored:?}");
}

/// The sweep queue's messages, removed from it, as the records Lambda delivers.
async fn drain(hub: &Account, queue: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&hub.config);
    let mut records = Vec::new();
    loop {
        let page = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if page.messages().is_empty() {
            break;
        }
        for m in page.messages() {
            records.push(json!({
                "messageId": m.message_id().unwrap(),
                "receiptHandle": m.receipt_handle().unwrap(),
                "body": m.body().unwrap(),
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:{}:esm-guard-sweep", hub.id),
                "awsRegion": "us-east-1"
            }));
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    records
}

fn sweep_event(hub: &Account) -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.scheduler",
        "account": hub.id, "time": "2027-01-15T08:00:00Z", "region": "us-east-1",
        "resources": [], "detail": "{}"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_the_organization_skips_what_is_not_active_and_names_each_account() {
    let hub = account().await;
    let alpha = member(&hub, true).await;
    let beta = member(&hub, true).await;
    let alpha_mapping = mapping(&alpha, 125, false).await;
    mapping(&beta, 126, false).await;
    for (m, name, state) in [(&alpha, "alpha", "ACTIVE"), (&beta, "beta", "SUSPENDED")] {
        control(
            "POST",
            "/_esm_guard/organizations/account",
            Some(&json!({"ManagementAccount": hub.id, "Id": m.id, "Name": name, "Status": state})),
        );
    }
    // MemberAccounts empty: the members are the organization's (the emulator answers
    // ListAccounts with State only, as AWS does since Status was retired).
    let (deps, queue) = hub_deps(&hub, &[], &["us-east-1"]).await;
    let alerts = subscribed_queue(&hub, &deps).await;
    let fanned = handle(&deps, &sweep_event(&hub), NOW)
        .await
        .expect("fan out");
    // The management account and alpha; beta is suspended.
    assert_eq!(fanned.fanned_out, Some(2), "{fanned:?}");
    let records = drain(&hub, &queue).await;
    let bodies: Vec<Value> = records
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    let alpha_record = records
        .iter()
        .zip(&bodies)
        .find(|(_, b)| b["account"] == json!(alpha.id))
        .map(|(r, _)| r.clone())
        .expect("alpha's message");
    assert!(
        bodies.iter().any(|b| b["account"] == json!(hub.id)),
        "{bodies:?}"
    );
    assert!(
        bodies.iter().all(|b| b["account"] != json!(beta.id)),
        "{bodies:?}"
    );

    // A consumer in another container: the name comes with the message, not from a call.
    let consumer = Deps::new(&hub.config, deps.config.clone());
    consumer.account.set(hub.id.clone()).unwrap();
    hub.clear_requests();
    let outcome = handle(
        &consumer,
        &json!({"Records": [alpha_record.clone()]}),
        NOW + 60,
    )
    .await
    .expect("batch");
    assert!(outcome.batch_item_failures.is_empty(), "{outcome:?}");
    assert_eq!(outcome.verdicts.fail, 1, "{outcome:?}");
    assert!(
        !hub.requests()
            .iter()
            .any(|c| c == "organizations:DescribeAccount"),
        "{:?}",
        hub.requests()
    );
    let messages = received(&hub, &alerts).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains(&alpha.id) && messages[0].contains("alpha"),
        "{}",
        messages[0]
    );

    // The mapping is deleted with no event reaching the hub: alpha's next sweep finds its
    // open alert through the index of alpha's open alerts (a query, never a scan of every
    // member's rows) and closes it.
    aws_sdk_lambda::Client::new(&alpha.config)
        .delete_event_source_mapping()
        .uuid(&alpha_mapping)
        .send()
        .await
        .expect("DeleteEventSourceMapping");
    hub.clear_requests();
    let again = handle(&consumer, &json!({"Records": [alpha_record]}), NOW + 120)
        .await
        .expect("batch");
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    let closed: Vec<_> = again
        .alerts
        .iter()
        .map(|a| (a.uuid.as_str(), a.kind))
        .collect();
    assert_eq!(closed.len(), 1, "{again:?}");
    assert_eq!(closed[0].0, alpha_mapping, "{again:?}");
    let calls = hub.requests();
    assert!(calls.iter().any(|c| c == "dynamodb:Query"), "{calls:?}");
    assert!(!calls.iter().any(|c| c == "dynamodb:Scan"), "{calls:?}");
    assert_eq!(received(&hub, &alerts).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_fans_out_per_member_and_region_and_survives_a_missing_role() {
    let hub = account().await;
    let m1 = member(&hub, true).await;
    let m2 = member(&hub, true).await;
    let m3 = member(&hub, false).await; // no audit role: it cannot be read
    mapping(&m1, 123, false).await;
    mapping(&m2, 124, true).await;
    let regions = ["us-east-1", "us-west-2"];
    let (deps, queue) = hub_deps(&hub, &[&m1, &m2, &m3], &regions).await;

    let fanned = handle(&deps, &sweep_event(&hub), NOW)
        .await
        .expect("fan out");
    assert_eq!(fanned.fanned_out, Some(6), "{fanned:?}");

    // The queue holds one message per (account, region): deliver them as Lambda would.
    let records = drain(&hub, &queue).await;
    assert_eq!(records.len(), 6);
    let mut targets: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            (
                body["account"].as_str().unwrap().to_string(),
                body["region"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 6, "one message per target");

    for m in [&m1, &m2, &m3] {
        m.clear_requests();
    }
    // Lambda delivers the batch (BatchSize 1 in the template; here all six at once).
    let outcome = handle(&deps, &json!({"Records": records}), NOW + 60)
        .await
        .expect("batch");
    assert!(outcome.batch_item_failures.is_empty(), "{outcome:?}");
    // Each readable member was audited once per region, counted at the emulator.
    for m in [&m1, &m2] {
        let mut calls: BTreeMap<String, usize> = BTreeMap::new();
        for c in m.requests() {
            *calls.entry(c).or_default() += 1;
        }
        assert_eq!(
            calls.get("lambda:ListEventSourceMappings"),
            Some(&2),
            "{calls:?}"
        );
    }
    assert!(
        m3.requests().is_empty(),
        "nothing was read in the account without a role"
    );
    // The broken member alerts for its mapping; the missing role alerts once per region.
    let kinds: Vec<(&str, &str)> = outcome
        .alerts
        .iter()
        .map(|a| (a.uuid.as_str(), a.kind))
        .collect();
    let unreachable: Vec<&&str> = kinds
        .iter()
        .filter(|(u, _)| u.starts_with("account-"))
        .map(|(u, _)| u)
        .collect();
    assert_eq!(
        unreachable,
        [
            &format!("account-{}-us-east-1", m3.id).as_str(),
            &format!("account-{}-us-west-2", m3.id).as_str()
        ],
        "{kinds:?}"
    );
    assert_eq!(outcome.verdicts.fail, 1, "{outcome:?}");
    assert_eq!(outcome.alerts.len(), 3, "{kinds:?}");

    // An account's "cannot read" alert is kept out of the index of open mapping alerts:
    // a member's sweep never asks Lambda for a mapping of that name.
    let row = aws_sdk_dynamodb::Client::new(&hub.config)
        .get_item()
        .table_name(crate::support::function::TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("esm#account-{}-us-east-1", m3.id)),
        )
        .send()
        .await
        .unwrap();
    let row = row.item().expect("the unreachable alert's row");
    assert_eq!(
        row.get("open").and_then(|o| o.as_bool().ok()),
        Some(&true),
        "{row:?}"
    );
    assert!(!row.contains_key("open_target"), "{row:?}");

    // The next batch: the same missing role says nothing more.
    let again = handle(&deps, &json!({"Records": [records[0].clone()]}), NOW + 120)
        .await
        .unwrap();
    assert!(
        again.alerts.iter().all(|a| !a.uuid.starts_with("account-")),
        "{again:?}"
    );

    // The role is made: m3's next sweep closes its "cannot read" alert, and only that (the
    // alert is an account's, never taken for a deleted mapping).
    give_role(&hub, &m3);
    m3.clear_requests();
    let m3_east = records
        .iter()
        .find(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            body["account"] == json!(m3.id) && body["region"] == json!("us-east-1")
        })
        .cloned()
        .expect("m3's us-east-1 message");
    let readable = handle(&deps, &json!({"Records": [m3_east]}), NOW + 180)
        .await
        .unwrap();
    assert!(readable.batch_item_failures.is_empty(), "{readable:?}");
    let sent: Vec<(String, &str)> = readable
        .alerts
        .iter()
        .map(|a| (a.uuid.clone(), a.kind))
        .collect();
    assert_eq!(
        sent,
        [(format!("account-{}-us-east-1", m3.id), "resolved")],
        "{readable:?}"
    );
    assert!(
        !m3.requests()
            .iter()
            .any(|c| c == "lambda:GetEventSourceMapping"),
        "{:?}",
        m3.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_audits_many_accounts_into_one_report() {
    let me = account().await;
    let m1 = member(&me, true).await;
    let m2 = member(&me, true).await;
    let m3 = member(&me, false).await;
    let bad = mapping(&m1, 125, false).await;
    let good = mapping(&m2, 126, true).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.txt");
    std::fs::write(
        &file,
        format!(
            "# the organization\n{}\n{}  # payments\n\n{}\n",
            m1.id, m2.id, m3.id
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_esm-guard"))
            .args(args)
            .env_remove("AWS_PROFILE")
            .env("NO_COLOR", "1")
            .envs(me.env())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let file_arg = file.to_str().unwrap();
    let (code, json, err) = run(&["audit", "--accounts", file_arg, "--output", "json"]);
    assert_eq!(
        code,
        Some(1),
        "a failing mapping and an unreadable account: {err}"
    );
    let report: Value = serde_json::from_str(&json).unwrap();
    let rows: Vec<(String, bool)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["account"].as_str().unwrap().to_string(),
                t.get("error").is_some(),
            )
        })
        .collect();
    let mut expected = vec![
        (m1.id.clone(), false),
        (m2.id.clone(), false),
        (m3.id.clone(), true),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    let accounts: BTreeMap<String, String> = report["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["uuid"].as_str().unwrap().to_string(),
                m["account"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(accounts.get(&bad), Some(&m1.id));
    assert_eq!(accounts.get(&good), Some(&m2.id));

    // Text: a row per account and region, the unreadable one saying why.
    let (_, text, _) = run(&["audit", "--accounts", file_arg]);
    assert!(
        text.contains(&format!(
            "account {} us-east-1       not read: sts:AssumeRole",
            m3.id
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("account {}  {bad}", m1.id)),
        "{text}"
    );

    // One account by its role's ARN.
    let arn = format!("arn:aws:iam::{}:role/{ROLE}", m2.id);
    let (code, _, err) = run(&["audit", "--role-arn", &arn]);
    assert_eq!(code, Some(0), "{err}");

    // Bad input is refused before any call, naming it.
    for (args, says) in [
        (
            vec!["audit", "--role-arn", "arn:aws:iam::12:role/x"],
            "is not an IAM role ARN",
        ),
        (
            vec!["audit", "--accounts", file_arg, "--regions", "mars"],
            "\"mars\" is not a region",
        ),
        (
            vec!["audit", "--regions", "us-east-1"],
            "go with --role-arn or --accounts",
        ),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    std::fs::write(&file, "123\n").unwrap();
    let (code, _, err) = run(&["audit", "--accounts", file_arg]);
    assert_eq!(code, Some(2));
    assert!(err.contains("line 1") && err.contains("\"123\""), "{err}");
}

//! The MSK and Lambda calls that move a mapping's network outside Lambda's mapping calls and
//! EC2: each CloudTrail sample in events/ re-audits exactly the mappings it touches, counted
//! at the emulator.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use esm_guard::lambda::config::Remediation;
use esm_guard::lambda::handler::handle;
use serde_json::Value;

use crate::support::account::{Auth, Builder};
use crate::support::emulator::account;
use crate::support::function::{deps, TABLE};
use crate::support::iam::{self, Logged};

const NOW: i64 = 1_800_000_000;
/// The ARNs and names the samples carry, replaced by the test's own.
const SAMPLE_CLUSTER: &str =
    "arn:aws:kafka:us-east-1:123456789012:cluster/orders-msk/5f8e2a1c-3b4d-4e6f-9a0b-1c2d3e4f5a6b-2";
const SAMPLE_CONNECTION: &str = "arn:aws:kafka:us-east-1:123456789012:vpc-connection/444455556666/orders-msk/7d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6-3";

fn sample(name: &str, replace: &[(&str, &str)]) -> Value {
    let path = format!("{}/events/handled/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (from, to) in replace {
        assert!(text.contains(from), "{name} does not name {from}");
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

fn params<'a>(log: &'a [Logged], call: &str, param: &str) -> BTreeSet<&'a str> {
    log.iter()
        .filter(|r| format!("{}:{}", r.service, r.action) == call)
        .map(|r| r.params[param].as_str().unwrap_or("<none>"))
        .collect()
}

fn counts(log: &[Logged]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in log {
        *out.entry(format!("{}:{}", r.service, r.action))
            .or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msk_and_function_changes_audit_exactly_the_mappings_they_touch() {
    let account = account().await;
    let b = Builder::new(&account);
    let deps = deps(&account, Remediation::Off).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&account.config);

    // Two clusters and a VPC connection to the first, in one VPC whose group admits nothing:
    // every mapping fails, so each mapping audited sends its own new alert.
    let vpc = b.vpc("10.81.0.0/16").await;
    let subnets = vec![
        b.private_subnet(&vpc, "10.81.1.0/24", "us-east-1a").await,
        b.private_subnet(&vpc, "10.81.2.0/24", "us-east-1b").await,
    ];
    let sg = b.security_group(&vpc, "brokers").await;
    let groups = std::slice::from_ref(&sg);
    let orders = b.msk_cluster("orders", &subnets, groups, Auth::Iam).await;
    let payments = b.msk_cluster("payments", &subnets, groups, Auth::Iam).await;
    let connection = b
        .kafka
        .create_vpc_connection()
        .target_cluster_arn(&orders)
        .authentication("SASL_IAM")
        .vpc_id(&vpc)
        .set_client_subnets(Some(subnets.clone()))
        .set_security_groups(Some(groups.to_vec()))
        .send()
        .await
        .expect("CreateVpcConnection")
        .vpc_connection_arn()
        .expect("connection arn")
        .to_string();
    let consumer = b.function("orders-consumer").await;
    let billing = b.function("billing").await;
    let m1 = b.msk_mapping(&consumer, &orders, true, None).await;
    let m2 = b.msk_mapping(&billing, &orders, true, None).await;
    let m3 = b.msk_mapping(&consumer, &payments, true, None).await;
    let m4 = b.msk_mapping(&billing, &connection, true, None).await;
    let all = [&m1, &m2, &m3, &m4];

    let cluster_events = [
        "kafka-update-security.json",
        "kafka-update-connectivity.json",
        "kafka-delete-cluster.json",
    ];
    // (case, event, mappings audited, clusters read, connections read)
    type Case<'a> = (String, Value, Vec<&'a String>, Vec<&'a str>, Vec<&'a str>);
    let mut cases: Vec<Case<'_>> = Vec::new();
    for name in cluster_events {
        cases.push((
            format!("{name} on orders"),
            sample(name, &[(SAMPLE_CLUSTER, &orders)]),
            vec![&m1, &m2],
            vec![orders.as_str()],
            vec![],
        ));
    }
    cases.push((
        "kafka-update-security.json on payments".into(),
        sample("kafka-update-security.json", &[(SAMPLE_CLUSTER, &payments)]),
        vec![&m3],
        vec![payments.as_str()],
        vec![],
    ));
    for name in [
        "kafka-create-vpc-connection.json",
        "kafka-delete-vpc-connection.json",
    ] {
        cases.push((
            name.into(),
            sample(name, &[(SAMPLE_CONNECTION, &connection)]),
            vec![&m4],
            vec![],
            vec![connection.as_str()],
        ));
    }
    cases.push((
        "kafka-reject-client-vpc-connection.json".into(),
        sample(
            "kafka-reject-client-vpc-connection.json",
            &[(SAMPLE_CLUSTER, &orders), (SAMPLE_CONNECTION, &connection)],
        ),
        vec![&m1, &m2, &m4],
        vec![orders.as_str()],
        vec![connection.as_str()],
    ));
    cases.push((
        "lambda-update-function-configuration.json".into(),
        sample("lambda-update-function-configuration.json", &[]),
        vec![&m1, &m3],
        vec![orders.as_str(), payments.as_str()],
        vec![],
    ));

    for (case, event, mappings, clusters, connections) in cases {
        // Forget every alert, so each mapping audited alerts again.
        for uuid in all {
            dynamodb
                .delete_item()
                .table_name(TABLE)
                .key("pk", AttributeValue::S(format!("esm#{uuid}")))
                .send()
                .await
                .expect("DeleteItem");
        }
        account.clear_requests();
        let outcome = handle(&deps, &event, NOW).await.expect("handler");
        let log = iam::logged(&account);

        let alerted: BTreeSet<&String> = outcome.alerts.iter().map(|a| &a.uuid).collect();
        let wanted: BTreeSet<&String> = mappings.iter().copied().collect();
        assert_eq!(alerted, wanted, "{case}: {outcome:?}");
        assert_eq!(outcome.mappings_audited, mappings.len(), "{case}");
        assert_eq!(outcome.verdicts.fail, mappings.len(), "{case}");
        // One listing of the mappings, none fetched one by one, and only the touched
        // sources described.
        let calls = counts(&log);
        assert_eq!(
            calls.get("lambda:ListEventSourceMappings"),
            Some(&1),
            "{case}: {calls:?}"
        );
        assert_eq!(
            calls.get("lambda:GetEventSourceMapping"),
            None,
            "{case}: {calls:?}"
        );
        // One cluster is described; more are read in one listing.
        let described = params(&log, "kafka:DescribeClusterV2", "ClusterArn");
        let listed = calls.get("kafka:ListClustersV2").copied().unwrap_or(0);
        match clusters.len() {
            0 | 1 => {
                assert_eq!(described, clusters.into_iter().collect(), "{case}");
                assert_eq!(listed, 0, "{case}: {calls:?}");
            }
            _ => {
                assert!(described.is_empty(), "{case}: {described:?}");
                assert_eq!(listed, 1, "{case}: {calls:?}");
            }
        }
        assert_eq!(
            params(&log, "kafka:DescribeVpcConnection", "Arn"),
            connections.into_iter().collect(),
            "{case}"
        );
        assert_eq!(calls.get("sns:Publish"), Some(&mappings.len()), "{case}");
    }
}

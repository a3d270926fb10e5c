//! Amazon MQ and DocumentDB mappings read from the emulator: judged on the broker's and the
//! cluster's network and port, in the one-mapping call budget (12), and re-audited by the
//! function on the MQ and DocumentDB calls that move their network.

use std::collections::BTreeMap;

use aws_sdk_mq::types::EngineType;
use esm_guard::aws::{collect, Clients, CollectOptions, Scope};
use esm_guard::lambda::config::Remediation;
use esm_guard::lambda::handler::handle;
use esm_guard::{evaluate, Report, RuleId, Verdict};
use serde_json::Value;

use crate::support::account::Builder;
use crate::support::emulator::{account, Account};
use crate::support::function::deps;
use crate::support::iam::{self, ResourceTags};

async fn audit(account: &Account, uuid: &str) -> (Report, BTreeMap<String, usize>, u32) {
    account.clear_requests();
    let clients = Clients::new(&account.config);
    let options = CollectOptions {
        scope: Scope {
            mappings: vec![uuid.to_string()],
            ..Default::default()
        },
        ..Default::default()
    };
    let collection = collect(&clients, &options, &|_| {}).await.expect("collect");
    let mut calls = BTreeMap::new();
    for r in account.requests() {
        *calls.entry(r).or_insert(0) += 1;
    }
    (
        evaluate(&collection.snapshot),
        calls,
        collection.total_calls(),
    )
}

/// A VPC with two private subnets, a group admitting `port` and 443 from itself, and the
/// Lambda, STS and Secrets Manager endpoints (private DNS) the mappings need.
async fn vpc_with_endpoints(b: &Builder, octet: u8, port: i32) -> (String, Vec<String>, String) {
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = b.cluster_group(&vpc, "brokers", port).await;
    for service in ["lambda", "sts", "secretsmanager"] {
        b.endpoint(&vpc, service, &subnets, std::slice::from_ref(&sg), true)
            .await;
    }
    (vpc, subnets, sg)
}

fn expected(source: &[(&str, usize)]) -> BTreeMap<String, usize> {
    let mut calls: BTreeMap<String, usize> = [
        ("lambda:GetEventSourceMapping", 1),
        ("ec2:DescribeRouteTables", 1),
        ("ec2:DescribeNatGateways", 1),
        ("ec2:DescribeVpcEndpoints", 1),
        ("ec2:DescribeSecurityGroups", 1),
        ("ec2:DescribeNetworkAcls", 1),
        ("ec2:DescribeVpcAttribute", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in source {
        calls.insert(k.to_string(), *v);
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mq_mappings_are_judged_on_the_brokers_network_in_twelve_calls() {
    let account = account().await;
    let b = Builder::new(&account);
    let function = b.function("orders-consumer").await;
    for (octet, engine, port, zones) in [
        (111, EngineType::Rabbitmq, 5671, 1),
        (112, EngineType::Activemq, 61617, 2),
    ] {
        let (_, subnets, sg) = vpc_with_endpoints(&b, octet, port).await;
        let broker = b
            .mq_broker(
                &format!("orders-{octet}"),
                engine.clone(),
                &subnets[..zones],
                std::slice::from_ref(&sg),
                false,
            )
            .await;
        let uuid = b.mq_mapping(&function, &broker).await;
        let (report, calls, counted) = audit(&account, &uuid).await;
        let m = report.mapping(&uuid).expect("the mapping");
        assert_eq!(m.verdict, Verdict::Pass, "{engine:?}: {:#?}", m.findings);
        assert_eq!(
            m.network.as_ref().map(|n| n.broker_ports.clone()),
            Some(vec![port as u16])
        );
        assert_eq!(
            calls,
            expected(&[("mq:DescribeBroker", 1), ("ec2:DescribeSubnets", 2)]),
            "{engine:?}"
        );
        assert_eq!(counted, 11);
    }

    // The broker's group stops admitting its port: broker-ingress, naming it.
    let (_, subnets, sg) = vpc_with_endpoints(&b, 113, 9098).await;
    let broker = b
        .mq_broker(
            "orders-113",
            EngineType::Rabbitmq,
            &subnets[..1],
            &[sg],
            false,
        )
        .await;
    let uuid = b.mq_mapping(&function, &broker).await;
    let (report, _, _) = audit(&account, &uuid).await;
    let m = report.mapping(&uuid).unwrap();
    let ingress: Vec<_> = m
        .findings
        .iter()
        .filter(|f| f.rule == RuleId::BrokerIngress)
        .collect();
    assert!(
        ingress.len() == 1 && ingress[0].message.contains("5671"),
        "{:#?}",
        m.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_mq_broker_is_read_and_needs_nothing_of_the_vpc() {
    let account = account().await;
    let b = Builder::new(&account);
    let function = b.function("public-consumer").await;
    let vpc = b.vpc("10.114.0.0/16").await;
    let subnet = b.public_subnet(&vpc, "10.114.1.0/24", "us-east-1a").await;
    let sg = b.security_group(&vpc, "nothing-admitted").await;
    let broker = b
        .mq_broker("public", EngineType::Activemq, &[subnet], &[sg], true)
        .await;
    let uuid = b.mq_mapping(&function, &broker).await;
    let (report, calls, _) = audit(&account, &uuid).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Pass, "{:#?}", m.findings);
    assert!(m.findings.is_empty(), "{:#?}", m.findings);
    let expected: BTreeMap<String, usize> = [
        ("lambda:GetEventSourceMapping".to_string(), 1),
        ("mq:DescribeBroker".to_string(), 1),
    ]
    .into();
    assert_eq!(calls, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documentdb_mappings_are_judged_on_the_clusters_network_in_twelve_calls() {
    let account = account().await;
    let b = Builder::new(&account);
    let function = b.function("events-consumer").await;
    let (vpc, subnets, sg) = vpc_with_endpoints(&b, 115, 27017).await;
    let cluster = b.docdb_cluster("events", &subnets, &[sg]).await;
    assert_eq!(b.docdb_vpc(&cluster).await.as_deref(), Some(vpc.as_str()));
    let uuid = b.docdb_mapping(&function, &cluster).await;
    let (report, calls, counted) = audit(&account, &uuid).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Pass, "{:#?}", m.findings);
    assert_eq!(
        m.network
            .as_ref()
            .map(|n| (n.vpc_id.clone(), n.broker_ports.clone())),
        Some((Some(vpc), vec![27017]))
    );
    // The subnet group names the VPC: the subnets are not looked up one by one.
    assert_eq!(
        calls,
        expected(&[
            ("rds:DescribeDBClusters", 1),
            ("rds:DescribeDBSubnetGroups", 1),
            ("ec2:DescribeSubnets", 1),
        ])
    );
    assert_eq!(counted, 11);

    // No endpoints and no NAT: no-service-path for Lambda, STS and Secrets Manager.
    let (_, bare, sg) = {
        let vpc = b.vpc("10.116.0.0/16").await;
        let subnets = vec![
            b.private_subnet(&vpc, "10.116.1.0/24", "us-east-1a").await,
            b.private_subnet(&vpc, "10.116.2.0/24", "us-east-1b").await,
        ];
        let sg = b.cluster_group(&vpc, "docdb", 27017).await;
        (vpc, subnets, sg)
    };
    let cluster = b.docdb_cluster("bare", &bare, &[sg]).await;
    let uuid = b.docdb_mapping(&function, &cluster).await;
    let (report, _, _) = audit(&account, &uuid).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Fail);
    assert!(m.findings.iter().any(|f| f.rule == RuleId::NoServicePath));
}

fn sample(name: &str, replace: &[(&str, &str)]) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{name} does not name {from}");
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mq_and_documentdb_changes_audit_exactly_their_mappings() {
    let account = account().await;
    let b = Builder::new(&account);
    let deps = deps(&account, Remediation::Off).await;
    let function = b.function("orders-consumer").await;
    let (_, subnets, sg) = vpc_with_endpoints(&b, 117, 9098).await;
    let groups = std::slice::from_ref(&sg);
    // Every mapping here fails broker-ingress (the group admits Kafka's port): each mapping
    // audited alerts once.
    let broker = b
        .mq_broker("orders", EngineType::Rabbitmq, &subnets[..1], groups, false)
        .await;
    let other = b
        .mq_broker(
            "billing",
            EngineType::Rabbitmq,
            &subnets[..1],
            groups,
            false,
        )
        .await;
    let cluster = b.docdb_cluster("events", &subnets, groups).await;
    let on_broker = b.mq_mapping(&function, &broker).await;
    let on_other = b.mq_mapping(&function, &other).await;
    let on_cluster = b.docdb_mapping(&function, &cluster).await;
    let broker_id = broker.rsplit(':').next().unwrap().to_string();
    let sample_broker = "b-7e3f1a2c-4d5b-4c6e-9f8a-1b2c3d4e5f60";
    // The samples' account and the test's: the event names the broker by id in its account.
    let own = [("123456789012", account.id.as_str())];

    let cases: Vec<(&str, Value, Vec<&String>)> = vec![
        (
            "UpdateBroker",
            sample(
                "handled/mq-update-broker.json",
                &[(sample_broker, &broker_id), own[0]],
            ),
            vec![&on_broker],
        ),
        (
            "DeleteBroker",
            sample(
                "handled/mq-delete-broker.json",
                &[(sample_broker, &broker_id), own[0]],
            ),
            vec![&on_broker],
        ),
        (
            "ModifyDBCluster",
            sample(
                "handled/docdb-modify-db-cluster.json",
                &[("events-docdb", "events"), own[0]],
            ),
            vec![&on_cluster],
        ),
        (
            "DeleteDBCluster",
            sample(
                "handled/docdb-delete-db-cluster.json",
                &[("events-docdb", "events"), own[0]],
            ),
            vec![&on_cluster],
        ),
    ];
    for (case, event, wanted) in cases {
        // Forget the alerts, so that each mapping audited alerts again.
        for uuid in [&on_broker, &on_other, &on_cluster] {
            aws_sdk_dynamodb::Client::new(&account.config)
                .delete_item()
                .table_name(crate::support::function::TABLE)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("esm#{uuid}")),
                )
                .send()
                .await
                .unwrap();
        }
        account.clear_requests();
        let outcome = handle(&deps, &event, 1_800_000_000).await.expect("handler");
        let alerted: Vec<&String> = outcome.alerts.iter().map(|a| &a.uuid).collect();
        assert_eq!(alerted, wanted, "{case}: {outcome:?}");
        assert_eq!(outcome.mappings_audited, 1, "{case}");
        let log = iam::logged(&account);
        let described: Vec<&str> = log
            .iter()
            .filter(|r| r.action == "DescribeBroker")
            .filter_map(|r| r.params["BrokerId"].as_str())
            .collect();
        let expect_broker: Vec<&str> = if case.contains("Broker") {
            vec![broker_id.as_str()]
        } else {
            vec![]
        };
        assert_eq!(described, expect_broker, "{case}: only the touched broker");
        // Every call the function made is one its role may make.
        let policy = iam::role_policy("off", &account.id, &[]);
        let tags = ResourceTags::read(&account).await;
        let denied = iam::denied(&policy, &log, &account.id, &tags);
        assert!(denied.is_empty(), "{case}: {}", denied.join("\n"));
    }

    // A change that moves no network, and a cluster no mapping reads: nothing audited.
    let mut quiet = sample(
        "handled/docdb-modify-db-cluster.json",
        &[("events-docdb", "events"), own[0]],
    );
    quiet["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("vpcSecurityGroupIds");
    let outcome = handle(&deps, &quiet, 1_800_000_000).await.unwrap();
    assert_eq!(outcome.trigger, "ignored", "{outcome:?}");
    let aurora = sample(
        "handled/docdb-modify-db-cluster.json",
        &[("events-docdb", "some-aurora-cluster"), own[0]],
    );
    let outcome = handle(&deps, &aurora, 1_800_000_000).await.unwrap();
    assert_eq!(outcome.mappings_audited, 0, "{outcome:?}");
}

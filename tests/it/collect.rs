//! Collection against the emulator: the facts read through the SDK, judged by the engine,
//! the exact call counts, access-denied degradation, and the `esm-guard` binary itself.

use std::collections::BTreeMap;
use std::process::Command;

use esm_guard::aws::{collect, Clients, CollectOptions, Scope};
use esm_guard::rules::{evaluate, Report, RuleId, Verdict};
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};

async fn audit(account: &Account, scope: Scope) -> (Report, u32) {
    let clients = Clients::new(&account.config);
    let options = CollectOptions {
        scope,
        for_remediation: false,
        deadline: None,
    };
    let collection = collect(&clients, &options, &|_| {}).await.expect("collect");
    (evaluate(&collection.snapshot), collection.total_calls())
}

fn rules_of(report: &Report, uuid: &str) -> Vec<(RuleId, String)> {
    report
        .mapping(uuid)
        .unwrap_or_else(|| panic!("{uuid} in report"))
        .findings
        .iter()
        .map(|f| (f.rule, f.severity.as_str().to_string()))
        .collect()
}

/// A VPC with two private and two public subnets in two AZs.
struct Net {
    vpc: String,
    private: Vec<String>,
    public: Vec<String>,
}

async fn network(b: &Builder, octet: u8) -> Net {
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let mut private = Vec::new();
    let mut public = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        private.push(
            b.private_subnet(&vpc, &format!("10.{octet}.{}.0/24", i), az)
                .await,
        );
        public.push(
            b.public_subnet(&vpc, &format!("10.{octet}.{}.0/24", 100 + i), az)
                .await,
        );
    }
    Net {
        vpc,
        private,
        public,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_four_cases_read_from_the_emulator() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 1).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9098).await;
    let groups = vec![sg.clone()];
    let private_cluster = b
        .msk_cluster("private", &net.private, &groups, Auth::Iam)
        .await;
    let public_cluster = b
        .msk_cluster("public", &net.public, &groups, Auth::Iam)
        .await;
    let f = b.function("consumer").await;
    let private_on_demand = b.msk_mapping(&f, &private_cluster, false, None).await;
    let public_on_demand = b.msk_mapping(&f, &public_cluster, false, None).await;
    let g = b.function("consumer-provisioned").await;
    let private_provisioned = b.msk_mapping(&g, &private_cluster, true, None).await;
    let public_provisioned = b.msk_mapping(&g, &public_cluster, true, None).await;

    let (report, _) = audit(&account, Scope::default()).await;
    let cases = [
        (&private_on_demand, Verdict::Fail),
        (&public_on_demand, Verdict::Fail),
        (&private_provisioned, Verdict::Pass),
        (&public_provisioned, Verdict::Pass),
    ];
    for (uuid, want) in cases {
        assert_eq!(
            report.mapping(uuid).unwrap().verdict,
            want,
            "{uuid}: {:?}",
            rules_of(&report, uuid)
        );
    }
    for uuid in [&private_on_demand, &public_on_demand] {
        assert!(rules_of(&report, uuid).contains(&(RuleId::NoServicePath, "fail".into())));
    }

    // A NAT gateway serves the private subnets, never the public ones.
    for (public, private) in net.public.iter().zip(&net.private) {
        b.nat_route(public, private).await;
    }
    let (report, _) = audit(&account, Scope::default()).await;
    assert_eq!(
        report.mapping(&private_on_demand).unwrap().verdict,
        Verdict::Pass,
        "{:?}",
        rules_of(&report, &private_on_demand)
    );
    assert_eq!(
        report.mapping(&public_on_demand).unwrap().verdict,
        Verdict::Fail
    );

    // Endpoints with private DNS serve both.
    b.endpoint(&net.vpc, "lambda", &net.public, &groups, true)
        .await;
    b.endpoint(&net.vpc, "sts", &net.public, &groups, true)
        .await;
    let (report, _) = audit(&account, Scope::default()).await;
    for uuid in [
        &private_on_demand,
        &public_on_demand,
        &private_provisioned,
        &public_provisioned,
    ] {
        let m = report.mapping(uuid).unwrap();
        assert!(
            m.verdict <= Verdict::Warn,
            "{uuid}: {:?}",
            rules_of(&report, uuid)
        );
    }
    // The endpoints keep the default policy: advice only.
    assert!(
        rules_of(&report, &public_on_demand).contains(&(RuleId::EndpointPolicyOpen, "info".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_moto_can_express() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 2).await;
    // Wrong broker port: the group admits 9092, the SCRAM mapping dials 9096.
    let plain = b.cluster_group(&net.vpc, "plain", 9092).await;
    let scram = b
        .msk_cluster(
            "scram",
            &net.private,
            std::slice::from_ref(&plain),
            Auth::Scram,
        )
        .await;
    let f = b.function("scram-consumer").await;
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_demo-abc";
    let wrong_port = b.msk_mapping(&f, &scram, true, Some(secret)).await;
    // An endpoint whose group blocks 443, relied on by an on-demand mapping.
    let cluster_sg = b.security_group(&net.vpc, "cluster-no-443").await;
    b.allow_ingress_from_group(&cluster_sg, 9098, &cluster_sg)
        .await;
    let endpoint_sg = b.security_group(&net.vpc, "endpoint").await;
    b.endpoint(
        &net.vpc,
        "lambda",
        &net.private,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    b.endpoint(
        &net.vpc,
        "sts",
        &net.private,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    let iam = b
        .msk_cluster(
            "iam",
            &net.private,
            std::slice::from_ref(&cluster_sg),
            Auth::Iam,
        )
        .await;
    let g = b.function("iam-consumer").await;
    let blocked = b.msk_mapping(&g, &iam, false, None).await;
    b.set_last_processing_result(&blocked, "PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS.");
    // Self-managed Kafka in the VPC, provisioned mode, egress removed.
    let sm_sg = b.security_group(&net.vpc, "self-managed").await;
    b.ec2
        .revoke_security_group_egress()
        .group_id(&sm_sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("RevokeSecurityGroupEgress");
    let h = b.function("sm-consumer").await;
    let self_managed = b
        .self_managed_mapping(
            &h,
            &["10.2.50.10:9092", "10.2.51.10:9092"],
            &net.private,
            std::slice::from_ref(&sm_sg),
            true,
        )
        .await;

    let (report, _) = audit(&account, Scope::default()).await;
    let wrong = rules_of(&report, &wrong_port);
    assert!(
        wrong.contains(&(RuleId::BrokerIngress, "fail".into())),
        "{wrong:?}"
    );
    assert_eq!(
        report
            .mapping(&wrong_port)
            .unwrap()
            .network
            .as_ref()
            .unwrap()
            .broker_ports,
        vec![9096]
    );
    let blocked_rules = rules_of(&report, &blocked);
    assert!(
        blocked_rules.contains(&(RuleId::EndpointSgIngress, "fail".into())),
        "{blocked_rules:?}"
    );
    assert!(
        blocked_rules.contains(&(RuleId::EsmReportedProblem, "fail".into())),
        "{blocked_rules:?}"
    );
    let sm = rules_of(&report, &self_managed);
    assert_eq!(sm, vec![(RuleId::BrokerEgress, "fail".into())], "{sm:?}");
    let m = report.mapping(&self_managed).unwrap();
    assert_eq!(
        m.network.as_ref().unwrap().vpc_id.as_deref(),
        Some(net.vpc.as_str())
    );
}

/// Counts the emulator's request log by API.
fn by_api(requests: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        *counts.entry(r.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mapping_costs_at_most_twelve_calls() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 3).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9096).await;
    let groups = vec![sg];
    let cluster = b.msk_cluster("c", &net.private, &groups, Auth::Scram).await;
    // The worst case: endpoints with private DNS (VPC attributes are read) and a Secrets
    // Manager endpoint whose policy names principals (the execution role is read).
    b.endpoint(&net.vpc, "lambda", &net.private, &groups, true)
        .await;
    b.endpoint(&net.vpc, "sts", &net.private, &groups, true)
        .await;
    let sm = b
        .endpoint(&net.vpc, "secretsmanager", &net.private, &groups, true)
        .await;
    let f = b.function("f").await;
    let uuid = b
        .msk_mapping(
            &f,
            &cluster,
            false,
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-1"),
        )
        .await;
    // A policy naming principals makes esm-guard read the execution role (12 calls); one
    // that allows the secret to anyone (AWS's default full-access one included) cannot
    // depend on the role, so the role is not read (11).
    let role_bound = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}}"#,
        account.id
    );
    let open = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    for (policy, role_reads) in [(role_bound.as_str(), 1), (open, 0)] {
        b.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&sm)
            .policy_document(policy)
            .send()
            .await
            .expect("ModifyVpcEndpoint");
        account.clear_requests();
        let (report, counted) = audit(
            &account,
            Scope {
                mappings: vec![uuid.clone()],
                vpcs: vec![],
                ..Default::default()
            },
        )
        .await;
        let requests = account.requests();
        let mut expected: BTreeMap<String, usize> = [
            ("lambda:GetEventSourceMapping", 1),
            ("kafka:DescribeClusterV2", 1),
            ("ec2:DescribeSubnets", 2),
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
        if role_reads > 0 {
            expected.insert("lambda:GetFunctionConfiguration".into(), role_reads);
        }
        assert_eq!(by_api(&requests), expected, "{policy}");
        assert_eq!(requests.len(), 11 + role_reads);
        assert_eq!(
            counted as usize,
            requests.len(),
            "esm-guard's own count agrees with the emulator's log"
        );
        assert_eq!(report.mappings.len(), 1);
        assert!(
            report.mappings[0].verdict <= Verdict::Warn,
            "{:?}",
            report.mappings[0].findings
        );
    }
}

/// `mappings` mappings over `vpcs` VPCs, each VPC with one cluster in one private subnet.
/// With `secrets`, the clusters use SCRAM, the on-demand mappings read a secret, and every
/// VPC has a Secrets Manager endpoint with private DNS and AWS's full-access policy.
async fn spread(b: &Builder, mappings: usize, vpcs: usize, first_octet: u8, secrets: bool) {
    let mut clusters = Vec::new();
    for v in 0..vpcs {
        let octet = first_octet + v as u8;
        let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
        let subnet = b
            .private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await;
        let port = if secrets { 9096 } else { 9098 };
        let sg = b.cluster_group(&vpc, &format!("sg-{v}"), port).await;
        let auth = if secrets { Auth::Scram } else { Auth::Iam };
        let subnets = [subnet];
        let groups = [sg];
        clusters.push(
            b.msk_cluster(&format!("c{v}"), &subnets, &groups, auth)
                .await,
        );
        if secrets {
            let sm = b
                .endpoint(&vpc, "secretsmanager", &subnets, &groups, true)
                .await;
            b.ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(&sm)
                .policy_document(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#)
                .send()
                .await
                .expect("ModifyVpcEndpoint");
        }
    }
    let f = b.function(&format!("fn-{first_octet}")).await;
    for i in 0..mappings {
        // One mapping per (function, cluster): Lambda refuses duplicates.
        let function = if i < vpcs {
            f.clone()
        } else {
            b.function(&format!("fn-{first_octet}-{i}")).await
        };
        let secret = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-{i}");
        let secret = secrets.then_some(secret.as_str());
        b.msk_mapping(&function, &clusters[i % vpcs], i % 2 == 0, secret)
            .await;
    }
}

/// The calls of a sweep, counted at the emulator, for 1, 10 and 100 mappings in 1 and 10
/// VPCs: flat in mappings at a fixed number of VPCs (issue 7's target).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_calls_are_flat_in_mappings() {
    // List mappings, DescribeClusterV2 (one cluster) or ListClustersV2 (more), 2 x subnets,
    // route tables, NAT, endpoints, groups, ACLs.
    let plain: BTreeMap<&str, usize> = [
        ("lambda:ListEventSourceMappings", 1),
        ("ec2:DescribeSubnets", 2),
        ("ec2:DescribeRouteTables", 1),
        ("ec2:DescribeNatGateways", 1),
        ("ec2:DescribeVpcEndpoints", 1),
        ("ec2:DescribeSecurityGroups", 1),
        ("ec2:DescribeNetworkAcls", 1),
    ]
    .into_iter()
    .collect();
    let mut octet = 20;
    for (vpcs, secrets) in [(1, false), (10, false), (1, true), (10, true)] {
        for mappings in [1, 10, 100] {
            let account = account().await;
            spread(&Builder::new(&account), mappings, vpcs, octet, secrets).await;
            octet += vpcs as u8;
            account.clear_requests();
            let (report, counted) = audit(&account, Scope::default()).await;
            assert_eq!(report.mappings.len(), mappings);
            let mut expected: BTreeMap<String, usize> =
                plain.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            // The mappings read vpcs.min(mappings) clusters: one is described, more listed.
            let cluster_call = if vpcs.min(mappings) == 1 {
                "kafka:DescribeClusterV2"
            } else {
                "kafka:ListClustersV2"
            };
            expected.insert(cluster_call.into(), 1);
            if secrets {
                // DNS support and hostnames of each VPC that relies on private DNS; no
                // execution role is read (the policy allows anyone).
                expected.insert("ec2:DescribeVpcAttribute".into(), 2 * vpcs.min(mappings));
            }
            let requests = account.requests();
            assert_eq!(
                by_api(&requests),
                expected,
                "{mappings} mappings in {vpcs} VPC(s), secrets {secrets}"
            );
            assert_eq!(counted as usize, requests.len(), "own count = emulator's");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_makes_the_verdict_unknown_never_pass() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 4).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9098).await;
    let cluster = b
        .msk_cluster("c", &net.private, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, true, None).await;
    let (report, _) = audit(&account, Scope::default()).await;
    assert_eq!(report.mapping(&uuid).unwrap().verdict, Verdict::Pass);

    account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "status": 403, "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}));
    let (report, _) = audit(&account, Scope::default()).await;
    account.clear_faults();
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Unknown);
    let finding = m
        .findings
        .iter()
        .find(|f| f.rule == RuleId::InsufficientData)
        .expect("insufficient-data");
    assert!(
        finding.message.contains("ec2:DescribeRouteTables"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("UnauthorizedOperation"),
        "{}",
        finding.message
    );
}

fn cli(account: &Account, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_esm-guard"))
        .args(args)
        .env_remove("AWS_PROFILE")
        .envs(account.env())
        .output()
        .expect("run esm-guard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_the_json_contract_and_exit_codes() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 5).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9098).await;
    let cluster = b.msk_cluster("c", &net.private, &[sg], Auth::Iam).await;
    let f = b.function("f").await;
    let healthy = b.msk_mapping(&f, &cluster, true, None).await;

    let (code, stdout, stderr) = cli(&account, &["audit", "--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("exactly one JSON document on stdout");
    assert_eq!(doc["schema"], "esm-guard/report/v1");
    assert_eq!(doc["region"], "us-east-1");
    assert_eq!(
        doc["summary"],
        json!({"pass": 1, "warn": 0, "fail": 0, "unknown": 0})
    );
    let m = &doc["mappings"][0];
    assert_eq!(m["uuid"], healthy.as_str());
    assert_eq!(m["source"]["kind"], "msk");
    assert_eq!(m["mode"], "provisioned");
    assert_eq!(m["network"]["vpc_id"], net.vpc.as_str());
    assert_eq!(m["network"]["broker_ports"], json!([9098]));
    assert!(doc["actions"].is_array());

    let g = b.function("g").await;
    let broken = b.msk_mapping(&g, &cluster, false, None).await;
    let (code, stdout, _) = cli(&account, &["audit", "--output", "json", "--esm", &broken]);
    assert_eq!(code, 1, "a failing mapping exits 1");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["mappings"].as_array().unwrap().len(), 1);
    let finding = &doc["mappings"][0]["findings"][0];
    assert_eq!(finding["rule"], "no-service-path");
    assert_eq!(finding["remediation"]["automatic"], true);

    let (code, stdout, _) = cli(&account, &["audit", "--esm", &broken]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("no-service-path") && stdout.contains("FAIL"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );

    // A snapshot audits offline, identically.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let (code, _, stderr) = cli(&account, &["snapshot", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let offline = Command::new(env!("CARGO_BIN_EXE_esm-guard"))
        .args([
            "audit",
            "--output",
            "json",
            "--snapshot",
            file.to_str().unwrap(),
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(1));
    let (_, live, _) = cli(&account, &["audit", "--output", "json"]);
    assert_eq!(String::from_utf8_lossy(&offline.stdout), live);

    let (code, _, stderr) = cli(
        &account,
        &["audit", "--esm", "00000000-0000-0000-0000-000000000000"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("00000000-0000-0000-0000-000000000000"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&account, &["audit", "--vpc", "not-a-vpc"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not-a-vpc"), "{stderr}");
    std::fs::write(
        &file,
        "{\"schema\": \"esm-guard/snapshot/v1\", \"mappings\": [",
    )
    .unwrap();
    let (code, _, stderr) = cli(&account, &["audit", "--snapshot", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("snap.json"), "{stderr}");
}

#[test]
fn explain_prints_every_rule_and_rejects_unknown_ones() {
    for rule in RuleId::ALL {
        let out = Command::new(env!("CARGO_BIN_EXE_esm-guard"))
            .args(["explain", rule.as_str()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Checks:") && text.contains("Why:") && text.contains("Fix:"),
            "{text}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_esm-guard"))
        .args(["explain", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-rule"));
}

/// Broker ingress from a managed prefix list: the list's entries are read (one call, only
/// because a rule on the path references it), and decide; unreadable, the mapping is
/// unknown, never failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_lists_on_a_path_are_read_and_decide() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 6).await;
    let sg = b.security_group(&net.vpc, "cluster").await;
    b.allow_ingress_from_group(&sg, 443, &sg).await;
    let list = |cidr: &'static str| {
        let ec2 = b.ec2.clone();
        async move {
            ec2.create_managed_prefix_list()
                .prefix_list_name(format!("brokers-{cidr}"))
                .address_family("IPv4")
                .max_entries(5)
                .entries(
                    aws_sdk_ec2::types::AddPrefixListEntry::builder()
                        .cidr(cidr)
                        .build(),
                )
                .send()
                .await
                .expect("CreateManagedPrefixList")
                .prefix_list()
                .and_then(|p| p.prefix_list_id())
                .expect("pl id")
                .to_string()
        }
    };
    let vpc_list = list("10.6.0.0/16").await;
    let other_list = list("192.168.0.0/16").await;
    let from_list = |id: &str| {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(9098)
            .to_port(9098)
            .prefix_list_ids(
                aws_sdk_ec2::types::PrefixListId::builder()
                    .prefix_list_id(id)
                    .build(),
            )
            .build()
    };
    b.ec2
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(from_list(&vpc_list))
        .send()
        .await
        .expect("ingress from the prefix list");
    let cluster = b
        .msk_cluster("c", &net.private, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, true, None).await;
    let scope = || Scope {
        mappings: vec![uuid.clone()],
        vpcs: vec![],
        ..Default::default()
    };

    account.clear_requests();
    let (report, _) = audit(&account, scope()).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Pass, "{:#?}", m.findings);
    let calls = by_api(&account.requests());
    assert_eq!(
        calls.get("ec2:GetManagedPrefixListEntries"),
        Some(&1),
        "{calls:?}"
    );

    // Unreadable: unknown naming the call, never broker-ingress.
    account.fault(json!({"service": "ec2", "action": "GetManagedPrefixListEntries", "status": 403, "code": "UnauthorizedOperation", "message": "not authorized"}));
    let (report, _) = audit(&account, scope()).await;
    account.clear_faults();
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Unknown, "{:#?}", m.findings);
    assert!(m.findings.iter().all(|f| f.rule != RuleId::BrokerIngress));
    assert!(
        m.findings.iter().any(|f| f.rule == RuleId::InsufficientData
            && f.message.contains(&vpc_list)
            && f.resources[0] == "ec2:GetManagedPrefixListEntries"),
        "{:#?}",
        m.findings
    );

    // A list that does not hold the subnets: blocked.
    b.ec2
        .revoke_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(from_list(&vpc_list))
        .send()
        .await
        .expect("revoke");
    b.ec2
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(from_list(&other_list))
        .send()
        .await
        .expect("ingress from the other list");
    let (report, _) = audit(&account, scope()).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Fail, "{:#?}", m.findings);
    assert!(m.findings.iter().any(|f| f.rule == RuleId::BrokerIngress));
}

/// An STS endpoint policy that names the execution role: the role is read (the decision
/// depends on it) whether or not a secret is in use, so the verdict is the same either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_is_read_wherever_a_policy_depends_on_it() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 7).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9098).await;
    let groups = vec![sg];
    b.endpoint(&net.vpc, "lambda", &net.private, &groups, true)
        .await;
    let sts = b
        .endpoint(&net.vpc, "sts", &net.private, &groups, true)
        .await;
    let cluster = b.msk_cluster("c", &net.private, &groups, Auth::Iam).await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, false, None).await;
    let role = b
        .lambda
        .get_function_configuration()
        .function_name(&f)
        .send()
        .await
        .expect("GetFunctionConfiguration")
        .role()
        .expect("role")
        .to_string();
    let policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole","Resource":"{role}"}}]}}"#
    );
    b.ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(&sts)
        .policy_document(&policy)
        .send()
        .await
        .expect("ModifyVpcEndpoint");
    account.clear_requests();
    let (report, _) = audit(
        &account,
        Scope {
            mappings: vec![uuid.clone()],
            vpcs: vec![],
            ..Default::default()
        },
    )
    .await;
    let calls = by_api(&account.requests());
    assert_eq!(
        calls.get("lambda:GetFunctionConfiguration"),
        Some(&1),
        "{calls:?}"
    );
    let m = report.mapping(&uuid).unwrap();
    // Allowed, on the role's ARN rather than "*": a scope warning, not a denial.
    assert_eq!(m.verdict, Verdict::Warn, "{:#?}", m.findings);
    assert!(m
        .findings
        .iter()
        .any(|f| f.rule == RuleId::EndpointPolicyScope));
    assert!(m
        .findings
        .iter()
        .all(|f| f.rule != RuleId::EndpointPolicyDenies));
}

/// `snapshot --out` writes a fresh temporary file beside the target and renames it: a
/// symlink planted where a careless writer puts its temporary file is never followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_out_never_follows_a_planted_symlink() {
    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 8).await;
    let sg = b.cluster_group(&net.vpc, "cluster", 9098).await;
    let cluster = b
        .msk_cluster("c", &net.private, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    b.msk_mapping(&f, &cluster, true, None).await;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("facts.json");
    std::os::unix::fs::symlink(&victim, dir.path().join("facts.tmp")).unwrap();
    let target = out.to_str().unwrap().to_string();
    let (code, _, stderr) = cli(&account, &["snapshot", "--out", &target]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["schema"], "esm-guard/snapshot/v1");
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
}

/// The README's rule table lists every rule with its severity, as `explain` gives it.
#[test]
fn the_readmes_rule_table_is_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for rule in RuleId::ALL {
        let severity = esm_guard::rules::explain(*rule).severity.as_str();
        let row = format!("| `{rule}` | {severity} |");
        assert!(readme.contains(&row), "README.md has no row {row}");
    }
}

/// A mapping on another account's cluster, through an MSK VPC connection of this account:
/// judged on the connection's subnets and groups at 14001-14100, in the same call budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_connection_mapping_is_read_and_judged() {
    let owner = account().await;
    let o = Builder::new(&owner);
    let owner_net = network(&o, 9).await;
    let owner_sg = o.cluster_group(&owner_net.vpc, "cluster", 9098).await;
    let cluster = o
        .msk_cluster("shared", &owner_net.private, &[owner_sg], Auth::Iam)
        .await;

    let account = account().await;
    let b = Builder::new(&account);
    let net = network(&b, 10).await;
    let sg = b.security_group(&net.vpc, "connection").await;
    b.allow_ingress_from_group(&sg, 443, &sg).await;
    let groups = vec![sg.clone()];
    b.endpoint(&net.vpc, "lambda", &net.private, &groups, true)
        .await;
    b.endpoint(&net.vpc, "sts", &net.private, &groups, true)
        .await;
    let connection = b
        .kafka
        .create_vpc_connection()
        .target_cluster_arn(&cluster)
        .authentication("SASL_IAM")
        .vpc_id(&net.vpc)
        .set_client_subnets(Some(net.private.clone()))
        .set_security_groups(Some(groups.clone()))
        .send()
        .await
        .expect("CreateVpcConnection")
        .vpc_connection_arn()
        .expect("connection arn")
        .to_string();
    let f = b.function("consumer").await;
    let uuid = b.msk_mapping(&f, &connection, false, None).await;
    let scope = || Scope {
        mappings: vec![uuid.clone()],
        ..Default::default()
    };

    // Only 443 is admitted: the brokers' range is not.
    account.clear_requests();
    let (report, counted) = audit(&account, scope()).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Fail, "{:#?}", m.findings);
    assert!(m
        .findings
        .iter()
        .any(|f| f.rule == RuleId::BrokerIngress && f.message.contains("14001-14100")));
    let calls = by_api(&account.requests());
    assert_eq!(
        calls.get("kafka:DescribeVpcConnection"),
        Some(&1),
        "{calls:?}"
    );
    assert!(!calls.contains_key("kafka:DescribeClusterV2"), "{calls:?}");
    assert!(counted <= 12, "{counted} calls: {calls:?}");

    // The range admitted from the group itself: it passes (the endpoints keep AWS's
    // full-access policy, advice only).
    b.ec2
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(14001)
                .to_port(14100)
                .user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(&sg)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("ingress 14001-14100");
    let (report, _) = audit(&account, scope()).await;
    let m = report.mapping(&uuid).unwrap();
    assert_eq!(m.verdict, Verdict::Pass, "{:#?}", m.findings);
}

//! Self-healing against the emulator: each automated action planned only when needed,
//! applied once, idempotent, tagged, and the mapping passing afterwards; the opt-out tag,
//! the per-run limit, a failure midway, and two runs racing.

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};
use esm_guard::audit::{remediate, Run};
use esm_guard::aws::{apply, Clients, CollectOptions};
use esm_guard::plan::ActionKind;
use esm_guard::remediation::{Healing, Mode, Outcome};
use esm_guard::rules::{RuleId, Verdict};
use serde_json::json;

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};

async fn run(account: &Account, mode: Mode, max: usize) -> Run {
    let clients = Clients::new(&account.config);
    remediate(&clients, &CollectOptions::default(), mode, max, &|_| {})
        .await
        .expect("remediate")
}

fn outcomes(run: &Run) -> Vec<(String, String)> {
    run.results
        .iter()
        .map(|r| {
            let status = serde_json::to_value(&r.outcome).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string();
            (r.action_id.split('/').next().unwrap().to_string(), status)
        })
        .collect()
}

/// A VPC with two private subnets and nothing else.
async fn bare_vpc(b: &Builder, octet: u8) -> (String, Vec<String>) {
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    (vpc, subnets)
}

async fn endpoints_in(b: &Builder, vpc: &str) -> Vec<aws_sdk_ec2::types::VpcEndpoint> {
    b.ec2
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .unwrap()
        .vpc_endpoints()
        .to_vec()
}

async fn revoke_all_egress(b: &Builder, sg: &str) {
    b.ec2
        .revoke_security_group_egress()
        .group_id(sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("RevokeSecurityGroupEgress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_rules_are_added_once_and_heal_the_mapping() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 20).await;
    // SCRAM dials 9096; the group admits nothing, and lets nothing out.
    let sg = b.security_group(&vpc, "cluster").await;
    revoke_all_egress(&b, &sg).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Scram)
        .await;
    let f = b.function("f").await;
    let uuid = b
        .msk_mapping(
            &f,
            &cluster,
            true,
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:s"),
        )
        .await;

    let planned = run(&account, Mode::Plan, 10).await;
    assert_eq!(
        outcomes(&planned),
        vec![
            ("authorize-egress".into(), "planned".into()),
            ("authorize-ingress".into(), "planned".into())
        ]
    );
    let rules: Vec<RuleId> = planned
        .before_report
        .mapping(&uuid)
        .unwrap()
        .findings
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(rules, vec![RuleId::BrokerIngress, RuleId::BrokerEgress]);
    assert!(planned.healing.is_empty(), "plan mode changes nothing");

    let applied = run(&account, Mode::Apply, 10).await;
    assert_eq!(
        outcomes(&applied),
        vec![
            ("authorize-egress".into(), "applied".into()),
            ("authorize-ingress".into(), "applied".into())
        ]
    );
    assert_eq!(applied.healing.len(), 1);
    assert_eq!(applied.healing[0].outcome, Healing::Healed);
    assert_eq!(
        applied.after_report.mapping(&uuid).unwrap().verdict,
        Verdict::Pass
    );
    // The rules are narrow (the group itself, the broker port) and say who made them.
    let group = &b
        .ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    let ingress = &group.ip_permissions()[0];
    assert_eq!(
        (ingress.from_port(), ingress.to_port()),
        (Some(9096), Some(9096))
    );
    assert!(
        ingress.ip_ranges().is_empty(),
        "never a CIDR, never 0.0.0.0/0"
    );
    assert_eq!(
        ingress.user_id_group_pairs()[0].group_id(),
        Some(sg.as_str())
    );
    assert_eq!(
        ingress.user_id_group_pairs()[0].description(),
        Some("esm-guard: broker-ingress")
    );

    // Nothing left to do: a second run plans nothing and changes nothing.
    let again = run(&account, Mode::Apply, 10).await;
    assert!(again.results.is_empty(), "{:?}", again.results);
    assert!(again.actions.iter().all(|a| !a.automatic));

    // Replaying the same actions directly is idempotent: the duplicates count as done.
    let clients = Clients::new(&account.config);
    let replay = apply(&clients.ec2, &planned.before.snapshot, &planned.actions, 10).await;
    assert!(
        replay
            .iter()
            .all(|r| matches!(r.outcome, Outcome::AlreadyDone { .. })),
        "{replay:?}"
    );
    let group = &b
        .ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    assert_eq!(group.ip_permissions().len(), 1, "no duplicate rule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_endpoints_are_created_tagged_once_and_heal_the_mapping() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 21).await;
    let sg = b.cluster_group(&vpc, "cluster", 9098).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, false, None).await;

    let applied = run(&account, Mode::Apply, 10).await;
    assert_eq!(
        outcomes(&applied),
        vec![
            ("create-endpoint".into(), "applied".into()),
            ("create-endpoint".into(), "applied".into())
        ]
    );
    assert_eq!(
        applied.healing[0].outcome,
        Healing::Healed,
        "{:?}",
        applied.after_report.mapping(&uuid)
    );
    assert_eq!(applied.healing[0].created.len(), 2);
    let endpoints = endpoints_in(&b, &vpc).await;
    assert_eq!(endpoints.len(), 2);
    for e in &endpoints {
        assert_eq!(e.private_dns_enabled(), Some(true));
        assert_eq!(e.groups()[0].group_id(), Some(sg.as_str()));
        assert_eq!(e.subnet_ids().len(), 2, "one subnet per AZ");
        let tag = |k: &str| {
            e.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(str::to_string)
        };
        assert_eq!(tag("esm-guard:managed").as_deref(), Some("true"));
        assert_eq!(tag("esm-guard:reason").as_deref(), Some("no-service-path"));
        assert_eq!(tag("esm-guard:esm-uuid").as_deref(), Some(uuid.as_str()));
        let policy: serde_json::Value = serde_json::from_str(e.policy_document().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"],
            json!({"Service": ["lambda.amazonaws.com"]})
        );
        assert_eq!(policy["Statement"][0]["Resource"], "*");
    }
    // Idempotent: a retried create with the same client token returns the same endpoint.
    let clients = Clients::new(&account.config);
    let replay = apply(&clients.ec2, &applied.before.snapshot, &applied.actions, 10).await;
    assert!(
        replay
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. })),
        "{replay:?}"
    );
    assert_eq!(endpoints_in(&b, &vpc).await.len(), 2, "no second endpoint");
    assert!(run(&account, Mode::Apply, 10).await.results.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_security_group_rules_are_added() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 22).await;
    let sg = b.security_group(&vpc, "cluster").await;
    b.allow_ingress_from_group(&sg, 9098, &sg).await;
    revoke_all_egress(&b, &sg).await;
    // The ENIs still need the broker port out: allow it to the group itself.
    b.ec2
        .authorize_security_group_egress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(9098)
                .to_port(9098)
                .user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(&sg)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let endpoint_sg = b.security_group(&vpc, "endpoints").await;
    b.endpoint(
        &vpc,
        "lambda",
        &subnets,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    b.endpoint(
        &vpc,
        "sts",
        &subnets,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, false, None).await;

    let applied = run(&account, Mode::Apply, 10).await;
    let kinds: Vec<_> = applied
        .actions
        .iter()
        .filter(|a| a.automatic)
        .map(|a| match &a.kind {
            ActionKind::AuthorizeIngress {
                group_id,
                source_group_id,
                port,
                ..
            } => format!("in {group_id}<-{source_group_id}:{port}"),
            ActionKind::AuthorizeEgress {
                group_id,
                destination_group_id,
                port,
                ..
            } => format!("out {group_id}->{destination_group_id}:{port}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            format!("out {sg}->{endpoint_sg}:443"),
            format!("in {endpoint_sg}<-{sg}:443")
        ]
    );
    assert_eq!(
        applied.after_report.mapping(&uuid).unwrap().verdict,
        Verdict::Pass,
        "{:?}",
        applied.after_report.mapping(&uuid)
    );
    assert!(run(&account, Mode::Apply, 10).await.results.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opt_out_tag_stops_changes_on_a_vpc_a_group_or_a_mapping() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 23).await;
    let sg = b.cluster_group(&vpc, "cluster", 9092).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, true, None).await;
    let tag = aws_sdk_ec2::types::Tag::builder()
        .key("esm-guard:remediate")
        .value("off")
        .build();

    for resource in [vpc.clone(), sg.clone()] {
        b.ec2
            .create_tags()
            .resources(&resource)
            .tags(tag.clone())
            .send()
            .await
            .unwrap();
        let r = run(&account, Mode::Apply, 10).await;
        assert_eq!(
            outcomes(&r),
            vec![("authorize-ingress".into(), "opted-out".into())]
        );
        let Outcome::OptedOut { reason } = &r.results[0].outcome else {
            unreachable!()
        };
        assert!(reason.contains(&resource), "{reason}");
        assert_eq!(
            r.after_report.mapping(&uuid).unwrap().verdict,
            Verdict::Fail,
            "nothing changed"
        );
        b.ec2
            .delete_tags()
            .resources(&resource)
            .tags(tag.clone())
            .send()
            .await
            .unwrap();
    }
    let arn = format!(
        "arn:aws:lambda:us-east-1:{}:event-source-mapping:{uuid}",
        account.id
    );
    b.lambda
        .tag_resource()
        .resource(&arn)
        .tags("esm-guard:remediate", "off")
        .send()
        .await
        .unwrap();
    let r = run(&account, Mode::Apply, 10).await;
    assert_eq!(
        outcomes(&r),
        vec![("authorize-ingress".into(), "opted-out".into())]
    );
    b.lambda
        .untag_resource()
        .resource(&arn)
        .tag_keys("esm-guard:remediate")
        .send()
        .await
        .unwrap();
    let r = run(&account, Mode::Apply, 10).await;
    assert_eq!(
        outcomes(&r),
        vec![("authorize-ingress".into(), "applied".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_limit_leaves_the_rest_pending_for_the_next_run() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 24).await;
    let sg = b.cluster_group(&vpc, "cluster", 9098).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, false, None).await;

    let first = run(&account, Mode::Apply, 1).await;
    assert_eq!(
        outcomes(&first),
        vec![
            ("create-endpoint".into(), "applied".into()),
            ("create-endpoint".into(), "pending".into())
        ]
    );
    assert_eq!(first.healing[0].outcome, Healing::Improved);
    let second = run(&account, Mode::Apply, 1).await;
    assert_eq!(
        outcomes(&second),
        vec![("create-endpoint".into(), "applied".into())]
    );
    assert_eq!(
        second.after_report.mapping(&uuid).unwrap().verdict,
        Verdict::Pass
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_midway_says_what_was_done_and_the_next_run_finishes() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 25).await;
    let sg = b.security_group(&vpc, "cluster").await;
    revoke_all_egress(&b, &sg).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, true, None).await;

    account.fault(json!({"service": "ec2", "action": "AuthorizeSecurityGroupIngress", "status": 403, "code": "UnauthorizedOperation", "message": "not authorized"}));
    let partial = run(&account, Mode::Apply, 10).await;
    account.clear_faults();
    assert_eq!(
        outcomes(&partial),
        vec![
            ("authorize-egress".into(), "applied".into()),
            ("authorize-ingress".into(), "failed".into())
        ]
    );
    let Outcome::Failed { error } = &partial.results[1].outcome else {
        unreachable!()
    };
    assert!(
        error.contains("ec2:AuthorizeSecurityGroupIngress")
            && error.contains("UnauthorizedOperation"),
        "{error}"
    );
    assert_eq!(partial.healing[0].outcome, Healing::Improved);

    let finish = run(&account, Mode::Apply, 10).await;
    assert_eq!(
        outcomes(&finish),
        vec![("authorize-ingress".into(), "applied".into())]
    );
    assert_eq!(
        finish.after_report.mapping(&uuid).unwrap().verdict,
        Verdict::Pass
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runs_racing_create_no_duplicates() {
    let account = account().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 26).await;
    let sg = b.security_group(&vpc, "cluster").await;
    b.allow_ingress_from_group(&sg, 443, &sg).await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    let uuid = b.msk_mapping(&f, &cluster, false, None).await;

    let (one, two) = tokio::join!(
        run(&account, Mode::Apply, 10),
        run(&account, Mode::Apply, 10)
    );
    for r in [&one, &two] {
        assert!(
            r.results.iter().all(|x| matches!(
                x.outcome,
                Outcome::Applied { .. } | Outcome::AlreadyDone { .. }
            )),
            "{:?}",
            r.results
        );
    }
    let endpoints = endpoints_in(&b, &vpc).await;
    assert_eq!(
        endpoints.len(),
        2,
        "one endpoint per service, whichever run made it"
    );
    let group = b
        .ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    let broker_rules = group
        .ip_permissions()
        .iter()
        .filter(|p| p.from_port() == Some(9098))
        .count();
    assert_eq!(broker_rules, 1, "one broker rule");
    let settled = run(&account, Mode::Apply, 10).await;
    assert!(settled.results.is_empty());
    assert_eq!(
        settled.after_report.mapping(&uuid).unwrap().verdict,
        Verdict::Pass
    );
}

/// The opt-out fails closed: an opted-out VPC stays untouched when its description
/// (ec2:DescribeVpcs, the only read of its tags) comes back cut or hollow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_vpc_is_untouched_when_its_tags_cannot_be_read() {
    let account = crate::support::proxy::account_via_proxy().await;
    let b = Builder::new(&account);
    let (vpc, subnets) = bare_vpc(&b, 29).await;
    let sg = b.security_group(&vpc, "cluster").await;
    let cluster = b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("f").await;
    // On demand, no path: two endpoints and a broker rule would be planned.
    b.msk_mapping(&f, &cluster, false, None).await;
    b.ec2
        .create_tags()
        .resources(&vpc)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("esm-guard:remediate")
                .value("off")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for fault in [
        json!({"service": "ec2", "action": "DescribeVpcs", "hollow": true}),
        json!({"service": "ec2", "action": "DescribeVpcs", "cut": {"at": 0.5, "framing": "length"}}),
        json!({"service": "ec2", "action": "DescribeVpcs", "raw": {"status": 503, "body": ""}}),
    ] {
        account.wire_fault(fault.clone());
        account.clear_requests();
        let r = run(&account, Mode::Apply, 10).await;
        account.clear_wire_faults();
        let writes: Vec<String> = account
            .requests()
            .into_iter()
            .filter(|r| r.contains(":Create") || r.contains(":Authorize"))
            .collect();
        assert!(writes.is_empty(), "{fault}: {writes:?}");
        assert!(!r.results.is_empty(), "{fault}: something was planned");
        for result in &r.results {
            let Outcome::OptedOut { reason } = &result.outcome else {
                panic!("{fault}: {:?} ran", result);
            };
            assert!(
                reason.contains(&vpc) && reason.contains("could not be read"),
                "{reason}"
            );
        }
        assert!(endpoints_in(&b, &vpc).await.is_empty());
    }
}

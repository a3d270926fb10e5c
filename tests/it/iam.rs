//! IAM as AWS enforces it: what the function does in an account, checked request by request
//! against the role policy the template renders for its RemediationMode (support/iam.rs).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ec2::types::{IpPermission, IpRange};
use aws_sdk_lambda::types::{DestinationConfig, OnFailure};
use esm_guard::lambda::config::Remediation;
use esm_guard::lambda::handler::{handle, Deps};
use esm_guard::policy::Decision;
use esm_guard::remediation::Outcome;
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};
use crate::support::function::deps;
use crate::support::iam::{self, Logged, ResourceTags};

const NOW: i64 = 1_800_000_000;
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-scram";

fn sweep() -> Value {
    let path = format!(
        "{}/events/handled/scheduler-sweep.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An account with the function's topic and table, and one on-demand SCRAM mapping whose
/// network lacks everything esm-guard may add: the cluster group admits nothing and lets
/// nothing out, and no endpoint or NAT serves Lambda, STS, Secrets Manager or the SQS
/// on-failure destination. Returns (account, deps, cluster group).
async fn bare_account(octet: u8, mode: Remediation) -> (Account, Deps, String) {
    let account = account().await;
    let b = Builder::new(&account);
    let deps = deps(&account, mode).await;
    let vpc = b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        b.private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        b.private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = b.security_group(&vpc, "orders-msk").await;
    b.ec2
        .revoke_security_group_egress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("RevokeSecurityGroupEgress");
    let cluster = b
        .msk_cluster("orders", &subnets, std::slice::from_ref(&sg), Auth::Scram)
        .await;
    let function = b.function("orders-consumer").await;
    let uuid = b
        .msk_mapping(&function, &cluster, false, Some(SECRET))
        .await;
    let queue = format!("arn:aws:sqs:us-east-1:{}:orders-failed", account.id);
    aws_sdk_lambda::Client::new(&account.config)
        .update_event_source_mapping()
        .uuid(&uuid)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(queue).build())
                .build(),
        )
        .send()
        .await
        .expect("UpdateEventSourceMapping (on-failure destination)");
    (account, deps, sg)
}

/// The function's requests in one sweep (only its own: the log is cleared just before).
async fn sweep_log(
    account: &Account,
    deps: &Deps,
) -> (esm_guard::lambda::handler::Outcome, Vec<Logged>) {
    account.clear_requests();
    let outcome = handle(deps, &sweep(), NOW).await.expect("handler");
    (outcome, iam::logged(account))
}

fn distinct_calls(log: &[Logged]) -> BTreeSet<String> {
    log.iter()
        .map(|r| format!("{}:{}", r.service, r.action))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fix_the_function_applies_is_allowed_by_the_apply_role_and_needs_its_tag_grants() {
    let (account, deps, sg) = bare_account(71, Remediation::Apply).await;
    let (outcome, log) = sweep_log(&account, &deps).await;

    // Every automatic fix kind of RULES.md ran, and healed the mapping.
    let applied: BTreeSet<String> = outcome
        .remediation
        .iter()
        .map(|r| {
            assert!(
                matches!(r.outcome, Outcome::Applied { .. }),
                "{}: {:?}",
                r.action_id,
                r.outcome
            );
            r.action_id.clone()
        })
        .collect();
    let expected: BTreeSet<String> = [
        // broker-ingress, broker-egress (SCRAM: 9096)
        format!("authorize-ingress/{sg}/tcp-9096/{sg}"),
        format!("authorize-egress/{sg}/tcp-9096/{sg}"),
        // endpoint-sg-ingress, https-egress (the new endpoints carry the mapping's group)
        format!("authorize-ingress/{sg}/tcp-443/{sg}"),
        format!("authorize-egress/{sg}/tcp-443/{sg}"),
    ]
    .into_iter()
    .chain(
        ["lambda", "sts", "secretsmanager", "sqs"]
            .iter()
            .map(|s| format!("create-endpoint/{}/{s}", vpc_of(&outcome, s))),
    )
    .collect();
    assert_eq!(applied, expected);
    assert_eq!(outcome.verdicts.pass, 1, "healed: {outcome:?}");

    let tags = ResourceTags::read(&account).await;
    let policy = iam::role_policy("apply", &account.id, &[]);
    let denied = iam::denied(&policy, &log, &account.id, &tags);
    assert!(denied.is_empty(), "{}", denied.join("\n"));
    let checked: usize = log
        .iter()
        .map(|r| iam::authorizations(r, &account.id, &tags).unwrap().len())
        .sum();
    println!(
        "IAM check: {} requests, {checked} authorizations, all allowed",
        log.len()
    );
    // The log holds every kind of call the function makes here, reads and writes.
    let calls = distinct_calls(&log);
    for call in [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:CreateVpcEndpoint",
        "ec2:DescribeSubnets",
        "lambda:ListEventSourceMappings",
        "lambda:GetFunctionConfiguration",
        "kafka:DescribeClusterV2",
        "dynamodb:PutItem",
        "sns:Publish",
    ] {
        assert!(calls.contains(call), "{call} not in {calls:?}");
    }

    // Without the tag-on-create grant for rules, each rule the function added is refused, by
    // name; the endpoints stay allowed.
    let without = iam::role_policy("apply", &account.id, &["TagSecurityGroupRulesOnCreate"]);
    let denied = iam::denied(&without, &log, &account.id, &tags);
    assert_eq!(denied.len(), 4, "{}", denied.join("\n"));
    for line in &denied {
        assert!(
            line.contains("ec2:AuthorizeSecurityGroup")
                && line.contains(&format!(
                    "ec2:CreateTags on arn:aws:ec2:us-east-1:{}:security-group-rule/",
                    account.id
                ))
                && line.contains("statements granting ec2:CreateTags: TagEndpointsOnCreate"),
            "{line}"
        );
    }
    // And without the one for endpoints, each endpoint creation is.
    let without = iam::role_policy("apply", &account.id, &["TagEndpointsOnCreate"]);
    let denied = iam::denied(&without, &log, &account.id, &tags);
    assert_eq!(denied.len(), 4, "{}", denied.join("\n"));
    assert!(
        denied
            .iter()
            .all(|l| l.contains("ec2:CreateVpcEndpoint: ec2:CreateTags on")),
        "{}",
        denied.join("\n")
    );
    // The read-only roles refuse every write the function made.
    for mode in ["off", "plan"] {
        let read_only = iam::role_policy(mode, &account.id, &[]);
        let denied = iam::denied(&read_only, &log, &account.id, &tags);
        let writes = log
            .iter()
            .filter(|r| {
                r.action.starts_with("Authorize") || r.action.starts_with("CreateVpcEndpoint")
            })
            .count();
        assert_eq!(writes, 8);
        assert!(denied.len() >= writes, "{mode}: {}", denied.join("\n"));
    }
}

/// The VPC of the endpoint action for `service` (the test has one VPC).
fn vpc_of(outcome: &esm_guard::lambda::handler::Outcome, service: &str) -> String {
    outcome
        .remediation
        .iter()
        .find_map(|r| {
            let rest = r.action_id.strip_prefix("create-endpoint/")?;
            let (vpc, s) = rest.split_once('/')?;
            (s == service).then(|| vpc.to_string())
        })
        .unwrap_or_else(|| format!("<no endpoint action for {service}>"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_role_allows_everything_the_function_reads() {
    for (octet, mode, rendered) in [
        (72, Remediation::Off, "off"),
        (73, Remediation::Plan, "plan"),
    ] {
        let (account, deps, _) = bare_account(octet, mode).await;
        let (outcome, log) = sweep_log(&account, &deps).await;
        assert_eq!(outcome.verdicts.fail, 1, "{outcome:?}");
        assert!(!outcome.alerts.is_empty(), "{outcome:?}");
        let tags = ResourceTags::read(&account).await;
        let policy = iam::role_policy(rendered, &account.id, &[]);
        let denied = iam::denied(&policy, &log, &account.id, &tags);
        assert!(denied.is_empty(), "{rendered}: {}", denied.join("\n"));
        // Without the state table's grant the function could not remember a thing.
        let without = iam::role_policy(rendered, &account.id, &["RememberAlerts"]);
        let denied = iam::denied(&without, &log, &account.id, &tags);
        assert!(
            !denied.is_empty() && denied.iter().all(|l| l.contains("dynamodb:")),
            "{}",
            denied.join("\n")
        );
    }
}

fn logged(service: &str, action: &str, params: Value) -> Logged {
    Logged {
        service: service.into(),
        action: action.into(),
        region: "us-east-1".into(),
        params,
    }
}

#[test]
fn the_check_evaluates_the_templates_conditions_as_aws_does() {
    let account = "123456789012";
    let policy = iam::role_policy("apply", account, &[]);
    let tags = |vpc_tags: &[(&str, &str)]| {
        let mut t = HashMap::new();
        t.insert(
            "vpc-1".to_string(),
            vpc_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        t.insert("subnet-1".to_string(), vec![]);
        t.insert("sg-1".to_string(), vec![]);
        ResourceTags(t)
    };
    let tagged = json!([{"ResourceType": "vpc-endpoint", "Tags": {
        "esm-guard:managed": "true", "esm-guard:reason": "no-service-path", "esm-guard:esm-uuid": "u"}}]);
    let create = |service: &str, specs: &Value| {
        logged(
            "ec2",
            "CreateVpcEndpoint",
            json!({"VpcId": "vpc-1", "SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"],
                   "ServiceName": service, "TagSpecifications": specs}),
        )
    };
    let lambda = create("com.amazonaws.us-east-1.lambda", &tagged);
    let check = |request: &Logged, t: &ResourceTags| {
        iam::denied(&policy, std::slice::from_ref(request), account, t)
    };
    assert!(check(&lambda, &tags(&[])).is_empty());
    assert!(check(&lambda, &tags(&[("Name", "prod")])).is_empty());
    // The opt-out tag on the VPC (any case) refuses the creation on the VPC.
    for off in ["off", "OFF"] {
        let denied = check(&lambda, &tags(&[("esm-guard:remediate", off)]));
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert!(
            denied[0].contains("on arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"),
            "{denied:?}"
        );
    }
    // A service the template does not list, a missing managed tag, an extra tag key.
    let s3 = create("com.amazonaws.us-east-1.s3", &tagged);
    assert!(check(&s3, &tags(&[]))[0].contains("vpc-endpoint/new"));
    let other_region = create("com.amazonaws.us-west-2.lambda", &tagged);
    assert_eq!(check(&other_region, &tags(&[])).len(), 1);
    let unmanaged = create(
        "com.amazonaws.us-east-1.lambda",
        &json!([{"ResourceType": "vpc-endpoint", "Tags": {"esm-guard:reason": "x"}}]),
    );
    assert_eq!(
        check(&unmanaged, &tags(&[])).len(),
        2,
        "the endpoint and its tags"
    );
    let extra = create(
        "com.amazonaws.us-east-1.lambda",
        &json!([{"ResourceType": "vpc-endpoint", "Tags": {"esm-guard:managed": "true", "owner": "me"}}]),
    );
    assert_eq!(check(&extra, &tags(&[])).len(), 1, "aws:TagKeys");
    // Tags for a resource the call does not create are refused by AWS: the check says so.
    let wrong = create(
        "com.amazonaws.us-east-1.lambda",
        &json!([{"ResourceType": "security-group-rule", "Tags": {"esm-guard:managed": "true"}}]),
    );
    assert!(check(&wrong, &tags(&[]))[0].contains("does not create"));
    // A call the check does not know is a failure, never a pass.
    let unknown = logged("ec2", "DeleteVpcEndpoints", json!({}));
    assert!(check(&unknown, &tags(&[]))[0].contains("does not know"));
    // An untagged rule needs no tag grant; a tagged one needs ec2:CreateTags.
    let rule = |specs: Option<Value>| {
        let mut params = json!({"GroupId": "sg-1"});
        if let Some(specs) = specs {
            params["TagSpecifications"] = specs;
        }
        logged("ec2", "AuthorizeSecurityGroupIngress", params)
    };
    assert!(check(&rule(None), &tags(&[])).is_empty());
    let managed =
        json!([{"ResourceType": "security-group-rule", "Tags": {"esm-guard:managed": "true"}}]);
    let auth = iam::authorizations(&rule(Some(managed.clone())), account, &tags(&[])).unwrap();
    let actions: Vec<(&str, &str)> = auth
        .iter()
        .map(|a| (a.action.as_str(), a.resource.rsplit(':').next().unwrap()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("ec2:AuthorizeSecurityGroupIngress", "security-group/sg-1"),
            (
                "ec2:AuthorizeSecurityGroupIngress",
                "security-group-rule/new"
            ),
            ("ec2:CreateTags", "security-group-rule/new"),
        ]
    );
    let without = iam::role_policy("apply", account, &["TagSecurityGroupRulesOnCreate"]);
    let denied = iam::denied(&without, &[rule(Some(managed))], account, &tags(&[]));
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].contains("ec2:CreateTags"), "{denied:?}");
    // A condition on a key the check cannot know is never an allow.
    let unknowable = esm_guard::policy::Policy::parse(
        r#"{"Statement":[{"Effect":"Allow","Action":"ec2:CreateVpcEndpoint","Resource":"*",
            "Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}]}"#,
    )
    .unwrap();
    let auth = &iam::authorizations(&lambda, account, &tags(&[])).unwrap()[0];
    assert!(matches!(
        iam::decide(&unknowable, auth, account, "us-east-1"),
        Decision::Undecidable(_)
    ));
}

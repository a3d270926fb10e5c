//! REMEDIATION=apply through the function: heals, tells it, and its own events change nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_mode_heals_tells_it_and_its_own_events_change_nothing() {
    let mut env = env().await;
    env.deps.config.remediation = Remediation::Apply;
    let (uuid, cluster, sg, _) = env.broken_mapping(61).await;

    let outcome = env.handle(&create_event(&uuid, &cluster), NOW).await;
    let statuses: Vec<String> = outcome
        .remediation
        .iter()
        .map(|r| {
            serde_json::to_value(&r.outcome).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(statuses, vec!["applied"]);
    assert_eq!(outcome.verdicts.pass, 1, "judged again after the change");
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(outcome.alerts[0].kind, "remediated");
    let received = env.received().await;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert!(
        message.title().contains("HEALED") && message.title().contains("healed by esm-guard"),
        "{}",
        message.title()
    );
    let description = message.description();
    assert!(description.contains("What esm-guard did"), "{description}");
    assert!(
        description.contains("sgr-"),
        "names the rule it created: {description}"
    );
    assert!(
        description.contains("fail before, pass now"),
        "{description}"
    );
    assert_eq!(message.attribute("verdict"), "pass");

    // esm-guard's own call comes back as a CloudTrail event: nothing to do, nothing to say.
    let replay = env.handle(&authorize_event(&sg, 9098), NOW + 60).await;
    assert!(replay.remediation.is_empty(), "{:?}", replay.remediation);
    assert!(replay.alerts.is_empty(), "{:?}", replay.alerts);
    assert!(env.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_endpoints_replayed_as_events_plan_nothing_more() {
    let mut env = env().await;
    env.deps.config.remediation = Remediation::Apply;
    let vpc = env.b.vpc("10.62.0.0/16").await;
    let subnets = vec![
        env.b
            .private_subnet(&vpc, "10.62.0.0/24", "us-east-1a")
            .await,
        env.b
            .private_subnet(&vpc, "10.62.1.0/24", "us-east-1b")
            .await,
    ];
    let sg = env.b.cluster_group(&vpc, "payments-msk", 9098).await;
    let cluster = env
        .b
        .msk_cluster("payments", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = env.b.function("payments-consumer").await;
    let uuid = env.b.msk_mapping(&function, &cluster, false, None).await;

    let outcome = env
        .handle(&sample("handled/scheduler-sweep.json"), NOW)
        .await;
    let created: Vec<String> = outcome
        .remediation
        .iter()
        .filter_map(|r| match &r.outcome {
            esm_guard::remediation::Outcome::Applied { resource } => resource.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 2, "{:?}", outcome.remediation);
    assert!(created.iter().all(|id| id.starts_with("vpce-")));
    assert_eq!(outcome.alerts.len(), 1);
    let message = &env.received().await[0];
    assert!(message.title().contains("healed"), "{}", message.title());
    for id in &created {
        assert!(
            message.description().contains(id.as_str()),
            "{}",
            message.description()
        );
    }

    for (endpoint, service) in created.iter().zip(["lambda", "sts"]) {
        let replay = env
            .handle(&create_endpoint_event(&vpc, endpoint, service), NOW + 60)
            .await;
        assert_eq!(replay.scope.vpcs, vec![vpc.clone()]);
        assert_eq!(replay.mappings_audited, 1);
        assert_eq!(replay.verdicts.pass, 1);
        assert!(replay.remediation.is_empty(), "{:?}", replay.remediation);
        assert!(replay.alerts.is_empty(), "{:?}", replay.alerts);
    }
    assert!(env.received().await.is_empty(), "no new alert for {uuid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_vpc_still_alerts_and_says_why_nothing_changed() {
    let mut env = env().await;
    env.deps.config.remediation = Remediation::Apply;
    let (uuid, _, _, vpc) = env.broken_mapping(63).await;
    env.b
        .ec2
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

    let outcome = env
        .handle(&sample("handled/scheduler-sweep.json"), NOW)
        .await;
    assert_eq!(outcome.verdicts.fail, 1, "nothing was changed");
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(outcome.alerts[0].kind, "new");
    let message = &env.received().await[0];
    let description = message.description();
    assert!(description.contains("not changed"), "{description}");
    assert!(
        description.contains(&vpc) && description.contains("esm-guard:remediate=off"),
        "{description}"
    );
    assert_eq!(message.attribute("esm_uuid"), uuid);
}

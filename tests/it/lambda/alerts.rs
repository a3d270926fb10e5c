//! Alerts through their life: new, reminder, resolved, deleted, raced, bounded.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_mapping_alerts_once_then_resolves_after_the_fix() {
    let env = env().await;
    let (uuid, cluster, sg, vpc) = env.broken_mapping(31).await;

    // The mapping is created: one alert, with the right content.
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW).await;
    assert_eq!(outcome.trigger, "mapping");
    assert_eq!(outcome.mappings_audited, 1);
    assert_eq!(outcome.verdicts.fail, 1);
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["new"]
    );
    assert!(outcome.api_calls > 5, "{outcome:?}");
    let metrics: Value = serde_json::from_str(&outcome.metrics().emf_line(NOW * 1000)).unwrap();
    assert_eq!(metrics["AlertsSent"], 1);
    assert_eq!(metrics["MappingsFail"], 1);

    let got = env.received().await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let alert = &got[0];
    println!(
        "Slack payload (new):\n{}",
        serde_json::to_string_pretty(&alert.chatbot).unwrap()
    );
    assert_eq!(alert.chatbot["version"], "1.0");
    assert_eq!(alert.chatbot["source"], "custom");
    assert_eq!(alert.chatbot["content"]["textType"], "client-markdown");
    assert_eq!(alert.chatbot["metadata"]["threadId"], uuid.as_str());
    assert!(
        alert.title().starts_with(":red_circle: FAIL"),
        "{}",
        alert.title()
    );
    assert!(
        alert.title().contains("`orders-consumer`"),
        "{}",
        alert.title()
    );
    assert!(
        alert.description().contains("`broker-ingress`"),
        "{}",
        alert.description()
    );
    assert!(
        alert.description().contains(&format!("`{sg}`")),
        "{}",
        alert.description()
    );
    assert!(
        alert.description().contains("hyperplane ENIs"),
        "the guide's terms: {}",
        alert.description()
    );
    let steps = alert.chatbot["content"]["nextSteps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s.as_str().unwrap().contains(&format!(
            "aws ec2 authorize-security-group-ingress --group-id {sg}"
        ))),
        "{steps:?}"
    );
    assert!(alert.chatbot["metadata"]["relatedResources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == cluster.as_str()));
    assert_eq!(alert.attribute("severity"), "fail");
    assert_eq!(alert.attribute("verdict"), "fail");
    assert_eq!(alert.attribute("esm_uuid"), uuid);
    assert_eq!(alert.attribute("function_name"), "orders-consumer");
    assert_eq!(alert.attributes["rules"]["Type"], "String.Array");
    assert_eq!(
        serde_json::from_str::<Value>(alert.attribute("rules")).unwrap(),
        json!(["broker-ingress"])
    );
    assert!(
        alert.subject.starts_with("esm-guard FAIL"),
        "{}",
        alert.subject
    );

    // The e-mail version: plain text on its own topic, the same subject and attributes.
    let emails = env.emails().await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let (subject, text, attributes) = &emails[0];
    assert_eq!(subject, &alert.subject);
    assert!(
        text.starts_with("FAIL: the Kafka event source mapping of orders-consumer"),
        "{text}"
    );
    assert!(
        serde_json::from_str::<Value>(text).is_err(),
        "plain text, not JSON"
    );
    assert_eq!(attributes["severity"]["Value"], "fail");
    assert_eq!(attributes["alert_kind"]["Value"], "new");

    let item = env.stored(&uuid).await.expect("state stored");
    assert_eq!(item["open"], AttributeValue::Bool(true));
    assert_eq!(item["last_alerted"], AttributeValue::N(NOW.to_string()));
    assert!(item.contains_key("fingerprint") && item.contains_key("expires_at"));
    assert!(!item.contains_key("claimed_until"), "the claim is released");

    // The same invocation again, and a sweep an hour later: nothing new to say.
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW + 60).await;
    assert!(outcome.alerts.is_empty(), "{outcome:?}");
    let outcome = env
        .handle(&sample("handled/scheduler-sweep.json"), NOW + HOUR)
        .await;
    assert_eq!(
        (
            outcome.trigger.as_str(),
            outcome.mappings_audited,
            outcome.alerts.len()
        ),
        ("sweep", 1, 0)
    );
    assert!(env.received().await.is_empty());

    // The fix, and CloudTrail's record of it: the VPC is found from the group; resolved.
    env.b.allow_ingress_from_group(&sg, 9098, &sg).await;
    let outcome = env
        .handle(&authorize_event(&sg, 9098), NOW + 2 * HOUR)
        .await;
    assert_eq!(outcome.trigger, "network");
    assert_eq!(outcome.scope.vpcs, [vpc]);
    assert_eq!(outcome.verdicts.pass, 1, "{outcome:?}");
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["resolved"]
    );
    let got = env.received().await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let resolved = &got[0];
    println!(
        "Slack payload (resolved):\n{}",
        serde_json::to_string_pretty(&resolved.chatbot).unwrap()
    );
    assert!(
        resolved.title().starts_with(":white_check_mark: RESOLVED"),
        "{}",
        resolved.title()
    );
    assert_eq!(
        resolved.chatbot["metadata"]["threadId"],
        uuid.as_str(),
        "threads with the alert"
    );
    assert!(resolved.description().contains("`broker-ingress`"));
    assert_eq!(resolved.attribute("verdict"), "pass");
    assert_eq!(resolved.attribute("severity"), "fail");
    assert_eq!(resolved.attribute("alert_kind"), "resolved");
    assert_eq!(
        env.stored(&uuid).await.expect("state")["open"],
        AttributeValue::Bool(false)
    );

    // And once resolved, quiet again.
    let outcome = env
        .handle(&authorize_event(&sg, 9098), NOW + 3 * HOUR)
        .await;
    assert!(outcome.alerts.is_empty());
    assert!(env.received().await.is_empty());
}

/// A second SQS subscriber of the alert topic, with `filter` as its filter policy; returns
/// a closure-free handle: the queue URL.
async fn filtered_subscriber(env: &Env, name: &str, filter: &str) -> String {
    let url = env
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_string();
    let arn = format!("arn:aws:sqs:us-east-1:{}:{name}", env.account.id);
    env.deps_sns()
        .subscribe()
        .topic_arn(&env.deps.config.alert_topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("FilterPolicy", filter)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .expect("Subscribe with a filter policy");
    url
}

async fn kinds_in(env: &Env, url: &str) -> Vec<String> {
    drain_envelopes(&env.sqs, url)
        .await
        .iter()
        .map(|envelope| {
            envelope["MessageAttributes"]["alert_kind"]["Value"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_on_failures_sees_a_failure_and_its_close_and_nothing_else() {
    let mut env = env().await;
    env.deps.config.alert_min_severity = Severity::Info;
    let failures = filtered_subscriber(&env, "failures", r#"{"severity": ["fail"]}"#).await;
    let (uuid, cluster, sg, _) = env.broken_mapping(34).await;

    env.handle(&create_event(&uuid, &cluster), NOW).await;
    assert_eq!(kinds_in(&env, &failures).await, ["new"]);
    env.b.allow_ingress_from_group(&sg, 9098, &sg).await;
    let outcome = env.handle(&authorize_event(&sg, 9098), NOW + HOUR).await;
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["resolved"]
    );
    assert_eq!(kinds_in(&env, &failures).await, ["resolved"]);

    // A mapping that only gets advice alerts the unfiltered subscriber, not this one.
    let function = env.b.function("advice-consumer").await;
    let advice = env.b.msk_mapping(&function, &cluster, true, None).await;
    let outcome = env
        .handle(&create_event(&advice, &cluster), NOW + 2 * HOUR)
        .await;
    assert_eq!(outcome.verdicts.fail, 0, "{outcome:?}");
    env.received().await;
    assert!(kinds_in(&env, &failures).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_problem_is_repeated_after_renotify_hours_and_closed_on_delete() {
    let env = env().await;
    let (uuid, _, _, _) = env.broken_mapping(32).await;
    let sweep = sample("handled/events-scheduled-rule-sweep.json");

    assert_eq!(env.handle(&sweep, NOW).await.alerts.len(), 1);
    assert_eq!(env.handle(&sweep, NOW + 23 * HOUR).await.alerts.len(), 0);
    let outcome = env.handle(&sweep, NOW + 24 * HOUR).await;
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["reminder"]
    );
    // The reminder restarts the window.
    assert_eq!(env.handle(&sweep, NOW + 47 * HOUR).await.alerts.len(), 0);
    let got = env.received().await;
    assert_eq!(got.len(), 2);
    assert!(got[1].title().contains("Still open"), "{}", got[1].title());
    assert_eq!(got[1].attribute("alert_kind"), "reminder");

    // The mapping is deleted: its alert is closed and its state forgotten.
    env.b
        .lambda
        .delete_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .expect("DeleteEventSourceMapping");
    let outcome = env.handle(&delete_event(&uuid), NOW + 48 * HOUR).await;
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["deleted"]
    );
    let got = env.received().await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].title().starts_with(":wastebasket: CLOSED"),
        "{}",
        got[0].title()
    );
    assert!(
        got[0].title().contains("`orders-consumer`"),
        "the function is remembered: {}",
        got[0].title()
    );
    assert_eq!(got[0].attribute("verdict"), "deleted");
    assert!(env.stored(&uuid).await.is_none());
    // Deleting again (a retried event) says nothing.
    assert!(env
        .handle(&delete_event(&uuid), NOW + 49 * HOUR)
        .await
        .alerts
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_invocations_alert_once() {
    let env = env().await;
    let (uuid, cluster, _, _) = env.broken_mapping(33).await;
    let event = create_event(&uuid, &cluster);
    let (a, b, c) = tokio::join!(
        env.handle(&event, NOW),
        env.handle(&event, NOW),
        env.handle(&event, NOW + 1)
    );
    let sent: Vec<&str> = [a, b, c]
        .iter()
        .flat_map(|o| o.alerts.iter().map(|s| s.kind))
        .collect();
    assert_eq!(sent, ["new"]);
    assert_eq!(env.received().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_writes_are_conditional_on_the_version_read() {
    use esm_guard::alert::AlertState;
    use esm_guard::aws::state::StateStore;
    let env = env().await;
    let store = StateStore::new(env.dynamodb.clone(), TABLE);
    let state = AlertState {
        fingerprint: "ab".repeat(32),
        last_alerted: NOW,
        open: true,
        severity: Some(Severity::Fail),
        rules: vec!["broker-ingress".into()],
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        confirm: Some(esm_guard::alert::confirm::ConfirmState {
            change: "the fix of broker-ingress".into(),
            cycle: NOW,
            attempt: 2,
            due: NOW + 600,
            exhausted: false,
        }),
        account: Some("111111111111".into()),
        region: Some("us-east-1".into()),
    };
    let uuid = "00000000-0000-0000-0000-000000000001";
    assert_eq!(
        store.put(uuid, &state, None, None, NOW + 10).await.unwrap(),
        Some(1)
    );
    // A second writer that read "no item" loses.
    assert_eq!(
        store.put(uuid, &state, None, None, NOW + 10).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .put(uuid, &state, Some(1), Some(NOW + 180), NOW + 10)
            .await
            .unwrap(),
        Some(2)
    );
    // A writer that read version 1 loses too.
    assert_eq!(
        store
            .put(uuid, &state, Some(1), None, NOW + 10)
            .await
            .unwrap(),
        None
    );
    let record = store.get(uuid).await.unwrap().expect("record");
    assert_eq!((record.version, record.claimed_until), (2, Some(NOW + 180)));
    assert_eq!(record.state, state);
    assert!(!store.delete(uuid, 1).await.unwrap());
    assert!(store.delete(uuid, 2).await.unwrap());
    assert!(store.get(uuid).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_claimed_by_another_invocation_is_left_to_it() {
    use esm_guard::alert::AlertState;
    use esm_guard::aws::state::StateStore;
    let mut env = env().await;
    env.deps.options.race_reads = 2;
    let (uuid, cluster, _, _) = env.broken_mapping(38).await;
    // Another invocation claimed the mapping a moment ago and is publishing.
    let store = StateStore::new(env.dynamodb.clone(), TABLE);
    store
        .put(
            &uuid,
            &AlertState::default(),
            None,
            Some(NOW + 100),
            NOW + 1000,
        )
        .await
        .unwrap();
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW).await;
    assert!(outcome.alerts.is_empty(), "{outcome:?}");
    assert!(env.received().await.is_empty());
    // Its claim lapsed (it crashed): the next run alerts.
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW + 200).await;
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(env.received().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_publish_fails_the_invocation_and_records_nothing() {
    let env = env().await;
    let (uuid, cluster, _, _) = env.broken_mapping(34).await;
    env.account.fault(json!({"service": "sns", "action": "Publish", "status": 403, "code": "AuthorizationError", "message": "not allowed to publish", "count": 1}));
    let error = handle(&env.deps, &create_event(&uuid, &cluster), NOW)
        .await
        .expect_err("publish fails");
    assert!(error.to_string().contains("AuthorizationError"), "{error}");
    assert!(
        env.stored(&uuid).await.is_none(),
        "no alerted state without an alert"
    );
    assert!(env.received().await.is_empty());
    // Lambda's retry of the event alerts.
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW + 60).await;
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(env.received().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_still_creating_is_judged_at_once() {
    // Its network does not depend on its state: no waiting (billed) for Creating to end.
    let env = env().await;
    let (uuid, cluster, _, _) = env.broken_mapping(35).await;
    control(
        "POST",
        &format!("/_esm_guard/esm/{uuid}"),
        Some(&json!({"State": "Creating"})),
    );
    env.account.clear_requests();
    let started = std::time::Instant::now();
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(outcome.verdicts.fail, 1);
    let reads = env
        .account
        .requests()
        .iter()
        .filter(|r| *r == "lambda:GetEventSourceMapping")
        .count();
    // The status read and the collection's own: never a read again.
    assert_eq!(reads, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_event_for_a_live_mapping_closes_nothing() {
    // A forged or replayed DeleteEventSourceMapping: AWS still has the mapping, so its
    // alert stays open and the mapping is audited instead.
    let env = env().await;
    let (uuid, _, _, _) = env.broken_mapping(36).await;
    let sweep = sample("handled/events-scheduled-rule-sweep.json");
    assert_eq!(env.handle(&sweep, NOW).await.alerts.len(), 1);
    env.received().await;
    let outcome = env.handle(&delete_event(&uuid), NOW + HOUR).await;
    assert!(outcome.alerts.is_empty(), "{outcome:?}");
    assert_eq!(outcome.mappings_audited, 1);
    assert!(env.received().await.is_empty());
    let stored = env.stored(&uuid).await.expect("the alert state is kept");
    assert_eq!(stored.get("open"), Some(&AttributeValue::Bool(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_closes_the_alerts_of_mappings_deleted_unseen() {
    // Deleted while the function did not see it (no trail, a lost event): the next sweep
    // sends the close and forgets the state.
    let env = env().await;
    let (uuid, _, _, _) = env.broken_mapping(37).await;
    let sweep = sample("handled/events-scheduled-rule-sweep.json");
    assert_eq!(env.handle(&sweep, NOW).await.alerts.len(), 1);
    env.received().await;
    env.b
        .lambda
        .delete_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .expect("DeleteEventSourceMapping");
    let outcome = env.handle(&sweep, NOW + HOUR).await;
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["deleted"]
    );
    let got = env.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attribute("alert_kind"), "deleted");
    assert!(env.stored(&uuid).await.is_none());
    // The next sweep has nothing left to close.
    assert!(env.handle(&sweep, NOW + 2 * HOUR).await.alerts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambdas_own_problem_text_cannot_inject_slack_markup() {
    let env = env().await;
    let (uuid, cluster, _, _) = env.broken_mapping(36).await;
    env.b.set_last_processing_result(
        &uuid,
        "PROBLEM: <!channel> <@U123> *bold* `code` <http://x|y> @here",
    );
    env.handle(&create_event(&uuid, &cluster), NOW).await;
    let got = env.received().await;
    assert_eq!(got.len(), 1);
    let description = got[0].description();
    assert!(
        description.contains("esm-reported-problem"),
        "{description}"
    );
    for bad in [
        "<!channel>",
        "<@U123>",
        "<http://x|y>",
        "*bold*",
        "`code`",
        "@here",
    ] {
        assert!(!description.contains(bad), "{bad} in {description}");
    }
    assert!(description.contains("&lt;!channel&gt;"), "{description}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_outage_keeps_the_open_alert_without_flapping() {
    let env = env().await;
    let (uuid, cluster, _sg, _vpc) = env.broken_mapping(33).await;
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW).await;
    assert_eq!(
        outcome.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["new"]
    );
    assert_eq!(env.received().await.len(), 1);

    // DescribeRouteTables fails with 503 on every attempt: unknown, but only for now.
    env.account.fault(json!({"service": "ec2", "action": "DescribeRouteTables", "status": 503, "code": "Unavailable"}));
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW + 60).await;
    env.account.clear_faults();
    assert_eq!(outcome.verdicts.unknown, 1, "{outcome:?}");
    assert_eq!(outcome.deferred, vec![uuid.clone()]);
    assert!(outcome.alerts.is_empty(), "{outcome:?}");

    // Back to normal: still the same open problem, so nothing new to say (no "changed").
    let outcome = env.handle(&create_event(&uuid, &cluster), NOW + 120).await;
    assert_eq!(outcome.verdicts.fail, 1, "{outcome:?}");
    assert!(outcome.alerts.is_empty(), "{outcome:?}");
    assert!(
        env.received().await.is_empty(),
        "only the first alert was ever sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_the_deadline_what_was_not_read_is_unknown_never_pass() {
    let env = env().await;
    // A healthy provisioned mapping: it passes when every fact is read.
    let vpc = env.b.vpc("10.64.0.0/16").await;
    let subnets = vec![
        env.b
            .private_subnet(&vpc, "10.64.0.0/24", "us-east-1a")
            .await,
    ];
    let sg = env.b.cluster_group(&vpc, "msk", 9098).await;
    let cluster = env
        .b
        .msk_cluster("c", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = env.b.function("f").await;
    let uuid = env.b.msk_mapping(&function, &cluster, true, None).await;
    let epoch_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };

    // 17 s left, 15 kept back: the collection has 2 s, and one call takes 5.
    env.account
        .fault(json!({"service": "ec2", "action": "DescribeNetworkAcls", "delay_ms": 5000}));
    let started = std::time::Instant::now();
    let deadline = epoch_ms() + 17_000;
    let outcome = esm_guard::lambda::handler::invoke_until(
        &env.deps,
        sample("handled/scheduler-sweep.json"),
        Some(deadline),
    )
    .await
    .expect("a gap, not a failure");
    env.account.clear_faults();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the slow call was cut short"
    );
    assert_eq!(outcome.verdicts.unknown, 1, "{outcome:?}");
    assert_eq!(outcome.verdicts.pass, 0);
    // Out of time is transient: no alert flips to "cannot be judged"; the next run judges.
    assert_eq!(outcome.deferred, vec![uuid.clone()], "{outcome:?}");
    assert!(outcome.alerts.is_empty(), "{outcome:?}");
    assert_eq!(env.received().await.len(), 0);
    let metrics: Value = serde_json::from_str(&outcome.metrics().emf_line(0)).unwrap();
    assert_eq!(metrics["MappingsDeferred"], 1);

    // A missing permission is not transient: it alerts, naming the call and the grant.
    env.account.fault(json!({"service": "ec2", "action": "DescribeNetworkAcls", "status": 403, "code": "UnauthorizedOperation"}));
    let outcome =
        esm_guard::lambda::handler::invoke(&env.deps, sample("handled/scheduler-sweep.json"))
            .await
            .expect("a gap, not a failure");
    env.account.clear_faults();
    assert_eq!(
        (outcome.verdicts.unknown, outcome.deferred.len()),
        (1, 0),
        "{outcome:?}"
    );
    let message = &env.received().await[0];
    assert!(
        message.description().contains("insufficient-data"),
        "{}",
        message.description()
    );
    assert!(
        message.description().contains("ec2:DescribeNetworkAcls"),
        "{}",
        message.description()
    );
    assert_eq!(message.attribute("esm_uuid"), uuid);

    // Inside the margin already: nothing is started, and the invocation fails (Lambda's
    // retry and the on-failure destination keep the event) rather than saying pass.
    let error = esm_guard::lambda::handler::invoke_until(
        &env.deps,
        sample("handled/scheduler-sweep.json"),
        Some(epoch_ms() + 5_000),
    )
    .await
    .expect_err("no time to list the mappings");
    assert!(error.to_string().contains("deadline"), "{error}");
}

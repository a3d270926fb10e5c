//! Follow-up checks: a heal, or a fix of an alerted path, is confirmed by Lambda's own report
//! minutes later through an EventBridge Scheduler one-time schedule, or escalated when the
//! report never clears; racing invocations make one schedule and one message.

use super::*;
use crate::support::iam::{self, ResourceTags};
use esm_guard::alert::confirm::Policy;
use esm_guard::aws::followup::FollowUpConfig;

const GROUP: &str = "esm-guard-follow-up-group";
const CONNECTION_ERROR: &str = "PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured).";

/// The function's environment with follow-ups on (the names the template's policy renders),
/// invoked as `function`.
async fn follow_up_env(remediation: Remediation, attempts: u32) -> (Env, String) {
    let mut env = env().await;
    let scheduler = aws_sdk_scheduler::Client::new(&env.account.config);
    scheduler
        .create_schedule_group()
        .name(GROUP)
        .send()
        .await
        .expect("CreateScheduleGroup");
    let mut config = env.deps.config.clone();
    config.remediation = remediation;
    config.confirm = Policy {
        after_minutes: 5,
        attempts,
    };
    config.follow_ups = Some(FollowUpConfig {
        group: GROUP.into(),
        role_arn: format!(
            "arn:aws:iam::{}:role/esm-guard-follow-up-role",
            env.account.id
        ),
    });
    let options = env.deps.options.clone();
    env.deps = Deps::new(&env.account.config, config);
    env.deps.options = options;
    let function = format!(
        "arn:aws:lambda:us-east-1:{}:function:esm-guard",
        env.account.id
    );
    env.deps.account.set(env.account.id.clone()).unwrap();
    env.deps.function_arn.set(function.clone()).unwrap();
    (env, function)
}

/// `event` as EventBridge delivers it in the test's account (the function knows its account
/// here, so events of the samples' account would be ignored).
fn ours(env: &Env, mut event: Value) -> Value {
    event["account"] = json!(env.account.id);
    if event["detail"].get("recipientAccountId").is_some() {
        event["detail"]["recipientAccountId"] = json!(env.account.id);
    }
    event
}

fn sweep(env: &Env) -> Value {
    ours(env, sample("handled/scheduler-sweep.json"))
}

/// An on-demand mapping in private subnets with neither NAT nor endpoints, and Lambda's
/// report of the connection error that follows. Returns (uuid, vpc, subnets, group).
async fn unreachable_mapping(env: &Env, octet: u8) -> (String, String, Vec<String>, String) {
    let vpc = env.b.vpc(&format!("10.{octet}.0.0/16")).await;
    let subnets = vec![
        env.b
            .private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a")
            .await,
        env.b
            .private_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b")
            .await,
    ];
    let sg = env.b.cluster_group(&vpc, "orders-msk", 9098).await;
    let cluster = env
        .b
        .msk_cluster("orders", &subnets, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = env.b.function("orders-consumer").await;
    let uuid = env.b.msk_mapping(&function, &cluster, false, None).await;
    env.b.set_last_processing_result(&uuid, CONNECTION_ERROR);
    (uuid, vpc, subnets, sg)
}

/// The schedules in the follow-up group, by name, with the event each one delivers.
async fn schedules(env: &Env) -> Vec<(String, Value)> {
    let scheduler = aws_sdk_scheduler::Client::new(&env.account.config);
    let listed = scheduler
        .list_schedules()
        .group_name(GROUP)
        .send()
        .await
        .expect("ListSchedules");
    let mut out = Vec::new();
    for summary in listed.schedules() {
        let name = summary.name().unwrap_or_default().to_string();
        let got = scheduler
            .get_schedule()
            .group_name(GROUP)
            .name(&name)
            .send()
            .await
            .expect("GetSchedule");
        let input: Value = got
            .target()
            .and_then(|t| t.input())
            .map(|i| serde_json::from_str(i).expect("Input JSON"))
            .unwrap_or(Value::Null);
        out.push((name, input));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Scheduler ran the schedule: it delivers its input, then deletes it (DELETE after
/// completion).
async fn fire(env: &Env, name: &str, input: &Value, at: i64) -> Outcome {
    aws_sdk_scheduler::Client::new(&env.account.config)
        .delete_schedule()
        .group_name(GROUP)
        .name(name)
        .send()
        .await
        .expect("DeleteSchedule (after completion)");
    env.handle(input, at).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heal_waits_for_lambda_and_a_follow_up_confirms_it() {
    let (env, function) = follow_up_env(Remediation::Apply, 3).await;
    let (uuid, _, _, _) = unreachable_mapping(&env, 91).await;

    env.account.clear_requests();
    let healed = env.handle(&sweep(&env), NOW).await;
    let log = iam::logged(&env.account);
    assert!(
        healed.remediation.iter().any(|r| r.changed()),
        "{:?}",
        healed.remediation
    );
    // Nothing esm-guard sees fails; Lambda's old report makes it a warning, not a failure.
    assert_eq!(healed.verdicts.warn, 1, "{healed:?}");
    assert_eq!(healed.verdicts.fail, 0, "{healed:?}");
    assert_eq!(
        healed.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["remediated"]
    );
    let got = env.received().await;
    assert!(
        got[0]
            .title()
            .contains("healed (waiting for Lambda to confirm) by esm-guard"),
        "{}",
        got[0].title()
    );
    assert!(
        got[0]
            .description()
            .contains("follow-up check 1 of 3 at 2027-01-15 08:05 UTC"),
        "{}",
        got[0].description()
    );

    // One schedule, as AWS would run it: once, at NOW + 5 minutes, then deleted.
    let name = format!("esm-{uuid}-{NOW}-1");
    assert_eq!(healed.follow_ups, vec![name.clone()]);
    let scheduler = aws_sdk_scheduler::Client::new(&env.account.config);
    let schedule = scheduler
        .get_schedule()
        .group_name(GROUP)
        .name(&name)
        .send()
        .await
        .expect("GetSchedule");
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2027-01-15T08:05:00)")
    );
    assert_eq!(schedule.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        schedule.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    let target = schedule.target().expect("target");
    assert_eq!(target.arn(), function);
    assert!(target
        .role_arn()
        .ends_with(":role/esm-guard-follow-up-role"));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["detail"]["uuid"], uuid.as_str());

    // Every call of that run, the schedule and the role it passes included, is allowed by
    // the role the template renders for apply mode.
    let policy = iam::role_policy("apply", &env.account.id, &[]);
    let tags = ResourceTags::read(&env.account).await;
    let denied = iam::denied(&policy, &log, &env.account.id, &tags);
    assert!(denied.is_empty(), "{}", denied.join("\n"));
    assert!(log
        .iter()
        .any(|r| r.service == "scheduler" && r.action == "CreateSchedule"));
    let without = iam::role_policy("apply", &env.account.id, &["PassFollowUpRole"]);
    let denied = iam::denied(&without, &log, &env.account.id, &tags);
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].contains("iam:PassRole"), "{denied:?}");

    // Lambda polls successfully: the follow-up confirms and closes the alert.
    env.b.set_last_processing_result(&uuid, "OK");
    let confirmed = fire(&env, &name, &input, NOW + 300).await;
    assert_eq!(confirmed.trigger, "follow-up");
    assert_eq!(
        confirmed.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["resolved"]
    );
    assert!(confirmed.follow_ups.is_empty());
    let got = env.received().await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].title().contains("confirmed by Lambda"),
        "{}",
        got[0].title()
    );
    assert!(
        got[0]
            .description()
            .contains("Lambda's own report has cleared"),
        "{}",
        got[0].description()
    );
    assert_eq!(got[0].attribute("alert_kind"), "resolved");
    assert_eq!(
        env.stored(&uuid).await.unwrap().get("confirm"),
        None,
        "nothing pending any more"
    );

    // Scheduler delivers at least once: the same follow-up again does nothing.
    let again = env.handle(&input, NOW + 320).await;
    assert!(
        again.alerts.is_empty() && again.follow_ups.is_empty(),
        "{again:?}"
    );
    assert!(schedules(&env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_never_clears_is_escalated_once_after_the_last_follow_up() {
    let (env, _) = follow_up_env(Remediation::Apply, 3).await;
    let (uuid, _, _, _) = unreachable_mapping(&env, 92).await;
    env.account.clear_requests();
    let healed = env.handle(&sweep(&env), NOW).await;
    assert_eq!(healed.follow_ups.len(), 1);
    env.received().await;

    // Follow-ups 1 and 2 come back still failing: each schedules the next, later, silently.
    let mut at = NOW;
    let mut gaps = Vec::new();
    for attempt in 1..=2 {
        let pending = schedules(&env).await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        let (name, input) = &pending[0];
        assert!(name.ends_with(&format!("-{attempt}")), "{name}");
        at += 300 * (1 << (attempt - 1));
        let outcome = fire(&env, name, input, at).await;
        assert!(outcome.alerts.is_empty(), "{outcome:?}");
        assert_eq!(outcome.verdicts.warn, 1, "{outcome:?}");
        let next = env.stored(&uuid).await.unwrap();
        let confirm: Value =
            serde_json::from_str(next["confirm"].as_s().unwrap()).expect("confirm JSON");
        gaps.push(confirm["due"].as_i64().unwrap() - at);
    }
    assert_eq!(gaps, vec![600, 1200], "each follow-up waits twice as long");
    assert!(env.received().await.is_empty());

    // The last: escalated to a failure, once, naming what esm-guard cannot see.
    let pending = schedules(&env).await;
    let (name, input) = &pending[0];
    assert!(name.ends_with("-3"), "{name}");
    let last = fire(&env, name, input, at + 1200).await;
    assert_eq!(
        last.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["changed"]
    );
    assert!(last.follow_ups.is_empty());
    assert_eq!(last.verdicts.fail, 1);
    let got = env.received().await;
    assert_eq!(got[0].attribute("severity"), "fail");
    assert_eq!(got[0].attribute("previous_severity"), "warn");
    assert!(
        got[0].description().contains("out of its sight"),
        "{}",
        got[0].description()
    );
    // Never a loop: three schedules in all, nothing pending, and later runs add none.
    let creates = iam::logged(&env.account)
        .iter()
        .filter(|r| r.service == "scheduler" && r.action == "CreateSchedule")
        .count();
    assert_eq!(creates, 3);
    assert!(schedules(&env).await.is_empty());
    let sweep = env.handle(&sweep(&env), at + 4000).await;
    assert!(
        sweep.alerts.is_empty() && sweep.follow_ups.is_empty(),
        "{sweep:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_invocations_on_a_fixed_path_make_one_schedule_and_one_message() {
    let (env, _) = follow_up_env(Remediation::Off, 3).await;
    let (uuid, vpc, subnets, sg) = unreachable_mapping(&env, 93).await;
    let opened = env.handle(&sweep(&env), NOW).await;
    assert_eq!(
        opened.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(),
        ["new"]
    );
    assert!(opened.follow_ups.is_empty(), "no change yet: {opened:?}");
    env.received().await;

    // The operator adds the endpoints; two invocations see it at once.
    let groups = std::slice::from_ref(&sg);
    let lambda = env.b.endpoint(&vpc, "lambda", &subnets, groups, true).await;
    env.b.endpoint(&vpc, "sts", &subnets, groups, true).await;
    let event = ours(&env, create_endpoint_event(&vpc, &lambda, "lambda"));
    let (a, b) = tokio::join!(env.handle(&event, NOW + 60), env.handle(&event, NOW + 60));
    let sent: Vec<&str> = [&a, &b]
        .iter()
        .flat_map(|o| o.alerts.iter().map(|s| s.kind))
        .collect();
    assert_eq!(sent, ["changed"], "{a:?} {b:?}");
    let got = env.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attribute("severity"), "warn");
    assert!(
        got[0].description().contains("the fix of no-service-path"),
        "{}",
        got[0].description()
    );
    let pending = schedules(&env).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].0, format!("esm-{uuid}-{}-1", NOW + 60));
}

//! What each kind of message says, and its bounds.

use super::*;
use crate::alert::compose::*;
use crate::alert::decide::*;
use crate::alert::facts::*;
use crate::plan::Action;
use crate::remediation::{Healing, MappingHealing, Mode as Remediation};
use crate::rules::{Finding, RuleId, Severity, Verdict};
use serde_json::{json, Value};

#[test]
fn new_alert_is_a_chatbot_custom_notification() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let actions = [action()];
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
    let c = &msg.chatbot;
    let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["content", "id", "metadata", "source", "version"]);
    let mut keys: Vec<&String> = c["content"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["description", "keywords", "nextSteps", "textType", "title"]
    );
    let mut keys: Vec<&String> = c["metadata"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["eventType", "relatedResources", "summary", "threadId"]
    );
    assert_eq!(c["version"], "1.0");
    assert_eq!(c["source"], "custom");
    assert_eq!(c["content"]["textType"], "client-markdown");
    assert_eq!(c["metadata"]["threadId"], UUID);
    assert_eq!(c["metadata"]["eventType"], "esm-guard.new");
    let title = c["content"]["title"].as_str().unwrap();
    assert!(title.starts_with(":red_circle: FAIL"), "{title}");
    assert!(title.contains("`orders-consumer`"), "{title}");
    let description = c["content"]["description"].as_str().unwrap();
    assert!(description.contains("`no-service-path`"), "{description}");
    assert!(
        description.contains("`subnet-0a1b2c3d4e5f61001`"),
        "{description}"
    );
    assert!(
        description.contains("PrivateLink"),
        "the guide's terms: {description}"
    );
    assert!(
        !description.contains("endpoint-policy-open"),
        "info is below the threshold"
    );
    let steps = c["content"]["nextSteps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    let step = steps[0].as_str().unwrap();
    assert!(step.contains("`aws ec2 create-vpc-endpoint"), "{step}");
    assert!(
        step.contains("&amp;&amp; echo &lt;done&gt;"),
        "the command is escaped, not altered: {step}"
    );
    let related = c["metadata"]["relatedResources"].as_array().unwrap();
    assert!(related.iter().any(|r| r == FUNCTION));
    assert!(related.iter().any(|r| r == "subnet-0a1b2c3d4e5f61002"));
    assert!(c["content"]["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "no-service-path"));

    // the SNS messages: the notification JSON for the alert topic, the text for e-mail
    assert_eq!(
        serde_json::from_str::<Value>(&msg.chat_body()).unwrap(),
        msg.chatbot
    );
    assert!(msg.sns_bytes() == msg.chat_bytes().max(msg.email_bytes()));

    let attrs: Vec<(&str, &str, &str)> = msg
        .attributes
        .iter()
        .map(|a| (a.name, a.data_type, a.value.as_str()))
        .collect();
    assert_eq!(
        attrs,
        [
            ("severity", "String", "fail"),
            ("verdict", "String", "fail"),
            ("rules", "String.Array", r#"["no-service-path"]"#),
            ("esm_uuid", "String", UUID),
            ("function_name", "String", "orders-consumer"),
            ("alert_kind", "String", "new"),
        ]
    );
    assert!(
        msg.subject.len() < 100 && msg.subject.starts_with("esm-guard FAIL"),
        "{}",
        msg.subject
    );
    println!(
        "{}\n\n{}",
        serde_json::to_string_pretty(&msg.chatbot).unwrap(),
        msg.email
    );
}

#[test]
fn email_is_readable_plain_text() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let actions = [action()];
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
    let email = &msg.email;
    assert!(
        email.starts_with("FAIL: the Kafka event source mapping of orders-consumer is broken\n"),
        "{email}"
    );
    assert!(email.contains(&format!("UUID:      {UUID}")), "{email}");
    assert!(email.contains("[FAIL] no-service-path:"), "{email}");
    assert!(
        email.contains("Next steps\n  1. Create an interface endpoint"),
        "{email}"
    );
    assert!(
        email.contains("$ aws ec2 create-vpc-endpoint") && email.contains("&& echo <done>"),
        "{email}"
    );
    assert!(
        !email.contains('`') && !email.contains("&amp;"),
        "no markup in e-mail: {email}"
    );
}

#[test]
fn plan_mode_says_what_esm_guard_would_do() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let actions = [action()];
    let mut c = ctx(AlertKind::New, Some(&m), Some(&p), None, &actions);
    c.remediation = Remediation::Plan;
    let msg = compose(&c);
    assert!(msg.chatbot["content"]["nextSteps"][0]
        .as_str()
        .unwrap()
        .starts_with("esm-guard would make this change with REMEDIATION=apply"));
}

#[test]
fn findings_without_an_action_get_the_guides_fix() {
    let m = mapping(vec![finding(
        RuleId::NatCrossAz,
        Severity::Warn,
        &["nat-1"],
        "cross AZ",
    )]);
    let p = problem(&m, Severity::Warn).unwrap();
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
    let step = msg.chatbot["content"]["nextSteps"][0].as_str().unwrap();
    assert!(
        step.starts_with("`nat-cross-az`:") && step.contains("`esm-guard explain nat-cross-az`"),
        "{step}"
    );
    assert!(msg.chatbot["content"]["title"]
        .as_str()
        .unwrap()
        .starts_with(":warning: WARN"));
}

#[test]
fn resolved_and_deleted_messages() {
    let healthy = mapping(vec![]);
    let prev = AlertState {
        fingerprint: "f".repeat(64),
        last_alerted: 1,
        open: true,
        severity: Some(Severity::Fail),
        rules: vec!["broker-ingress".into()],
        function_arn: FUNCTION.into(),
        confirm: None,
        account: None,
        region: None,
    };
    let msg = compose(&ctx(
        AlertKind::Resolved,
        Some(&healthy),
        None,
        Some(&prev),
        &[],
    ));
    assert!(msg.chatbot["content"]["title"]
        .as_str()
        .unwrap()
        .starts_with(":white_check_mark: RESOLVED"));
    assert_eq!(msg.chatbot["metadata"]["eventType"], "esm-guard.resolved");
    assert_eq!(msg.chatbot["content"]["nextSteps"], json!([]));
    assert!(msg.chatbot["content"]["description"]
        .as_str()
        .unwrap()
        .contains("`broker-ingress`"));
    let attr = |n: &str| {
        msg.attributes
            .iter()
            .find(|a| a.name == n)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(
        attr("severity"),
        "fail",
        "a resolved fail still reaches fail-only subscribers"
    );
    assert_eq!(attr("verdict"), "pass");
    assert_eq!(attr("rules"), r#"["broker-ingress"]"#);
    assert!(
        msg.email.starts_with(
            "RESOLVED: the Kafka event source mapping of orders-consumer passes again"
        ),
        "{}",
        msg.email
    );

    let msg = compose(&ctx(AlertKind::Deleted, None, None, Some(&prev), &[]));
    assert!(msg.chatbot["content"]["title"]
        .as_str()
        .unwrap()
        .starts_with(":wastebasket: CLOSED"));
    assert!(msg.chatbot["content"]["title"]
        .as_str()
        .unwrap()
        .contains("`orders-consumer`"));
    let attr = |n: &str| {
        msg.attributes
            .iter()
            .find(|a| a.name == n)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(attr("verdict"), "deleted");
    assert_eq!(attr("function_name"), "orders-consumer");
}

#[test]
fn changed_and_reminder_say_so() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let prev = AlertState {
        fingerprint: "0".repeat(64),
        last_alerted: 1_700_000_000 - 30 * 3600,
        open: true,
        severity: Some(Severity::Fail),
        rules: vec!["broker-ingress".into()],
        function_arn: FUNCTION.into(),
        confirm: None,
        account: None,
        region: None,
    };
    let msg = compose(&ctx(
        AlertKind::Changed,
        Some(&m),
        Some(&p),
        Some(&prev),
        &[],
    ));
    let d = msg.chatbot["content"]["description"].as_str().unwrap();
    assert!(
        d.contains("New: `no-service-path`") && d.contains("Cleared: `broker-ingress`"),
        "{d}"
    );
    let msg = compose(&ctx(
        AlertKind::Reminder,
        Some(&m),
        Some(&p),
        Some(&prev),
        &[],
    ));
    assert!(msg.chatbot["content"]["title"]
        .as_str()
        .unwrap()
        .contains("Still open"));
    assert!(msg.chatbot["content"]["description"]
        .as_str()
        .unwrap()
        .contains("30 h ago"));
}

#[test]
fn forged_line_breaks_do_not_reach_the_email() {
    let m = mapping(vec![finding(
        RuleId::EsmReportedProblem,
        Severity::Fail,
        &["x"],
        "PROBLEM: a\n\nNext steps\n  1. rm -rf /",
    )]);
    let p = problem(&m, Severity::Warn).unwrap();
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
    assert!(!msg.email.contains("\n  1. rm -rf"), "{}", msg.email);
}

#[test]
fn long_content_is_cut_to_chatbots_limits() {
    let findings: Vec<Finding> = (0..200)
        .map(|i| {
            finding(
                RuleId::NaclBlocks,
                Severity::Fail,
                &[&format!("acl-{i:04}")],
                &"blocked ".repeat(20),
            )
        })
        .collect();
    let m = mapping(findings);
    let p = problem(&m, Severity::Warn).unwrap();
    let actions: Vec<Action> = (0..20)
        .map(|i| {
            let mut a = action();
            a.id = format!("a{i}");
            a.fixes[0].rule = RuleId::NaclBlocks;
            a.fixes[0].finding = format!("nacl-blocks/acl-{i:04}");
            a
        })
        .collect();
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
    let d = msg.chatbot["content"]["description"].as_str().unwrap();
    assert!(d.chars().count() <= DESCRIPTION_MAX, "{}", d.len());
    assert!(d.contains("esm-guard audit --esm"));
    let steps = msg.chatbot["content"]["nextSteps"].as_array().unwrap();
    assert_eq!(steps.len(), NEXT_STEPS_MAX);
    assert!(steps
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .contains("more step"));
    assert!(
        msg.chatbot["metadata"]["relatedResources"]
            .as_array()
            .unwrap()
            .len()
            <= RELATED_MAX
    );
}

#[test]
fn subjects_keep_the_verdict_and_the_whole_mapping_id_in_ascii_under_100() {
    // The longest function name Lambda allows (64 characters).
    let long = "f".repeat(64);
    let mut m = broken();
    m.function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{long}");
    let p = problem(&m, Severity::Warn).unwrap();
    for kind in [AlertKind::New, AlertKind::Reminder, AlertKind::Changed] {
        let msg = compose(&ctx(kind, Some(&m), Some(&p), None, &[]));
        assert!(
            msg.subject.len() < 100,
            "{} ({})",
            msg.subject,
            msg.subject.len()
        );
        assert!(msg.subject.is_ascii(), "{}", msg.subject);
        assert!(msg.subject.contains(UUID), "{}", msg.subject);
        assert!(msg.subject.contains("FAIL"), "{}", msg.subject);
    }
    // The closes, of an alert opened for that function.
    let open = next_state(AlertKind::New, None, Some(&p), &m.function_arn, 0);
    let mut healed = m.clone();
    healed.findings.clear();
    healed.verdict = Verdict::Pass;
    let healing = MappingHealing {
        uuid: UUID.into(),
        outcome: Healing::Healed,
        verdict_before: Verdict::Fail,
        verdict_after: Verdict::Pass,
        created: vec!["vpce-0123456789abcdef0".into()],
    };
    for (kind, word) in [
        (AlertKind::Resolved, "RESOLVED"),
        (AlertKind::Deleted, "CLOSED"),
        (AlertKind::Remediated, "HEALED"),
    ] {
        let mapping = (kind != AlertKind::Deleted).then_some(&healed);
        let mut c = ctx(kind, mapping, None, Some(&open), &[]);
        if kind == AlertKind::Remediated {
            c.healing = Some(&healing);
        }
        let msg = compose(&c);
        assert!(
            msg.subject.len() < 100 && msg.subject.is_ascii(),
            "{}",
            msg.subject
        );
        assert!(
            msg.subject.contains(UUID) && msg.subject.contains(word),
            "{}",
            msg.subject
        );
    }
}

#[test]
fn a_close_carries_the_attributes_of_what_it_closes() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let open = next_state(AlertKind::New, None, Some(&p), FUNCTION, 0);
    let mut healed = mapping(vec![]);
    healed.verdict = Verdict::Pass;
    let attribute = |msg: &Message, name: &str| {
        msg.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
            .unwrap_or_default()
    };
    for kind in [
        AlertKind::Resolved,
        AlertKind::Deleted,
        AlertKind::Remediated,
    ] {
        let mapping = (kind != AlertKind::Deleted).then_some(&healed);
        let msg = compose(&ctx(kind, mapping, None, Some(&open), &[]));
        assert_eq!(attribute(&msg, "severity"), "fail", "{kind:?}");
        assert_eq!(attribute(&msg, "alert_kind"), kind.as_str(), "{kind:?}");
        assert!(
            attribute(&msg, "rules").contains("no-service-path"),
            "{kind:?}"
        );
        assert!(msg.subject.contains(UUID) && msg.subject.len() < 100);
        assert_eq!(attribute(&msg, "previous_severity"), "fail", "{kind:?}");
    }
    // A failure that becomes a warning is a change: it says what it was.
    let warn = mapping(vec![finding(
        RuleId::NatCrossAz,
        Severity::Warn,
        &["nat-1"],
        "the NAT gateway is in another AZ",
    )]);
    let wp = problem(&warn, Severity::Warn).unwrap();
    let fp = problem(&m, Severity::Warn).unwrap();
    let failing = next_state(AlertKind::New, None, Some(&fp), FUNCTION, 0);
    let msg = compose(&ctx(
        AlertKind::Changed,
        Some(&warn),
        Some(&wp),
        Some(&failing),
        &[],
    ));
    assert_eq!(attribute(&msg, "severity"), "warn");
    assert_eq!(attribute(&msg, "previous_severity"), "fail");
    // A new alert has nothing before it.
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &[]));
    assert_eq!(attribute(&msg, "previous_severity"), "");
}

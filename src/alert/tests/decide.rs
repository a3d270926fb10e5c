//! The state machine: problems, fingerprints, decisions, next states.

use super::*;
use crate::alert::decide::*;
use crate::rules::{RuleId, Severity};

#[test]
fn problem_keeps_findings_at_or_above_the_threshold() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    assert_eq!(p.rules, vec![RuleId::NoServicePath]);
    assert_eq!(p.severity, Severity::Fail);
    assert!(problem(&m, Severity::Info)
        .unwrap()
        .rules
        .contains(&RuleId::EndpointPolicyOpen));
    let only_info = mapping(vec![finding(
        RuleId::EndpointPolicyOpen,
        Severity::Info,
        &["vpce-1"],
        "advice",
    )]);
    assert!(problem(&only_info, Severity::Warn).is_none());
    // unknown sits between warn and fail
    let unknown = mapping(vec![finding(
        RuleId::InsufficientData,
        Severity::Unknown,
        &["ec2:DescribeRouteTables"],
        "x",
    )]);
    assert!(problem(&unknown, Severity::Warn).is_some());
    assert!(problem(&unknown, Severity::Fail).is_none());
}

#[test]
fn fingerprint_ignores_order_and_wording() {
    let a = finding(
        RuleId::BrokerIngress,
        Severity::Fail,
        &["sg-2", "sg-1"],
        "one wording",
    );
    let b = finding(RuleId::NoServicePath, Severity::Fail, &["subnet-1"], "x");
    let a2 = finding(
        RuleId::BrokerIngress,
        Severity::Fail,
        &["sg-1", "sg-2"],
        "another wording",
    );
    assert_eq!(fingerprint(&[&a, &b]), fingerprint(&[&b, &a2]));
    assert_ne!(fingerprint(&[&a]), fingerprint(&[&a, &b]));
    let c = finding(
        RuleId::BrokerIngress,
        Severity::Fail,
        &["sg-3"],
        "one wording",
    );
    assert_ne!(fingerprint(&[&a]), fingerprint(&[&c]));
    assert_eq!(fingerprint(&[&a]).len(), 64);
}

#[test]
fn decisions() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let now = 1_700_000_000;
    let day = 86_400;
    let open = AlertState {
        fingerprint: p.fingerprint.clone(),
        last_alerted: now - 3600,
        open: true,
        severity: Some(Severity::Fail),
        rules: vec!["no-service-path".into()],
        function_arn: FUNCTION.into(),
        confirm: None,
        account: None,
        region: None,
    };
    let closed = AlertState {
        open: false,
        fingerprint: String::new(),
        ..open.clone()
    };
    // new
    assert_eq!(decide(None, Some(&p), now, day), Some(AlertKind::New));
    assert_eq!(
        decide(Some(&closed), Some(&p), now, day),
        Some(AlertKind::New)
    );
    // same, within the window: nothing
    assert_eq!(decide(Some(&open), Some(&p), now, day), None);
    // same, after the window: reminder (exactly at the boundary too)
    assert_eq!(
        decide(Some(&open), Some(&p), open.last_alerted + day, day),
        Some(AlertKind::Reminder)
    );
    assert_eq!(
        decide(Some(&open), Some(&p), open.last_alerted + day - 1, day),
        None
    );
    // changed
    let other = AlertState {
        fingerprint: "0".repeat(64),
        ..open.clone()
    };
    assert_eq!(
        decide(Some(&other), Some(&p), now, day),
        Some(AlertKind::Changed)
    );
    // resolved, and nothing for a mapping never alerted
    assert_eq!(
        decide(Some(&open), None, now, day),
        Some(AlertKind::Resolved)
    );
    assert_eq!(decide(Some(&closed), None, now, day), None);
    assert_eq!(decide(None, None, now, day), None);
    // deleted
    assert_eq!(decide_deleted(Some(&open)), Some(AlertKind::Deleted));
    assert_eq!(decide_deleted(Some(&closed)), None);
    assert_eq!(decide_deleted(None), None);
}

#[test]
fn next_states() {
    let m = broken();
    let p = problem(&m, Severity::Warn).unwrap();
    let s = next_state(AlertKind::New, None, Some(&p), FUNCTION, 100);
    assert!(s.open);
    assert_eq!(s.fingerprint, p.fingerprint);
    assert_eq!(s.last_alerted, 100);
    assert_eq!(s.rules, vec!["no-service-path".to_string()]);
    let r = next_state(AlertKind::Resolved, Some(&s), None, FUNCTION, 200);
    assert!(!r.open);
    assert!(r.fingerprint.is_empty());
    assert_eq!(
        r.rules, s.rules,
        "the closed state remembers what it closed"
    );
    assert_eq!(r.severity, Some(Severity::Fail));
    assert!(expires_at(&s, 100, 86_400) > 100 + 86_400);
    assert!(expires_at(&r, 200, 86_400) > 200);
}

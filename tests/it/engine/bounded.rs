//! Output grows with an account's resources, never with their product (issue 13): the
//! self-managed mapping at AWS's limits (16 subnets, 10 bootstrap servers on different ports,
//! an ACL with no entries) that once made 3,200 findings, 114 MB of text and an SNS publish
//! that failed with "Message too long".

use std::collections::{BTreeMap, BTreeSet};

use esm_guard::alert::{compose, problem, AlertContext, AlertKind, SNS_MAX_BYTES};
use esm_guard::lambda::config::Remediation;
use esm_guard::plan::plan;
use esm_guard::report::to_text;
use esm_guard::sample::Sample;
use esm_guard::{evaluate, RuleId, Severity, Verdict};

use super::helpers::*;

fn at_the_limits() -> (Sample, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let azs = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let subnets: Vec<String> = (0..16)
        .map(|i| s.private_subnet(&vpc, azs[i % 3]))
        .collect();
    let sg = s.security_group(&vpc);
    s.allow_group(&sg, false, 443, &sg);
    s.guide_endpoints(&vpc, &subnets[..3], std::slice::from_ref(&sg));
    s.network_acl(&vpc, &subnets, vec![]);
    let servers: Vec<String> = (0..10)
        .map(|k| format!("10.0.{k}.10:{}", 9092 + k))
        .collect();
    let servers: Vec<&str> = servers.iter().map(String::as_str).collect();
    let uuid = s.self_managed_mapping(&servers, &subnets, &[sg], false);
    (s, uuid)
}

#[test]
fn a_mapping_at_awss_limits_makes_a_bounded_report_and_one_alert() {
    let (s, uuid) = at_the_limits();
    let snapshot = s.build();
    let report = evaluate(&snapshot);
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Fail);
    // One finding per rule and subject: the one ACL, the endpoints, the groups.
    assert!(
        m.findings.len() <= 12,
        "{} findings: {:#?}",
        m.findings.len(),
        m.findings
    );
    let acl_findings = findings(&report, &uuid, RuleId::NaclBlocks);
    assert_eq!(acl_findings.len(), 1, "{acl_findings:#?}");
    assert!(acl_findings[0].message.contains("more"), "cut with a count");

    let actions = plan(&snapshot, &report);
    // Every fix is linked to the finding that needs it, once: no fix listed twice.
    let mut seen = BTreeSet::new();
    for a in &actions {
        assert!(seen.insert(a.id.clone()), "action {} twice", a.id);
    }
    // Planned ACL entries take distinct rule numbers per ACL and direction.
    let mut numbers: BTreeMap<(String, bool), BTreeSet<i32>> = BTreeMap::new();
    for a in actions
        .iter()
        .filter(|a| a.command.starts_with("aws ec2 create-network-acl-entry"))
    {
        let acl = a
            .command
            .split("--network-acl-id ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        let egress = a.command.contains(" --egress ");
        let n: i32 = a
            .command
            .split("--rule-number ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            numbers.entry((acl, egress)).or_default().insert(n),
            "{} reused",
            a.command
        );
    }
    assert!(!numbers.is_empty());

    let text = to_text(&report, &actions);
    assert!(
        text.len() < 100 * 1024,
        "text report of {} bytes",
        text.len()
    );
    println!(
        "text report: {} bytes, {} findings, {} actions",
        text.len(),
        m.findings.len(),
        actions.len()
    );

    let p = problem(m, Severity::Warn).expect("a problem");
    let message = compose(&AlertContext {
        kind: AlertKind::New,
        region: "us-east-1",
        uuid: &uuid,
        mapping: Some(m),
        problem: Some(&p),
        previous: None,
        actions: &actions,
        remediation: Remediation::Plan,
        results: vec![],
        healing: None,
        min_severity: Severity::Warn,
        renotify_hours: 24,
        now: 1_800_000_000,
    });
    assert!(
        message.sns_bytes() < SNS_MAX_BYTES,
        "{} bytes",
        message.sns_bytes()
    );
    assert!(message.subject.len() < 100 && message.subject.is_ascii());
    println!("alert: {} bytes", message.sns_bytes());
}

#[test]
fn an_alert_of_any_size_fits_one_sns_message() {
    // A report far beyond what the engine makes (thousands of long findings): the e-mail
    // is cut, saying so, and the publish still fits.
    let (s, uuid) = at_the_limits();
    let snapshot = s.build();
    let report = evaluate(&snapshot);
    let mut m = mapping(&report, &uuid).clone();
    let template = m.findings[0].clone();
    for i in 0..3000 {
        let mut f = template.clone();
        f.id = format!("{}-{i}", f.id);
        f.resources = vec![format!("acl-{i:017x}")];
        f.message = format!("{} {}", f.message, "x".repeat(200));
        m.findings.push(f);
    }
    let actions = plan(&snapshot, &report);
    let p = problem(&m, Severity::Warn).expect("a problem");
    let message = compose(&AlertContext {
        kind: AlertKind::New,
        region: "us-east-1",
        uuid: &uuid,
        mapping: Some(&m),
        problem: Some(&p),
        previous: None,
        actions: &actions,
        remediation: Remediation::Plan,
        results: vec![],
        healing: None,
        min_severity: Severity::Warn,
        renotify_hours: 24,
        now: 1_800_000_000,
    });
    assert!(
        message.sns_bytes() < SNS_MAX_BYTES,
        "{} bytes",
        message.sns_bytes()
    );
    assert!(message.cut);
    assert!(
        message.email.contains("cut to fit an SNS message"),
        "{}",
        &message.email[message.email.len().saturating_sub(300)..]
    );
}

//! Hostile text from AWS stays inert in Slack and e-mail.

use super::*;
use crate::alert::compose::*;
use crate::alert::decide::*;
use crate::alert::text::*;
use crate::rules::{RuleId, Severity, SourceSummary};

const HOSTILE: [&str; 6] = [
    "<!channel>",
    "<@U123>",
    "<http://x|y>",
    "*bold*",
    "`code`",
    "@here",
];

/// Outside code spans nothing may format or mention; inside them (where Slack formats
/// nothing) nothing may end the span early or open a control sequence.
fn assert_inert(text: &str) {
    let mut outside = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            assert!(
                !part.contains('<') && !part.contains('>'),
                "{part:?} in a code span of {text:?}"
            );
        } else {
            outside.push_str(part);
        }
    }
    assert_eq!(
        text.matches('`').count() % 2,
        0,
        "unbalanced code spans in {text:?}"
    );
    let text = outside.as_str();
    for bad in [
        "<!channel>",
        "<@U123>",
        "<http://x|y>",
        "*bold*",
        "`",
        "<!",
        "<@",
        "<http",
    ] {
        assert!(!text.contains(bad), "{bad:?} survives in {text:?}");
    }
    assert!(!text.contains("@here"), "{text:?}");
}

#[test]
fn md_neutralizes_slack_markup_and_mentions() {
    for bad in HOSTILE {
        assert_inert(&md(bad));
    }
    assert_eq!(md("<!channel>"), "&lt;!channel&gt;");
    assert_eq!(md("a & b"), "a &amp; b");
    assert_eq!(md("line\nbreak"), "line break");
    // ids stay readable
    assert_eq!(md("subnet-0a1b2c3d"), "subnet-0a1b2c3d");
}

#[test]
fn code_spans_cannot_be_escaped() {
    assert_eq!(code("sg-1"), "`sg-1`");
    let c = code("x` <!channel> `y");
    assert_eq!(c.matches('`').count(), 2, "{c}");
    assert!(!c.contains("<!channel>"), "{c}");
}

#[test]
fn hostile_names_tags_and_messages_are_inert_everywhere() {
    let hostile = HOSTILE.join(" ");
    let mut m = mapping(vec![finding(
        RuleId::EsmReportedProblem,
        Severity::Fail,
        &[&format!("sg-1 {hostile}")],
        &format!("Lambda reports for this mapping: \"PROBLEM: {hostile}\""),
    )]);
    m.function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{hostile}");
    m.source = SourceSummary::SelfManaged {
        bootstrap_servers: vec![format!("{hostile}:9092")],
    };
    let p = problem(&m, Severity::Warn).unwrap();
    let mut a = action();
    a.description = format!("Fix {hostile}");
    a.command = format!("aws x {hostile}");
    a.fixes[0].rule = RuleId::EsmReportedProblem;
    a.fixes[0].finding = format!("esm-reported-problem/sg-1 {hostile}");
    let actions = [a];
    let msg = compose(&ctx(AlertKind::New, Some(&m), Some(&p), None, &actions));
    let content = &msg.chatbot["content"];
    assert_inert(content["title"].as_str().unwrap());
    assert_inert(content["description"].as_str().unwrap());
    for v in content["nextSteps"]
        .as_array()
        .unwrap()
        .iter()
        .chain(content["keywords"].as_array().unwrap())
    {
        assert_inert(v.as_str().unwrap());
    }
    assert_inert(msg.chatbot["metadata"]["summary"].as_str().unwrap());
    for r in msg.chatbot["metadata"]["relatedResources"]
        .as_array()
        .unwrap()
    {
        let r = r.as_str().unwrap();
        assert!(!r.contains('<') && !r.contains('`'), "{r}");
    }
    // the code spans stay balanced: every backtick in the description is ours
    let d = content["description"].as_str().unwrap();
    for line in d.lines() {
        assert_eq!(line.matches('`').count() % 2, 0, "{line}");
    }
    // the subject is one ASCII line
    assert!(msg.subject.chars().all(|c| c.is_ascii() && !c.is_control()));
    // the e-mail keeps the text as it is (plain text has no markup), minus line breaks
    assert!(msg.email.contains("<!channel>"));
}

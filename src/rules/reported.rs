//! `esm-reported-problem`: Lambda's own word on a mapping (`LastProcessingResult`), what kind
//! of problem it names, and how much it counts when every check esm-guard can make passes.
//!
//! Lambda clears its report on the next successful poll, minutes after a fix, and no event
//! says so. A connection problem reported while the path esm-guard can see is fine is
//! therefore either stale (it predates a change) or caused by what esm-guard cannot see (the
//! brokers' own firewall, their DNS, a broker that is down). Which of the two it is, only a
//! later look can tell: a change esm-guard made or saw makes it `warn` while a follow-up
//! check is pending (`Confirmation::Pending`), and `fail` again once follow-ups came back
//! with Lambda still reporting it (`Confirmation::StillFailing`). Without a known change it
//! stays `fail`.

use serde::{Deserialize, Serialize};

use super::{Finding, Fix, MappingReport, RuleId, Severity, Verdict};

/// What kind of problem Lambda's text names. The strings are AWS's: the Kafka and MQ
/// troubleshooting pages (`with-kafka-troubleshoot.html`, `services-mq-errors.html`) list
/// the authentication and authorization messages and the `StateTransitionReason` codes; the
/// connection message is the one Lambda's ESM shows for a VPC without a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// "Connection error": the poller cannot reach the brokers or Lambda, STS, Secrets
    /// Manager or the destination: the network esm-guard checks.
    Connection,
    /// The brokers and Lambda do not authenticate each other (SASL, mTLS, certificates).
    Authentication,
    /// The brokers refuse what Lambda's user or role may do (Kafka ACLs, IAM on the cluster).
    Authorization,
    /// Lambda cannot assume the function's execution role.
    ExecutionRole,
    /// The mapping's or the function's configuration is not valid.
    Configuration,
    /// The function itself fails on the records.
    Function,
    /// Lambda's own failure ("Lambda internal error").
    LambdaInternal,
    /// A text esm-guard does not know: quoted as it is.
    Unknown,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Connection => "connection",
            ProblemKind::Authentication => "authentication",
            ProblemKind::Authorization => "authorization",
            ProblemKind::ExecutionRole => "execution-role",
            ProblemKind::Configuration => "configuration",
            ProblemKind::Function => "function",
            ProblemKind::LambdaInternal => "lambda-internal",
            ProblemKind::Unknown => "unknown",
        }
    }

    /// What it means and where to look, for a person.
    pub fn advice(self) -> &'static str {
        match self {
            ProblemKind::Connection => "a connection problem: the network path esm-guard checks (security groups, ACLs, routes, endpoints), or what it cannot see (the brokers' own firewall, DNS, a broker that is down)",
            ProblemKind::Authentication => "an authentication problem, not the network: check the secret's credentials (SASL/SCRAM), the client certificate and the brokers' CA (mTLS), or kafka-cluster:Connect in the execution role (IAM)",
            ProblemKind::Authorization => "an authorization problem, not the network: the Kafka ACLs of the mapping's user (DescribeConfigs on the cluster, Describe and Read on the topic and on the group named after the mapping's UUID), or the execution role's kafka-cluster permissions",
            ProblemKind::ExecutionRole => "the execution role: its trust policy must let lambda.amazonaws.com assume it, and an STS endpoint policy must allow sts:AssumeRole",
            ProblemKind::Configuration => "a configuration Lambda rejects: check the mapping's and the function's settings (topics, starting position, batch window, the function's state)",
            ProblemKind::Function => "the function itself fails on the records: see its logs and errors",
            ProblemKind::LambdaInternal => "Lambda's own failure, not your configuration: if it lasts, contact AWS Support with the mapping's UUID",
            ProblemKind::Unknown => "a problem esm-guard does not classify: see the mapping in the Lambda console",
        }
    }
}

/// The `StateTransitionReason` codes with which Lambda stops a mapping ("Troubleshooting
/// Kafka event source mapping errors", with-kafka-troubleshoot.html; "Troubleshoot Amazon MQ
/// event source mapping errors", services-mq-errors.html).
pub const STOPPED_BY: [&str; 4] = [
    "ESM_CONFIG_NOT_VALID",
    "EVENT_SOURCE_AUTHN_ERROR",
    "EVENT_SOURCE_AUTHZ_ERROR",
    "FUNCTION_CONFIG_NOT_VALID",
];

/// The kind of problem `text` (a `LastProcessingResult` or a `StateTransitionReason`) names.
pub fn classify(text: &str) -> ProblemKind {
    let t = text.to_ascii_lowercase();
    let has = |needle: &str| t.contains(needle);
    if has("connection error") {
        ProblemKind::Connection
    } else if has("failed to assume") && has("execution role") {
        ProblemKind::ExecutionRole
    } else if has("sasl authentication failed")
        || has("failed to authenticate")
        || has("certificate or private key is invalid")
        || has("event_source_authn_error")
    {
        ProblemKind::Authentication
    } else if has("failed to authorize") || has("event_source_authz_error") {
        ProblemKind::Authorization
    } else if has("esm_config_not_valid") || has("function_config_not_valid") {
        ProblemKind::Configuration
    } else if has("function call failed") {
        ProblemKind::Function
    } else if has("internal error") {
        ProblemKind::LambdaInternal
    } else {
        ProblemKind::Unknown
    }
}

/// Lambda's report on a mapping, as the mapping's report carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaReport {
    /// `LastProcessingResult`, as Lambda wrote it.
    pub text: String,
    pub kind: ProblemKind,
    /// Set when every check esm-guard can make passes and a change may have cleared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

/// What esm-guard knows of a change to the mapping's path that Lambda's report may predate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Confirmation {
    /// A change was made or seen; Lambda's next poll should confirm it.
    Pending {
        change: String,
        /// The follow-up check the function scheduled (none from the CLI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follow_up: Option<PlannedCheck>,
    },
    /// The follow-ups came back with Lambda still reporting the problem.
    StillFailing { change: String, attempts: u32 },
}

/// A follow-up check: which one of how many, and when (epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCheck {
    pub attempt: u32,
    pub of: u32,
    pub due: i64,
}

/// Lambda's report on `esm`, when it reports a problem: the finding, first judged `fail`
/// (`reassess` refines it once the rest of the mapping's findings are known).
pub(super) fn check(
    esm: &crate::model::EventSourceMapping,
    findings: &mut super::Findings,
) -> Option<LambdaReport> {
    let problem = esm
        .last_processing_result
        .as_deref()
        .filter(|r| r.trim_start().starts_with("PROBLEM:"))
        .or_else(|| {
            // Lambda stopped the mapping with an error code (the Kafka and MQ
            // troubleshooting pages list them): as telling as a PROBLEM.
            esm.state_transition_reason
                .as_deref()
                .filter(|r| STOPPED_BY.contains(&r.trim()))
        })?;
    let (report, message) = finding(&esm.uuid, problem);
    findings.push(
        RuleId::EsmReportedProblem,
        Severity::Fail,
        &esm.uuid,
        vec![esm.uuid.clone()],
        message,
        Some(Fix::ReviewMapping {
            uuid: esm.uuid.clone(),
        }),
    );
    Some(report)
}

fn finding(uuid: &str, text: &str) -> (LambdaReport, String) {
    let kind = classify(text);
    let report = LambdaReport {
        text: text.trim().to_string(),
        kind,
        confirmation: None,
    };
    let message = message(uuid, &report, false);
    (report, message)
}

/// Whether Lambda's report is all that is wrong: it names a connection problem and no other
/// finding is at `warn` or above or undecided, except endpoints that are still coming up
/// (`endpoint-pending`), which serve within minutes.
pub fn path_looks_fine(m: &MappingReport) -> bool {
    m.lambda_report
        .as_ref()
        .is_some_and(|r| r.kind == ProblemKind::Connection)
        && m.findings.iter().all(|f| {
            matches!(f.rule, RuleId::EsmReportedProblem | RuleId::EndpointPending)
                || f.severity < Severity::Warn
        })
}

/// Judges Lambda's report again in the light of `confirmation` (none: no change known),
/// rewriting its finding and the mapping's verdict. Idempotent: the finding is always
/// rebuilt from the report's text.
pub fn reassess(m: &mut MappingReport, confirmation: Option<Confirmation>) {
    let fine = path_looks_fine(m);
    let uuid = m.uuid.clone();
    let Some(report) = m.lambda_report.as_mut() else {
        return;
    };
    report.confirmation = confirmation.filter(|_| fine);
    let severity = match &report.confirmation {
        Some(Confirmation::Pending { .. }) => Severity::Warn,
        _ => Severity::Fail,
    };
    let text = message(&uuid, report, fine);
    if let Some(f) = m
        .findings
        .iter_mut()
        .find(|f| f.rule == RuleId::EsmReportedProblem)
    {
        f.severity = severity;
        f.message = text;
        f.fixes = vec![if fine {
            Fix::AwaitLambda { uuid: uuid.clone() }
        } else {
            Fix::ReviewMapping { uuid: uuid.clone() }
        }];
    }
    m.verdict = Verdict::from_severities(m.findings.iter().map(|f: &Finding| f.severity));
}

fn message(uuid: &str, report: &LambdaReport, path_fine: bool) -> String {
    let said = format!("Lambda reports for mapping {uuid}: \"{}\"", report.text);
    const OUT_OF_SIGHT: &str =
        "the brokers' own firewall, DNS resolution of the brokers' names, a broker that is down";
    if !path_fine {
        return format!("{said} ({})", report.kind.advice());
    }
    match &report.confirmation {
        None => format!(
            "{said}, yet every check esm-guard can make passes. Either the report predates a change esm-guard did not see (Lambda clears it on its next successful poll, within minutes), or the cause is out of esm-guard's sight: {OUT_OF_SIGHT}"
        ),
        Some(Confirmation::Pending { change, follow_up }) => {
            let next = match follow_up {
                Some(c) => format!(
                    "follow-up check {} of {} at {}",
                    c.attempt,
                    c.of,
                    utc_minute(c.due)
                ),
                None => format!(
                    "check it with `aws lambda get-event-source-mapping --uuid {uuid} --query LastProcessingResult`, or wait for it with `esm-guard audit --esm {uuid} --wait-confirm 10`"
                ),
            };
            format!(
                "{said}, which may predate {change}: the path esm-guard can see is fine now. Waiting for Lambda to confirm on its next poll ({next})"
            )
        }
        Some(Confirmation::StillFailing { change, attempts }) => format!(
            "{said}, still, {attempts} follow-up check(s) after {change}, although every check esm-guard can make passes: the cause is out of its sight: {OUT_OF_SIGHT}"
        ),
    }
}

/// `2026-12-01 16:05 UTC` for epoch seconds `t` (no clock read: the caller's time).
pub fn utc_minute(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_messages_are_classified() {
        let cases = [
            ("PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured).", ProblemKind::Connection),
            ("PROBLEM: Connection error. Please check your event source connection configuration.", ProblemKind::Connection),
            ("PROBLEM: SASL authentication failed.", ProblemKind::Authentication),
            ("PROBLEM: Server failed to authenticate Lambda.", ProblemKind::Authentication),
            ("PROBLEM: Lambda failed to authenticate server.", ProblemKind::Authentication),
            ("PROBLEM: Provided certificate or private key is invalid.", ProblemKind::Authentication),
            ("PROBLEM: Cluster failed to authorize Lambda.", ProblemKind::Authorization),
            ("PROBLEM: Lambda failed to assume your function execution role.", ProblemKind::ExecutionRole),
            ("EVENT_SOURCE_AUTHN_ERROR", ProblemKind::Authentication),
            ("EVENT_SOURCE_AUTHZ_ERROR", ProblemKind::Authorization),
            ("ESM_CONFIG_NOT_VALID", ProblemKind::Configuration),
            ("FUNCTION_CONFIG_NOT_VALID", ProblemKind::Configuration),
            ("PROBLEM: Function call failed", ProblemKind::Function),
            ("PROBLEM: Lambda internal error. Please contact Lambda customer support.", ProblemKind::LambdaInternal),
            ("PROBLEM: Something new Lambda says.", ProblemKind::Unknown),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text), kind, "{text}");
            // The finding quotes Lambda's text whole and says what to do next.
            let (report, message) = finding("u", text);
            assert_eq!(report.kind, kind);
            assert!(message.contains(text.trim()), "{message}");
            assert!(message.contains(kind.advice()), "{message}");
        }
        let advice: std::collections::BTreeSet<&str> =
            cases.iter().map(|(_, k)| k.advice()).collect();
        assert_eq!(advice.len(), 8, "each kind has its own next step");
    }

    #[test]
    fn a_mapping_lambda_stopped_with_an_error_code_is_reported() {
        use crate::model::EventSourceMapping;
        for reason in STOPPED_BY {
            let esm = EventSourceMapping {
                uuid: "u".into(),
                last_processing_result: Some("No records processed".into()),
                state_transition_reason: Some(reason.into()),
                ..EventSourceMapping::default()
            };
            let mut findings = super::super::Findings::default();
            let report = check(&esm, &mut findings).expect(reason);
            assert_eq!(report.text, reason);
            assert_ne!(report.kind, ProblemKind::Unknown, "{reason}");
        }
        // A user's own change is no problem; nor is an OK result.
        for (result, reason) in [
            ("OK", "User action"),
            ("No records processed", "USER_INITIATED"),
        ] {
            let esm = EventSourceMapping {
                uuid: "u".into(),
                last_processing_result: Some(result.into()),
                state_transition_reason: Some(reason.into()),
                ..EventSourceMapping::default()
            };
            let mut findings = super::super::Findings::default();
            assert!(check(&esm, &mut findings).is_none());
        }
    }

    #[test]
    fn minutes_in_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
    }
}

//! `insufficient-data`: a fact could not be read (the collection's gaps in the mapping's
//! scope), a mapping's network cannot be worked out, or a bootstrap server has no port.
//! The mapping is then `unknown`, never judged on half a picture. The path checks also
//! report it where they meet a fact that is missing (a prefix list, an execution role).

use super::network::Derived;
use super::{Findings, Fix, RuleId, Severity};
use crate::index::Index;
use crate::model::{DataGap, EventSourceMapping, GapCause, GapScope};

/// Reports what is missing for `esm`; returns how many collection gaps touch it (the
/// network rules are skipped when any does).
pub(super) fn check(
    index: &Index<'_>,
    esm: &EventSourceMapping,
    derived: &Derived,
    findings: &mut Findings,
) -> usize {
    let vpc_id = match derived {
        Derived::Vpc(net) => Some(net.vpc_id.as_str()),
        _ => None,
    };
    let gaps: Vec<&DataGap> = index
        .snapshot
        .gaps
        .iter()
        .filter(|gap| match &gap.scope {
            GapScope::All => true,
            GapScope::Vpc(id) => Some(id.as_str()) == vpc_id,
            GapScope::Cluster(arn) => esm.source_arn() == Some(arn.as_str()),
            GapScope::Mapping(uuid) => *uuid == esm.uuid,
            GapScope::Function(arn) => *arn == esm.function_arn,
            // Only the checks that read the list are undecided: the security-group legs
            // say so where they meet it.
            GapScope::PrefixList(_) => false,
        })
        .collect();
    for gap in &gaps {
        let (advice, fix) = gap_advice(gap);
        findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            &gap.api_call,
            vec![gap.api_call.clone()],
            format!(
                "{} failed ({}), so this mapping cannot be judged; {advice}",
                gap.api_call, gap.error
            ),
            fix,
        );
    }
    let bad_servers = match derived {
        Derived::Vpc(net) => net.bad_servers.as_slice(),
        Derived::Internet { bad_servers, .. } => bad_servers.as_slice(),
        _ => &[],
    };
    if !bad_servers.is_empty() {
        findings.push(
            RuleId::InsufficientData,
            Severity::Unknown,
            "bootstrap-servers",
            bad_servers.to_vec(),
            format!(
                "The bootstrap server(s) {} have no port from 1 to 65535, so the path to them cannot be judged: fix KAFKA_BOOTSTRAP_SERVERS (host:port)",
                bad_servers.join(", ")
            ),
            Some(Fix::ReviewMapping {
                uuid: esm.uuid.clone(),
            }),
        );
    }
    if let Derived::Undetermined(why) = derived {
        if gaps.is_empty() {
            findings.push(
                RuleId::InsufficientData,
                Severity::Unknown,
                &esm.uuid,
                vec![esm.uuid.clone()],
                why.clone(),
                None,
            );
        }
    }
    gaps.len()
}

/// What to do about a gap, and the fix that says it.
fn gap_advice(gap: &DataGap) -> (String, Option<Fix>) {
    match gap.cause {
        GapCause::Denied => (
            format!(
                "grant the IAM action {} to the role esm-guard runs as",
                gap.iam_action
            ),
            Some(Fix::GrantIam {
                action: gap.iam_action.clone(),
            }),
        ),
        GapCause::Throttled => (
            "it was throttled past the retries; the next run (or the schedule) reads it again"
                .to_string(),
            None,
        ),
        GapCause::Unavailable => (
            "AWS or the connection failed past the retries; the next run (or the schedule) reads it again"
                .to_string(),
            None,
        ),
        GapCause::Incomplete => (
            "the answer was incomplete (cut off, or without a field AWS always sends); the next run (or the schedule) reads it again"
                .to_string(),
            None,
        ),
        GapCause::Deadline => (
            "the run ran out of time; raise the function's timeout if this repeats".to_string(),
            None,
        ),
    }
}

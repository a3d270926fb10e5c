//! A flow's boundaries, judged leg by leg, and how their outcomes become findings.
//!
//! A boundary that passes leaves no trace (most do: formatting them would cost a tenth of
//! an evaluation). One that blocks, cannot be proven, or cannot be judged becomes a `Hop`,
//! and the flow decides what it means: on a path every pair of which is needed (brokers, a
//! NAT gateway) a block fails; among the ENIs of an endpoint, which a client picks at
//! random, a block fails only when it blocks them all, and otherwise degrades the path.

use super::finding::{Findings, Fix};
use super::network::Ports;
use super::path::sg::{allows, Missing, SgOutcome, SgPeer};
use super::{Ctx, RuleId, Severity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HopKind {
    /// Certainly blocks: the finding is `rule`'s.
    Block,
    /// Depends on addresses esm-guard cannot know: `egress-unverifiable`.
    Unprovable,
    /// A fact it needs was not read: `insufficient-data` naming the call.
    Unknown { api_call: &'static str },
}

/// A boundary on a flow that did not simply pass.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    pub kind: HopKind,
    /// The rule that owns the boundary when it blocks.
    pub rule: RuleId,
    /// What to fix (an ACL, a group, an endpoint): findings are grouped by it.
    pub subject: String,
    pub resources: Vec<String>,
    pub headline: String,
    /// The boundary, its direction, ports and peer, and why.
    pub detail: String,
    pub fix: Option<Fix>,
}

impl Hop {
    pub fn unknown(api_call: &'static str, missing: &str, needed_for: &str) -> Hop {
        Hop {
            kind: HopKind::Unknown { api_call },
            rule: RuleId::InsufficientData,
            subject: missing.to_string(),
            resources: vec![api_call.to_string(), missing.to_string()],
            headline: format!(
                "{missing} was not in the answer of {api_call}, so {needed_for} cannot be judged"
            ),
            detail: String::new(),
            fix: None,
        }
    }

    fn report(&self, findings: &mut Findings, severity: Severity, rule: RuleId) {
        let draft = findings.add(rule, severity, &self.subject);
        draft
            .headline(|| self.headline.clone())
            .resources(self.resources.iter().cloned());
        if !self.detail.is_empty() {
            draft.detail(self.detail.clone());
        }
        if let Some(fix) = &self.fix {
            draft.fix(fix.clone());
        }
    }
}

/// What a blocking security-group leg is called in a finding.
pub(crate) struct SgBlock {
    pub rule: RuleId,
    pub subject: String,
    pub resources: Vec<String>,
    pub headline: String,
    pub detail: String,
    pub fix: Option<Fix>,
}

/// A security-group leg: `groups` let TCP `ports` out to (`egress`) or in from `peer`.
pub(crate) fn sg_leg(
    ctx: &Ctx<'_, '_>,
    groups: &[String],
    egress: bool,
    ports: Ports,
    peer: SgPeer<'_>,
    peer_name: &str,
    block: impl FnOnce() -> SgBlock,
) -> Option<Hop> {
    let direction = if egress { "out to" } else { "in from" };
    let port = port_text(ports);
    match allows(ctx.index, groups, egress, ports, peer) {
        SgOutcome::Allow => None,
        SgOutcome::Block => {
            let b = block();
            Some(Hop {
                kind: HopKind::Block,
                rule: b.rule,
                subject: b.subject,
                resources: b.resources,
                headline: b.headline,
                detail: b.detail,
                fix: b.fix,
            })
        }
        SgOutcome::Unprovable => Some(Hop {
            kind: HopKind::Unprovable,
            rule: RuleId::EgressUnverifiable,
            subject: groups.join(","),
            resources: groups.to_vec(),
            headline: format!(
                "Security group(s) {} admit TCP {port} {direction} {peer_name} only for some of the addresses it may use, so whether the mapping gets through cannot be verified",
                groups.join(", ")
            ),
            detail: format!("TCP {port} {direction} {peer_name} ({})", peer.addresses),
            fix: None,
        }),
        SgOutcome::Unknown(missing) => {
            // Several may be missing: one hop per missing fact would need a list; the first
            // names the call, the rest are in the detail.
            let names: Vec<String> = missing
                .iter()
                .map(|m| match m {
                    Missing::Group(g) => format!("security group {g}"),
                    Missing::PrefixList(p) => format!("prefix list {p}"),
                })
                .collect();
            let api_call = match missing.first() {
                Some(Missing::PrefixList(_)) => "ec2:GetManagedPrefixListEntries",
                _ => "ec2:DescribeSecurityGroups",
            };
            let first = names.first().cloned().unwrap_or_default();
            let mut hop = Hop::unknown(
                api_call,
                &first,
                &format!("whether TCP {port} gets {direction} {peer_name}"),
            );
            if names.len() > 1 {
                hop.detail = format!("also not read: {}", names[1..].join(", "));
            }
            hop.resources.extend(missing.iter().map(|m| match m {
                Missing::Group(g) | Missing::PrefixList(g) => g.clone(),
            }));
            Some(hop)
        }
    }
}

/// `443` or `14001-14100`.
pub(crate) fn port_text((from, to): Ports) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// Reports a flow every boundary of which must pass: each block fails with its own rule.
pub(crate) fn report_required(findings: &mut Findings, hops: &[Hop]) {
    for hop in hops {
        report_other(findings, hop, Severity::Fail);
    }
}

fn report_other(findings: &mut Findings, hop: &Hop, block_severity: Severity) {
    match hop.kind {
        HopKind::Block => hop.report(findings, block_severity, hop.rule),
        HopKind::Unprovable => hop.report(findings, Severity::Warn, RuleId::EgressUnverifiable),
        HopKind::Unknown { .. } => {
            hop.report(findings, Severity::Unknown, RuleId::InsufficientData)
        }
    }
}

/// One pair of a flow whose pairs are all used at random (an ESM subnet to each of an
/// endpoint's ENIs): its name and its hops.
pub(crate) struct Pair {
    pub name: String,
    pub hops: Vec<Hop>,
}

impl Pair {
    fn blocked(&self) -> bool {
        self.hops.iter().any(|h| h.kind == HopKind::Block)
    }
}

/// Reports the pairs from one ESM subnet to `service`: blocked in all, each block fails with
/// its own rule; blocked in some, `path-degraded`; what cannot be judged or proven on the
/// pairs that are not blocked, as such.
pub(crate) fn report_alternatives(
    findings: &mut Findings,
    service: &str,
    from_subnet: &str,
    pairs: &[Pair],
) {
    let blocked = pairs.iter().filter(|p| p.blocked()).count();
    if blocked == pairs.len() && !pairs.is_empty() {
        for pair in pairs {
            for hop in pair.hops.iter().filter(|h| h.kind == HopKind::Block) {
                hop.report(findings, Severity::Fail, hop.rule);
            }
        }
        return;
    }
    for pair in pairs {
        if pair.blocked() {
            for hop in pair.hops.iter().filter(|h| h.kind == HopKind::Block) {
                let draft = findings.add(RuleId::PathDegraded, Severity::Warn, service);
                draft
                    .headline(|| {
                        format!(
                            "{service} resolves to endpoint ENIs in several subnets, and some of them cannot be reached from the mapping's subnets, so some connections fail"
                        )
                    })
                    .resource(from_subnet)
                    .resources(hop.resources.iter().cloned())
                    .detail(format!("{}: {}", pair.name, hop.detail));
                if let Some(fix) = &hop.fix {
                    draft.fix(fix.clone());
                }
            }
        } else {
            for hop in &pair.hops {
                report_other(findings, hop, Severity::Fail);
            }
        }
    }
}

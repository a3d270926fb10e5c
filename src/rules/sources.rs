//! `cluster-not-found`: the mapping's event source (an MSK cluster, the VPC connection of a
//! cross-account or multi-VPC mapping, an Amazon MQ broker, a DocumentDB cluster) does not
//! exist.

use super::{Findings, Fix, RuleId, Severity};
use crate::index::Index;
use crate::model::{EventSource, EventSourceMapping};

pub(super) fn check_missing(
    index: &Index<'_>,
    esm: &EventSourceMapping,
    arn: &str,
    findings: &mut Findings,
) {
    let what = match esm.source {
        EventSource::MskVpcConnection { .. } => "MSK VPC connection",
        EventSource::Mq { .. } => "Amazon MQ broker",
        EventSource::DocumentDb { .. } => "DocumentDB cluster",
        _ => "MSK cluster",
    };
    findings.push(
        RuleId::ClusterNotFound,
        Severity::Fail,
        arn,
        vec![arn.to_string()],
        format!(
            "The mapping reads from {what} {arn}, which does not exist in {}: point the mapping at an existing one or delete it",
            index.snapshot.region
        ),
        Some(Fix::ReviewMapping {
            uuid: esm.uuid.clone(),
        }),
    );
}

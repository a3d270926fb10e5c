//! What one invocation returns: the audit's summary, the alerts sent, and for a hub's sweep
//! queue the records to deliver again (Lambda's partial batch response).

use serde::Serialize;

use super::deps::SentAlert;
use super::metrics::Metrics;
use crate::remediation::ActionResult;
use crate::rules::Summary;

/// The invocation's result (also its return value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub trigger: String,
    /// The event name, or why the event was ignored.
    pub detail: String,
    pub scope: ScopeSummary,
    pub mappings_audited: usize,
    pub verdicts: Summary,
    pub alerts: Vec<SentAlert>,
    pub api_calls: u32,
    /// With REMEDIATION=plan|apply: each automatic action's outcome.
    pub remediation: Vec<ActionResult>,
    /// Mappings left `unknown` only by a transient failure (throttled, unavailable, out of
    /// time): their alert state is kept as it was, and nothing is sent; the next run judges
    /// them again. A permission gap is not transient: it alerts.
    pub deferred: Vec<String>,
    /// The follow-up checks scheduled (EventBridge Scheduler schedule names).
    pub follow_ups: Vec<String>,
    /// A hub's sweep: how many (account, region) messages it sent to the sweep queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanned_out: Option<usize>,
    /// A hub's sweep queue batch: the records to deliver again (Lambda's partial batch
    /// response: a throttled or unreachable target is retried alone).
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScopeSummary {
    pub mappings: Vec<String>,
    pub vpcs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

impl Outcome {
    /// Adds one target's outcome to a batch's.
    pub(super) fn absorb(&mut self, one: Outcome) {
        self.mappings_audited += one.mappings_audited;
        self.verdicts.pass += one.verdicts.pass;
        self.verdicts.warn += one.verdicts.warn;
        self.verdicts.fail += one.verdicts.fail;
        self.verdicts.unknown += one.verdicts.unknown;
        self.alerts.extend(one.alerts);
        self.api_calls += one.api_calls;
        self.remediation.extend(one.remediation);
        self.deferred.extend(one.deferred);
        self.follow_ups.extend(one.follow_ups);
    }

    pub fn metrics(&self) -> Metrics {
        Metrics {
            trigger: self.trigger.clone(),
            mappings_audited: self.mappings_audited,
            verdicts: self.verdicts,
            alerts_sent: self.alerts.len(),
            mappings_deferred: self.deferred.len(),
            api_calls: self.api_calls,
        }
    }
}

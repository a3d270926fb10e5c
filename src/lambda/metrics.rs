//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which
//! CloudWatch Logs turns into metrics without any API call.

use serde::Serialize;
use serde_json::json;

use crate::rules::Summary;

pub const NAMESPACE: &str = "esm-guard";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// `mapping`, `network`, `sweep` or `ignored`.
    pub trigger: String,
    pub mappings_audited: usize,
    pub verdicts: Summary,
    pub alerts_sent: usize,
    /// Unknown only through a transient failure: state kept, nothing sent. A CloudWatch
    /// alarm on it says when esm-guard has been unable to look for too long.
    pub mappings_deferred: usize,
    /// Every AWS call of the invocation (collection, look-ups, state, SNS).
    pub api_calls: u32,
}

impl Metrics {
    /// The EMF document; `timestamp_ms` is the invocation's time (an input: no clock here).
    pub fn emf_line(&self, timestamp_ms: i64) -> String {
        let names = [
            "MappingsAudited",
            "MappingsPass",
            "MappingsWarn",
            "MappingsFail",
            "MappingsUnknown",
            "MappingsDeferred",
            "AlertsSent",
            "ApiCalls",
        ];
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"], ["Service", "Trigger"]],
                    "Metrics": names.iter().map(|n| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
                }]
            },
            "Service": NAMESPACE,
            "Trigger": self.trigger,
            "MappingsAudited": self.mappings_audited,
            "MappingsPass": self.verdicts.pass,
            "MappingsWarn": self.verdicts.warn,
            "MappingsFail": self.verdicts.fail,
            "MappingsUnknown": self.verdicts.unknown,
            "MappingsDeferred": self.mappings_deferred,
            "AlertsSent": self.alerts_sent,
            "ApiCalls": self.api_calls,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn emf_document_declares_every_metric_it_carries() {
        let m = Metrics {
            trigger: "sweep".into(),
            mappings_audited: 4,
            verdicts: Summary {
                pass: 1,
                warn: 1,
                fail: 2,
                unknown: 0,
            },
            alerts_sent: 2,
            mappings_deferred: 1,
            api_calls: 17,
        };
        let line = m.emf_line(1_700_000_000_000);
        assert!(!line.contains('\n'));
        let doc: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let set = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(set["Namespace"], "esm-guard");
        for metric in set["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} has no value");
        }
        for dims in set["Dimensions"].as_array().unwrap() {
            for d in dims.as_array().unwrap() {
                assert!(doc[d.as_str().unwrap()].is_string());
            }
        }
        assert_eq!(doc["MappingsFail"], 2);
        assert_eq!(doc["ApiCalls"], 17);
        assert_eq!(doc["MappingsDeferred"], 1);
        assert_eq!(doc["Trigger"], "sweep");
    }
}

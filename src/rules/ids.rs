//! Rule ids, severities and verdicts: the public vocabulary of `RULES.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! rule_ids {
    ($($variant:ident => $id:literal in $home:literal,)*) => {
        /// A rule of `RULES.md`. The ids are a public contract: never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId { $($variant,)* }

        impl RuleId {
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(RuleId::$variant => $id,)* }
            }

            pub fn parse(id: &str) -> Option<RuleId> {
                match id { $($id => Some(RuleId::$variant),)* _ => None }
            }

            /// The file that holds the rule's check (its explanation is in `explain.rs`,
            /// its firing and quiet cases in `tests/it/engine/rules.rs`).
            pub fn home(self) -> &'static str {
                match self { $(RuleId::$variant => concat!("src/rules/", $home),)* }
            }
        }
    };
}

// Each id, and the file of its check: one home per rule.
rule_ids! {
    ClusterNotFound => "cluster-not-found" in "sources.rs",
    BrokerIngress => "broker-ingress" in "brokers.rs",
    BrokerEgress => "broker-egress" in "brokers.rs",
    NoServicePath => "no-service-path" in "service_path.rs",
    NatUnavailable => "nat-unavailable" in "service_path.rs",
    NatNotPublic => "nat-not-public" in "service_path.rs",
    NatCrossAz => "nat-cross-az" in "service_path.rs",
    EgressUnverifiable => "egress-unverifiable" in "flow.rs",
    HttpsEgress => "https-egress" in "https_egress.rs",
    EndpointUnavailable => "endpoint-unavailable" in "endpoints.rs",
    EndpointPrivateDnsOff => "endpoint-private-dns-off" in "service_path.rs",
    VpcDnsDisabled => "vpc-dns-disabled" in "endpoints.rs",
    EndpointSgIngress => "endpoint-sg-ingress" in "endpoints.rs",
    EndpointAzCoverage => "endpoint-az-coverage" in "endpoints.rs",
    EndpointPolicyDenies => "endpoint-policy-denies" in "endpoints.rs",
    EndpointPolicyOpen => "endpoint-policy-open" in "endpoints.rs",
    NaclBlocks => "nacl-blocks" in "nacl.rs",
    EsmReportedProblem => "esm-reported-problem" in "reported.rs",
    PathDegraded => "path-degraded" in "flow.rs",
    EndpointPending => "endpoint-pending" in "endpoints.rs",
    EndpointPolicyScope => "endpoint-policy-scope" in "endpoints.rs",
    DestinationPath => "destination-path" in "service_path.rs",
    InsufficientData => "insufficient-data" in "gaps.rs",
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        RuleId::parse(&id)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rule id {id:?}")))
    }
}

/// How bad one finding is. `unknown` is the severity of `insufficient-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warn,
    Unknown,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Unknown => "unknown",
            Severity::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "info" => Some(Severity::Info),
            "warn" => Some(Severity::Warn),
            "unknown" => Some(Severity::Unknown),
            "fail" => Some(Severity::Fail),
            _ => None,
        }
    }
}

/// A mapping's overall judgement. Ordered by precedence: fail > unknown > warn > pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Warn,
    Unknown,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Unknown => "unknown",
            Verdict::Fail => "fail",
        }
    }

    /// The verdict a set of severities earns: `info` never changes it.
    pub fn from_severities(severities: impl IntoIterator<Item = Severity>) -> Verdict {
        severities
            .into_iter()
            .map(|s| match s {
                Severity::Info => Verdict::Pass,
                Severity::Warn => Verdict::Warn,
                Severity::Unknown => Verdict::Unknown,
                Severity::Fail => Verdict::Fail,
            })
            .max()
            .unwrap_or(Verdict::Pass)
    }
}

//! Rule ids, severities and verdicts: the public vocabulary of `RULES.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! rule_ids {
    ($($variant:ident => $id:literal,)*) => {
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
        }
    };
}

rule_ids! {
    ClusterNotFound => "cluster-not-found",
    BrokerIngress => "broker-ingress",
    BrokerEgress => "broker-egress",
    NoServicePath => "no-service-path",
    NatUnavailable => "nat-unavailable",
    NatNotPublic => "nat-not-public",
    NatCrossAz => "nat-cross-az",
    EgressUnverifiable => "egress-unverifiable",
    HttpsEgress => "https-egress",
    EndpointUnavailable => "endpoint-unavailable",
    EndpointPrivateDnsOff => "endpoint-private-dns-off",
    VpcDnsDisabled => "vpc-dns-disabled",
    EndpointSgIngress => "endpoint-sg-ingress",
    EndpointAzCoverage => "endpoint-az-coverage",
    EndpointPolicyDenies => "endpoint-policy-denies",
    EndpointPolicyOpen => "endpoint-policy-open",
    NaclBlocks => "nacl-blocks",
    EsmReportedProblem => "esm-reported-problem",
    PathDegraded => "path-degraded",
    EndpointPending => "endpoint-pending",
    EndpointPolicyScope => "endpoint-policy-scope",
    DestinationPath => "destination-path",
    InsufficientData => "insufficient-data",
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

//! Findings, the fixes that clear them, and how they are grouped: one finding per rule and
//! subject (an ACL, an endpoint, a service, the mapping's groups), naming everything it
//! covers, so a mapping's report grows with its resources, never with their product.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{RuleId, Severity};

/// At most this many details (a blocked leg, a subnet pair) are spelled out in one
/// finding's message; the rest are counted.
pub const DETAILS_MAX: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Unique within the mapping and stable across runs: `rule/subject`. Actions name the
    /// findings they clear by it.
    #[serde(default)]
    pub id: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub resources: Vec<String>,
    pub message: String,
    /// What would fix it, in terms the planner turns into actions or manual steps.
    #[serde(skip)]
    pub fixes: Vec<Fix>,
}

/// The change that clears a finding, as facts; `plan` decides whether it is automated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fix {
    /// Allow TCP `ports` on `group_id` from (or, egress, to) itself.
    SelfReference {
        group_id: String,
        ports: (u16, u16),
        egress: bool,
    },
    /// Self-managed brokers sit outside any known group: egress on `port` to their addresses.
    BrokerEgressCidr {
        group_id: String,
        port: u16,
        hosts: Vec<String>,
    },
    /// Allow TCP 443 on the endpoint's group from the mapping's group.
    EndpointIngress {
        endpoint_id: String,
        endpoint_group: String,
        esm_group: String,
    },
    /// Allow TCP 443 out of the mapping's group to the endpoint's group.
    EndpointEgress {
        esm_group: String,
        endpoint_id: String,
        endpoint_group: String,
    },
    /// Allow TCP 443 out of the mapping's group to anywhere (the NAT path).
    EgressAnywhere {
        esm_group: String,
    },
    /// Create an interface endpoint for `service` (`lambda`, `sts`, ...).
    CreateEndpoint {
        vpc_id: String,
        service: String,
        /// The full endpoint service name in the mapping's region and partition.
        service_name: String,
        subnet_ids: Vec<String>,
        security_group_id: String,
        /// `None` when it cannot be written (the execution role is unknown).
        policy: Option<String>,
        /// An endpoint for the service exists with private DNS off: switch it on instead.
        private_dns_off: Option<String>,
        /// The mapping sits in private subnets: a NAT gateway is the other way.
        nat_possible: bool,
        /// Endpoints of the service in the VPC that are gone (deleted, failed, ...): the new
        /// one's client token must differ from theirs.
        gone: Vec<String>,
    },
    EnablePrivateDns {
        endpoint_id: String,
    },
    /// A NAT path problem on `route_table_id` for `subnet_id`.
    Nat {
        subnet_id: String,
        availability_zone: String,
        route_table_id: String,
        nat_id: Option<String>,
    },
    EnableVpcDns {
        vpc_id: String,
        support: bool,
        hostnames: bool,
    },
    EndpointSubnets {
        endpoint_id: String,
        subnet_ids: Vec<String>,
    },
    EndpointPolicy {
        endpoint_id: String,
        policy: String,
    },
    /// An allow entry for TCP `port_from..=port_to` to or from `cidr`; its rule number must
    /// lie strictly between `above` and `below` (`below` is the entry that blocks; `above`
    /// the last deny before it that the new entry must not override). The planner picks
    /// the number, distinct across the whole plan.
    NaclEntry {
        acl_id: String,
        egress: bool,
        port_from: u16,
        port_to: u16,
        cidr: String,
        above: i32,
        below: i32,
    },
    GrantIam {
        action: String,
    },
    ReviewMapping {
        uuid: String,
    },
    /// The path esm-guard can see is fine: Lambda's next poll should clear its report.
    AwaitLambda {
        uuid: String,
    },
    EndpointState {
        endpoint_id: String,
    },
}

/// A finding under construction: details and fixes are added as legs are judged.
#[derive(Debug)]
pub(crate) struct Draft {
    rule: RuleId,
    severity: Severity,
    subject: String,
    resources: BTreeSet<String>,
    headline: String,
    details: Vec<String>,
    more: usize,
    fixes: Vec<Fix>,
}

impl Draft {
    /// The finding's first sentence, set by the first push only.
    pub fn headline(&mut self, text: impl FnOnce() -> String) -> &mut Self {
        if self.headline.is_empty() {
            self.headline = text();
        }
        self
    }

    pub fn resource(&mut self, id: impl Into<String>) -> &mut Self {
        let id = id.into();
        if !id.is_empty() {
            self.resources.insert(id);
        }
        self
    }

    pub fn resources<S: Into<String>>(&mut self, ids: impl IntoIterator<Item = S>) -> &mut Self {
        for id in ids {
            self.resource(id);
        }
        self
    }

    /// One more thing this finding covers (once each; beyond `DETAILS_MAX` only counted).
    pub fn detail(&mut self, text: impl Into<String>) -> &mut Self {
        let text = text.into();
        if self.details.contains(&text) {
            return self;
        }
        if self.details.len() < DETAILS_MAX {
            self.details.push(text);
        } else {
            self.more += 1;
        }
        self
    }

    pub fn fix(&mut self, fix: Fix) -> &mut Self {
        if !self.fixes.contains(&fix) {
            self.fixes.push(fix);
        }
        self
    }

    fn finish(self) -> Finding {
        let mut message = self.headline;
        if !self.details.is_empty() {
            message.push_str(": ");
            message.push_str(&self.details.join("; "));
            if self.more > 0 {
                message.push_str(&format!("; and {} more", self.more));
            }
        }
        let unnamed: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| !message.contains(r.as_str()))
            .map(String::as_str)
            .collect();
        if !unnamed.is_empty() {
            message.push_str(&format!(" (also: {})", unnamed.join(", ")));
        }
        Finding {
            id: format!("{}/{}", self.rule, self.subject),
            rule: self.rule,
            severity: self.severity,
            resources: self.resources.into_iter().collect(),
            message,
            fixes: self.fixes,
        }
    }
}

/// Collects findings, one per (rule, severity, subject).
#[derive(Default)]
pub(crate) struct Findings {
    drafts: Vec<Draft>,
    by_key: HashMap<(RuleId, Severity, String), usize>,
}

impl Findings {
    /// The finding of `rule` at `severity` about `subject`, created on first use.
    pub fn add(&mut self, rule: RuleId, severity: Severity, subject: &str) -> &mut Draft {
        let key = (rule, severity, subject.to_string());
        let at = match self.by_key.get(&key) {
            Some(&at) => at,
            None => {
                self.drafts.push(Draft {
                    rule,
                    severity,
                    subject: subject.to_string(),
                    resources: BTreeSet::new(),
                    headline: String::new(),
                    details: Vec::new(),
                    more: 0,
                    fixes: Vec::new(),
                });
                self.by_key.insert(key, self.drafts.len() - 1);
                self.drafts.len() - 1
            }
        };
        &mut self.drafts[at]
    }

    /// A finding complete in one step.
    pub fn push(
        &mut self,
        rule: RuleId,
        severity: Severity,
        subject: &str,
        resources: Vec<String>,
        message: String,
        fix: Option<Fix>,
    ) {
        let draft = self.add(rule, severity, subject);
        draft.headline(|| message).resources(resources);
        if let Some(fix) = fix {
            draft.fix(fix);
        }
    }

    pub fn into_sorted(self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self.drafts.into_iter().map(Draft::finish).collect();
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.rule.cmp(&b.rule))
                .then(a.resources.cmp(&b.resources))
                .then(a.message.cmp(&b.message))
        });
        // The same rule and subject at two severities: the ids must still differ.
        let mut seen = std::collections::HashSet::new();
        for f in &mut findings {
            if !seen.insert(f.id.clone()) {
                f.id = format!("{}/{}", f.id, f.severity.as_str());
            }
        }
        findings
    }
}

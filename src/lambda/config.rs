//! The function's environment (ARCHITECTURE.md), parsed once at start into one typed value.
//! A bad value stops the start with a message naming the variable and the value.

use crate::alert::confirm::Policy as ConfirmPolicy;
use crate::aws::followup::FollowUpConfig;
use crate::rules::Severity;

/// `REMEDIATION`: the same modes as the CLI's `--remediate`.
pub use crate::remediation::Mode as Remediation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub alert_topic_arn: String,
    /// `ALERT_EMAIL_TOPIC_ARN`: where the plain-text e-mail version goes; none: no e-mail.
    pub alert_email_topic_arn: Option<String>,
    pub state_table: String,
    pub remediation: Remediation,
    /// Findings below this severity never alert.
    pub alert_min_severity: Severity,
    pub renotify_hours: u32,
    pub max_actions_per_run: u32,
    /// `CONFIRM_AFTER_MINUTES` and `CONFIRM_ATTEMPTS`: how follow-up checks are spaced.
    pub confirm: ConfirmPolicy,
    /// `CONFIRM_SCHEDULE_GROUP` and `CONFIRM_ROLE_ARN`: where follow-ups are scheduled;
    /// `None` (both unset) leaves them to the next sweep.
    pub follow_ups: Option<FollowUpConfig>,
    /// `MODE=hub`: the function audits the member accounts of an organization.
    pub hub: Option<HubConfig>,
}

/// The hub's reach (`MODE=hub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// `SPOKE_ROLE_NAME`: the audit role in each member (default `esm-guard-audit`).
    pub role_name: String,
    /// `SPOKE_EXTERNAL_ID`.
    pub external_id: Option<String>,
    /// `MEMBER_ACCOUNTS`; empty: the organization's active accounts (ListAccounts).
    pub members: Vec<String>,
    /// `MEMBER_REGIONS`; empty: the function's own region.
    pub regions: Vec<String>,
    /// `SWEEP_QUEUE_URL`: where the sweep sends one message per account and region.
    pub sweep_queue_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {var} is required ({meaning})")]
    Missing {
        var: &'static str,
        meaning: &'static str,
    },
    #[error("environment variable {var} has the value {value:?}: expected {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses the variables `lookup` returns; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |var: &str| {
            lookup(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let alert_topic_arn = get("ALERT_TOPIC_ARN").ok_or(ConfigError::Missing {
            var: "ALERT_TOPIC_ARN",
            meaning: "the ARN of the SNS topic alerts go to",
        })?;
        if !is_topic_arn(&alert_topic_arn) {
            return Err(ConfigError::Invalid {
                var: "ALERT_TOPIC_ARN",
                value: alert_topic_arn,
                expected: "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            });
        }

        let alert_email_topic_arn = match get("ALERT_EMAIL_TOPIC_ARN") {
            None => None,
            Some(arn) if is_topic_arn(&arn) => Some(arn),
            Some(arn) => {
                return Err(ConfigError::Invalid {
                    var: "ALERT_EMAIL_TOPIC_ARN",
                    value: arn,
                    expected: "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                })
            }
        };

        let state_table = get("STATE_TABLE").ok_or(ConfigError::Missing {
            var: "STATE_TABLE",
            meaning: "the DynamoDB table that remembers what was already alerted",
        })?;
        if !is_table_name(&state_table) {
            return Err(ConfigError::Invalid {
                var: "STATE_TABLE",
                value: state_table,
                expected: "a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ - .)",
            });
        }

        let remediation = match get("REMEDIATION") {
            None => Remediation::Off,
            Some(text) => Remediation::parse(&text).ok_or(ConfigError::Invalid {
                var: "REMEDIATION",
                value: text,
                expected: "off, plan or apply",
            })?,
        };

        let alert_min_severity = match get("ALERT_MIN_SEVERITY") {
            None => Severity::Warn,
            Some(text) => Severity::parse(&text).ok_or(ConfigError::Invalid {
                var: "ALERT_MIN_SEVERITY",
                value: text,
                expected: "info, warn, unknown or fail",
            })?,
        };

        let renotify_hours = number(
            get("RENOTIFY_HOURS"),
            "RENOTIFY_HOURS",
            24,
            1,
            8760,
            "a whole number of hours from 1 to 8760",
        )?;
        let max_actions_per_run = number(
            get("MAX_ACTIONS_PER_RUN"),
            "MAX_ACTIONS_PER_RUN",
            10,
            0,
            100,
            "a whole number from 0 to 100",
        )?;

        let confirm = ConfirmPolicy {
            after_minutes: number(
                get("CONFIRM_AFTER_MINUTES"),
                "CONFIRM_AFTER_MINUTES",
                5,
                1,
                1440,
                "a whole number of minutes from 1 to 1440",
            )?,
            attempts: number(
                get("CONFIRM_ATTEMPTS"),
                "CONFIRM_ATTEMPTS",
                3,
                0,
                5,
                "a whole number from 0 to 5",
            )?,
        };
        let follow_ups = match (get("CONFIRM_SCHEDULE_GROUP"), get("CONFIRM_ROLE_ARN")) {
            (None, None) => None,
            (Some(group), Some(role_arn)) => {
                if !is_scheduler_name(&group) {
                    return Err(ConfigError::Invalid {
                        var: "CONFIRM_SCHEDULE_GROUP",
                        value: group,
                        expected: "a schedule group name (1 to 64 of a-z A-Z 0-9 - _ .)",
                    });
                }
                if !is_role_arn(&role_arn) {
                    return Err(ConfigError::Invalid {
                        var: "CONFIRM_ROLE_ARN",
                        value: role_arn,
                        expected: "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    });
                }
                Some(FollowUpConfig { group, role_arn })
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "CONFIRM_ROLE_ARN",
                    meaning: "the role EventBridge Scheduler invokes the function with, needed with CONFIRM_SCHEDULE_GROUP",
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "CONFIRM_SCHEDULE_GROUP",
                    meaning: "the schedule group follow-up checks go to, needed with CONFIRM_ROLE_ARN",
                })
            }
        };

        let hub = match get("MODE").as_deref() {
            None | Some("account") => None,
            Some("hub") => {
                let list = |var: &'static str,
                            valid: fn(&str) -> bool,
                            expected: &'static str|
                 -> Result<Vec<String>, ConfigError> {
                    let mut out = Vec::new();
                    for item in get(var).unwrap_or_default().split(',') {
                        let item = item.trim();
                        if item.is_empty() {
                            continue;
                        }
                        if !valid(item) {
                            return Err(ConfigError::Invalid {
                                var,
                                value: item.to_string(),
                                expected,
                            });
                        }
                        out.push(item.to_string());
                    }
                    Ok(out)
                };
                let role_name = get("SPOKE_ROLE_NAME").unwrap_or_else(|| "esm-guard-audit".into());
                if !is_role_name(&role_name) {
                    return Err(ConfigError::Invalid {
                        var: "SPOKE_ROLE_NAME",
                        value: role_name,
                        expected: "an IAM role name (1 to 64 of a-z A-Z 0-9 + = , . @ _ -)",
                    });
                }
                let sweep_queue_url = get("SWEEP_QUEUE_URL").ok_or(ConfigError::Missing {
                    var: "SWEEP_QUEUE_URL",
                    meaning: "the SQS queue the hub's sweep fans out to (MODE=hub)",
                })?;
                Some(HubConfig {
                    role_name,
                    external_id: get("SPOKE_EXTERNAL_ID"),
                    members: list(
                        "MEMBER_ACCOUNTS",
                        |a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()),
                        "12-digit account ids, comma-separated",
                    )?,
                    regions: list(
                        "MEMBER_REGIONS",
                        |r| {
                            r.split('-').count() >= 3
                                && r.chars().all(|c| {
                                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
                                })
                        },
                        "region codes, comma-separated (us-east-1,eu-west-1)",
                    )?,
                    sweep_queue_url,
                })
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "MODE",
                    value: other.to_string(),
                    expected: "account or hub",
                })
            }
        };

        Ok(Config {
            alert_topic_arn,
            alert_email_topic_arn,
            state_table,
            remediation,
            alert_min_severity,
            renotify_hours,
            max_actions_per_run,
            confirm,
            follow_ups,
            hub,
        })
    }

    pub fn renotify_secs(&self) -> i64 {
        i64::from(self.renotify_hours) * 3600
    }
}

fn number(
    value: Option<String>,
    var: &'static str,
    default: u32,
    min: u32,
    max: u32,
    expected: &'static str,
) -> Result<u32, ConfigError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            value: text,
            expected,
        }),
    }
}

fn is_topic_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && parts.iter().all(|p| !p.is_empty())
}

fn is_scheduler_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_role_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len()
}

fn is_table_name(text: &str) -> bool {
    (3..=255).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:esm-guard-AlertTopic-1X2Y3Z";

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("ALERT_TOPIC_ARN", TOPIC),
            ("STATE_TABLE", "esm-guard-StateTable-9Q8W"),
        ]
    }

    #[test]
    fn defaults() {
        let config = parse(&base()).unwrap();
        assert_eq!(
            config,
            Config {
                alert_topic_arn: TOPIC.into(),
                alert_email_topic_arn: None,
                state_table: "esm-guard-StateTable-9Q8W".into(),
                remediation: Remediation::Off,
                alert_min_severity: Severity::Warn,
                renotify_hours: 24,
                max_actions_per_run: 10,
                confirm: ConfirmPolicy::default(),
                follow_ups: None,
                hub: None,
            }
        );
        assert_eq!(config.renotify_secs(), 86_400);
    }

    #[test]
    fn every_variable_set() {
        let mut vars = base();
        vars.extend([
            ("REMEDIATION", "plan"),
            ("ALERT_MIN_SEVERITY", "fail"),
            ("RENOTIFY_HOURS", "6"),
            ("MAX_ACTIONS_PER_RUN", "0"),
            ("CONFIRM_AFTER_MINUTES", "2"),
            ("CONFIRM_ATTEMPTS", "1"),
            ("CONFIRM_SCHEDULE_GROUP", "esm-guard-follow-ups"),
            (
                "CONFIRM_ROLE_ARN",
                "arn:aws:iam::123456789012:role/esm-guard-FollowUpRole-1A",
            ),
        ]);
        let config = parse(&vars).unwrap();
        assert_eq!(
            config.confirm,
            ConfirmPolicy {
                after_minutes: 2,
                attempts: 1
            }
        );
        assert_eq!(
            config.follow_ups.as_ref().map(|f| f.group.as_str()),
            Some("esm-guard-follow-ups")
        );
        assert_eq!(config.remediation, Remediation::Plan);
        assert_eq!(config.alert_min_severity, Severity::Fail);
        assert_eq!(config.renotify_hours, 6);
        assert_eq!(config.max_actions_per_run, 0);
    }

    #[test]
    fn empty_means_default() {
        let mut vars = base();
        vars.extend([("REMEDIATION", ""), ("RENOTIFY_HOURS", " ")]);
        let config = parse(&vars).unwrap();
        assert_eq!(config.remediation, Remediation::Off);
        assert_eq!(config.renotify_hours, 24);
    }

    #[test]
    fn required_variables() {
        let err = parse(&[("STATE_TABLE", "t-1")]).unwrap_err().to_string();
        assert!(
            err.contains("ALERT_TOPIC_ARN") && err.contains("required"),
            "{err}"
        );
        let err = parse(&[("ALERT_TOPIC_ARN", TOPIC), ("STATE_TABLE", "")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("STATE_TABLE") && err.contains("required"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        let cases = [
            ("ALERT_TOPIC_ARN", "my-topic"),
            ("ALERT_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"),
            ("ALERT_EMAIL_TOPIC_ARN", "mail@example.com"),
            ("STATE_TABLE", "a b"),
            ("REMEDIATION", "yes"),
            ("ALERT_MIN_SEVERITY", "critical"),
            ("RENOTIFY_HOURS", "0"),
            ("RENOTIFY_HOURS", "1.5"),
            ("RENOTIFY_HOURS", "-3"),
            ("RENOTIFY_HOURS", "9000"),
            ("MAX_ACTIONS_PER_RUN", "101"),
            ("MAX_ACTIONS_PER_RUN", "ten"),
            ("CONFIRM_AFTER_MINUTES", "0"),
            ("CONFIRM_ATTEMPTS", "6"),
        ];
        for (var, value) in cases {
            let mut vars: Vec<(&str, &str)> =
                base().into_iter().filter(|(k, _)| *k != var).collect();
            vars.push((var, value));
            let err = parse(&vars).expect_err(var).to_string();
            assert!(
                err.contains(var) && err.contains(&format!("{value:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn follow_ups_need_both_group_and_role() {
        for (var, value, missing) in [
            ("CONFIRM_SCHEDULE_GROUP", "g", "CONFIRM_ROLE_ARN"),
            (
                "CONFIRM_ROLE_ARN",
                "arn:aws:iam::123456789012:role/r",
                "CONFIRM_SCHEDULE_GROUP",
            ),
        ] {
            let mut vars = base();
            vars.push((var, value));
            let err = parse(&vars).unwrap_err().to_string();
            assert!(err.contains(missing), "{err}");
        }
        for (group, role, bad) in [
            ("a group", "arn:aws:iam::123456789012:role/r", "\"a group\""),
            ("g", "arn:aws:iam::123456789012:user/u", "user/u"),
        ] {
            let mut vars = base();
            vars.extend([
                ("CONFIRM_SCHEDULE_GROUP", group),
                ("CONFIRM_ROLE_ARN", role),
            ]);
            let err = parse(&vars).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn hub_mode_reads_its_reach() {
        let mut vars = base();
        vars.extend([
            ("MODE", "hub"),
            ("MEMBER_ACCOUNTS", "111111111111, 222222222222"),
            ("MEMBER_REGIONS", "us-east-1,eu-west-1"),
            ("SPOKE_EXTERNAL_ID", ""),
            (
                "SWEEP_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/sweep",
            ),
        ]);
        let hub = parse(&vars).unwrap().hub.expect("hub");
        assert_eq!(hub.members, ["111111111111", "222222222222"]);
        assert_eq!(hub.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(hub.role_name, "esm-guard-audit");
        assert_eq!(hub.external_id, None);
        // The template's account mode: empty values.
        let mut vars = base();
        vars.extend([
            ("MODE", "account"),
            ("MEMBER_ACCOUNTS", ""),
            ("SWEEP_QUEUE_URL", ""),
        ]);
        assert_eq!(parse(&vars).unwrap().hub, None);
        for (var, value) in [
            ("MODE", "org"),
            ("MEMBER_ACCOUNTS", "1234"),
            ("MEMBER_REGIONS", "mars"),
            ("SPOKE_ROLE_NAME", "a role"),
        ] {
            let mut vars = base();
            vars.extend([
                ("MODE", "hub"),
                (
                    "SWEEP_QUEUE_URL",
                    "https://sqs.us-east-1.amazonaws.com/123456789012/sweep",
                ),
            ]);
            vars.retain(|(k, _)| *k != var);
            vars.push((var, value));
            let err = parse(&vars).unwrap_err().to_string();
            assert!(err.contains(var) && err.contains(value), "{err}");
        }
        let mut vars = base();
        vars.push(("MODE", "hub"));
        assert!(parse(&vars)
            .unwrap_err()
            .to_string()
            .contains("SWEEP_QUEUE_URL"));
    }

    #[test]
    fn apply_is_accepted() {
        let mut vars = base();
        vars.push(("REMEDIATION", "apply"));
        let config = parse(&vars).unwrap();
        assert_eq!(config.remediation, Remediation::Apply);
    }
}

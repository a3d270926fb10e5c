//! A member account the hub cannot read (its audit role cannot be assumed): an alert of its
//! own, one thread per account and region, closed when the role works again. Never a silent
//! skip: every mapping of that account is unjudged while it lasts.

use serde_json::json;

use super::compose::{Attribute, Message};
use super::text::{code, md, plain};

/// The thread of the alert about `account` in `region`.
pub fn thread(account: &str, region: &str) -> String {
    format!("account-{account}-{region}")
}

/// Whether a state row's key is such a thread, not a mapping's UUID (hex and dashes).
pub fn is_thread(key: &str) -> bool {
    key.starts_with("account-")
}

/// The message for a target that cannot be read (`error`), or that can again (`None`).
pub fn compose(
    account: &str,
    region: &str,
    role_arn: &str,
    error: Option<&str>,
    now: i64,
) -> Message {
    let thread = thread(account, region);
    let (label, kind, severity, verdict) = match error {
        Some(_) => ("UNKNOWN", "new", "unknown", "unknown"),
        None => ("RESOLVED", "resolved", "unknown", "readable"),
    };
    let title = match error {
        Some(_) => format!(
            ":grey_question: {label}: esm-guard cannot read account {} in {}",
            code(account),
            code(region)
        ),
        None => format!(
            ":white_check_mark: {label}: esm-guard reads account {} in {} again",
            code(account),
            code(region)
        ),
    };
    let (description, steps) = match error {
        Some(error) => (
            format!(
                "The hub cannot assume the audit role {} in account {}: {}. Every event source mapping of that account and region stays unjudged (`insufficient-data`) until it can.",
                code(role_arn),
                code(account),
                md(error)
            ),
            vec![
                format!("Deploy the spoke stack (template-spoke.yaml) in account {} (its StackSet instance), or fix the role's trust policy so that the hub's function role may assume it", code(account)),
                format!("aws iam get-role --role-name {} --query Role.AssumeRolePolicyDocument", code(role_arn.rsplit('/').next().unwrap_or(role_arn))),
            ],
        ),
        None => (
            format!(
                "The audit role {} in account {} can be assumed again: its mappings are judged again from this sweep on.",
                code(role_arn),
                code(account)
            ),
            vec![],
        ),
    };
    let chatbot = json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("esm-guard/{thread}/{kind}/{now}"),
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": steps,
            "keywords": ["esm-guard", "insufficient-data", account],
        },
        "metadata": {
            "threadId": thread,
            "summary": md(&format!("{label}: account {account} in {region}")),
            "eventType": format!("esm-guard.account.{kind}"),
            "relatedResources": [role_arn],
        }
    });
    let email = plain(&format!(
        "{label}: esm-guard {} account {account} in {region}\n\n{}\n",
        if error.is_some() { "cannot read" } else { "reads again" },
        match error {
            Some(e) => format!("sts:AssumeRole of {role_arn} failed: {e}\n\nDeploy the spoke stack (template-spoke.yaml) in that account, or fix the role's trust policy."),
            None => format!("The audit role {role_arn} can be assumed again."),
        }
    ));
    Message {
        subject: format!("esm-guard {label} account {account} {region}"),
        chatbot,
        email,
        attributes: vec![
            Attribute {
                name: "severity",
                data_type: "String",
                value: severity.into(),
            },
            Attribute {
                name: "verdict",
                data_type: "String",
                value: verdict.into(),
            },
            Attribute {
                name: "rules",
                data_type: "String.Array",
                value: "[\"insufficient-data\"]".into(),
            },
            Attribute {
                name: "alert_kind",
                data_type: "String",
                value: kind.into(),
            },
            Attribute {
                name: "account_id",
                data_type: "String",
                value: account.into(),
            },
        ],
        cut: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_names_the_account_the_role_and_the_fix() {
        let role = "arn:aws:iam::111111111111:role/esm-guard-audit";
        let m = compose(
            "111111111111",
            "eu-west-1",
            role,
            Some("AccessDenied: not authorized"),
            0,
        );
        assert!(
            m.subject.is_ascii() && m.subject.len() < 100,
            "{}",
            m.subject
        );
        assert_eq!(
            m.chatbot["metadata"]["threadId"],
            "account-111111111111-eu-west-1"
        );
        assert!(m.chatbot["content"]["description"]
            .as_str()
            .unwrap()
            .contains("esm-guard-audit"));
        assert!(m.email.contains("template-spoke.yaml"));
        let closed = compose("111111111111", "eu-west-1", role, None, 1);
        assert_eq!(
            closed.chatbot["metadata"]["threadId"],
            m.chatbot["metadata"]["threadId"]
        );
        let kind = |m: &Message| {
            m.attributes
                .iter()
                .find(|a| a.name == "alert_kind")
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(
            (kind(&m), kind(&closed)),
            ("new".to_string(), "resolved".to_string())
        );
    }
}

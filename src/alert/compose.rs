//! What an alert says: the facts every part shares, the Chatbot custom notification and the
//! e-mail put together, each bounded to one SNS publish.

use serde_json::{json, Value};

use super::email::email_body;
use super::facts::*;
use super::slack::{next_steps, slack_description, slack_title};
use super::text::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    /// `String` or `String.Array` (a JSON array, matched element-wise by filter policies).
    pub data_type: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The e-mail subject (ASCII, one line, under 100 characters as SNS requires).
    pub subject: String,
    /// The Chatbot custom notification.
    pub chatbot: Value,
    /// The plain-text e-mail body.
    pub email: String,
    pub attributes: Vec<Attribute>,
    /// Something was cut to fit Chatbot's fields or SNS's size: the function logs the full
    /// report beside it.
    pub cut: bool,
}

impl Message {
    /// The body of the publish to the alert topic (Chatbot, and machines): the custom
    /// notification. A plain `String` message, since SNS delivers message attributes only
    /// with that structure ("Message attributes are sent only when the message structure is
    /// String, not JSON", https://docs.aws.amazon.com/sns/latest/dg/SNSMessageAttributes.html),
    /// and filter policies work on them. The e-mail text goes to its own topic.
    pub fn chat_body(&self) -> String {
        self.chatbot.to_string()
    }
}

pub fn compose(ctx: &AlertContext<'_>) -> Message {
    let facts = Facts::of(ctx);
    let steps = next_steps(ctx);
    let title = truncate(&slack_title(ctx, &facts), TITLE_MAX);
    let description =
        truncate_with_note(&slack_description(ctx, &facts), DESCRIPTION_MAX, ctx.uuid);
    let summary = plain(&format!(
        "{}: {}",
        facts.headline,
        one_line_rules(&facts.rules)
    ));

    let mut keywords = vec!["esm-guard".to_string(), facts.label.to_lowercase()];
    keywords.extend(facts.rules.iter().cloned());
    keywords.truncate(KEYWORDS_MAX);

    let mut related: Vec<String> = Vec::new();
    let mut add = |r: &str| {
        if !r.is_empty() && !related.iter().any(|x| x == r) {
            related.push(r.to_string());
        }
    };
    add(facts.mapping_arn.as_deref().unwrap_or(ctx.uuid));
    add(&facts.function_arn);
    if let Some(m) = ctx.mapping {
        if let Some(arn) = m.source.arn() {
            add(arn);
        }
    }
    for f in ctx
        .problem
        .map(|p| p.findings.as_slice())
        .unwrap_or_default()
    {
        f.resources.iter().for_each(|r| add(r));
    }
    related.truncate(RELATED_MAX);

    let chatbot = json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("esm-guard/{}/{}/{}", ctx.uuid, ctx.kind.as_str(), ctx.now),
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": steps.iter().map(|s| s.slack.clone()).collect::<Vec<_>>(),
            "keywords": keywords.iter().map(|k| md(k)).collect::<Vec<_>>(),
        },
        "metadata": {
            "threadId": ctx.uuid,
            "summary": md(&summary),
            "eventType": format!("esm-guard.{}", ctx.kind.as_str()),
            "relatedResources": related.iter().map(|r| code_text(r)).collect::<Vec<_>>(),
        }
    });

    let subject = subject(&facts, ctx.uuid);
    let mut attributes = vec![
        Attribute {
            name: "severity",
            data_type: "String",
            value: facts.severity.as_str().to_string(),
        },
        Attribute {
            name: "verdict",
            data_type: "String",
            value: facts.verdict.to_string(),
        },
        Attribute {
            name: "esm_uuid",
            data_type: "String",
            value: non_empty(ctx.uuid),
        },
        Attribute {
            name: "function_name",
            data_type: "String",
            value: non_empty(&facts.function_name),
        },
        Attribute {
            name: "alert_kind",
            data_type: "String",
            value: ctx.kind.as_str().to_string(),
        },
    ];
    // What the open alert said before this message: a filter on it also sees a failure
    // that turns into a warning (a change, not a close).
    if let Some(before) = ctx.previous.filter(|p| p.open).and_then(|p| p.severity) {
        attributes.push(Attribute {
            name: "previous_severity",
            data_type: "String",
            value: before.as_str().to_string(),
        });
    }
    // A hub's alerts name the member account the mapping lives in.
    if let Some(account) = ctx
        .mapping
        .and_then(|m| m.account.as_deref())
        .or_else(|| ctx.previous.and_then(|p| p.account.as_deref()))
    {
        attributes.push(Attribute {
            name: "account_id",
            data_type: "String",
            value: account.to_string(),
        });
    }
    if !facts.rules.is_empty() {
        attributes.insert(
            2,
            Attribute {
                name: "rules",
                data_type: "String.Array",
                value: Value::from(facts.rules.clone()).to_string(),
            },
        );
    }
    let cut = description.chars().count() < slack_description(ctx, &facts).chars().count();
    let mut message = Message {
        subject,
        chatbot,
        email: email_body(ctx, &facts, &steps),
        attributes,
        cut,
    };
    bound_to_sns(&mut message, ctx.uuid);
    message
}

/// SNS takes at most 262,144 bytes of message, subject and attributes together
/// (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html); with `MessageStructure`
/// json the Chatbot notification goes twice (default and https) beside the e-mail.
pub const SNS_MAX_BYTES: usize = 262_144;
/// Kept free for the JSON escaping of what is cut and the publish's own fields.
pub(super) const SNS_MARGIN: usize = 8 * 1024;

impl Message {
    /// The bytes SNS counts for the larger of the two publishes (the notification, the
    /// e-mail): the body, the subject, the attributes' names, types and values.
    pub fn sns_bytes(&self) -> usize {
        self.chat_bytes().max(self.email_bytes())
    }

    fn envelope_bytes(&self) -> usize {
        self.subject.len()
            + self
                .attributes
                .iter()
                .map(|a| a.name.len() + a.data_type.len() + a.value.len())
                .sum::<usize>()
    }

    pub fn chat_bytes(&self) -> usize {
        self.chat_body().len() + self.envelope_bytes()
    }

    pub fn email_bytes(&self) -> usize {
        self.email.len() + self.envelope_bytes()
    }
}

/// Cuts the e-mail (the only part without a fixed bound; the notification's fields are
/// bounded by construction) until its publish fits SNS,
/// saying what was left out and where the full report is: a publish must never fail for
/// its size, or the mapping is never alerted.
pub(super) fn bound_to_sns(message: &mut Message, uuid: &str) {
    let limit = SNS_MAX_BYTES - SNS_MARGIN;
    let over = message.email_bytes().saturating_sub(limit);
    if over == 0 {
        return;
    }
    let note = |dropped: usize| {
        format!(
            "\n\n[... cut to fit an SNS message: {dropped} more characters. The function's log has the full report of this mapping; `esm-guard audit --esm {uuid}` prints it too.]\n"
        )
    };
    let reserve = note(usize::MAX).len();
    let mut cut = message.email.len().saturating_sub(over + reserve);
    while cut > 0 && !message.email.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = message.email[cut..].chars().count();
    message.email.truncate(cut);
    message.email.push_str(&note(dropped));
    message.cut = true;
}

/// The e-mail subject: printable ASCII, under 100 characters as SNS requires ("UTF-8 text
/// with no line breaks or control characters, and less than 100 characters long",
/// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), always with the verdict and
/// the whole mapping id; only the description after them is cut, with an ASCII "...".
pub(super) fn subject(facts: &Facts, uuid: &str) -> String {
    let verdict = facts.verdict;
    let head = if facts.label.eq_ignore_ascii_case(verdict) {
        format!("esm-guard {} {}: ", facts.label, ascii_line(uuid))
    } else {
        format!(
            "esm-guard {} ({verdict}) {}: ",
            facts.label,
            ascii_line(uuid)
        )
    };
    if head.len() >= SUBJECT_MAX {
        return head.chars().take(SUBJECT_MAX).collect();
    }
    let tail = ascii_line(&facts.subject_tail);
    let room = SUBJECT_MAX - head.len();
    if tail.len() <= room {
        format!("{head}{tail}")
    } else {
        let cut: String = tail.chars().take(room.saturating_sub(3)).collect();
        format!("{head}{}...", cut.trim_end())
    }
}

//! Publishes an alert: the plain-text e-mail to the e-mail topic (when there is one), then the
//! Chatbot custom notification to the alert topic. Two `String` messages rather than one
//! `MessageStructure=json`: SNS sends message attributes (and so the filter policies'
//! `severity`, `alert_kind`, ...) only with `String` messages. The e-mail goes first: if the
//! second publish fails, the retry repeats an e-mail, never a Slack message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::alert::Message;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("SNS Publish to {topic} failed: {message}")]
    Call { topic: String, message: String },
    #[error("message attribute {name} is invalid: {message}")]
    Attribute { name: &'static str, message: String },
}

pub struct Publisher {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    email_topic_arn: Option<String>,
    calls: AtomicU32,
}

impl Publisher {
    pub fn new(
        sns: aws_sdk_sns::Client,
        topic_arn: impl Into<String>,
        email_topic_arn: Option<String>,
    ) -> Self {
        Publisher {
            sns,
            topic_arn: topic_arn.into(),
            email_topic_arn,
            calls: AtomicU32::new(0),
        }
    }

    /// SNS calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Publishes `message`; returns SNS's message id of the notification.
    pub async fn publish(&self, message: &Message) -> Result<String, PublishError> {
        let mut attributes = HashMap::new();
        for a in &message.attributes {
            let value = MessageAttributeValue::builder()
                .data_type(a.data_type)
                .string_value(&a.value)
                .build()
                .map_err(|e| PublishError::Attribute {
                    name: a.name,
                    message: e.to_string(),
                })?;
            attributes.insert(a.name.to_string(), value);
        }
        if let Some(email_topic) = &self.email_topic_arn {
            self.send(email_topic, &message.email, &message.subject, &attributes)
                .await?;
        }
        self.send(
            &self.topic_arn,
            &message.chat_body(),
            &message.subject,
            &attributes,
        )
        .await
    }

    async fn send(
        &self,
        topic: &str,
        body: &str,
        subject: &str,
        attributes: &HashMap<String, MessageAttributeValue>,
    ) -> Result<String, PublishError> {
        let sns = &self.sns;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = sns
            .publish()
            .topic_arn(topic)
            .message(body)
            .subject(subject)
            .set_message_attributes(Some(attributes.clone()))
            .send()
            .await
            .map_err(|e| PublishError::Call {
                topic: topic.to_string(),
                message: DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

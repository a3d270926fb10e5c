//! Publishes an alert to the SNS topic: one message, `MessageStructure=json`, so Chatbot's
//! HTTPS subscription gets the custom notification and e-mail subscribers the text.

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
    calls: AtomicU32,
}

impl Publisher {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Publisher {
            sns,
            topic_arn: topic_arn.into(),
            calls: AtomicU32::new(0),
        }
    }

    /// SNS calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Publishes `message`; returns SNS's message id.
    pub async fn publish(&self, message: &Message) -> Result<String, PublishError> {
        let sns = &self.sns;
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
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message_structure("json")
            .message(message.sns_json())
            .subject(&message.subject)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| PublishError::Call {
                topic: self.topic_arn.clone(),
                message: DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

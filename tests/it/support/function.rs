//! What the function's tests share: its DynamoDB state table and its configuration.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use esm_guard::lambda::config::{Config, Remediation};
use esm_guard::rules::Severity;

use super::emulator::Account;

/// The state table's name in every test account.
pub const TABLE: &str = "esm-guard-state";

/// Creates the state table as the template does (partition key `pk`, on demand, the
/// sparse index of open alerts by account and region).
pub async fn create_state_table(account: &Account) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let hash = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    aws_sdk_dynamodb::Client::new(&account.config)
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("open_target"))
        .key_schema(hash("pk"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(esm_guard::aws::state::OPEN_INDEX)
                .key_schema(hash("open_target"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
}

/// The template's defaults: remediation off, alerts at warn, reminders after 24 hours.
pub fn default_config(alert_topic_arn: String) -> Config {
    Config {
        alert_topic_arn,
        alert_email_topic_arn: None,
        state_table: TABLE.into(),
        remediation: Remediation::Off,
        alert_min_severity: Severity::Warn,
        renotify_hours: 24,
        max_actions_per_run: 10,
        confirm: Default::default(),
        follow_ups: None,
        hub: None,
    }
}

/// The function's dependencies in `account`: its alert topic and state table created as the
/// template creates them, and the template's defaults with `remediation`.
pub async fn deps(account: &Account, remediation: Remediation) -> esm_guard::lambda::handler::Deps {
    let topic = aws_sdk_sns::Client::new(&account.config)
        .create_topic()
        .name("esm-guard-alerts")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("topic arn")
        .to_string();
    create_state_table(account).await;
    let mut config = default_config(topic);
    config.remediation = remediation;
    esm_guard::lambda::handler::Deps::new(&account.config, config)
}

/// Every SNS envelope (`{Subject, Message, MessageAttributes, ...}`) an SQS subscription
/// holds, removed from the queue (SNS delivers to SQS within Publish in the emulator).
pub async fn drain_envelopes(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    loop {
        let page = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("ReceiveMessage");
        if page.messages().is_empty() {
            break;
        }
        for m in page.messages() {
            out.push(serde_json::from_str(m.body().expect("body")).expect("SNS envelope"));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().expect("handle"))
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
    out
}

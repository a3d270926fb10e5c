//! What the function's tests share: its DynamoDB state table and its configuration.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use esm_guard::lambda::config::{Config, Remediation};
use esm_guard::rules::Severity;

use super::emulator::Account;

/// The state table's name in every test account.
pub const TABLE: &str = "esm-guard-state";

/// Creates the state table as the template does (partition key `pk`, on demand).
pub async fn create_state_table(account: &Account) {
    aws_sdk_dynamodb::Client::new(&account.config)
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
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

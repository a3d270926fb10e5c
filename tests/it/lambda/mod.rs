//! The Lambda function's handler against the emulator: the SNS topic, an SQS queue
//! subscribed to it (where the tests read what was published) and the state table are
//! created through the SDK in each test's account; the events are the samples in events/,
//! pointed at the resources the test built. The tests are by subject: alerts, events,
//! remediation, follow-up checks.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use esm_guard::lambda::config::Remediation;
use esm_guard::lambda::handler::{handle, Deps, Options, Outcome};
use esm_guard::rules::Severity;
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, control, Account};
use crate::support::function::{create_state_table, default_config, drain_envelopes, TABLE};

const NOW: i64 = 1_800_000_000;
const HOUR: i64 = 3600;

struct Env {
    account: Account,
    b: Builder,
    deps: Deps,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// The e-mail topic's subscriber.
    email_queue_url: String,
    dynamodb: aws_sdk_dynamodb::Client,
}

/// A published message as the SQS subscriber sees it.
#[derive(Debug)]
struct Received {
    subject: String,
    /// The Chatbot custom notification (the `default` of the JSON structure).
    chatbot: Value,
    attributes: Value,
}

impl Received {
    fn attribute(&self, name: &str) -> &str {
        self.attributes[name]["Value"]
            .as_str()
            .unwrap_or_else(|| panic!("no attribute {name}: {}", self.attributes))
    }
    fn title(&self) -> &str {
        self.chatbot["content"]["title"].as_str().unwrap()
    }
    fn description(&self) -> &str {
        self.chatbot["content"]["description"].as_str().unwrap()
    }
}

async fn env() -> Env {
    let account = account().await;
    let b = Builder::new(&account);
    let sns = aws_sdk_sns::Client::new(&account.config);
    let sqs = aws_sdk_sqs::Client::new(&account.config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&account.config);

    let topic_arn = sns
        .create_topic()
        .name("esm-guard-alerts")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("topic arn")
        .to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name("alerts")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("queue url")
        .to_string();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("queue arn");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("Subscribe");
    // The e-mail version goes to a topic of its own (the name the template's policy renders).
    let email_topic_arn = sns
        .create_topic()
        .name("esm-guard-alert-email-topic")
        .send()
        .await
        .expect("CreateTopic (e-mail)")
        .topic_arn()
        .expect("topic arn")
        .to_string();
    let email_queue_url = sqs
        .create_queue()
        .queue_name("emails")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("queue url")
        .to_string();
    sns.subscribe()
        .topic_arn(&email_topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:us-east-1:{}:emails", account.id))
        .send()
        .await
        .expect("Subscribe (e-mail)");
    create_state_table(&account).await;

    let mut config = default_config(topic_arn);
    config.alert_email_topic_arn = Some(email_topic_arn);
    let mut deps = Deps::new(&account.config, config);
    deps.options = Options {
        claim_secs: 180,
        race_reads: 20,
        race_pause: Duration::from_millis(100),
    };
    Env {
        account,
        b,
        deps,
        sqs,
        queue_url,
        email_queue_url,
        dynamodb,
    }
}

impl Env {
    fn deps_sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.account.config)
    }

    /// The e-mails published since the last call: (subject, text, attributes).
    async fn emails(&self) -> Vec<(String, String, Value)> {
        drain_envelopes(&self.sqs, &self.email_queue_url)
            .await
            .into_iter()
            .map(|envelope| {
                (
                    envelope["Subject"].as_str().unwrap_or_default().to_string(),
                    envelope["Message"].as_str().unwrap_or_default().to_string(),
                    envelope["MessageAttributes"].clone(),
                )
            })
            .collect()
    }

    /// Everything published since the last call (SNS delivers to SQS within Publish here).
    async fn received(&self) -> Vec<Received> {
        drain_envelopes(&self.sqs, &self.queue_url)
            .await
            .into_iter()
            .map(|envelope| Received {
                subject: envelope["Subject"].as_str().unwrap_or_default().to_string(),
                chatbot: serde_json::from_str(envelope["Message"].as_str().expect("Message"))
                    .expect("Chatbot JSON"),
                attributes: envelope["MessageAttributes"].clone(),
            })
            .collect()
    }

    async fn handle(&self, event: &Value, now: i64) -> Outcome {
        handle(&self.deps, event, now)
            .await
            .unwrap_or_else(|e| panic!("handler failed: {e}"))
    }

    async fn stored(
        &self,
        uuid: &str,
    ) -> Option<std::collections::HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("esm#{uuid}")))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item()
            .cloned()
    }

    /// A provisioned-mode MSK mapping whose cluster security group does not admit the
    /// broker port: `broker-ingress` fails. Returns (uuid, cluster ARN, security group, VPC).
    async fn broken_mapping(&self, octet: u8) -> (String, String, String, String) {
        let vpc = self.b.vpc(&format!("10.{octet}.0.0/16")).await;
        let a = self
            .b
            .private_subnet(&vpc, &format!("10.{octet}.0.0/24"), "us-east-1a")
            .await;
        let c = self
            .b
            .private_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1b")
            .await;
        let sg = self.b.security_group(&vpc, "orders-msk-brokers").await;
        let cluster = self
            .b
            .msk_cluster("orders-msk", &[a, c], std::slice::from_ref(&sg), Auth::Iam)
            .await;
        let function = self.b.function("orders-consumer").await;
        let uuid = self.b.msk_mapping(&function, &cluster, true, None).await;
        (uuid, cluster, sg, vpc)
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("sample JSON")
}

fn create_event(uuid: &str, cluster_arn: &str) -> Value {
    let mut e = sample("handled/lambda-create-event-source-mapping-msk.json");
    e["detail"]["requestParameters"]["eventSourceArn"] = json!(cluster_arn);
    e["detail"]["responseElements"]["eventSourceArn"] = json!(cluster_arn);
    e["detail"]["responseElements"]["uUID"] = json!(uuid);
    e
}

fn delete_event(uuid: &str) -> Value {
    let mut e = sample("handled/lambda-delete-event-source-mapping.json");
    e["detail"]["requestParameters"]["uUID"] = json!(uuid);
    e["detail"]["responseElements"]["uUID"] = json!(uuid);
    e
}

/// The CloudTrail record of `aws ec2 authorize-security-group-ingress` on `sg` from itself.
fn authorize_event(sg: &str, port: i64) -> Value {
    let mut e = sample("handled/ec2-authorize-security-group-ingress.json");
    let request = &mut e["detail"]["requestParameters"];
    request["groupId"] = json!(sg);
    request["ipPermissions"]["items"][0]["fromPort"] = json!(port);
    request["ipPermissions"]["items"][0]["toPort"] = json!(port);
    request["ipPermissions"]["items"][0]["groups"]["items"][0]["groupId"] = json!(sg);
    let rule = &mut e["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0];
    rule["groupId"] = json!(sg);
    rule["referencedGroupInfo"]["groupId"] = json!(sg);
    e
}

/// The CloudTrail record of esm-guard's own `CreateVpcEndpoint` in `vpc`.
fn create_endpoint_event(vpc: &str, endpoint: &str, service: &str) -> Value {
    let mut e = sample("handled/ec2-create-vpc-endpoint.json");
    let request = &mut e["detail"]["requestParameters"]["CreateVpcEndpointRequest"];
    request["VpcId"] = json!(vpc);
    request["ServiceName"] = json!(format!("com.amazonaws.us-east-1.{service}"));
    let created = &mut e["detail"]["responseElements"]["CreateVpcEndpointResponse"]["vpcEndpoint"];
    created["vpcId"] = json!(vpc);
    created["vpcEndpointId"] = json!(endpoint);
    e
}

mod alerts;
mod events;
mod follow_up;
mod remediation;

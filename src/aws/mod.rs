//! The edges that touch AWS. `collect` reads facts into a `Snapshot`; nothing else in the
//! crate sees an SDK type.
//!
//! Convention (checked against the SAM template's IAM grants): every SDK call is written on
//! a client variable named after its service: `ec2.describe_subnets()`, `lambda.…()`,
//! `kafka.…()`, `sns.…()`, `dynamodb.…()`, `mq.…()`, `rds.…()` (DocumentDB), `scheduler.…()`.

pub mod alert;
pub mod apply;
pub mod assume;
pub mod collect;
mod complete;
mod errors;
pub mod followup;
mod from_ec2;
mod from_kafka;
mod from_lambda;
mod from_sources;
pub mod locate;
pub mod state;

pub use apply::apply;
pub use collect::{collect, CollectError, CollectOptions, Collection, Scope};
pub use complete::CompleteAnswers;
pub use errors::{classify, one_line, ErrorClass};

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

/// The SDK clients esm-guard reads with.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub kafka: aws_sdk_kafka::Client,
    pub mq: aws_sdk_mq::Client,
    /// DocumentDB's API (the `rds` service: its IAM actions are `rds:...`).
    pub rds: aws_sdk_docdb::Client,
    pub region: String,
}

/// How long a call may take. `None` leaves the SDK's default (the function bounds its
/// calls by its own deadline).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Option<Duration>,
    /// Waiting for the first byte of an answer (of one attempt).
    pub read: Option<Duration>,
    /// One call, all its retries included.
    pub operation: Option<Duration>,
}

/// Loads region, credentials and endpoint from the standard chain (`AWS_PROFILE`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`, ...), with bounded retries for throttling.
pub async fn load_config(region: Option<String>) -> aws_config::SdkConfig {
    load_config_with(region, Timeouts::default(), 5).await
}

/// `load_config` with timeouts and a number of attempts per call.
pub async fn load_config_with(
    region: Option<String>,
    timeouts: Timeouts,
    attempts: u32,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(attempts.max(1)));
    if timeouts != Timeouts::default() {
        let mut config = TimeoutConfig::builder();
        if let Some(t) = timeouts.connect {
            config = config.connect_timeout(t);
        }
        if let Some(t) = timeouts.read {
            config = config.read_timeout(t);
        }
        if let Some(t) = timeouts.operation {
            config = config.operation_timeout(t);
        }
        loader = loader.timeout_config(config.build());
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

impl Clients {
    /// Clients that refuse answers cut off mid-document (`CompleteAnswers`).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(config)
                    .interceptor(CompleteAnswers)
                    .build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .interceptor(CompleteAnswers)
                    .build(),
            ),
            kafka: aws_sdk_kafka::Client::from_conf(
                aws_sdk_kafka::config::Builder::from(config)
                    .interceptor(CompleteAnswers)
                    .build(),
            ),
            mq: aws_sdk_mq::Client::from_conf(
                aws_sdk_mq::config::Builder::from(config)
                    .interceptor(CompleteAnswers)
                    .build(),
            ),
            rds: aws_sdk_docdb::Client::from_conf(
                aws_sdk_docdb::config::Builder::from(config)
                    .interceptor(CompleteAnswers)
                    .build(),
            ),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

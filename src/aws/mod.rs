//! The edges that touch AWS. `collect` reads facts into a `Snapshot`; nothing else in the
//! crate sees an SDK type.
//!
//! Convention (checked against the SAM template's IAM grants): every SDK call is written on
//! a client variable named after its service: `ec2.describe_subnets()`, `lambda.…()`,
//! `kafka.…()`, `sns.…()`, `dynamodb.…()`.

pub mod alert;
pub mod apply;
pub mod collect;
mod errors;
mod from_ec2;
mod from_kafka;
mod from_lambda;
pub mod locate;
pub mod state;

pub use apply::{apply, remediate, Run};
pub use collect::{collect, CollectError, CollectOptions, Collection, Scope};
pub use errors::{classify, ErrorClass};

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;

/// The SDK clients esm-guard reads with.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub kafka: aws_sdk_kafka::Client,
    pub region: String,
}

/// Loads region, credentials and endpoint from the standard chain (`AWS_PROFILE`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`, ...), with bounded retries for throttling.
pub async fn load_config(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(5));
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            kafka: aws_sdk_kafka::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

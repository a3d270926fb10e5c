//! What the handler works with (clients, the state store, the publisher, the configuration),
//! built once per execution environment, and how an invocation can fail.

use std::time::Duration;

use serde::Serialize;

use super::config::Config;
use super::event::EventError;
use crate::aws::alert::{PublishError, Publisher};
use crate::aws::followup::FollowUps;
use crate::aws::locate::LocateError;
use crate::aws::state::{StateError, StateStore};
use crate::aws::{Clients, CollectError};

/// Timing of the waits; the defaults fit the function's 120 s timeout.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a claim holds a mapping while its message is sent; longer than the
    /// function's timeout, so a crashed invocation's claim lapses and a later one alerts.
    pub claim_secs: i64,
    /// How often to read again when another invocation holds the claim or won the race.
    pub race_reads: u32,
    pub race_pause: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            claim_secs: 180,
            race_reads: 4,
            race_pause: Duration::from_millis(750),
        }
    }
}

/// What the handler works with; built once per execution environment.
pub struct Deps {
    /// The function's own account, from the ARN it is invoked under (set on the first
    /// invocation); events from other accounts are ignored.
    pub account: std::sync::OnceLock<String>,
    /// The ARN it is invoked under: follow-up checks invoke it again.
    pub function_arn: std::sync::OnceLock<String>,
    pub clients: Clients,
    pub publisher: Publisher,
    pub state: StateStore,
    pub follow_ups: FollowUps,
    /// `MODE=hub`: the member accounts' reach.
    pub hub: Option<super::hub::Hub>,
    pub config: Config,
    pub options: Options,
}

impl Deps {
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> Deps {
        Deps {
            account: std::sync::OnceLock::new(),
            function_arn: std::sync::OnceLock::new(),
            clients: Clients::new(sdk),
            follow_ups: FollowUps::new(
                aws_sdk_scheduler::Client::new(sdk),
                config.follow_ups.clone(),
            ),
            publisher: Publisher::new(
                aws_sdk_sns::Client::new(sdk),
                config.alert_topic_arn.clone(),
                config.alert_email_topic_arn.clone(),
            ),
            state: StateStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                config.state_table.clone(),
            ),
            hub: config.hub.clone().map(|h| super::hub::Hub::new(sdk, h)),
            config,
            options: Options::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("malformed event: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("{failed} of {total} mapping(s) could not be settled; the first error: {first}")]
    Mappings {
        failed: usize,
        total: usize,
        first: String,
    },
    /// The hub could not list its members, fan its sweep out, or reach a member for now.
    #[error("hub: {0}")]
    Hub(String),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Event(_) => "MalformedEvent",
            HandlerError::Locate(_) | HandlerError::Collect(_) => "CollectError",
            HandlerError::State(_) => "StateError",
            HandlerError::Publish(_) => "PublishError",
            HandlerError::Mappings { .. } => "AlertError",
            HandlerError::Hub(_) => "HubError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentAlert {
    pub uuid: String,
    pub kind: &'static str,
    pub message_id: String,
}

//! Reading another account: the clients of a target (account, region) made from a role
//! assumed there (the spoke's audit role), checked once up front so that a role that cannot
//! be assumed is a finding of its own, and refreshed before the credentials expire.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{
    error::CredentialsError, future, ProvideCredentials, SharedCredentialsProvider,
};
use aws_credential_types::Credentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::errors::one_line;

/// Where an audit reads: an account and a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub account: String,
    pub region: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.account, self.region)
    }
}

/// How to reach a target's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// The role's name (`esm-guard-audit`), the same in every member; or a whole ARN.
    pub role: String,
    pub external_id: Option<String>,
}

impl RoleSpec {
    /// The role's ARN in `account` (`partition` of the hub's own region).
    pub fn arn(&self, partition: &str, account: &str) -> String {
        if self.role.starts_with("arn:") {
            self.role.clone()
        } else {
            format!("arn:{partition}:iam::{account}:role/{}", self.role)
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("sts:AssumeRole of {role_arn} failed: {message}")]
pub struct AssumeError {
    pub role_arn: String,
    pub message: String,
}

/// A configuration that reads `target` through `role_arn`, the role assumed once here (the
/// failure, if any, is the caller's to report).
pub async fn assume(
    base: &SdkConfig,
    role_arn: &str,
    external_id: Option<&str>,
    target: &Target,
) -> Result<SdkConfig, AssumeError> {
    let mut builder = AssumeRoleProvider::builder(role_arn)
        .session_name("esm-guard")
        .region(Region::new(target.region.clone()))
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    let first = provider
        .provide_credentials()
        .await
        .map_err(|e| AssumeError {
            role_arn: role_arn.to_string(),
            message: one_line(&DisplayErrorContext(&e).to_string()),
        })?;
    let cached = Refreshing {
        inner: provider,
        current: Mutex::new(Some(first)),
    };
    Ok(base
        .to_builder()
        .region(Region::new(target.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(cached))
        .build())
}

/// The assumed credentials, kept until five minutes before they expire.
#[derive(Debug)]
struct Refreshing {
    inner: AssumeRoleProvider,
    current: Mutex<Option<Credentials>>,
}

const EARLY: Duration = Duration::from_secs(300);

impl Refreshing {
    fn fresh(&self) -> Option<Credentials> {
        let current = self.current.lock().ok()?.clone()?;
        let expires = current.expiry()?;
        (expires > SystemTime::now() + EARLY).then_some(current)
    }

    async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let credentials = self.inner.provide_credentials().await?;
        if let Ok(mut current) = self.current.lock() {
            *current = Some(credentials.clone());
        }
        Ok(credentials)
    }
}

impl ProvideCredentials for Refreshing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.get())
    }
}

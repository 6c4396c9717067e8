//! Client construction: aws-config is loaded once per process and every client is built from it.
//!
//! `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by aws-config,
//! so every client can be pointed at a local server. The SDK's own retries are kept to
//! [`SDK_MAX_ATTEMPTS`]: Step Functions owns the long, jittered backoff, and two layers of retries
//! would multiply.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Attempts the SDK makes per call before the error reaches the state machine's retriers.
pub const SDK_MAX_ATTEMPTS: u32 = 2;

/// Attempts for a function that makes one call per item of a wave in a single invocation
/// (push-hub-update's register imports every task): a Step Functions retry would redo the whole
/// batch, so each call rides out short throttling itself.
pub const BULK_SDK_MAX_ATTEMPTS: u32 = 4;

/// Loads the shared configuration from the environment (region, credentials, endpoint URL).
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// Timeouts well inside the functions' 30-second Lambda timeout: a hung call becomes an SDK
/// timeout, classified `ServiceUnavailable` and retried by the state machine, instead of a
/// `Sandbox.Timedout` that no retrier matches.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(22))
        .build()
}

/// The retry policy every client uses.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS)
}

/// A WorkSpaces client in the configured Region.
pub fn workspaces(config: &SdkConfig) -> aws_sdk_workspaces::Client {
    aws_sdk_workspaces::Client::new(config)
}

/// A Migration Hub client for the account's home Region (calls elsewhere fail with
/// `HomeRegionNotSetException` or `AccessDenied`).
pub fn migration_hub(config: &SdkConfig, home_region: &str) -> aws_sdk_migrationhub::Client {
    let conf = aws_sdk_migrationhub::config::Builder::from(config)
        .region(Region::new(home_region.to_owned()))
        .build();
    aws_sdk_migrationhub::Client::from_conf(conf)
}

/// A Lex V1 model building client.
#[allow(deprecated)]
pub fn lex_models(config: &SdkConfig) -> aws_sdk_lexmodelbuilding::Client {
    aws_sdk_lexmodelbuilding::Client::new(config)
}

/// A Step Functions client.
pub fn step_functions(config: &SdkConfig) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(config)
}

/// An EventBridge client.
pub fn eventbridge(config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(config)
}

/// Reads a required environment variable, naming it when it is missing (fail fast at cold start).
pub fn env_var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

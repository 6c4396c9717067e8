//! Mocked clients and helpers shared by the test files.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_mocks::{Rule, RuleMode, mock_client};
use aws_smithy_types::retry::RetryConfig;
use start_migration::{Deps, Error, Output};

/// 2026-01-01T00:00:00Z: the virtual "now" of every test.
pub const NOW_SECS: u64 = 1_767_225_600;
pub const NOW_RFC3339: &str = "2026-01-01T00:00:00Z";

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// A WorkSpaces client answering only from `rules`. SDK retries are off so each rule's call count
/// is the handler's own (Step Functions owns the retries).
pub fn workspaces(rules: &[&Rule]) -> aws_sdk_workspaces::Client {
    mock_client!(aws_sdk_workspaces, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// A Lex V1 client answering only from `rules`; an unmatched call panics.
pub fn lex(rules: &[&Rule]) -> aws_sdk_lexmodelbuilding::Client {
    mock_client!(aws_sdk_lexmodelbuilding, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// Runs the handler on the raw event at the virtual "now".
pub async fn run(event: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    fleetshift_clock::scope(now(), start_migration::handle(event, deps))
        .await
        .0
}

/// The `errorType` Step Functions would see.
pub fn error_type(result: Result<Output, Error>) -> String {
    let err = result.expect_err("the handler should fail");
    lambda_runtime::Diagnostic::from(err).error_type
}

/// One link of a connector's error chain, standing in for hyper's and hyper-util's private error
/// types: a fixed `Display` and the cause as `source()`.
#[derive(Debug)]
struct Link(
    &'static str,
    Option<Box<dyn std::error::Error + Send + Sync>>,
);

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Link {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_ref().map(|e| &**e as _)
    }
}

/// What the SDK's default HTTP client reports when `getaddrinfo` answers `gai` (its
/// `gai_strerror` text): hyper-util's `Connect` error, its `ConnectError("dns error")`, the
/// standard library's lookup error, classified as I/O.
pub fn dns_failure(gai: &'static str) -> aws_smithy_runtime_api::client::result::ConnectorError {
    let cause = std::io::Error::other(format!("failed to lookup address information: {gai}"));
    aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(Link(
        "client error (Connect)",
        Some(Box::new(Link("dns error", Some(Box::new(cause))))),
    )))
}

/// A connection that the peer reset, as the SDK's default HTTP client reports it.
pub fn connection_reset() -> aws_smithy_runtime_api::client::result::ConnectorError {
    aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(Link(
        "connection error",
        Some(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))),
    )))
}

/// A connect or read timeout, as the SDK's default HTTP client reports it.
pub fn connection_timeout() -> aws_smithy_runtime_api::client::result::ConnectorError {
    aws_smithy_runtime_api::client::result::ConnectorError::timeout(Box::new(std::io::Error::from(
        std::io::ErrorKind::TimedOut,
    )))
}

/// A Lex client whose every request fails with `failure` before any answer: no HTTP response at
/// all, as when the Lex V1 endpoint's name no longer resolves (since 2025-09-15) or the network
/// fails. Counts the attempts.
pub fn failing_lex(
    attempts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    failure: fn() -> aws_smithy_runtime_api::client::result::ConnectorError,
) -> aws_sdk_lexmodelbuilding::Client {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Clone)]
    struct Failing(Arc<AtomicUsize>, fn() -> ConnectorError);
    impl HttpConnector for Failing {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            HttpConnectorFuture::ready(Err((self.1)()))
        }
    }
    impl HttpClient for Failing {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    let conf = aws_sdk_lexmodelbuilding::Config::builder()
        .with_test_defaults_v2()
        .retry_config(RetryConfig::disabled())
        .http_client(SharedHttpClient::new(Failing(attempts, failure)))
        .build();
    aws_sdk_lexmodelbuilding::Client::from_conf(conf)
}

/// A Lex client whose endpoint name no longer resolves (glibc's `EAI_NONAME`), as the Lex V1
/// endpoints may since 2025-09-15. Counts the attempts.
pub fn unreachable_lex(
    attempts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> aws_sdk_lexmodelbuilding::Client {
    failing_lex(attempts, || dns_failure("Name or service not known"))
}

//! Lex V1 StartMigration: the success path, every modeled exception, the retired V1 endpoint, and
//! the network failures that are retried like on any other call.
#![allow(deprecated)] // the Lex V1 SDK

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_lexmodelbuilding::Client;
use aws_sdk_lexmodelbuilding::error::ErrorMetadata;
use aws_sdk_lexmodelbuilding::operation::start_migration::{
    StartMigrationError, StartMigrationOutput,
};
use aws_sdk_lexmodelbuilding::types::error::{
    AccessDeniedException, BadRequestException, InternalFailureException, LimitExceededException,
    NotFoundException,
};
use aws_sdk_lexmodelbuilding::types::{Locale, MigrationStrategy};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use common::{
    NOW_RFC3339, connection_reset, connection_timeout, dns_failure, error_type, failing_lex, lex,
    run, unreachable_lex, workspaces,
};
use fleetshift_core::error_type as et;
use serde_json::json;
use start_migration::{Deps, LexBotOutput, Output};

const ROLE: &str = "arn:aws:iam::123456789012:role/LexV2Migration";

fn event() -> serde_json::Value {
    json!({
        "kind": "lexBot",
        "v1BotName": "OrderFlowers",
        "v1BotVersion": "$LATEST",
        "v2BotName": "order-flowers",
        "v2BotRole": ROLE,
        "migrationStrategy": "CREATE_NEW"
    })
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn failing(err: fn() -> StartMigrationError) -> Rule {
    mock!(Client::start_migration)
        .match_requests(|r| r.v1_bot_name() == Some("OrderFlowers"))
        .then_error(err)
}

async fn error_type_of(rule: Rule) -> String {
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let result = run(event(), &deps).await;
    assert_eq!(rule.num_calls(), 1);
    error_type(result)
}

#[tokio::test]
async fn start_returns_what_lex_answered() {
    let rule = mock!(Client::start_migration)
        .match_requests(|r| {
            r.v1_bot_name() == Some("OrderFlowers")
                && r.v1_bot_version() == Some("$LATEST")
                && r.v2_bot_name() == Some("order-flowers")
                && r.v2_bot_role() == Some(ROLE)
                && r.migration_strategy() == Some(&MigrationStrategy::CreateNew)
        })
        .then_output(|| {
            StartMigrationOutput::builder()
                .migration_id("ABCDE12345")
                .v1_bot_name("OrderFlowers")
                .v1_bot_version("$LATEST")
                .v1_bot_locale(Locale::EnUs)
                .v2_bot_id("V2BOT12345")
                .v2_bot_role(ROLE)
                .migration_strategy(MigrationStrategy::CreateNew)
                .migration_timestamp(DateTime::from_secs(1_767_225_601))
                .build()
        });
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let out = run(event(), &deps).await.unwrap();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(
        out,
        Output::LexBot(LexBotOutput {
            migration_id: "ABCDE12345".into(),
            v1_bot_name: "OrderFlowers".into(),
            v1_bot_version: "$LATEST".into(),
            v2_bot_id: Some("V2BOT12345".into()),
            v2_bot_role: ROLE.into(),
            v1_bot_locale: Some("en-US".into()),
            migration_strategy: "CREATE_NEW".into(),
            migration_timestamp: Some("2026-01-01T00:00:01Z".into()),
            started_at: NOW_RFC3339.into(),
        })
    );
    assert_eq!(serde_json::to_value(&out).unwrap()["kind"], "lexBot");
}

#[tokio::test]
async fn an_answer_without_a_migration_id_is_unexpected() {
    let rule =
        mock!(Client::start_migration).then_output(|| StartMigrationOutput::builder().build());
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    assert_eq!(
        error_type(run(event(), &deps).await),
        et::UNEXPECTED_RESPONSE
    );
}

#[tokio::test]
async fn limit_exceeded_is_throttling() {
    let t = error_type_of(failing(|| {
        StartMigrationError::LimitExceededException(
            LimitExceededException::builder()
                .message("The request exceeded a limit")
                .retry_after_seconds("5")
                .meta(meta(
                    "LimitExceededException",
                    "The request exceeded a limit",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::THROTTLING);
}

#[tokio::test]
async fn internal_failure_is_service_unavailable() {
    let t = error_type_of(failing(|| {
        StartMigrationError::InternalFailureException(
            InternalFailureException::builder()
                .message("An internal Amazon Lex error occurred")
                .meta(meta(
                    "InternalFailureException",
                    "An internal Amazon Lex error occurred",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_request_is_an_invalid_request() {
    let t = error_type_of(failing(|| {
        StartMigrationError::BadRequestException(
            BadRequestException::builder()
                .message("The V2 bot already exists")
                .meta(meta("BadRequestException", "The V2 bot already exists"))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::INVALID_REQUEST);
}

#[tokio::test]
async fn access_denied() {
    let t = error_type_of(failing(|| {
        StartMigrationError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("not authorized to call the Lex V2 APIs")
                .meta(meta(
                    "AccessDeniedException",
                    "not authorized to call the Lex V2 APIs",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::ACCESS_DENIED);
}

#[tokio::test]
async fn not_found() {
    let t = error_type_of(failing(|| {
        StartMigrationError::NotFoundException(
            NotFoundException::builder()
                .message("The bot OrderFlowers does not exist")
                .meta(meta(
                    "NotFoundException",
                    "The bot OrderFlowers does not exist",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn limit_exceeded_on_the_wire_is_throttling() {
    // restJson1: Lex names the error in the x-amzn-ErrorType header.
    let rule = mock!(Client::start_migration).then_http_response(|| {
        let mut resp = HttpResponse::new(
            StatusCode::try_from(429).unwrap(),
            SdkBody::from(r#"{"message":"The request exceeded a limit"}"#),
        );
        resp.headers_mut()
            .insert("x-amzn-ErrorType", "LimitExceededException");
        resp.headers_mut().insert("Retry-After", "5");
        resp
    });
    assert_eq!(error_type_of(rule).await, et::THROTTLING);
}

#[tokio::test]
async fn a_stopped_endpoint_is_lex_v1_unavailable() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let deps = Deps::new(workspaces(&[]), unreachable_lex(attempts.clone()));
    let err = run(event(), &deps).await.unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let diag = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diag.error_type, et::LEX_V1_UNAVAILABLE);
    assert!(
        diag.error_message.contains("2025-09-15"),
        "{}",
        diag.error_message
    );
}

/// The `errorType` of one StartMigration whose connection fails with `failure`, after one attempt.
async fn error_type_when(
    failure: fn() -> aws_smithy_runtime_api::client::result::ConnectorError,
) -> String {
    let attempts = Arc::new(AtomicUsize::new(0));
    let deps = Deps::new(workspaces(&[]), failing_lex(attempts.clone(), failure));
    let t = error_type(run(event(), &deps).await);
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    t
}

#[tokio::test]
async fn network_failures_are_retried_like_any_call() {
    assert_eq!(
        error_type_when(connection_timeout).await,
        "ServiceUnavailable"
    );
    assert_eq!(
        error_type_when(connection_reset).await,
        "ServiceUnavailable"
    );
    // A resolver that could not answer (throttled, unreachable) is not a name that is gone.
    assert_eq!(
        error_type_when(|| dns_failure("Temporary failure in name resolution")).await,
        "ServiceUnavailable"
    );
    assert_eq!(
        error_type_when(|| dns_failure("Name or service not known")).await,
        "LexV1Unavailable"
    );
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let unavailable = mock!(Client::start_migration).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(503).unwrap(),
            SdkBody::from("<html>Service Unavailable</html>"),
        )
    });
    assert_eq!(error_type_of(unavailable).await, "ServiceUnavailable");
}

#[tokio::test]
async fn gone_answers_are_lex_v1_unavailable() {
    let gone = mock!(Client::start_migration).then_http_response(|| {
        HttpResponse::new(StatusCode::try_from(410).unwrap(), SdkBody::from("Gone"))
    });
    assert_eq!(error_type_of(gone).await, et::LEX_V1_UNAVAILABLE);

    // What cloud-local's `lex_v1: Gone` scenario answers.
    let endpoint_gone = mock!(Client::start_migration).then_http_response(|| {
        let mut resp = HttpResponse::new(
            StatusCode::try_from(410).unwrap(),
            SdkBody::from(r#"{"message":"Lex V1 is end of life"}"#),
        );
        resp.headers_mut()
            .insert("x-amzn-ErrorType", "EndpointGone");
        resp
    });
    assert_eq!(error_type_of(endpoint_gone).await, "LexV1Unavailable");

    // Something that is not Lex answers 404 for the path: no Lex NotFoundException.
    let unknown_path = mock!(Client::start_migration).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(404).unwrap(),
            SdkBody::from("<html><body>Not Found</body></html>"),
        )
    });
    assert_eq!(error_type_of(unknown_path).await, et::LEX_V1_UNAVAILABLE);

    let unknown_operation = mock!(Client::start_migration).then_http_response(|| {
        let mut resp = HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"message":"unknown operation"}"#),
        );
        resp.headers_mut()
            .insert("x-amzn-ErrorType", "UnknownOperationException");
        resp
    });
    assert_eq!(
        error_type_of(unknown_operation).await,
        et::LEX_V1_UNAVAILABLE
    );
}

#[tokio::test]
async fn invalid_inputs_make_no_call() {
    let rule = mock!(Client::start_migration).then_output(|| {
        StartMigrationOutput::builder()
            .migration_id("ABCDE12345")
            .build()
    });
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let with = |field: &str, value: serde_json::Value| {
        let mut e = event();
        e[field] = value;
        e
    };
    let without = |field: &str| {
        let mut e = event();
        e.as_object_mut().unwrap().remove(field);
        e
    };
    let cases = [
        (with("v1BotName", json!("Order Flowers")), "v1BotName"),
        (with("v1BotVersion", json!("v1")), "v1BotVersion"),
        (with("v2BotName", json!("order flowers!")), "v2BotName"),
        (with("v2BotRole", json!("LexV2Migration")), "v2BotRole"),
        (
            with("migrationStrategy", json!("MERGE")),
            "migrationStrategy",
        ),
        (without("v2BotRole"), "v2BotRole"),
        (with("kind", json!("bot")), "kind"),
    ];
    for (event, field) in cases {
        let err = run(event.clone(), &deps).await.unwrap_err();
        match &err {
            start_migration::Error::InvalidInput(v) => {
                assert!(v.0.iter().any(|x| x.field == field), "{event}: {v}");
            }
            other => panic!("{event}: expected InvalidInput, got {other:?}"),
        }
        assert_eq!(
            lambda_runtime::Diagnostic::from(err).error_type,
            et::INVALID_PLAN
        );
    }
    assert_eq!(rule.num_calls(), 0);
}

/// The real SDK HTTP client's answer for a name that does not exist (`.invalid` never resolves,
/// RFC 6761): checks that the chain the tests above build is the one the client gives. Needs a
/// working DNS resolver, so it is not run by default: `cargo test -p start-migration --test lex
/// -- --ignored`.
#[tokio::test]
#[ignore = "needs a DNS resolver"]
async fn a_real_lookup_of_a_missing_name_is_lex_v1_unavailable() {
    use aws_sdk_lexmodelbuilding::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_lexmodelbuilding::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .endpoint_url("https://models.lex.invalid")
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    let deps = Deps::new(workspaces(&[]), Client::from_conf(conf));
    let diag = lambda_runtime::Diagnostic::from(run(event(), &deps).await.unwrap_err());
    assert_eq!(diag.error_type, "LexV1Unavailable");
    assert!(
        diag.error_message.contains("dns error"),
        "{}",
        diag.error_message
    );
}

//! Lex V1 GetMigration: statuses, alerts, the deadline, the errors, the retired V1 endpoint, and
//! the network failures that are retried like on any other call.
#![allow(deprecated)] // the Lex V1 SDK

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_lexmodelbuilding::Client;
use aws_sdk_lexmodelbuilding::error::ErrorMetadata;
use aws_sdk_lexmodelbuilding::operation::get_migration::{GetMigrationError, GetMigrationOutput};
use aws_sdk_lexmodelbuilding::types::error::{
    BadRequestException, InternalFailureException, LimitExceededException, NotFoundException,
};
use aws_sdk_lexmodelbuilding::types::{MigrationAlert, MigrationAlertType, MigrationStatus};
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use check_migration::{Alert, Deps, LexBotOutput, Output, Status};
use common::{
    NOW_RFC3339, connection_reset, connection_timeout, dns_failure, error_type, failing_lex, lex,
    run_at, unreachable_lex, workspaces,
};
use fleetshift_core::error_type as et;
use serde_json::json;

const MIGRATION: &str = "ABCDE12345";

fn event() -> serde_json::Value {
    json!({"kind": "lexBot", "migrationId": MIGRATION, "startedAt": NOW_RFC3339, "deadlineMinutes": 60})
}

fn warn_alert() -> MigrationAlert {
    MigrationAlert::builder()
        .r#type(MigrationAlertType::Warn)
        .message("Slot type AMAZON.Color was replaced")
        .details("Intent OrderFlowers, slot FlowerColor")
        .reference_urls("https://docs.aws.amazon.com/lexv2/latest/dg/migrate.html")
        .build()
}

fn error_alert(message: &str) -> MigrationAlert {
    MigrationAlert::builder()
        .r#type(MigrationAlertType::Error)
        .message(message)
        .build()
}

async fn check(minutes: u64, answer: fn() -> GetMigrationOutput) -> LexBotOutput {
    let rule = mock!(Client::get_migration)
        .match_requests(|r| r.migration_id() == Some(MIGRATION))
        .then_output(answer);
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let out = run_at(minutes, event(), &deps).await.unwrap();
    assert_eq!(rule.num_calls(), 1);
    match out {
        Output::LexBot(b) => b,
        other => panic!("expected a bot answer, got {other:?}"),
    }
}

#[tokio::test]
async fn completed_with_warnings_is_completed_and_keeps_the_alerts() {
    let out = check(3, || {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .migration_status(MigrationStatus::Completed)
            .v2_bot_id("V2BOT12345")
            .alerts(warn_alert())
            .build()
    })
    .await;
    assert_eq!(
        out,
        LexBotOutput {
            status: Status::Completed,
            migration_id: MIGRATION.into(),
            migration_status: Some("COMPLETED".into()),
            v2_bot_id: Some("V2BOT12345".into()),
            alerts: vec![Alert {
                alert_type: "WARN".into(),
                message: "Slot type AMAZON.Color was replaced".into(),
                details: vec!["Intent OrderFlowers, slot FlowerColor".into()],
                reference_urls: vec![
                    "https://docs.aws.amazon.com/lexv2/latest/dg/migrate.html".into()
                ],
            }],
            cause: None,
            checked_at: "2026-01-01T00:03:00Z".into(),
        }
    );
    let json = serde_json::to_value(Output::LexBot(out)).unwrap();
    assert_eq!(json["kind"], "lexBot");
    assert_eq!(json["alerts"][0]["type"], "WARN");
    assert_eq!(
        json["alerts"][0]["referenceUrls"][0],
        "https://docs.aws.amazon.com/lexv2/latest/dg/migrate.html"
    );
    assert!(json.get("cause").is_none());
}

#[tokio::test]
async fn in_progress_until_the_deadline() {
    let answer = || {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .migration_status(MigrationStatus::InProgress)
            .build()
    };
    let out = check(30, answer).await;
    assert_eq!((out.status, out.cause), (Status::InProgress, None));
    let out = check(61, answer).await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.cause.as_deref(),
        Some(
            "Lex migration ABCDE12345 not finished 60 minutes after it started (status IN_PROGRESS)"
        )
    );
}

#[tokio::test]
async fn failed_names_the_error_alerts() {
    let out = check(5, || {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .migration_status(MigrationStatus::Failed)
            .alerts(warn_alert())
            .alerts(error_alert("The V2 bot name is already in use"))
            .alerts(error_alert("The role cannot be assumed"))
            .build()
    })
    .await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.alerts.len(), 3);
    assert_eq!(
        out.cause.as_deref(),
        Some(
            "Lex migration ABCDE12345 FAILED: The V2 bot name is already in use; The role cannot be assumed"
        )
    );
}

#[tokio::test]
async fn a_long_cause_is_cut_to_1500_characters() {
    let out = check(5, || {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .migration_status(MigrationStatus::Failed)
            .alerts(error_alert(&"x".repeat(2000)))
            .build()
    })
    .await;
    let cause = out.cause.unwrap();
    // "Lex migration ABCDE12345 FAILED: " is 33 characters; 1500 - 33 - 3 = 1464 x, then "...".
    assert_eq!(
        cause,
        format!("Lex migration ABCDE12345 FAILED: {}...", "x".repeat(1464))
    );
}

#[tokio::test]
async fn an_unknown_status_is_in_progress() {
    let out = check(5, || {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .migration_status(MigrationStatus::from("VALIDATING"))
            .build()
    })
    .await;
    assert_eq!(out.status, Status::InProgress);
    assert_eq!(out.migration_status.as_deref(), Some("VALIDATING"));
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

async fn error_type_of(err: fn() -> GetMigrationError) -> String {
    let rule = mock!(Client::get_migration).then_error(err);
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let result = run_at(5, event(), &deps).await;
    assert_eq!(rule.num_calls(), 1);
    error_type(result)
}

#[tokio::test]
async fn not_found() {
    let t = error_type_of(|| {
        GetMigrationError::NotFoundException(
            NotFoundException::builder()
                .message("Migration ABCDE12345 not found")
                .meta(meta("NotFoundException", "Migration ABCDE12345 not found"))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn limit_exceeded_is_throttling() {
    let t = error_type_of(|| {
        GetMigrationError::LimitExceededException(
            LimitExceededException::builder()
                .message("The request exceeded a limit")
                .meta(meta(
                    "LimitExceededException",
                    "The request exceeded a limit",
                ))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::THROTTLING);
}

#[tokio::test]
async fn internal_failure_is_service_unavailable() {
    let t = error_type_of(|| {
        GetMigrationError::InternalFailureException(
            InternalFailureException::builder()
                .message("internal error")
                .meta(meta("InternalFailureException", "internal error"))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_request_is_an_invalid_request() {
    let t = error_type_of(|| {
        GetMigrationError::BadRequestException(
            BadRequestException::builder()
                .message("bad migration id")
                .meta(meta("BadRequestException", "bad migration id"))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::INVALID_REQUEST);
}

#[tokio::test]
async fn a_stopped_endpoint_is_lex_v1_unavailable() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let deps = Deps::new(workspaces(&[]), unreachable_lex(attempts.clone()));
    let err = run_at(5, event(), &deps).await.unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let diag = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diag.error_type, et::LEX_V1_UNAVAILABLE);
    assert!(
        diag.error_message.contains("2025-09-15"),
        "{}",
        diag.error_message
    );
}

/// The `errorType` of one GetMigration whose connection fails with `failure`, after one attempt.
async fn error_type_when(
    failure: fn() -> aws_smithy_runtime_api::client::result::ConnectorError,
) -> String {
    let attempts = Arc::new(AtomicUsize::new(0));
    let deps = Deps::new(workspaces(&[]), failing_lex(attempts.clone(), failure));
    let t = error_type(run_at(5, event(), &deps).await);
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

/// The `errorType` of one GetMigration answered with `answer`.
async fn error_type_answered(answer: fn() -> HttpResponse) -> String {
    let rule = mock!(Client::get_migration).then_http_response(answer);
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let t = error_type(run_at(5, event(), &deps).await);
    assert_eq!(rule.num_calls(), 1);
    t
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let t = error_type_answered(|| {
        HttpResponse::new(
            StatusCode::try_from(503).unwrap(),
            SdkBody::from("<html>Service Unavailable</html>"),
        )
    })
    .await;
    assert_eq!(t, "ServiceUnavailable");
}

#[tokio::test]
async fn endpoint_gone_is_lex_v1_unavailable() {
    // What cloud-local's `lex_v1: Gone` scenario answers.
    let t = error_type_answered(|| {
        let mut resp = HttpResponse::new(
            StatusCode::try_from(410).unwrap(),
            SdkBody::from(r#"{"message":"Lex V1 is end of life"}"#),
        );
        resp.headers_mut()
            .insert("x-amzn-ErrorType", "EndpointGone");
        resp
    })
    .await;
    assert_eq!(t, "LexV1Unavailable");
}

#[tokio::test]
async fn invalid_inputs_make_no_call() {
    let rule = mock!(Client::get_migration).then_output(|| {
        GetMigrationOutput::builder()
            .migration_id(MIGRATION)
            .build()
    });
    let deps = Deps::new(workspaces(&[]), lex(&[&rule]));
    let cases = [
        (
            json!({"kind": "lexBot", "migrationId": "ABC", "startedAt": NOW_RFC3339, "deadlineMinutes": 60}),
            "migrationId",
        ),
        (
            json!({"kind": "lexBot", "migrationId": "ABCDE-1234", "startedAt": NOW_RFC3339, "deadlineMinutes": 60}),
            "migrationId",
        ),
        (
            json!({"kind": "lexBot", "startedAt": NOW_RFC3339, "deadlineMinutes": 60}),
            "migrationId",
        ),
        (
            json!({"kind": "lexBot", "migrationId": MIGRATION, "startedAt": "2026-13-01", "deadlineMinutes": 60}),
            "startedAt",
        ),
        // The state machine always passes the plan's botDeadlineMinutes: there is no default.
        (
            json!({"kind": "lexBot", "migrationId": MIGRATION, "startedAt": NOW_RFC3339}),
            "deadlineMinutes",
        ),
    ];
    for (event, field) in cases {
        let err = run_at(5, event.clone(), &deps).await.unwrap_err();
        match &err {
            check_migration::Error::InvalidInput(v) => {
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

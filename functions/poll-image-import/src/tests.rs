use std::time::{Duration, SystemTime};

use aws_sdk_workspaces::Client;
use aws_sdk_workspaces::config::retry::RetryConfig;
use aws_sdk_workspaces::operation::describe_custom_workspace_image_import::{
    DescribeCustomWorkspaceImageImportError, DescribeCustomWorkspaceImageImportOutput,
};
use aws_sdk_workspaces::types::CustomWorkspaceImageImportErrorDetails;
use aws_sdk_workspaces::types::error::{AccessDeniedException, ResourceNotFoundException};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use lambda_runtime::Diagnostic;
use serde_json::json;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use super::*;

const IMAGE: &str = "wsi-abcd12345";

fn deps(rules: &[&Rule]) -> Deps {
    Deps {
        workspaces: mock_client!(aws_sdk_workspaces, RuleMode::Sequential, rules, |b| b
            .retry_config(RetryConfig::disabled())),
    }
}

fn answer(state: &str, progress: i32) -> DescribeCustomWorkspaceImageImportOutput {
    DescribeCustomWorkspaceImageImportOutput::builder()
        .image_id(IMAGE)
        .state(State::from(state))
        .progress_percentage(progress)
        .state_message(format!("import is {state}"))
        .build()
}

fn at(rfc3339: &str) -> SystemTime {
    SystemTime::try_from(DateTime::from_str(rfc3339, Format::DateTime).unwrap()).unwrap()
}

/// Runs the handler with "now" at `now`.
async fn poll_at(now: SystemTime, input: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    fleetshift_clock::scope(now, handle(input, deps)).await.0
}

#[tokio::test]
async fn every_state_sets_done_and_failed() {
    // (state, done, failed): the 14 states of the model, then one the SDK does not know.
    let table: &[(&str, bool, bool)] = &[
        ("PENDING", false, false),
        ("IN_PROGRESS", false, false),
        ("COMPLETED", true, false),
        ("ERROR", false, true),
        ("VALIDATING", false, false),
        ("PROCESSING_SOURCE_IMAGE", false, false),
        ("IMAGE_TESTING_START", false, false),
        ("UPDATING_OPERATING_SYSTEM", false, false),
        ("IMAGE_COMPATIBILITY_CHECKING", false, false),
        ("IMAGE_TESTING_GENERALIZATION", false, false),
        ("CREATING_TEST_INSTANCE", false, false),
        ("INSTALLING_COMPONENTS", false, false),
        ("GENERALIZING", false, false),
        ("PUBLISHING", false, false),
        ("SOME_STATE_ADDED_LATER", false, false),
    ];
    assert_eq!(
        table
            .iter()
            .filter(|(s, ..)| State::values().contains(s))
            .count(),
        14,
        "the table covers every state the SDK knows"
    );
    let mut sequence = mock!(Client::describe_custom_workspace_image_import)
        .match_requests(|r| r.image_id() == Some(IMAGE))
        .sequence();
    for (i, (state, ..)) in table.iter().enumerate() {
        let progress = i32::try_from(i * 5).unwrap();
        sequence = sequence.output(move || answer(state, progress));
    }
    let rule = sequence.build();
    let deps = deps(&[&rule]);

    for (i, (state, done, failed)) in table.iter().enumerate() {
        let out = handle(json!({"imageId": IMAGE}), &deps).await.unwrap();
        assert_eq!(out.image_id, IMAGE);
        assert_eq!(out.state, *state);
        assert_eq!(
            (out.done, out.failed, out.expired),
            (*done, *failed, false),
            "{state}"
        );
        assert_eq!(out.progress_percentage, i32::try_from(i * 5).unwrap());
        assert_eq!(
            out.state_message.as_deref(),
            Some(format!("import is {state}").as_str())
        );
        assert!(out.error_details.is_empty());
    }
    assert_eq!(rule.num_calls(), table.len());
}

#[tokio::test]
async fn error_state_carries_its_error_details() {
    let rule = mock!(Client::describe_custom_workspace_image_import).then_output(|| {
        DescribeCustomWorkspaceImageImportOutput::builder()
            .image_id(IMAGE)
            .state(State::Error)
            .state_message("The image failed the compatibility check.")
            .error_details(
                CustomWorkspaceImageImportErrorDetails::builder()
                    .error_code("IncompatibleOperatingSystem")
                    .error_message("Windows 10 Education is not supported")
                    .build(),
            )
            .error_details(
                CustomWorkspaceImageImportErrorDetails::builder()
                    .error_code("MissingDriver")
                    .build(),
            )
            .build()
    });
    let deps = deps(&[&rule]);

    let out = handle(json!({"imageId": IMAGE}), &deps).await.unwrap();

    assert_eq!(rule.num_calls(), 1);
    assert!(out.failed && !out.done && !out.expired);
    assert_eq!(out.progress_percentage, 0);
    assert_eq!(
        out.error_details,
        vec![
            ErrorDetail {
                error_code: "IncompatibleOperatingSystem".into(),
                error_message: "Windows 10 Education is not supported".into(),
            },
            ErrorDetail {
                error_code: "MissingDriver".into(),
                error_message: String::new(),
            },
        ]
    );
}

#[tokio::test]
async fn completed_without_progress_reports_100_and_missing_state_is_in_progress() {
    let rule = mock!(Client::describe_custom_workspace_image_import)
        .sequence()
        .output(|| {
            DescribeCustomWorkspaceImageImportOutput::builder()
                .image_id(IMAGE)
                .state(State::Completed)
                .build()
        })
        .output(|| {
            DescribeCustomWorkspaceImageImportOutput::builder()
                .image_id(IMAGE)
                .build()
        })
        .build();
    let deps = deps(&[&rule]);

    let completed = handle(json!({"imageId": IMAGE}), &deps).await.unwrap();
    assert!(completed.done);
    assert_eq!(completed.progress_percentage, 100);

    let unknown = handle(json!({"imageId": IMAGE}), &deps).await.unwrap();
    assert_eq!(unknown.state, "UNKNOWN");
    assert!(!unknown.done && !unknown.failed && !unknown.expired);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn expired_only_past_the_deadline_and_only_while_in_progress() {
    let since = "2025-11-07T12:00:00Z";
    let start = at(since);
    let rule = mock!(Client::describe_custom_workspace_image_import)
        .sequence()
        .output(|| answer("PUBLISHING", 90))
        .output(|| answer("PUBLISHING", 95))
        .output(|| answer("COMPLETED", 100))
        .output(|| answer("ERROR", 40))
        .output(|| answer("VALIDATING", 10))
        .output(|| answer("VALIDATING", 10))
        .output(|| answer("SOME_STATE_ADDED_LATER", 10))
        .build();
    let deps = deps(&[&rule]);
    let with_deadline = json!({"imageId": IMAGE, "waitingSince": since, "deadlineMinutes": 60});
    let default_deadline = json!({"imageId": IMAGE, "waitingSince": since});
    let minutes = |m: u64| start + Duration::from_secs(m * 60);

    // At the deadline is not past it.
    let out = poll_at(minutes(60), with_deadline.clone(), &deps)
        .await
        .unwrap();
    assert!(!out.expired, "at the deadline");
    let out = poll_at(
        minutes(60) + Duration::from_secs(1),
        with_deadline.clone(),
        &deps,
    )
    .await
    .unwrap();
    assert!(
        out.expired && !out.done && !out.failed,
        "one second past it"
    );
    // A finished import is never expired, however late.
    let out = poll_at(minutes(600), with_deadline.clone(), &deps)
        .await
        .unwrap();
    assert!(out.done && !out.expired);
    let out = poll_at(minutes(600), with_deadline.clone(), &deps)
        .await
        .unwrap();
    assert!(out.failed && !out.expired);
    // The default deadline is 240 minutes.
    let out = poll_at(minutes(239), default_deadline.clone(), &deps)
        .await
        .unwrap();
    assert!(!out.expired);
    let out = poll_at(minutes(241), default_deadline, &deps)
        .await
        .unwrap();
    assert!(out.expired);
    // Unknown states expire like known ones.
    let out = poll_at(minutes(61), with_deadline, &deps).await.unwrap();
    assert!(out.expired && out.state == "SOME_STATE_ADDED_LATER");
    assert_eq!(rule.num_calls(), 7);
}

#[tokio::test]
async fn waiting_since_takes_the_execution_start_time_format() {
    // `$$.Execution.StartTime`: milliseconds and `Z`, e.g. 2025-11-07T12:00:00.192Z.
    let rule = mock!(Client::describe_custom_workspace_image_import)
        .sequence()
        .output(|| answer("PENDING", 0))
        .output(|| answer("PENDING", 0))
        .build();
    let deps = deps(&[&rule]);
    let input =
        json!({"imageId": IMAGE, "waitingSince": "2025-11-07T12:00:00.192Z", "deadlineMinutes": 5});
    let before = poll_at(at("2025-11-07T12:05:00.192Z"), input.clone(), &deps)
        .await
        .unwrap();
    let after = poll_at(at("2025-11-07T12:05:00.193Z"), input, &deps)
        .await
        .unwrap();
    assert!(!before.expired && after.expired);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn without_waiting_since_nothing_expires() {
    let rule =
        mock!(Client::describe_custom_workspace_image_import).then_output(|| answer("PENDING", 0));
    let deps = deps(&[&rule]);
    let out = poll_at(
        at("2099-01-01T00:00:00Z"),
        json!({"imageId": IMAGE, "deadlineMinutes": 5}),
        &deps,
    )
    .await
    .unwrap();
    assert!(!out.expired);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn every_modeled_exception_has_its_error_type() {
    type MakeError = fn() -> DescribeCustomWorkspaceImageImportError;
    let cases: [(MakeError, &str); 2] = [
        (
            || {
                DescribeCustomWorkspaceImageImportError::AccessDeniedException(
                    AccessDeniedException::builder().message("denied").build(),
                )
            },
            "AccessDenied",
        ),
        (
            || {
                DescribeCustomWorkspaceImageImportError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("The image wsi-abcd12345 does not exist")
                        .build(),
                )
            },
            "ResourceNotFound",
        ),
    ];
    for (make, expected) in cases {
        let rule = mock!(Client::describe_custom_workspace_image_import).then_error(make);
        let deps = deps(&[&rule]);
        let err = handle(json!({"imageId": IMAGE}), &deps).await.unwrap_err();
        assert_eq!(rule.num_calls(), 1);
        assert!(matches!(err, Error::Aws(_)), "{err:?}");
        assert_eq!(Diagnostic::from(err).error_type, expected);
    }
}

#[tokio::test]
async fn throttling_from_the_wire_is_retryable() {
    let rule = mock!(Client::describe_custom_workspace_image_import).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    });
    let deps = deps(&[&rule]);
    let err = handle(json!({"imageId": IMAGE}), &deps).await.unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    let Error::Aws(aws) = &err else {
        panic!("expected Aws, got {err:?}");
    };
    // Throttling is one of the classes the state machine retries (its own, longer backoff).
    assert_eq!(aws.kind, ErrorKind::Throttling);
    assert_eq!(aws.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(aws.message, "Rate exceeded");
    assert_eq!(Diagnostic::from(err).error_type, "ThrottlingException");
}

#[tokio::test]
async fn invalid_inputs_make_no_call_and_name_the_field() {
    let cases = [
        (json!({"imageId": "ami-0abcdef1234567890"}), "imageId"),
        (json!({"imageId": "wsi-short"}), "imageId"),
        (json!({}), "imageId"),
        (json!({"imageId": 42}), "imageId"),
        (
            json!({"imageId": IMAGE, "waitingSince": "yesterday"}),
            "waitingSince",
        ),
        (
            json!({"imageId": IMAGE, "waitingSince": "2025-11-07T12:00:00Z", "deadlineMinutes": 0}),
            "deadlineMinutes",
        ),
        (
            json!({"imageId": IMAGE, "deadlineMinutes": -5}),
            "deadlineMinutes",
        ),
    ];
    for (payload, field) in cases {
        let rule = mock!(Client::describe_custom_workspace_image_import)
            .then_output(|| answer("PENDING", 0));
        let deps = deps(&[&rule]);
        let err = handle(payload.clone(), &deps).await.unwrap_err();
        assert_eq!(rule.num_calls(), 0, "{payload}");
        let Error::InvalidInput(v) = &err else {
            panic!("expected InvalidInput for {payload}, got {err:?}");
        };
        assert!(v.0.iter().any(|x| x.field == field), "{payload}: {v}");
        let d = Diagnostic::from(err);
        assert_eq!(d.error_type, "InvalidPlan");
        assert!(d.error_message.contains(field), "{}", d.error_message);
    }
}

#[test]
fn fixtures_parse_and_round_trip() {
    for (text, waiting) in [
        (include_str!("../tests/fixtures/input.json"), true),
        (include_str!("../tests/fixtures/input-minimal.json"), false),
    ] {
        let raw: serde_json::Value = serde_json::from_str(text).unwrap();
        let parsed: Input = validate::from_json(raw.clone()).unwrap();
        assert_eq!(parsed.waiting_since.is_some(), waiting);
        assert!(check(&parsed).is_ok());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    }
    for (text, failed) in [
        (
            include_str!("../tests/fixtures/output-in-progress.json"),
            false,
        ),
        (include_str!("../tests/fixtures/output-error.json"), true),
    ] {
        let raw: serde_json::Value = serde_json::from_str(text).unwrap();
        let parsed: Output = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(parsed.failed, failed);
        assert_eq!(parsed.error_details.is_empty(), !failed);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    }
}

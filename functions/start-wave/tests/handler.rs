//! The handler against a mocked Step Functions client.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::types::error::{
    ExecutionAlreadyExists, ExecutionLimitExceeded, InvalidExecutionInput, InvalidName,
    KmsThrottlingException, StateMachineDeleting, StateMachineDoesNotExist,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use fleetshift_core::Plan;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use start_wave::{Deps, Settings, handle};

const SM_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:fleet-migration";

fn deps(rules: &[&Rule]) -> Deps {
    Deps {
        sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules),
        settings: Settings::new(SM_ARN).unwrap(),
    }
}

fn event() -> Value {
    let path = format!(
        "{}/tests/fixtures/wave-requested.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture's execution name, computed outside the code under test from its detail as written
/// (no defaults filled in): in Python, `c = json.dumps(event['detail'], sort_keys=True,
/// separators=(',', ':'), ensure_ascii=False)`, then `sha256(c.encode('utf-8'))`
/// (92aad2934de668a7...): the wave id and the first 16 hex digits.
const EXPECTED_NAME: &str = "wave-2025-11-a-92aad2934de668a7";

fn expected_name() -> String {
    EXPECTED_NAME.to_owned()
}

fn started() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| {
            let input: Value = serde_json::from_str(r.input().unwrap()).unwrap();
            r.state_machine_arn() == Some(SM_ARN)
                && r.name() == Some(EXPECTED_NAME)
                // The plan as the operator wrote it: the state machine applies the stack defaults.
                && input == event()["detail"]
        })
        .then_compute_output(|r| {
            StartExecutionOutput::builder()
                .execution_arn(format!(
                    "arn:aws:states:us-east-1:123456789012:execution:fleet-migration:{}",
                    r.name().unwrap()
                ))
                // A start made now.
                .start_date(DateTime::from(std::time::SystemTime::now()))
                .build()
                .unwrap()
        })
}

/// DescribeExecution of the plan's execution answers `status`.
fn described(status: ExecutionStatus) -> Rule {
    mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| {
            r.execution_arn()
                == Some(
                    format!(
                        "arn:aws:states:us-east-1:123456789012:execution:fleet-migration:{}",
                        expected_name()
                    )
                    .as_str(),
                )
        })
        .then_output(move || {
            DescribeExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:x")
                .state_machine_arn(SM_ARN)
                .status(status.clone())
                .start_date(DateTime::from_secs(1_763_631_000))
                .build()
                .unwrap()
        })
}

fn already_exists() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder()
                .message("Execution Already Exists")
                .build(),
        )
    })
}

fn error_type(err: start_wave::Error) -> String {
    Diagnostic::from(err).error_type
}

#[test]
fn fixture_is_a_real_event_envelope_and_round_trips() {
    let raw = event();
    let parsed: EventBridgeEvent<Value> = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(parsed.detail_type, "Wave Requested");
    assert_eq!(parsed.source, "fleetshift");
    assert_eq!(parsed.account.as_deref(), Some("123456789012"));
    assert!(parsed.time.is_some());
    let back: EventBridgeEvent<Value> =
        serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
    assert_eq!(parsed, back);
    Plan::parse(&parsed.detail).unwrap();
}

#[tokio::test]
async fn starts_the_execution_named_after_the_plan_as_written_with_that_plan_as_input() {
    let rule = started();
    let d = deps(&[&rule]);
    let out = handle(event(), &d).await.unwrap();
    let name = expected_name();
    assert!(
        name.starts_with("wave-2025-11-a-") && name.len() <= 80,
        "{name}"
    );
    assert_eq!(out.execution_name, name);
    assert_eq!(
        out.execution_arn,
        format!("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:{name}")
    );
    assert!(!out.already_started);
    assert_eq!(rule.num_calls(), 1);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["alreadyStarted"], false);
    assert!(json["executionArn"].is_string() && json["executionName"].is_string());
}

#[tokio::test]
async fn execution_already_exists_is_success() {
    let rule = already_exists();
    let describe = described(ExecutionStatus::Running);
    let d = deps(&[&rule, &describe]);
    let out = handle(event(), &d).await.unwrap();
    let name = expected_name();
    assert!(out.already_started);
    assert_eq!(out.execution_name, name);
    assert_eq!(
        out.execution_arn,
        format!("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:{name}")
    );
    assert_eq!(out.existing_status.as_deref(), Some("RUNNING"));
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn a_plan_sent_again_after_its_wave_ended_says_how_it_ended() {
    // Nothing new is started (the name is the plan's), but the answer says the earlier run FAILED,
    // so an operator retrying a failed wave is not left thinking it started.
    let rule = already_exists();
    let describe = described(ExecutionStatus::Failed);
    let d = deps(&[&rule, &describe]);
    let out = handle(event(), &d).await.unwrap();
    assert!(out.already_started);
    assert_eq!(out.existing_status.as_deref(), Some("FAILED"));
    assert_eq!(
        serde_json::to_value(&out).unwrap()["existingStatus"],
        "FAILED"
    );
}

#[tokio::test]
async fn a_failed_describe_still_answers_success() {
    let rule = already_exists();
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
        DescribeExecutionError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("no")
                .build(),
        )
    });
    let d = deps(&[&rule, &describe]);
    let out = handle(event(), &d).await.unwrap();
    assert!(out.already_started);
    assert_eq!(out.existing_status, None);
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn a_delivery_while_the_wave_runs_is_answered_as_already_running() {
    // Step Functions answers StartExecution with the name and input of a running execution with
    // that execution (a success, not ExecutionAlreadyExists): started an hour ago, it was not
    // started by this call.
    let rule = mock!(aws_sdk_sfn::Client::start_execution).then_output(|| {
        StartExecutionOutput::builder()
            .execution_arn("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:x")
            .start_date(DateTime::from(
                std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
            ))
            .build()
            .unwrap()
    });
    let d = deps(&[&rule]);
    let out = handle(event(), &d).await.unwrap();
    assert!(out.already_started);
    assert_eq!(out.existing_status.as_deref(), Some("RUNNING"));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_duplicate_delivery_names_the_same_execution() {
    let rule = mock!(aws_sdk_sfn::Client::start_execution)
        .sequence()
        .output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:x")
                .start_date(DateTime::from(std::time::SystemTime::now()))
                .build()
                .unwrap()
        })
        .error(|| {
            StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().build())
        })
        .build();
    let describe = described(ExecutionStatus::Running);
    let d = deps(&[&rule, &describe]);
    let first = handle(event(), &d).await.unwrap();
    // The same plan delivered again, its keys in another order.
    let mut again = event();
    again["id"] = json!("another-delivery");
    let detail = again["detail"].as_object().unwrap().clone();
    again["detail"] = Value::Object(detail.into_iter().rev().collect());
    let second = handle(again, &d).await.unwrap();
    assert_eq!(first.execution_name, EXPECTED_NAME);
    assert_eq!(second.execution_name, EXPECTED_NAME);
    assert!(!first.already_started && second.already_started);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_plan_that_says_more_is_another_wave() {
    // Spelling out the default progress update stream changes nothing the wave does today, but it
    // is a different plan as sent (a later release may change the default): another execution.
    // Golden value computed as for EXPECTED_NAME, with detail['hub'] set first.
    let rule = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| r.name() == Some("wave-2025-11-a-dbc3242ff2dca4c8"))
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:fleet-migration:x")
                .start_date(DateTime::from(std::time::SystemTime::now()))
                .build()
                .unwrap()
        });
    let d = deps(&[&rule]);
    let mut other = event();
    other["detail"]["hub"] = json!({"progressUpdateStream": "fleetshift"});
    let out = handle(other, &d).await.unwrap();
    assert_eq!(out.execution_name, "wave-2025-11-a-dbc3242ff2dca4c8");
    assert!(!out.already_started);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn start_execution_errors_become_typed_errors() {
    type Make = fn() -> StartExecutionError;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "InvalidName",
            || StartExecutionError::InvalidName(InvalidName::builder().message("bad name").build()),
            "InvalidRequest",
        ),
        (
            "InvalidExecutionInput",
            || {
                StartExecutionError::InvalidExecutionInput(
                    InvalidExecutionInput::builder().message("too big").build(),
                )
            },
            "InvalidRequest",
        ),
        (
            "StateMachineDoesNotExist",
            || {
                StartExecutionError::StateMachineDoesNotExist(
                    StateMachineDoesNotExist::builder().message("gone").build(),
                )
            },
            "ResourceNotFound",
        ),
        (
            "StateMachineDeleting",
            || StartExecutionError::StateMachineDeleting(StateMachineDeleting::builder().build()),
            "ResourceNotFound",
        ),
        (
            "ExecutionLimitExceeded",
            || {
                StartExecutionError::ExecutionLimitExceeded(
                    ExecutionLimitExceeded::builder().build(),
                )
            },
            "ResourceLimitExceeded",
        ),
        (
            "KmsThrottling",
            || {
                StartExecutionError::KmsThrottlingException(
                    KmsThrottlingException::builder().build(),
                )
            },
            "ThrottlingException",
        ),
        (
            "ThrottlingException (unmodeled)",
            || {
                StartExecutionError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            },
            "ThrottlingException",
        ),
    ];
    for (name, make, expected) in cases {
        let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(make);
        let d = deps(&[&rule]);
        let err = handle(event(), &d).await.unwrap_err();
        assert_eq!(error_type(err), expected, "{name}");
        assert!(rule.num_calls() >= 1, "{name}");
    }
}

#[tokio::test]
async fn throttling_answered_over_http_keeps_its_code() {
    let rule = mock!(aws_sdk_sfn::Client::start_execution)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()),
        )
        .repeatedly()
        .build();
    let d = deps(&[&rule]);
    let diag = Diagnostic::from(handle(event(), &d).await.unwrap_err());
    assert_eq!(diag.error_type, "ThrottlingException");
    assert!(
        diag.error_message.contains("Rate exceeded"),
        "{}",
        diag.error_message
    );
}

#[tokio::test]
async fn invalid_plans_start_nothing() {
    let with_detail = |detail: Value| {
        let mut e = event();
        e["detail"] = detail;
        e
    };
    let mut bad_id = event();
    bad_id["detail"]["workspaces"][0]["workspaceId"] = json!("WS-NOPE");
    let mut missing = event();
    missing["detail"].as_object_mut().unwrap().remove("waveId");
    let mut unknown = event();
    unknown["detail"]["workspaces"][0]["userName"] = json!("alice");
    let mut no_envelope = event();
    no_envelope.as_object_mut().unwrap().remove("detail-type");
    let cases = [
        ("bad id pattern", bad_id, "detail.workspaces[0].workspaceId"),
        ("missing field", missing, "waveId"),
        ("unknown field", unknown, "userName"),
        (
            "empty plan",
            with_detail(json!({"waveId": "w"})),
            "detail.workspaces",
        ),
        ("empty detail", with_detail(json!({})), "waveId"),
        (
            "bad wave id",
            with_detail(
                json!({"waveId": "a b", "bundleId": "wsb-abcd12345", "workspaces": [{"workspaceId": "ws-abcd12345"}]}),
            ),
            "detail.waveId",
        ),
        ("not an event", no_envelope, "detail-type"),
    ];
    for (name, input, field) in cases {
        let rule = started();
        let d = deps(&[&rule]);
        let diag = Diagnostic::from(handle(input, &d).await.unwrap_err());
        assert_eq!(diag.error_type, "InvalidPlan", "{name}");
        assert!(
            diag.error_message.contains(field),
            "{name}: {}",
            diag.error_message
        );
        assert_eq!(rule.num_calls(), 0, "{name}");
    }
}

#[tokio::test]
async fn an_event_from_another_account_starts_nothing() {
    let start = started();
    let deps = deps(&[&start]);
    let mut foreign = event();
    foreign["account"] = json!("210987654321");
    let err = handle(foreign, &deps).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused event: the event comes from account 210987654321, not the stack's account 123456789012"
    );
    assert_eq!(error_type(err), "ForeignEvent");
    assert_eq!(start.num_calls(), 0);

    let mut anonymous = event();
    anonymous.as_object_mut().unwrap().remove("account");
    let err = handle(anonymous, &deps).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused event: the event names no account; only the stack's account 123456789012 may start a wave"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn an_event_that_is_not_wave_requested_starts_nothing() {
    let start = started();
    let deps = deps(&[&start]);
    let mut other = event();
    other["detail-type"] = json!("Wave Finished");
    let err = handle(other, &deps).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused event: the event is \"Wave Finished\" from source \"fleetshift\", not \"Wave Requested\" from \"fleetshift\""
    );
    assert_eq!(error_type(err), "ForeignEvent");
    assert_eq!(start.num_calls(), 0);
}

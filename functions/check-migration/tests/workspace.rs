//! DescribeWorkspaces: the IN_PROGRESS / COMPLETED / FAILED rules, the silent-failure deadline on
//! the virtual clock, the errors, and invalid input.

mod common;

use aws_sdk_workspaces::Client;
use aws_sdk_workspaces::error::ErrorMetadata;
use aws_sdk_workspaces::operation::describe_workspaces::{
    DescribeWorkspacesError, DescribeWorkspacesOutput,
};
use aws_sdk_workspaces::types::error::{
    InvalidParameterValuesException, ResourceUnavailableException,
};
use aws_sdk_workspaces::types::{Workspace, WorkspaceState};
use aws_smithy_mocks::{Rule, mock};
use check_migration::{Deps, Output, Status, WorkspaceOutput};
use common::{NOW_RFC3339, error_type, lex, run_at, workspaces};
use fleetshift_core::error_type as et;
use serde_json::json;

const SOURCE: &str = "ws-abcd12345";
const TARGET: &str = "ws-zyxw98765";

fn event() -> serde_json::Value {
    json!({"kind": "workspace", "sourceWorkspaceId": SOURCE, "targetWorkspaceId": TARGET, "startedAt": NOW_RFC3339, "deadlineMinutes": 60})
}

fn described(id: &str, state: &str) -> DescribeWorkspacesOutput {
    DescribeWorkspacesOutput::builder()
        .workspaces(
            Workspace::builder()
                .workspace_id(id)
                .state(WorkspaceState::from(state))
                .build(),
        )
        .build()
}

/// DescribeWorkspaces of exactly the target id, answering the target in `state`.
fn target_in(state: &'static str) -> Rule {
    mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [TARGET])
        .then_output(move || described(TARGET, state))
}

/// Checks the target in `state`, `minutes` after the migration started.
async fn check(state: &'static str, minutes: u64, event: serde_json::Value) -> WorkspaceOutput {
    let rule = target_in(state);
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let out = run_at(minutes, event, &deps).await.unwrap();
    assert_eq!(rule.num_calls(), 1);
    match out {
        Output::Workspace(w) => w,
        other => panic!("expected a WorkSpace answer, got {other:?}"),
    }
}

#[tokio::test]
async fn available_target_is_completed() {
    let out = check("AVAILABLE", 45, event()).await;
    assert_eq!(
        out,
        WorkspaceOutput {
            status: Status::Completed,
            source_workspace_id: SOURCE.into(),
            target_workspace_id: TARGET.into(),
            workspace_state: Some("AVAILABLE".into()),
            cause: None,
            checked_at: "2026-01-01T00:45:00Z".into(),
        }
    );
    assert_eq!(
        serde_json::to_value(Output::Workspace(out)).unwrap(),
        json!({"status": "COMPLETED", "kind": "workspace", "sourceWorkspaceId": SOURCE,
               "targetWorkspaceId": TARGET, "workspaceState": "AVAILABLE",
               "checkedAt": "2026-01-01T00:45:00Z"})
    );
}

#[tokio::test]
async fn stopped_target_is_completed() {
    // AutoStop WorkSpaces stop on their own once migrated.
    assert_eq!(
        check("STOPPED", 50, event()).await.status,
        Status::Completed
    );
}

#[tokio::test]
async fn pending_target_is_in_progress_until_the_deadline() {
    for state in [
        "PENDING",
        "STARTING",
        "REBUILDING",
        "UPDATING",
        "IMPAIRED",
        "UNHEALTHY",
    ] {
        let out = check(state, 30, event()).await;
        assert_eq!(out.status, Status::InProgress, "{state}");
        assert_eq!(out.cause, None, "{state}");
        assert_eq!(out.workspace_state.as_deref(), Some(state));
    }
    // Exactly at the deadline is not past it.
    assert_eq!(
        check("PENDING", 60, event()).await.status,
        Status::InProgress
    );
}

#[tokio::test]
async fn pending_past_the_deadline_failed_silently() {
    let out = check("PENDING", 61, event()).await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.cause.as_deref(),
        Some(
            "new WorkSpace ws-zyxw98765 not AVAILABLE 60 minutes after the migration started (state PENDING); migrations can fail silently"
        )
    );
    assert_eq!(out.checked_at, "2026-01-01T01:01:00Z");
}

#[tokio::test]
async fn a_longer_deadline_waits_longer() {
    let mut e = event();
    e["deadlineMinutes"] = json!(120);
    assert_eq!(
        check("PENDING", 90, e.clone()).await.status,
        Status::InProgress
    );
    let out = check("PENDING", 121, e).await;
    assert_eq!(out.status, Status::Failed);
    assert!(out.cause.unwrap().contains("120 minutes"));
}

#[tokio::test]
async fn a_state_this_code_does_not_know_is_in_progress() {
    assert_eq!(
        check("HIBERNATING", 10, event()).await.status,
        Status::InProgress
    );
    assert_eq!(
        check("HIBERNATING", 70, event()).await.status,
        Status::Failed
    );
}

#[tokio::test]
async fn broken_targets_failed_at_once() {
    for state in ["ERROR", "TERMINATED", "TERMINATING", "SUSPENDED"] {
        let out = check(state, 5, event()).await;
        assert_eq!(out.status, Status::Failed, "{state}");
        assert_eq!(
            out.cause.as_deref(),
            Some(format!("new WorkSpace {TARGET} is {state}").as_str())
        );
    }
}

#[tokio::test]
async fn the_workspace_error_is_in_the_cause() {
    let rule = mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [TARGET])
        .then_output(|| {
            DescribeWorkspacesOutput::builder()
                .workspaces(
                    Workspace::builder()
                        .workspace_id(TARGET)
                        .state(WorkspaceState::Error)
                        .error_code("ResourceLimitExceeded.Cores")
                        .error_message("Not enough vCPUs in the subnet")
                        .build(),
                )
                .build()
        });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let out = run_at(5, event(), &deps).await.unwrap();
    assert_eq!(out.status(), Status::Failed);
    assert_eq!(
        out.cause(),
        Some(
            "new WorkSpace ws-zyxw98765 is ERROR: ResourceLimitExceeded.Cores Not enough vCPUs in the subnet"
        )
    );
}

#[tokio::test]
async fn a_missing_target_is_in_progress_until_the_deadline_then_failed() {
    let rule = mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [TARGET])
        .then_output(|| DescribeWorkspacesOutput::builder().build());
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    // DescribeWorkspaces is eventually consistent: a new WorkSpace may not be listed yet.
    let Output::Workspace(early) = run_at(5, event(), &deps).await.unwrap() else {
        panic!("kind")
    };
    assert_eq!(early.status, Status::InProgress);
    assert_eq!(early.cause, None);
    let Output::Workspace(late) = run_at(61, event(), &deps).await.unwrap() else {
        panic!("kind")
    };
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(late.status, Status::Failed);
    assert_eq!(late.workspace_state, None);
    assert!(
        late.cause
            .unwrap()
            .contains("ws-zyxw98765 not found 60 minutes")
    );
}

#[tokio::test]
async fn polling_until_available_on_the_virtual_clock() {
    let rule = mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [TARGET])
        .sequence()
        .output(|| described(TARGET, "PENDING"))
        .times(2)
        .output(|| described(TARGET, "AVAILABLE"))
        .build();
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let mut statuses = Vec::new();
    for minutes in [20, 40, 55] {
        statuses.push(run_at(minutes, event(), &deps).await.unwrap().status());
    }
    assert_eq!(
        statuses,
        [Status::InProgress, Status::InProgress, Status::Completed]
    );
    assert_eq!(rule.num_calls(), 3);
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

async fn error_type_of(err: fn() -> DescribeWorkspacesError) -> String {
    let rule = mock!(Client::describe_workspaces).then_error(err);
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let result = run_at(5, event(), &deps).await;
    assert_eq!(rule.num_calls(), 1);
    error_type(result)
}

#[tokio::test]
async fn describe_errors_keep_their_retry_class() {
    let t = error_type_of(|| {
        DescribeWorkspacesError::ResourceUnavailableException(
            ResourceUnavailableException::builder()
                .message("The resource is not available")
                .meta(meta(
                    "ResourceUnavailableException",
                    "The resource is not available",
                ))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::RESOURCE_UNAVAILABLE);
    let t = error_type_of(|| {
        DescribeWorkspacesError::InvalidParameterValuesException(
            InvalidParameterValuesException::builder()
                .message("bad id")
                .meta(meta("InvalidParameterValuesException", "bad id"))
                .build(),
        )
    })
    .await;
    assert_eq!(t, et::INVALID_REQUEST);
    let t = error_type_of(|| {
        DescribeWorkspacesError::generic(meta("ThrottlingException", "Rate exceeded"))
    })
    .await;
    assert_eq!(t, et::THROTTLING);
    let t = error_type_of(|| DescribeWorkspacesError::generic(meta("AccessDeniedException", "no")))
        .await;
    assert_eq!(t, et::ACCESS_DENIED);
}

#[tokio::test]
async fn invalid_inputs_make_no_call() {
    let rule = target_in("AVAILABLE");
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
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
        (
            with("sourceWorkspaceId", json!("WS-1")),
            "sourceWorkspaceId",
        ),
        (
            with("targetWorkspaceId", json!("wsx-abcd12345")),
            "targetWorkspaceId",
        ),
        (with("startedAt", json!("yesterday")), "startedAt"),
        (with("deadlineMinutes", json!(0)), "deadlineMinutes"),
        (with("deadlineMinutes", json!(100_000)), "deadlineMinutes"),
        (
            json!({"kind": "workspace", "sourceWorkspaceId": SOURCE, "targetWorkspaceId": TARGET, "deadlineMinutes": 60}),
            "startedAt",
        ),
        // The state machine always passes the new id and the plan's deadline: neither has a
        // default, and a missing one is a broken input, not a migration to guess about.
        (without("targetWorkspaceId"), "targetWorkspaceId"),
        // A mistyped field inside the tagged input loses its path (see validate::from_json_tagged).
        (with("targetWorkspaceId", json!(null)), "input"),
        (without("deadlineMinutes"), "deadlineMinutes"),
        (with("kind", json!("vm")), "kind"),
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

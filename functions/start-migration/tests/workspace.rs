//! MigrateWorkspace: the success path, every modeled exception, throttling, invalid input, and a
//! retried call that finds the migration its lost first call started.

mod common;

use aws_sdk_workspaces::Client;
use aws_sdk_workspaces::error::ErrorMetadata;
use aws_sdk_workspaces::operation::describe_workspaces::{
    DescribeWorkspacesError, DescribeWorkspacesOutput,
};
use aws_sdk_workspaces::operation::migrate_workspace::{
    MigrateWorkspaceError, MigrateWorkspaceOutput,
};
use aws_sdk_workspaces::types::error::{
    AccessDeniedException, InvalidParameterValuesException, OperationInProgressException,
    OperationNotSupportedException, ResourceNotFoundException, ResourceUnavailableException,
};
use aws_sdk_workspaces::types::{Workspace, WorkspaceState};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use common::{NOW_RFC3339, error_type, lex, run, workspaces};
use fleetshift_core::error_type as et;
use serde_json::json;
use start_migration::{Deps, Output, WorkspaceOutput};

const SOURCE: &str = "ws-abcd12345";
const TARGET: &str = "ws-zyxw98765";
const BUNDLE: &str = "wsb-bundle1234";

fn event() -> serde_json::Value {
    json!({"kind": "workspace", "workspaceId": SOURCE, "bundleId": BUNDLE})
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// A MigrateWorkspace rule for the test's source and bundle that fails with `err`.
fn failing(err: fn() -> MigrateWorkspaceError) -> Rule {
    mock!(Client::migrate_workspace)
        .match_requests(|r| {
            r.source_workspace_id() == Some(SOURCE) && r.bundle_id() == Some(BUNDLE)
        })
        .then_error(err)
}

async fn error_type_of(rule: Rule) -> String {
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let result = run(event(), &deps).await;
    assert_eq!(rule.num_calls(), 1);
    error_type(result)
}

#[tokio::test]
async fn migrate_returns_the_new_workspace_id() {
    let rule = mock!(Client::migrate_workspace)
        .match_requests(|r| {
            r.source_workspace_id() == Some(SOURCE) && r.bundle_id() == Some(BUNDLE)
        })
        .then_output(|| {
            MigrateWorkspaceOutput::builder()
                .source_workspace_id(SOURCE)
                .target_workspace_id(TARGET)
                .build()
        });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let out = run(event(), &deps).await.unwrap();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(
        out,
        Output::Workspace(WorkspaceOutput {
            source_workspace_id: SOURCE.into(),
            target_workspace_id: TARGET.into(),
            started_at: NOW_RFC3339.into(),
            adoption: None,
        })
    );
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"kind": "workspace", "sourceWorkspaceId": SOURCE, "targetWorkspaceId": TARGET,
               "startedAt": NOW_RFC3339, "adoption": null})
    );
}

#[tokio::test]
async fn an_answer_without_a_target_id_is_unexpected() {
    let rule = mock!(Client::migrate_workspace).then_output(|| {
        MigrateWorkspaceOutput::builder()
            .source_workspace_id(SOURCE)
            .build()
    });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    assert_eq!(
        error_type(run(event(), &deps).await),
        et::UNEXPECTED_RESPONSE
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn invalid_parameter_values_is_an_invalid_request() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::InvalidParameterValuesException(
            InvalidParameterValuesException::builder()
                .message("BYOL bundles can only be migrated to BYOL bundles")
                .meta(meta(
                    "InvalidParameterValuesException",
                    "BYOL bundles can only be migrated to BYOL bundles",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::INVALID_REQUEST);
}

#[tokio::test]
async fn resource_not_found() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("The WorkSpace ws-abcd12345 does not exist")
                .meta(meta(
                    "ResourceNotFoundException",
                    "The WorkSpace ws-abcd12345 does not exist",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn access_denied() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("not authorized to perform workspaces:MigrateWorkspace")
                .meta(meta("AccessDeniedException", "not authorized"))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::ACCESS_DENIED);
}

#[tokio::test]
async fn operation_not_supported() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::OperationNotSupportedException(
            OperationNotSupportedException::builder()
                .message("The WorkSpace is in ADMIN_MAINTENANCE")
                .meta(meta(
                    "OperationNotSupportedException",
                    "The WorkSpace is in ADMIN_MAINTENANCE",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::OPERATION_NOT_SUPPORTED);
}

// A BYOL WorkSpace migrated to a non-BYOL bundle (or the reverse) is refused (WorkSpaces
// Administration Guide, "Migrate a WorkSpace", Migration Limits), but which error AWS answers is
// not documented. Each plausible answer must end the WorkSpace as a final failure, called once and
// never classed as retryable: the modeled InvalidParameterValuesException and
// OperationNotSupportedException (with its `reason` member, as cloud-local sends it), and an
// InvalidResourceStateException, which the model does not list for MigrateWorkspace (it does for
// other WorkSpaces operations) and so arrives as an unmodeled code.
const BYOL_MESSAGE: &str =
    "The WorkSpace ws-abcd12345 uses a BYOL bundle and can be migrated only to a BYOL bundle";

#[tokio::test]
async fn byol_mismatch_as_invalid_parameter_values() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::InvalidParameterValuesException(
            InvalidParameterValuesException::builder()
                .message(BYOL_MESSAGE)
                .meta(meta("InvalidParameterValuesException", BYOL_MESSAGE))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, "InvalidRequest");
}

#[tokio::test]
async fn byol_mismatch_as_operation_not_supported() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::OperationNotSupportedException(
            OperationNotSupportedException::builder()
                .message(BYOL_MESSAGE)
                .reason("BYOL_BUNDLE_MISMATCH")
                .meta(meta("OperationNotSupportedException", BYOL_MESSAGE))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, "OperationNotSupported");
}

#[tokio::test]
async fn byol_mismatch_as_invalid_resource_state() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::generic(meta("InvalidResourceStateException", BYOL_MESSAGE))
    }))
    .await;
    assert_eq!(t, "InvalidResourceState");
}

#[tokio::test]
async fn byol_mismatch_as_invalid_resource_state_on_the_wire() {
    // The awsJson1_1 body as WorkSpaces would send it: the SDK has no typed variant for this code
    // on MigrateWorkspace, so the class must come from `__type`, and the message must be kept.
    let rule = mock!(Client::migrate_workspace).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(format!(
                r#"{{"__type":"InvalidResourceStateException","message":"{BYOL_MESSAGE}"}}"#
            )),
        )
    });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let err = run(event(), &deps).await.unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    let diag = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diag.error_type, "InvalidResourceState");
    assert_eq!(
        diag.error_message,
        "MigrateWorkspace failed: InvalidResourceStateException: The WorkSpace ws-abcd12345 uses a BYOL bundle and can be migrated only to a BYOL bundle"
    );
}

fn in_progress() -> MigrateWorkspaceError {
    MigrateWorkspaceError::OperationInProgressException(
        OperationInProgressException::builder()
            .message("The WorkSpace is being modified")
            .meta(meta(
                "OperationInProgressException",
                "The WorkSpace is being modified",
            ))
            .build(),
    )
}

const DIRECTORY: &str = "d-1234567890";
const USER: &str = "alice";

fn ws(id: &str, bundle: &str, state: WorkspaceState) -> Workspace {
    Workspace::builder()
        .workspace_id(id)
        .directory_id(DIRECTORY)
        .user_name(USER)
        .bundle_id(bundle)
        .state(state)
        .build()
}

/// DescribeWorkspaces(WorkspaceIds=[SOURCE]) answers the source, in the test's directory for its
/// user.
fn describe_source() -> Rule {
    mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [SOURCE.to_owned()])
        .then_output(|| {
            DescribeWorkspacesOutput::builder()
                .workspaces(ws(SOURCE, "wsb-oldbundle1", WorkspaceState::Available))
                .build()
        })
}

/// DescribeWorkspaces(DirectoryId, UserName) answers `found`.
fn describe_user(found: fn() -> Vec<Workspace>) -> Rule {
    mock!(Client::describe_workspaces)
        .match_requests(|r| r.directory_id() == Some(DIRECTORY) && r.user_name() == Some(USER))
        .then_output(move || {
            DescribeWorkspacesOutput::builder()
                .set_workspaces(Some(found()))
                .build()
        })
}

/// MigrateWorkspace answers OperationInProgress; the source is described, then its user's
/// WorkSpaces answer `found`. Returns the handler's result and the calls of the three rules.
async fn in_progress_with(
    found: fn() -> Vec<Workspace>,
) -> (Result<Output, start_migration::Error>, [usize; 3]) {
    let migrate = failing(in_progress);
    let source = describe_source();
    let user = describe_user(found);
    let deps = Deps::new(workspaces(&[&migrate, &source, &user]), lex(&[]));
    let result = run(event(), &deps).await;
    (
        result,
        [migrate.num_calls(), source.num_calls(), user.num_calls()],
    )
}

#[tokio::test]
async fn operation_in_progress_is_retryable() {
    // Nothing of ours under way: the user's only other WorkSpace is an old one on the bundle.
    let (result, calls) = in_progress_with(|| {
        vec![
            ws(SOURCE, "wsb-oldbundle1", WorkspaceState::Available),
            ws("ws-other0001", BUNDLE, WorkspaceState::Available),
        ]
    })
    .await;
    assert_eq!(error_type(result), et::OPERATION_IN_PROGRESS);
    assert_eq!(calls, [1, 1, 1]);
}

// A lost answer followed to the migration under way: tests/adoption.rs.

#[tokio::test]
async fn a_failed_lookup_keeps_the_original_error() {
    let migrate = failing(in_progress);
    let source = mock!(Client::describe_workspaces).then_error(|| {
        DescribeWorkspacesError::generic(meta("ThrottlingException", "Rate exceeded"))
    });
    let deps = Deps::new(workspaces(&[&migrate, &source]), lex(&[]));
    let err = run(event(), &deps).await.unwrap_err();
    let diag = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diag.error_type, et::OPERATION_IN_PROGRESS);
    assert!(diag.error_message.contains("being modified"), "{diag:?}");
}

#[tokio::test]
async fn a_source_that_is_gone_keeps_the_original_error() {
    let migrate = failing(in_progress);
    let source = mock!(Client::describe_workspaces)
        .then_output(|| DescribeWorkspacesOutput::builder().build());
    let deps = Deps::new(workspaces(&[&migrate, &source]), lex(&[]));
    assert_eq!(
        error_type(run(event(), &deps).await),
        et::OPERATION_IN_PROGRESS
    );
    assert_eq!(source.num_calls(), 1, "no lookup by user without a source");
}

#[tokio::test]
async fn resource_unavailable_is_retryable() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::ResourceUnavailableException(
            ResourceUnavailableException::builder()
                .message("The WorkSpace is not available")
                .meta(meta(
                    "ResourceUnavailableException",
                    "The WorkSpace is not available",
                ))
                .build(),
        )
    }))
    .await;
    assert_eq!(t, et::RESOURCE_UNAVAILABLE);
}

#[tokio::test]
async fn unmodeled_throttling_is_read_from_the_code() {
    let t = error_type_of(failing(|| {
        MigrateWorkspaceError::generic(meta("ThrottlingException", "Rate exceeded"))
    }))
    .await;
    assert_eq!(t, et::THROTTLING);
}

#[tokio::test]
async fn throttling_on_the_wire_keeps_its_code_and_message() {
    // The awsJson1_1 error body as WorkSpaces sends it: the SDK must parse the code, and the
    // message must reach the execution's failure cause.
    let rule = mock!(Client::migrate_workspace).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let err = run(event(), &deps).await.unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    let diag = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diag.error_type, et::THROTTLING);
    assert_eq!(
        diag.error_message,
        "MigrateWorkspace failed: ThrottlingException: Rate exceeded"
    );
}

#[tokio::test]
async fn invalid_inputs_make_no_call() {
    let rule = mock!(Client::migrate_workspace).then_output(|| {
        MigrateWorkspaceOutput::builder()
            .target_workspace_id(TARGET)
            .build()
    });
    let deps = Deps::new(workspaces(&[&rule]), lex(&[]));
    let cases = [
        (
            json!({"kind": "workspace", "workspaceId": "WS-BAD", "bundleId": BUNDLE}),
            "workspaceId",
        ),
        (
            json!({"kind": "workspace", "workspaceId": SOURCE, "bundleId": "bundle-1"}),
            "bundleId",
        ),
        (
            json!({"kind": "workspace", "workspaceId": SOURCE}),
            "bundleId",
        ),
        (json!({"workspaceId": SOURCE, "bundleId": BUNDLE}), "kind"),
        (
            json!({"kind": "vm", "workspaceId": SOURCE, "bundleId": BUNDLE}),
            "kind",
        ),
        (json!("ws-abcd12345"), "input"),
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

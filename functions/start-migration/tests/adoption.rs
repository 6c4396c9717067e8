//! A lost MigrateWorkspace answer: the retry is refused as in progress, and the migration under
//! way is adopted only on evidence that it is ours (its new WorkSpace's `RelatedWorkspaces` name
//! the source); where nothing tells the candidates apart, the WorkSpace fails naming them.

mod common;

use aws_sdk_workspaces::Client;
use aws_sdk_workspaces::error::ErrorMetadata;
use aws_sdk_workspaces::operation::describe_workspaces::DescribeWorkspacesOutput;
use aws_sdk_workspaces::operation::migrate_workspace::MigrateWorkspaceError;
use aws_sdk_workspaces::types::error::OperationInProgressException;
use aws_sdk_workspaces::types::{RelatedWorkspaceProperties, Workspace, WorkspaceState};
use aws_smithy_mocks::{Rule, mock};
use common::{NOW_RFC3339, lex, run, workspaces};
use fleetshift_core::contract::{Adoption, AdoptionEvidence};
use fleetshift_core::error_type as et;
use serde_json::json;
use start_migration::{Deps, Output, WorkspaceOutput};

const SOURCE: &str = "ws-abcd12345";
const TARGET: &str = "ws-zyxw98765";
const OTHER: &str = "ws-other0001";
const BUNDLE: &str = "wsb-bundle1234";
const DIRECTORY: &str = "d-1234567890";
const USER: &str = "alice";
/// StartMigration's `$$.State.EnteredTime`: 50 minutes before the retry that adopts.
const FIRST_ATTEMPT: &str = "2025-12-31T23:10:00.000Z";

fn event(first_attempt_at: Option<&str>) -> serde_json::Value {
    let mut e = json!({"kind": "workspace", "workspaceId": SOURCE, "bundleId": BUNDLE});
    if let Some(t) = first_attempt_at {
        e["firstAttemptAt"] = json!(t);
    }
    e
}

fn in_progress() -> MigrateWorkspaceError {
    MigrateWorkspaceError::OperationInProgressException(
        OperationInProgressException::builder()
            .message("The WorkSpace is being modified")
            .meta(
                ErrorMetadata::builder()
                    .code("OperationInProgressException")
                    .message("The WorkSpace is being modified")
                    .build(),
            )
            .build(),
    )
}

fn ws(id: &str, bundle: &str, state: WorkspaceState) -> Workspace {
    Workspace::builder()
        .workspace_id(id)
        .directory_id(DIRECTORY)
        .user_name(USER)
        .bundle_id(bundle)
        .state(state)
        .build()
}

/// A PENDING WorkSpace on the bundle whose `RelatedWorkspaces` name the source (no `Type`: AWS
/// documents only PRIMARY and STANDBY, neither of which is a migration).
fn naming_source(id: &str) -> Workspace {
    let mut w = ws(id, BUNDLE, WorkspaceState::Pending);
    w.related_workspaces = Some(vec![
        RelatedWorkspaceProperties::builder()
            .workspace_id(SOURCE)
            .state(WorkspaceState::Available)
            .build(),
    ]);
    w
}

/// MigrateWorkspace answers OperationInProgress; the source is described, then its user's
/// WorkSpaces answer `found`. Returns the handler's result and the calls of the three rules.
async fn in_progress_with(
    first_attempt_at: Option<&str>,
    found: fn() -> Vec<Workspace>,
) -> (Result<Output, start_migration::Error>, [usize; 3]) {
    let migrate: Rule = mock!(Client::migrate_workspace).then_error(in_progress);
    let source = mock!(Client::describe_workspaces)
        .match_requests(|r| r.workspace_ids() == [SOURCE.to_owned()])
        .then_output(|| {
            DescribeWorkspacesOutput::builder()
                .workspaces(ws(SOURCE, "wsb-oldbundle1", WorkspaceState::Available))
                .build()
        });
    let user = mock!(Client::describe_workspaces)
        .match_requests(|r| r.directory_id() == Some(DIRECTORY) && r.user_name() == Some(USER))
        .then_output(move || {
            DescribeWorkspacesOutput::builder()
                .set_workspaces(Some(found()))
                .build()
        });
    let deps = Deps::new(workspaces(&[&migrate, &source, &user]), lex(&[]));
    let result = run(event(first_attempt_at), &deps).await;
    (
        result,
        [migrate.num_calls(), source.num_calls(), user.num_calls()],
    )
}

fn diagnostic(result: Result<Output, start_migration::Error>) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic::from(result.expect_err("the handler should fail"))
}

#[tokio::test]
async fn evidence_present_is_adopted_with_the_evidence_and_the_first_attempts_time() {
    let (result, calls) = in_progress_with(Some(FIRST_ATTEMPT), || {
        vec![
            ws(SOURCE, "wsb-oldbundle1", WorkspaceState::Available),
            ws(OTHER, "wsb-oldbundle1", WorkspaceState::Pending),
            naming_source(TARGET),
        ]
    })
    .await;
    let out = result.unwrap();
    assert_eq!(
        out,
        Output::Workspace(WorkspaceOutput {
            source_workspace_id: SOURCE.into(),
            target_workspace_id: TARGET.into(),
            started_at: "2025-12-31T23:10:00Z".into(),
            adoption: Some(Adoption {
                adopted: true,
                evidence: AdoptionEvidence::RelatedWorkspacesNameSource,
            }),
        })
    );
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"kind": "workspace", "sourceWorkspaceId": SOURCE, "targetWorkspaceId": TARGET,
               "startedAt": "2025-12-31T23:10:00Z",
               "adoption": {"adopted": true, "evidence": "relatedWorkspacesNameSource"}})
    );
    assert_eq!(
        calls,
        [1, 1, 1],
        "MigrateWorkspace is not called again; the source and its user's WorkSpaces are described once"
    );
}

#[tokio::test]
async fn the_evidence_picks_one_of_several_pending_candidates() {
    let (result, _) = in_progress_with(Some(FIRST_ATTEMPT), || {
        vec![
            ws(OTHER, BUNDLE, WorkspaceState::Pending),
            naming_source(TARGET),
        ]
    })
    .await;
    match result.unwrap() {
        Output::Workspace(w) => assert_eq!(
            (
                w.target_workspace_id.as_str(),
                w.adoption.map(|a| a.evidence)
            ),
            (TARGET, Some(AdoptionEvidence::RelatedWorkspacesNameSource))
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_a_first_attempt_time_the_deadline_counts_from_now() {
    let (result, _) = in_progress_with(None, || vec![naming_source(TARGET)]).await;
    match result.unwrap() {
        Output::Workspace(w) => assert_eq!(w.started_at, NOW_RFC3339),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn evidence_absent_fails_naming_the_candidate() {
    // Same directory, user and bundle, PENDING: what the old code adopted. Nothing ties it to the
    // source, so it is named for an operator and the WorkSpace is FAILED, not retried.
    let (result, calls) = in_progress_with(Some(FIRST_ATTEMPT), || {
        vec![
            ws(SOURCE, "wsb-oldbundle1", WorkspaceState::Available),
            ws(TARGET, BUNDLE, WorkspaceState::Pending),
        ]
    })
    .await;
    let diag = diagnostic(result);
    assert_eq!(diag.error_type, et::MIGRATION_UNCONFIRMED);
    assert_eq!(diag.error_type, "MigrationUnconfirmed");
    assert_eq!(
        diag.error_message,
        "MigrateWorkspace's answer was lost and the retry was refused as in progress; a migration \
         of ws-abcd12345 may be under way, but nothing DescribeWorkspaces shows ties it to one \
         WorkSpace: check ws-zyxw98765 (PENDING, same directory, user and bundle; none names the \
         source in RelatedWorkspaces) before migrating ws-abcd12345 again"
    );
    assert_eq!(calls, [1, 1, 1]);
}

#[tokio::test]
async fn two_candidates_without_evidence_fail_naming_both() {
    let (result, _) = in_progress_with(Some(FIRST_ATTEMPT), || {
        vec![
            ws(TARGET, BUNDLE, WorkspaceState::Pending),
            ws(OTHER, BUNDLE, WorkspaceState::Pending),
        ]
    })
    .await;
    let diag = diagnostic(result);
    assert_eq!(diag.error_type, "MigrationUnconfirmed");
    assert_eq!(
        diag.error_message,
        "MigrateWorkspace's answer was lost and the retry was refused as in progress; a migration \
         of ws-abcd12345 may be under way, but nothing DescribeWorkspaces shows ties it to one \
         WorkSpace: check ws-zyxw98765 and ws-other0001 (PENDING, same directory, user and \
         bundle; none names the source in RelatedWorkspaces) before migrating ws-abcd12345 again"
    );
}

#[tokio::test]
async fn two_candidates_with_evidence_fail_naming_both() {
    let (result, _) = in_progress_with(Some(FIRST_ATTEMPT), || {
        vec![naming_source(TARGET), naming_source(OTHER)]
    })
    .await;
    let diag = diagnostic(result);
    assert_eq!(diag.error_type, "MigrationUnconfirmed");
    assert_eq!(
        diag.error_message,
        "MigrateWorkspace's answer was lost and the retry was refused as in progress; a migration \
         of ws-abcd12345 may be under way, but nothing DescribeWorkspaces shows ties it to one \
         WorkSpace: check ws-zyxw98765 and ws-other0001 (PENDING, same directory, user and \
         bundle; each names the source in RelatedWorkspaces) before migrating ws-abcd12345 again"
    );
}

#[tokio::test]
async fn a_cause_names_at_most_five_candidates() {
    let (result, _) = in_progress_with(None, || {
        (1..=7)
            .map(|i| ws(&format!("ws-cand0000{i}"), BUNDLE, WorkspaceState::Pending))
            .collect()
    })
    .await;
    let message = diagnostic(result).error_message;
    assert!(
        message.contains(
            "check ws-cand00001, ws-cand00002, ws-cand00003, ws-cand00004, ws-cand00005 and 2 more ("
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_candidate_not_pending_or_on_another_bundle_is_no_candidate() {
    // Nothing PENDING on the bundle: OperationInProgress stays as it was (retried by Step
    // Functions: the new WorkSpace may not be listed yet, or another operation is running).
    let (result, _) = in_progress_with(Some(FIRST_ATTEMPT), || {
        let mut available = naming_source(TARGET);
        available.state = Some(WorkspaceState::Available);
        let mut elsewhere = naming_source(OTHER);
        elsewhere.bundle_id = Some("wsb-oldbundle1".into());
        vec![available, elsewhere]
    })
    .await;
    assert_eq!(diagnostic(result).error_type, et::OPERATION_IN_PROGRESS);
}

#[tokio::test]
async fn a_first_attempt_time_that_is_not_rfc3339_is_invalid_input() {
    let migrate: Rule = mock!(Client::migrate_workspace).then_error(in_progress);
    let deps = Deps::new(workspaces(&[&migrate]), lex(&[]));
    let err = run(event(Some("yesterday")), &deps).await.unwrap_err();
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        et::INVALID_PLAN
    );
    assert_eq!(migrate.num_calls(), 0);
}

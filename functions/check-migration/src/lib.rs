//! check-migration: one poll of a started migration, answered as IN_PROGRESS, COMPLETED or FAILED.
//!
//! Called by the `CheckMigration` state of each WorkSpace iteration (WorkSpaces
//! `DescribeWorkspaces` on the new WorkSpace) and by the `CheckBotMigration` state of each Lex bot
//! iteration (Lex V1 `GetMigration`). WorkSpaces sends no lifecycle events and a migration can fail
//! without any error: a new WorkSpace that is still not AVAILABLE past the deadline
//! (`deadlineMinutes` after `startedAt`, measured on `fleetshift_clock::now()`) counts as FAILED.
//! The state machine always passes the new WorkSpace id start-migration answered and the plan's
//! deadline (`polling.*DeadlineMinutes`, filled in by register), so both are required.
//! The state machine loops on IN_PROGRESS and routes COMPLETED/FAILED to the progress report;
//! errors are for calls that could not be made.

mod lex;

use std::time::{Duration, SystemTime};

use aws_sdk_workspaces::operation::describe_workspaces::DescribeWorkspacesError;
use aws_sdk_workspaces::types::WorkspaceState;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::diagnostic::Operation;
use fleetshift_core::{ErrorKind, Violations, rfc3339, validate};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// Longest deadline accepted (a day), as the plan's own bounds.
pub const MAX_DEADLINE_MINUTES: u32 = 24 * 60;

/// What to check: the output of start-migration, plus the deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Input {
    /// A WorkSpace migration.
    Workspace(WorkspaceInput),
    /// A Lex bot migration.
    LexBot(LexBotInput),
}

/// A started WorkSpace migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInput {
    /// The original WorkSpace id.
    pub source_workspace_id: String,
    /// The new WorkSpace id MigrateWorkspace answered (start-migration fails without one).
    pub target_workspace_id: String,
    /// When the migration was started (RFC 3339).
    pub started_at: String,
    /// Minutes after `startedAt` after which a migration that is not AVAILABLE has failed.
    pub deadline_minutes: u32,
}

/// A started Lex bot migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBotInput {
    /// The id StartMigration answered.
    pub migration_id: String,
    /// When the migration was started (RFC 3339).
    pub started_at: String,
    /// Minutes after `startedAt` after which an unfinished migration has failed.
    pub deadline_minutes: u32,
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    InProgress,
    Completed,
    Failed,
}

/// The answer of one poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Output {
    Workspace(WorkspaceOutput),
    LexBot(LexBotOutput),
}

impl Output {
    pub fn status(&self) -> Status {
        match self {
            Output::Workspace(w) => w.status,
            Output::LexBot(b) => b.status,
        }
    }

    pub fn cause(&self) -> Option<&str> {
        match self {
            Output::Workspace(w) => w.cause.as_deref(),
            Output::LexBot(b) => b.cause.as_deref(),
        }
    }
}

/// A WorkSpace migration's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOutput {
    pub status: Status,
    pub source_workspace_id: String,
    /// The new WorkSpace id.
    pub target_workspace_id: String,
    /// The WorkSpaces state of the new WorkSpace, e.g. `PENDING`; null when it was not found.
    pub workspace_state: Option<String>,
    /// Why the migration failed (FAILED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// When this poll ran (RFC 3339).
    pub checked_at: String,
}

/// A Lex bot migration's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBotOutput {
    pub status: Status,
    pub migration_id: String,
    /// Lex's own status: `IN_PROGRESS`, `COMPLETED` or `FAILED` (null if Lex left it out).
    pub migration_status: Option<String>,
    /// The Lex V2 bot, once Lex names it.
    pub v2_bot_id: Option<String>,
    /// Lex's alerts, errors and warnings alike.
    pub alerts: Vec<Alert>,
    /// Why the migration failed (FAILED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// When this poll ran (RFC 3339).
    pub checked_at: String,
}

/// One Lex migration alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `ERROR` or `WARN`.
    #[serde(rename = "type")]
    pub alert_type: String,
    pub message: String,
    pub details: Vec<String>,
    pub reference_urls: Vec<String>,
}

/// The failures the state machine routes on: invalid input (`InvalidPlan`) or a failed AWS call
/// (its retry class).
pub type Error = fleetshift_core::diagnostic::Error;

/// The AWS clients the handler calls.
#[derive(Debug, Clone)]
pub struct Deps {
    pub workspaces: aws_sdk_workspaces::Client,
    pub lex: aws_sdk_lexmodelbuilding::Client,
}

impl Deps {
    pub fn new(
        workspaces: aws_sdk_workspaces::Client,
        lex: aws_sdk_lexmodelbuilding::Client,
    ) -> Self {
        Deps { workspaces, lex }
    }

    /// Builds the clients from one loaded configuration (the Lambda's, or the offline runner's
    /// pointed at cloud-local).
    pub fn from_config(sdk: &aws_config::SdkConfig) -> Self {
        Deps::new(
            fleetshift_core::clients::workspaces(sdk),
            fleetshift_core::clients::lex_models(sdk),
        )
    }
}

/// Reads the raw event, naming the offending field, so a malformed event is `InvalidPlan` like
/// any other invalid input (the runtime's own deserialization error has no stable `errorType`).
pub fn parse_input(value: serde_json::Value) -> Result<Input, Error> {
    validate::from_json_tagged(value, "input", Some("kind")).map_err(Error::InvalidInput)
}

/// The checked, parsed form of an input.
struct Checked {
    started_at: SystemTime,
    deadline_minutes: u32,
}

impl Checked {
    fn deadline(&self) -> SystemTime {
        self.started_at + Duration::from_secs(u64::from(self.deadline_minutes) * 60)
    }
}

fn check_times(v: &mut Violations, started_at: &str, deadline_minutes: u32) -> Option<Checked> {
    v.range(
        "deadlineMinutes",
        i64::from(deadline_minutes),
        1,
        i64::from(MAX_DEADLINE_MINUTES),
    );
    match rfc3339::parse(started_at) {
        Some(started_at) => Some(Checked {
            started_at,
            deadline_minutes,
        }),
        None => {
            v.push(
                "startedAt",
                "must be an RFC 3339 time, e.g. 2025-01-01T00:00:00Z",
            );
            None
        }
    }
}

impl Input {
    /// Checks every field; every violation is reported.
    pub fn validate(&self) -> Result<(), Violations> {
        self.checked().map(|_| ())
    }

    fn checked(&self) -> Result<Checked, Violations> {
        let mut v = Violations::default();
        let checked = match self {
            Input::Workspace(w) => {
                v.pattern(
                    "sourceWorkspaceId",
                    &w.source_workspace_id,
                    &validate::WORKSPACE_ID,
                );
                v.pattern(
                    "targetWorkspaceId",
                    &w.target_workspace_id,
                    &validate::WORKSPACE_ID,
                );
                check_times(&mut v, &w.started_at, w.deadline_minutes)
            }
            Input::LexBot(b) => {
                // Lex's MigrationId: exactly 10 characters of ^[0-9a-zA-Z]+$.
                v.length("migrationId", &b.migration_id, 10, 10);
                if !b.migration_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    v.push("migrationId", "must match ^[0-9a-zA-Z]+$");
                }
                check_times(&mut v, &b.started_at, b.deadline_minutes)
            }
        };
        match checked {
            Some(c) if v.is_empty() => Ok(c),
            _ => Err(v),
        }
    }
}

/// Parses the raw event and runs [`handler`]: what the Lambda binary and the offline runner call.
pub async fn handle(event: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    handler(parse_input(event)?, deps).await
}

/// Validates the input (no AWS call when it is invalid), then makes one poll.
#[tracing::instrument(skip(deps))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    let checked = input.checked().map_err(Error::InvalidInput)?;
    match input {
        Input::Workspace(w) => check_workspace(w, &checked, deps)
            .await
            .map(Output::Workspace),
        Input::LexBot(b) => lex::check_migration(b, &checked, deps)
            .await
            .map(Output::LexBot),
    }
}

const DESCRIBE_WORKSPACES: Operation<DescribeWorkspacesError> =
    Operation::new("DescribeWorkspaces", |e| {
        Some(if e.is_resource_unavailable_exception() {
            ErrorKind::ResourceUnavailable
        } else if e.is_invalid_parameter_values_exception() {
            ErrorKind::InvalidRequest
        } else {
            return None;
        })
    });

/// What a described WorkSpace's state means for the migration.
enum Verdict {
    Done,
    Broken,
    Pending,
}

fn verdict(state: &WorkspaceState) -> Verdict {
    match state {
        // A STOPPED new WorkSpace is a finished one (AutoStop WorkSpaces stop on their own).
        WorkspaceState::Available | WorkspaceState::Stopped => Verdict::Done,
        WorkspaceState::Error
        | WorkspaceState::Terminated
        | WorkspaceState::Terminating
        | WorkspaceState::Suspended => Verdict::Broken,
        // PENDING, STARTING, REBUILDING, ..., IMPAIRED, UNHEALTHY and states this code does not
        // know yet may still turn AVAILABLE: the deadline decides.
        _ => Verdict::Pending,
    }
}

async fn check_workspace(
    w: WorkspaceInput,
    checked: &Checked,
    deps: &Deps,
) -> Result<WorkspaceOutput, Error> {
    let t = &w.target_workspace_id;
    let found = describe(deps, t).await?;
    let now = fleetshift_clock::now();
    let expired = now > checked.deadline();
    let minutes = checked.deadline_minutes;
    let state = found
        .as_ref()
        .and_then(|ws| ws.state())
        .map(|s| s.as_str().to_owned());
    let state_name = state.as_deref().unwrap_or("unknown");
    let error_detail = found.as_ref().map(error_detail).unwrap_or_default();

    let (status, cause) = match &found {
        // DescribeWorkspaces is eventually consistent: a just-created WorkSpace can be missing
        // for a while, so absence only counts once the deadline has passed.
        None if expired => (
            Status::Failed,
            Some(format!(
                "new WorkSpace {t} not found {minutes} minutes after the migration of {} started: the migration failed or the new WorkSpace was deleted",
                w.source_workspace_id
            )),
        ),
        None => (Status::InProgress, None),
        Some(ws) => match ws.state().map(verdict).unwrap_or(Verdict::Pending) {
            Verdict::Done => (Status::Completed, None),
            Verdict::Broken => (
                Status::Failed,
                Some(format!("new WorkSpace {t} is {state_name}{error_detail}")),
            ),
            Verdict::Pending if expired => (
                Status::Failed,
                Some(format!(
                    "new WorkSpace {t} not AVAILABLE {minutes} minutes after the migration started (state {state_name}{error_detail}); migrations can fail silently"
                )),
            ),
            Verdict::Pending => (Status::InProgress, None),
        },
    };
    info!(
        source_workspace_id = %w.source_workspace_id,
        target_workspace_id = %t,
        workspace_state = state_name,
        status = ?status,
        "migration checked"
    );
    Ok(WorkspaceOutput {
        status,
        source_workspace_id: w.source_workspace_id,
        target_workspace_id: w.target_workspace_id,
        workspace_state: state,
        cause,
        checked_at: rfc3339::format(now),
    })
}

/// `: <ErrorCode> <ErrorMessage>` when WorkSpaces says why a WorkSpace is unwell.
fn error_detail(ws: &aws_sdk_workspaces::types::Workspace) -> String {
    match (ws.error_code(), ws.error_message()) {
        (None, None) => String::new(),
        (code, message) => format!(
            ": {}{}{}",
            code.unwrap_or(""),
            if code.is_some() && message.is_some() {
                " "
            } else {
                ""
            },
            message.unwrap_or("")
        ),
    }
}

async fn describe(
    deps: &Deps,
    workspace_id: &str,
) -> Result<Option<aws_sdk_workspaces::types::Workspace>, Error> {
    let out = deps
        .workspaces
        .describe_workspaces()
        .workspace_ids(workspace_id)
        .send()
        .await
        .map_err(|err| {
            let classified = DESCRIBE_WORKSPACES.classify(&err);
            warn!(
                workspace_id,
                error_type = classified.kind.error_type(),
                error = %DisplayErrorContext(&err),
                "DescribeWorkspaces failed"
            );
            Error::Aws(classified)
        })?;
    Ok(out
        .workspaces()
        .iter()
        .find(|ws| ws.workspace_id() == Some(workspace_id))
        .cloned())
}

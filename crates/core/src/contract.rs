//! The contract between the wave's writers and its readers: the item result each Map returns, the
//! progress events push-hub-update publishes (`Wave Registered`, `Migration Progress`,
//! `Wave Finished`) and the wave's summary (the execution's output).
//!
//! The state machine and push-hub-update write these shapes; the report, the progress bar and the
//! end-to-end invariants read them through these types only, so a change to the contract is a
//! compile error wherever it matters. The JSON examples in `crates/core/tests/fixtures/contract/`
//! are the reference: each is parsed and written back, and must come out as it went in.
//!
//! A reason a program acts on is a field ([`Reason`]), never words in a message; a cause is
//! carried as its error code and message ([`Cause`]), so it is shown once.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan;

// ---------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------

/// An item's state, as Migration Hub names task states (and the Map results reuse them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Not touched: the image gate closed before the item's turn.
    NotStarted,
    InProgress,
    Failed,
    Completed,
}

impl Status {
    /// COMPLETED or FAILED: the item will report nothing more.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }

    /// The name as written in JSON (`COMPLETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "NOT_STARTED",
            Status::InProgress => "IN_PROGRESS",
            Status::Failed => "FAILED",
            Status::Completed => "COMPLETED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a result says less than the item's own events: a reader acts on it (the report then reads
/// the item's last progress event, which the item published itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// The WorkSpaces Map itself failed (e.g. `States.DataLimitExceeded`): the state machine's
    /// `WorkspaceResultsLost` state stands a FAILED result in for every WorkSpace.
    ResultLost,
    /// `finish` found no result for a planned item: its iteration failed outside the item's own
    /// error handling (or the bots Map failed).
    NoResult,
    /// NOT_STARTED because the image gate closed: the gate's cause is stored once for the wave
    /// (the `Wave Finished` summary's `cause` and the execution's), never copied into each item,
    /// so 400 items stay far below Step Functions' 256 KiB state limit.
    GateClosed,
}

impl Reason {
    /// Both reasons say the same to a reader: the wave lost the item's real result.
    pub fn result_missing(reason: Option<Reason>) -> bool {
        matches!(reason, Some(Reason::ResultLost | Reason::NoResult))
    }
}

/// One item of the wave, named by ids only (never by user names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum TaskRef {
    /// A WorkSpace, by its source WorkSpace id.
    Workspace { id: String },
    /// A Lex V1 bot version.
    LexBot { id: String, version: String },
}

impl TaskRef {
    /// The Migration Hub task name of this item in `wave_id`.
    pub fn task_name(&self, wave_id: &str) -> String {
        match self {
            TaskRef::Workspace { id } => plan::workspace_task_name(wave_id, id),
            TaskRef::LexBot { id, version } => plan::bot_task_name(wave_id, id, version),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Causes
// ---------------------------------------------------------------------------------------------

/// An error a state's `Catch` caught, as Step Functions writes it: `{"Error", "Cause"}`. For a
/// Lambda function's error, `Error` is its `errorType` and `Cause` its error payload as JSON text
/// (`{"errorType", "errorMessage"}`); for a `States.*` error, `Cause` is plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// A Lambda function's error payload (the `Cause` of a caught function error).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LambdaErrorPayload {
    error_message: String,
}

impl CaughtError {
    /// The function's `errorMessage` when `Cause` is a Lambda error payload, else `Cause` itself.
    pub fn message(&self) -> Option<String> {
        let cause = self.cause.as_deref().filter(|c| !c.is_empty())?;
        Some(
            serde_json::from_str::<LambdaErrorPayload>(cause)
                .map(|p| p.error_message)
                .unwrap_or_else(|_| cause.to_owned()),
        )
    }

    /// The cause, its code shown once: an AWS call's failure as the service's code and message
    /// (a function reports it as [`crate::AwsError`] writes it), anything else as `Error` and
    /// its message.
    pub fn to_cause(&self) -> Cause {
        let message = self.message();
        if let Some(aws) = message.as_deref().and_then(Cause::from_aws_error_message) {
            return aws;
        }
        Cause {
            code: self.error.clone(),
            message,
        }
    }
}

/// Why something failed: its error code and the message that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cause {
    /// AWS's error code (`ResourceLimitExceededException`) or the function's `errorType`.
    pub code: String,
    /// AWS's (or the function's) message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Cause {
    /// Reads the message [`crate::AwsError`] displays (`<Operation> failed: <Code>: <message>`)
    /// back into the service's code and message; `None` for any other message. A test in this
    /// module ties the two together.
    pub fn from_aws_error_message(message: &str) -> Option<Cause> {
        let (operation, rest) = message.split_once(" failed: ")?;
        let (code, aws_message) = rest.split_once(": ")?;
        let is_name = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        };
        (is_name(operation) && is_name(code)).then(|| Cause {
            code: code.to_owned(),
            message: Some(aws_message.to_owned()),
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Map results
// ---------------------------------------------------------------------------------------------

/// The result of one WorkSpace's migration, as the WorkSpaces Distributed Map returns it (states
/// `Completed`, `Failed`, `WorkspaceNotStarted`, `WorkspaceResultLost`) and as `finish` lists it
/// in the `Wave Finished` mapping. Absent and `null` fields are the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceResult {
    pub source_workspace_id: String,
    /// The new WorkSpace (a FAILED migration's target is never used: the WorkSpace keeps its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
    pub status: Status,
    /// For an operator: why the item did not complete, in words (a migration that did not finish,
    /// a result lost, ...). An error a state caught is in `error` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The error a state of the item caught (its `Error` and `Cause`, as Step Functions gives
    /// them), when that is why it failed: shown through [`WorkspaceResult::shown_cause`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
    /// For a program: the result says less than the item's own events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The create-standby state's result, when the plan asked for a standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<StandbyResult>,
    /// Set when MigrateWorkspace's answer was lost and the migration under way was adopted
    /// (start-migration found its new WorkSpace instead of being told it): what showed it is ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
}

/// A migration start-migration adopted after MigrateWorkspace's answer was lost: `adopted` is
/// always `true` (the field is absent otherwise), `evidence` says which fields matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Adoption {
    pub adopted: bool,
    pub evidence: AdoptionEvidence,
}

/// What DescribeWorkspaces showed of the adopted WorkSpace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AdoptionEvidence {
    /// Its `RelatedWorkspaces` name the source WorkSpace, and it is PENDING in the source's
    /// directory, for the source's user, on the requested bundle.
    RelatedWorkspacesNameSource,
}

impl AdoptionEvidence {
    /// The name as written in JSON (`relatedWorkspacesNameSource`).
    pub fn as_str(self) -> &'static str {
        match self {
            AdoptionEvidence::RelatedWorkspacesNameSource => "relatedWorkspacesNameSource",
        }
    }
}

/// The result of one Lex bot's migration, as the bots Map returns it (states `BotCompleted`,
/// `BotFailed`, `BotNotStarted`) and `finish` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotResult {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_bot_id: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The error a state of the bot caught (see [`WorkspaceResult::error`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The `Cause` an item result keeps of a caught error (states `ItemError` and `BotError`): the
/// caught `Cause` has no bound (AWS's message, a function's), and 400 of them would pass Step
/// Functions' 256 KiB state limit; the full cause is in the item's FAILED progress event
/// (`statusDetail`) and the execution history, where the report reads it back.
pub const BOUNDED_CAUSE: &str =
    "the full cause is in this item's FAILED Migration Progress event and in the execution history";

/// What an item closed out by the image gate shows: the gate's own cause is the wave's.
pub const GATE_CLOSED_CAUSE: &str =
    "not started: the image gate closed (the wave's cause says why)";

impl WorkspaceResult {
    /// Why it did not complete, for an operator: a caught error as its code and message once
    /// ([`CaughtError::to_cause`]), else the cause in words, else what its `reason` says.
    pub fn shown_cause(&self) -> Option<String> {
        shown(self.error.as_ref(), self.cause.as_deref(), self.reason)
    }
}

impl BotResult {
    /// Why it did not complete, for an operator (see [`WorkspaceResult::shown_cause`]).
    pub fn shown_cause(&self) -> Option<String> {
        shown(self.error.as_ref(), self.cause.as_deref(), self.reason)
    }
}

fn shown(
    error: Option<&CaughtError>,
    cause: Option<&str>,
    reason: Option<Reason>,
) -> Option<String> {
    error
        .map(|e| e.to_cause().to_string())
        .or_else(|| cause.map(str::to_owned))
        .or_else(|| (reason == Some(Reason::GateClosed)).then(|| GATE_CLOSED_CAUSE.to_owned()))
}

/// What the `CreateStandby` state left in a WorkSpace's result: create-standby's answer, or the
/// error its `Catch` caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StandbyResult {
    Caught(CaughtError),
    Created(StandbyCreated),
}

/// create-standby's answer: every requested WorkSpace in exactly one of `pending` and `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandbyCreated {
    /// The standby Region the requests were made in.
    pub region: String,
    pub pending: Vec<PendingStandby>,
    pub failed: Vec<FailedStandby>,
}

/// A standby WorkSpace being created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingStandby {
    pub primary_workspace_id: String,
    /// The standby's id, when the answer ties it to this primary unambiguously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_workspace_id: Option<String>,
    pub directory_id: String,
    pub state: String,
}

/// A standby request WorkSpaces rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedStandby {
    pub primary_workspace_id: String,
    pub error_code: String,
    pub error_message: String,
}

impl StandbyResult {
    /// Why the standby was not created (a caught error, or each rejected request); empty when it
    /// was requested successfully.
    pub fn failures(&self) -> Vec<Cause> {
        match self {
            StandbyResult::Caught(e) => vec![e.to_cause()],
            StandbyResult::Created(c) => c
                .failed
                .iter()
                .map(|f| Cause {
                    code: f.error_code.clone(),
                    message: Some(f.error_message.clone()),
                })
                .collect(),
        }
    }

    /// The standby WorkSpace's id (`pending` when WorkSpaces did not name it yet), if requested.
    pub fn standby_workspace_id(&self) -> Option<&str> {
        match self {
            StandbyResult::Created(c) => c
                .pending
                .first()
                .map(|p| p.standby_workspace_id.as_deref().unwrap_or("pending")),
            StandbyResult::Caught(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// Where a wave reports in Migration Hub: decided by `register`, passed back on every `update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRef {
    /// Whether Migration Hub is used for this wave (false after a degradation).
    pub enabled: bool,
    /// The account's Migration Hub home Region (every Migration Hub call goes there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    /// The progress update stream that namespaces the wave's tasks.
    #[serde(default = "default_stream")]
    pub progress_update_stream: String,
    /// `NextUpdateSeconds` for every task of the wave, derived from the plan's polling settings.
    /// Added by `register`; absent means the default polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_seconds: Option<u32>,
}

fn default_stream() -> String {
    plan::DEFAULT_PROGRESS_UPDATE_STREAM.to_owned()
}

/// What happened in Migration Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HubStatus {
    /// `register`: the stream exists and tasks are imported as NOT_STARTED (each item of the
    /// `Wave Registered` event says whether its own task is: `hubRegistered`).
    Registered,
    /// `update`: the task's state was sent.
    Updated,
    /// Migration Hub is not enabled for this wave.
    Disabled,
    /// Migration Hub could not be used (home Region not set, access denied, an outage, or
    /// throttling past every retry; for `register`, no item could be registered): events only.
    Unavailable,
}

/// The detail of a `Wave Registered` event: the wave's items, split over several events (`part`
/// of `parts`) when they do not fit in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveRegistered {
    pub wave_id: String,
    /// The execution's name: start-wave's [`crate::Plan::execution_name`] (the wave id and a hash
    /// of the plan as sent), or whatever a console start chose.
    pub execution_name: String,
    pub hub: HubRef,
    pub hub_status: HubStatus,
    /// Why Migration Hub is unavailable, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error: Option<String>,
    pub workspaces: Vec<RegisteredWorkspace>,
    pub lex_bots: Vec<RegisteredBot>,
    pub part: usize,
    pub parts: usize,
}

/// A WorkSpace of a `Wave Registered` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredWorkspace {
    pub workspace_id: String,
    /// The bundle it migrates to (the plan's default filled in).
    pub bundle_id: Option<String>,
    pub task_name: String,
    /// Whether its Migration Hub task was imported and reported NOT_STARTED (absent when the wave
    /// does not use Migration Hub). An item left unregistered is imported by its first update
    /// (or, when that fails too, reported through events alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_registered: Option<bool>,
    /// Why it is not registered: the `errorType` of the last failure (e.g. `ThrottlingException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error_type: Option<String>,
}

/// A Lex bot of a `Wave Registered` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredBot {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    pub task_name: String,
    /// Whether its Migration Hub task was imported and reported NOT_STARTED (absent when the wave
    /// does not use Migration Hub). An item left unregistered is imported by its first update
    /// (or, when that fails too, reported through events alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_registered: Option<bool>,
    /// Why it is not registered: the `errorType` of the last failure (e.g. `ThrottlingException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error_type: Option<String>,
}

/// The detail of a `Migration Progress` event: one item's new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationProgress {
    pub wave_id: String,
    /// The item's Migration Hub task name.
    pub task_name: String,
    pub task: TaskRef,
    pub status: Status,
    /// RFC 3339, on the function's clock.
    pub updated_at: String,
    pub hub_status: HubStatus,
    /// Why Migration Hub was not updated (`hubStatus` `unavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error: Option<String>,
    /// The `errorType` of that failure (e.g. `ThrottlingException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error_type: Option<String>,
    /// Free text, at most 2500 characters (Migration Hub's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<i32>,
    /// The new WorkSpace of a COMPLETED migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
    /// A COMPLETED migration adopted after MigrateWorkspace's answer was lost (see
    /// [`WorkspaceResult::adoption`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
}

/// The counts and the one-line cause of a wave's end, shared by the `Wave Finished` event and the
/// execution's output ([`WaveSummary`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveCounts {
    pub wave_id: String,
    /// Planned items (WorkSpaces and bots).
    pub total: usize,
    pub completed: usize,
    pub failed: usize,
    /// COMPLETED WorkSpaces whose standby was not created.
    pub standby_failed: usize,
    /// Result entries that were not item results.
    pub unreadable: usize,
    /// Results for items the plan does not list.
    pub unplanned: usize,
    /// One line, e.g. `3 of 50 WorkSpaces and 1 of 2 bots failed: ws-..: cause; ...`.
    pub cause: String,
}

/// The detail of a `Wave Finished` event: the summary with the old->new mapping, split over
/// several events (`part` of `parts`) when it does not fit in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveFinished {
    #[serde(flatten)]
    pub counts: WaveCounts,
    /// Every WorkSpace's result (its cause cut to 2500 characters), in plan order.
    pub mapping: Vec<WorkspaceResult>,
    pub bots: Vec<BotResult>,
    pub part: usize,
    pub parts: usize,
}

/// The wave's summary: `finish`'s answer, the execution's output (the `AnyFailed` state reads
/// `failed` and `standbyFailed`, `WaveFailed` its `cause`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveSummary {
    #[serde(flatten)]
    pub counts: WaveCounts,
    /// Old -> new WorkSpace ids (the results without their standby).
    pub mapping: Vec<WorkspaceResult>,
    pub bots: Vec<BotResult>,
    /// How many `Wave Finished` events carried the summary.
    pub events_published: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AwsError, ErrorKind};

    #[test]
    fn an_item_closed_out_by_the_gate_shows_where_the_cause_is() {
        let w: WorkspaceResult = serde_json::from_value(serde_json::json!({
            "sourceWorkspaceId": "ws-1", "status": "NOT_STARTED", "reason": "gateClosed"
        }))
        .unwrap();
        assert_eq!(w.reason, Some(Reason::GateClosed));
        assert_eq!(
            w.shown_cause().as_deref(),
            Some("not started: the image gate closed (the wave's cause says why)")
        );
        // A bounded caught error (ItemError keeps Error and a fixed Cause) shows both.
        let w: WorkspaceResult = serde_json::from_value(serde_json::json!({
            "sourceWorkspaceId": "ws-2", "status": "FAILED",
            "error": {"Error": "AccessDenied", "Cause": "the full cause is in this item's FAILED Migration Progress event and in the execution history"}
        }))
        .unwrap();
        assert_eq!(
            w.shown_cause().as_deref(),
            Some(
                "AccessDenied: the full cause is in this item's FAILED Migration Progress event and in the execution history"
            )
        );
    }

    #[test]
    fn an_aws_error_s_message_reads_back_as_its_code_and_message() {
        let e = AwsError {
            kind: ErrorKind::LimitExceeded,
            operation: "CreateStandbyWorkspaces",
            code: Some("ResourceLimitExceededException".into()),
            message: "too many: see quotas".into(),
        };
        assert_eq!(
            Cause::from_aws_error_message(&e.to_string()),
            Some(Cause {
                code: "ResourceLimitExceededException".into(),
                message: Some("too many: see quotas".into())
            })
        );
        // Without a service code there is nothing to read back.
        let e = AwsError { code: None, ..e };
        assert_eq!(Cause::from_aws_error_message(&e.to_string()), None);
    }

    #[test]
    fn a_caught_error_is_shown_with_its_code_once() {
        let caught = |error: &str, cause: &str| CaughtError {
            error: error.into(),
            cause: Some(cause.into()),
        };
        let aws = caught(
            "ResourceLimitExceeded",
            r#"{"errorType":"ResourceLimitExceeded","errorMessage":"CreateStandbyWorkspaces failed: ResourceLimitExceededException: quota reached"}"#,
        );
        assert_eq!(
            aws.to_cause().to_string(),
            "ResourceLimitExceededException: quota reached"
        );
        let own = caught(
            "StandbyFailed",
            r#"{"errorType":"StandbyFailed","errorMessage":"all 1 standby requests in us-west-2 failed"}"#,
        );
        assert_eq!(
            own.to_cause().to_string(),
            "StandbyFailed: all 1 standby requests in us-west-2 failed"
        );
        assert_eq!(
            caught("States.Timeout", "took too long")
                .to_cause()
                .to_string(),
            "States.Timeout: took too long"
        );
        let bare = CaughtError {
            error: "States.Runtime".into(),
            cause: None,
        };
        assert_eq!(bare.to_cause().to_string(), "States.Runtime");
    }
}

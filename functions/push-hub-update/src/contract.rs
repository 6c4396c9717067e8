//! The function's side of the contract: what each action takes and answers. The events it
//! publishes and the results it reads are `fleetshift_core::contract`'s types, shared with their
//! readers (the report, the progress bar, the tests).

use fleetshift_core::Plan;
use fleetshift_core::contract::{Adoption, HubRef, HubStatus, Status, TaskRef, WaveSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use fleetshift_core::validate as rules;
use fleetshift_core::{Violations, plan as plan_rules};

use crate::Error;

/// What the state machine asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Input {
    /// Validate the plan and register every item (state `Register`).
    Register(RegisterInput),
    /// Report one item's status (states `ReportItem*`).
    Update(UpdateInput),
    /// Publish the wave's summary with the old->new id mapping (state `Finish`).
    Finish(FinishInput),
}

/// Reads an [`Input`], naming the offending field on error.
pub fn parse_input(payload: Value) -> Result<Input, Error> {
    fleetshift_core::validate::from_json_tagged(payload, "input", Some("action"))
        .map_err(Error::InvalidInput)
}

/// `register`: the raw plan, exactly as the execution received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterInput {
    /// The wave plan; validated with [`Plan::parse`].
    pub plan: Value,
    /// The execution's own name (`$$.Execution.Name`), carried into `Wave Registered`. The plan
    /// here has the stack's DefaultConcurrency filled in, so it cannot give start-wave's name
    /// back; absent only when the function is invoked by hand, where the name is derived from
    /// `plan` as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
}

/// `update`: one item's new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateInput {
    pub wave_id: String,
    /// As returned by `register`.
    pub hub: HubRef,
    pub task: TaskRef,
    pub status: Status,
    /// Free text; cut to 2500 characters for Migration Hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// The new WorkSpace of a COMPLETED migration: carried in the event, so a consumer of the
    /// events alone knows where the WorkSpace went. (A failed migration's target id is never
    /// used: the WorkSpace keeps its original id.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
    /// Set (ReportCompleted copies start-migration's `adoption`, `null` when it was answered)
    /// when the migration was adopted after a lost MigrateWorkspace answer: carried in the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
    /// 0-100 (Migration Hub's ProgressPercent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<i64>,
    /// Raises the wave's `NextUpdateSeconds` for this update (0 to 2147483647, Migration Hub's
    /// range); a smaller value than the one derived from the plan's polling settings leaves that
    /// one (a task must not show as stale while it waits on a poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_seconds: Option<i64>,
}

/// `finish`: the plan's items and whatever results the wave's Maps returned.
///
/// The summary is built from the plan, not from the results: every planned item appears in it
/// exactly once, with its result or, when its result is missing, as FAILED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FinishInput {
    pub wave_id: String,
    /// As returned by `register` (the summary goes to EventBridge only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubRef>,
    /// The plan's WorkSpaces (`$.plan.workspaces`).
    pub planned: Vec<PlannedWorkspace>,
    /// The plan's Lex bots (`$.plan.lexBots`).
    #[serde(default)]
    pub planned_bots: Vec<PlannedBot>,
    /// The WorkSpace Map's output, read leniently: an entry that is not a
    /// [`WorkspaceResult`](fleetshift_core::contract::WorkspaceResult) (a Distributed Map child
    /// that failed outside the item's own Catch yields `{"Error", "Cause"}`) is counted as
    /// unreadable, never a parse error that would lose the summary.
    #[serde(default, deserialize_with = "lenient_list")]
    pub workspaces: Vec<Value>,
    /// The bot Map's output, read like `workspaces` (entries are
    /// [`BotResult`](fleetshift_core::contract::BotResult)s).
    #[serde(default, deserialize_with = "lenient_list")]
    pub bots: Vec<Value>,
    /// The image gate's cause (`ReportImageGate` only): stored once for the wave, in the
    /// summary's `cause`, while each item says only `reason: gateClosed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_cause: Option<String>,
}

/// A planned WorkSpace as `$.plan.workspaces` lists it; its other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedWorkspace {
    pub workspace_id: String,
}

/// A planned Lex bot as `$.plan.lexBots` lists it; its other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedBot {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
}

/// A Map's output as a list: `null` is empty, anything but an array is one (unreadable) entry.
fn lenient_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        other => vec![other],
    })
}

/// The answer; its shape depends on the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    Register(Box<RegisterOutput>),
    Update(UpdateOutput),
    Finish(FinishOutput),
}

/// `finish`'s answer: the wave's summary, the execution's output.
pub type FinishOutput = WaveSummary;

/// `register`: the normalised plan the rest of the workflow works from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterOutput {
    pub plan: Plan,
    /// Pass this to every `update`.
    pub hub: HubRef,
    pub hub_status: HubStatus,
    /// Why Migration Hub is unavailable, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error: Option<String>,
}

/// `update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOutput {
    pub hub_status: HubStatus,
    /// Always true: a failed publish is an error.
    pub event_published: bool,
    /// Why Migration Hub was not updated (`hubStatus` `unavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error: Option<String>,
    /// The `errorType` of that failure (e.g. `ThrottlingException`, `HubUnavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_error_type: Option<String>,
}

/// The rules every action's `waveId` follows (the plan's).
pub(crate) fn check_wave_id(v: &mut Violations, wave_id: &str) {
    v.length("waveId", wave_id, 1, plan_rules::MAX_WAVE_ID_LEN);
    v.pattern("waveId", wave_id, &rules::WAVE_ID);
}

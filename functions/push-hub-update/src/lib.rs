//! push-hub-update: reports a wave's progress to its sinks.
//!
//! Called by the states `Register` (action `register`), `ReportItem*` (action `update`) and
//! `Finish` (action `finish`) of the fleet-migration state machine.
//!
//! Two sinks:
//! - **EventBridge** (always): every action publishes an event with source `fleetshift` on the
//!   stack's bus. Events are the always-on sink, so a failed `PutEvents` is an error the state
//!   machine retries.
//! - **Migration Hub** (optional): Migration Hub is closed to new customers since 2025-11-07, so it
//!   is used only when the plan or the stack enables it, and it degrades. In `register`, when the
//!   account has no home Region (`HomeRegionNotSetException`) or the role may not call it
//!   (`AccessDenied`), the function reports `hubStatus: "unavailable"`, still publishes the event
//!   and still succeeds; throttling and server errors stay errors there (the state machine retries
//!   them, before any WorkSpace is touched). In `update`, every Hub failure degrades (after the
//!   SDK's own retries): a Hub outage must neither stop a migration nor lose an item's final state,
//!   and the event carries `hubError` and `hubErrorType`.
//!
//! Migration Hub's limits are respected here: task names carry WorkSpace ids and bot names, never
//! user names; `StatusDetail` is cut to 2500 characters; `ProgressPercent` is kept in 0-100; and
//! `NextUpdateSeconds` is derived from the plan's polling settings so that a task waiting on a poll
//! (plus retry backoff) is never shown as stale.

use std::collections::HashSet;

use aws_config::{Region, SdkConfig};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_migrationhub::operation::create_progress_update_stream::CreateProgressUpdateStreamError;
use aws_sdk_migrationhub::operation::import_migration_task::ImportMigrationTaskError;
use aws_sdk_migrationhub::operation::notify_migration_task_state::NotifyMigrationTaskStateError;
use aws_sdk_migrationhub::types::{Status, Task};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use fleetshift_core::plan::{self, Polling};
use fleetshift_core::validate::{self as rules};
use fleetshift_core::{AwsError, ErrorKind, Plan, Violations, error_type, events};
use futures_util::{TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{info, warn};

/// Migration Hub's limit on `StatusDetail`, in characters.
pub const MAX_STATUS_DETAIL_CHARS: usize = 2500;
/// Added to the longest silent period of a task when computing `NextUpdateSeconds`: the state
/// machine's retriers (exponential backoff, capped delays, several attempts) can hold a task this
/// much longer before its next report.
pub const BACKOFF_ALLOWANCE_SECONDS: u32 = 1800;
/// The MigrateBots Map's MaxConcurrency in the state machine.
pub const BOT_CONCURRENCY: u32 = 2;
/// Migration Hub calls in flight at once while registering a wave: Migration Hub throttles per
/// account, and registration is not urgent.
pub const HUB_CONCURRENCY: usize = 4;
/// EventBridge's limit on one entry and on one `PutEvents` request, in bytes.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Detail budget of one event: the entry limit minus room for source, detail-type and time.
pub const DETAIL_BUDGET_BYTES: usize = 250_000;
/// EventBridge's limit on entries per `PutEvents` request.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;
/// Failures listed by name in the finish summary; the rest are counted.
const SUMMARY_LISTED_FAILURES: usize = 10;
/// Longest cause quoted per failure in the finish summary, in characters.
const SUMMARY_CAUSE_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Input and output
// ---------------------------------------------------------------------------------------------

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

/// `register`: the raw plan, exactly as the execution received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterInput {
    /// The wave plan; validated with [`Plan::parse`].
    pub plan: Value,
}

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
    /// `NextUpdateSeconds` for every task of the wave, derived from the plan's polling settings
    /// (see [`next_update_seconds`]). Added by `register`; absent means the default polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_seconds: Option<u32>,
}

fn default_stream() -> String {
    plan::DEFAULT_PROGRESS_UPDATE_STREAM.to_owned()
}

/// One item of the wave, named by ids only (never by user names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum TaskRef {
    /// A WorkSpace, by its source WorkSpace id.
    Workspace { id: String },
    /// A Lex V1 bot version.
    LexBot { id: String, version: String },
}

/// A Migration Hub task status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProgressStatus {
    NotStarted,
    InProgress,
    Failed,
    Completed,
}

impl ProgressStatus {
    fn hub(self) -> Status {
        match self {
            ProgressStatus::NotStarted => Status::NotStarted,
            ProgressStatus::InProgress => Status::InProgress,
            ProgressStatus::Failed => Status::Failed,
            ProgressStatus::Completed => Status::Completed,
        }
    }
}

/// `update`: one item's new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateInput {
    pub wave_id: String,
    /// As returned by `register`.
    pub hub: HubRef,
    pub task: TaskRef,
    pub status: ProgressStatus,
    /// Free text; cut to 2500 characters for Migration Hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// The new WorkSpace of a COMPLETED migration: carried in the event, so a consumer of the
    /// events alone knows where the WorkSpace went. (A failed migration's target id is never
    /// used: the WorkSpace keeps its original id.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
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
    /// The plan's WorkSpaces (`$.plan.workspaces`). Absent (a caller that predates it), the
    /// readable results stand for the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<Vec<PlannedWorkspace>>,
    /// The plan's Lex bots (`$.plan.lexBots`); absent likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_bots: Option<Vec<PlannedBot>>,
    /// The WorkSpace Map's output, read leniently: an entry that is not an [`ItemResult`] (a
    /// Distributed Map child that failed outside the item's own Catch yields `{"Error", "Cause"}`)
    /// is counted as unreadable, never a parse error that would lose the summary.
    #[serde(default, deserialize_with = "lenient_list")]
    pub workspaces: Vec<Value>,
    /// The bot Map's output, read like `workspaces` (entries are [`BotResult`]s).
    #[serde(default, deserialize_with = "lenient_list")]
    pub bots: Vec<Value>,
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

/// The result of one WorkSpace's migration. Extra fields a Map iteration carries are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    pub source_workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
    /// `COMPLETED` or `FAILED` (anything but `COMPLETED` counts as failed).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The create-standby result for this WorkSpace, passed through to the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<Value>,
}

/// The result of one Lex bot's migration. Extra fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotResult {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_bot_id: Option<String>,
    /// `COMPLETED` or `FAILED` (anything but `COMPLETED` counts as failed).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What happened in Migration Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HubStatus {
    /// `register`: the stream exists and every task is imported as NOT_STARTED.
    Registered,
    /// `update`: the task's state was sent.
    Updated,
    /// Migration Hub is not enabled for this wave.
    Disabled,
    /// Migration Hub could not be used (home Region not set, access denied): events only.
    Unavailable,
}

/// The answer; its shape depends on the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    Register(Box<RegisterOutput>),
    Update(UpdateOutput),
    Finish(FinishOutput),
}

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

/// `finish`: the wave's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishOutput {
    pub wave_id: String,
    /// Items (WorkSpaces and bots) in the wave.
    pub total: usize,
    pub completed: usize,
    pub failed: usize,
    /// Old -> new WorkSpace ids.
    pub mapping: Vec<MappingEntry>,
    pub bots: Vec<BotResult>,
    /// One line, e.g. `3 of 50 WorkSpaces and 1 of 2 bots failed: ws-..: cause; ...`.
    pub cause: String,
    /// How many events carried the summary (more than one when it exceeds an event's size).
    pub events_published: usize,
    /// COMPLETED WorkSpaces whose standby was not created (a caught error or failed requests):
    /// the migration stands, but the wave fails because the operator asked for the standby.
    pub standby_failed: usize,
    /// Result entries that were not item results (counted, since they name no item).
    pub unreadable: usize,
    /// Results for items the plan does not list (reported in `mapping`/`bots`, not in `total`).
    pub unplanned: usize,
}

/// One WorkSpace's old and new id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingEntry {
    pub source_workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workspace_id: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The failure classes the state machine routes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (or the plan in it) is invalid; nothing was called.
    #[error("invalid input: {0}")]
    InvalidInput(Violations),
    /// Migration Hub or EventBridge failed in a way that is not a degradation.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        let error_type = match &err {
            Error::InvalidInput(_) => error_type::INVALID_PLAN,
            Error::Aws(e) => e.kind.error_type(),
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------

/// The stack's settings (environment of the Lambda function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `HUB_ENABLED`: the default when the plan does not say.
    pub hub_enabled: bool,
    /// `HUB_HOME_REGION`: the account's Migration Hub home Region (default: the function's Region).
    pub home_region: Option<String>,
    /// `EVENT_BUS_NAME` (default `default`).
    pub event_bus_name: String,
    /// `STANDBY_REGION`: the stack's StandbyRegion, the only Region its create-standby function may
    /// create standby WorkSpaces in (none: any Region but the primary).
    pub standby_region: Option<String>,
    /// `STANDBY_KMS_KEY_ARN`: the stack's StandbyKmsKeyArn, the only key create-standby may let
    /// WorkSpaces use for an encrypted standby (none: no encrypted standbys).
    pub standby_kms_key_arn: Option<String>,
    /// `LEX_MIGRATION_ENABLED`: the stack's LexMigrationEnabled. Off (the default), start-migration
    /// has no Lex permission at all, so a plan with `lexBots` is refused at registration.
    pub lex_migration_enabled: bool,
    /// `LEX_V2_BOT_ROLE_ARN`: the stack's LexV2BotRoleArn, the only role start-migration may pass
    /// to Lex V2 (its `iam:PassRole` grant names just this role).
    pub lex_v2_bot_role_arn: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hub_enabled: false,
            home_region: None,
            event_bus_name: "default".to_owned(),
            standby_region: None,
            standby_kms_key_arn: None,
            lex_migration_enabled: false,
            lex_v2_bot_role_arn: None,
        }
    }
}

impl Settings {
    /// Reads `HUB_ENABLED`, `HUB_HOME_REGION`, `EVENT_BUS_NAME`, `STANDBY_REGION`,
    /// `STANDBY_KMS_KEY_ARN`, `LEX_MIGRATION_ENABLED` and `LEX_V2_BOT_ROLE_ARN`, naming the variable
    /// that is wrong.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Settings::from_env`], from any lookup (testable without touching the environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| match non_empty(name).as_deref().map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(format!(
                "environment variable {name} must be \"true\" or \"false\" (is {v:?})"
            )),
        };
        let hub_enabled = flag("HUB_ENABLED")?;
        let lex_migration_enabled = flag("LEX_MIGRATION_ENABLED")?;
        let home_region = non_empty("HUB_HOME_REGION").map(|r| r.trim().to_owned());
        if let Some(r) = &home_region
            && !rules::REGION.is_match(r)
        {
            return Err(format!(
                "environment variable HUB_HOME_REGION must be a Region name such as us-west-2 (is {r:?})"
            ));
        }
        let event_bus_name = non_empty("EVENT_BUS_NAME").unwrap_or_else(|| "default".to_owned());
        let standby_region = non_empty("STANDBY_REGION").map(|r| r.trim().to_owned());
        if let Some(r) = &standby_region
            && !rules::REGION.is_match(r)
        {
            return Err(format!(
                "environment variable STANDBY_REGION must be a Region name such as us-west-2 (is {r:?})"
            ));
        }
        let arn = |name: &str, service: &str, what: &str| {
            let v = non_empty(name).map(|v| v.trim().to_owned());
            match &v {
                Some(a) if !is_arn_of(a, service) => Err(format!(
                    "environment variable {name} must be {what} (is {a:?})"
                )),
                _ => Ok(v),
            }
        };
        let standby_kms_key_arn = arn("STANDBY_KMS_KEY_ARN", "kms", "a KMS key ARN")?;
        let lex_v2_bot_role_arn = arn("LEX_V2_BOT_ROLE_ARN", "iam", "an IAM role ARN")?;
        Ok(Settings {
            hub_enabled,
            home_region,
            event_bus_name,
            standby_region,
            standby_kms_key_arn,
            lex_migration_enabled,
            lex_v2_bot_role_arn,
        })
    }
}

/// The clients the handler calls, built once per process.
#[derive(Clone, Debug)]
pub struct Deps {
    /// Migration Hub in the stack's home Region (another Region is derived from it on demand).
    pub hub: aws_sdk_migrationhub::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub settings: Settings,
}

impl Deps {
    /// Builds the clients from a loaded configuration.
    pub fn from_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let hub = match &settings.home_region {
            Some(region) => fleetshift_core::clients::migration_hub(sdk, region),
            None => aws_sdk_migrationhub::Client::new(sdk),
        };
        // `register` makes one Hub call per item: let each call ride out throttling rather than
        // have Step Functions redo the whole batch (keeps the configured backoff, raises attempts).
        let retry = hub
            .config()
            .retry_config()
            .cloned()
            .unwrap_or_else(fleetshift_core::clients::retry_config)
            .with_max_attempts(fleetshift_core::clients::BULK_SDK_MAX_ATTEMPTS);
        let hub = aws_sdk_migrationhub::Client::from_conf(
            hub.config().to_builder().retry_config(retry).build(),
        );
        Deps {
            hub,
            events: fleetshift_core::clients::eventbridge(sdk),
            settings,
        }
    }

    /// The Migration Hub home Region when neither the plan nor the stack names one.
    fn default_home_region(&self) -> Option<String> {
        self.settings
            .home_region
            .clone()
            .or_else(|| self.hub.config().region().map(|r| r.to_string()))
    }

    /// A Migration Hub client for `region` (the plan may name another home Region than the stack).
    fn hub_in(&self, region: Option<&str>) -> aws_sdk_migrationhub::Client {
        let current = self.hub.config().region().map(|r| r.as_ref());
        match region {
            Some(r) if Some(r) != current => aws_sdk_migrationhub::Client::from_conf(
                self.hub
                    .config()
                    .to_builder()
                    .region(Region::new(r.to_owned()))
                    .build(),
            ),
            _ => self.hub.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handler
// ---------------------------------------------------------------------------------------------

/// Parses the raw Lambda payload (a malformed payload is `InvalidPlan` naming the field, not a
/// runtime deserialisation error no retrier matches) and runs [`handler`].
pub async fn handle(payload: Value, deps: &Deps) -> Result<Output, Error> {
    let input = parse_input(payload)?;
    handler(input, deps).await
}

/// Reads an [`Input`], naming the offending field on error.
pub fn parse_input(payload: Value) -> Result<Input, Error> {
    fleetshift_core::validate::from_json_tagged(payload, "input", Some("action"))
        .map_err(Error::InvalidInput)
}

/// Runs one action.
#[tracing::instrument(skip(deps))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    match input {
        Input::Register(i) => register(i, deps)
            .await
            .map(|o| Output::Register(Box::new(o))),
        Input::Update(i) => update(i, deps).await.map(Output::Update),
        Input::Finish(i) => finish(i, deps).await.map(Output::Finish),
    }
}

async fn register(input: RegisterInput, deps: &Deps) -> Result<RegisterOutput, Error> {
    let plan = Plan::parse(&input.plan).map_err(Error::InvalidInput)?;
    check_against_stack(&plan, deps).map_err(Error::InvalidInput)?;
    let mut hub = HubRef {
        enabled: plan.hub_enabled(deps.settings.hub_enabled),
        home_region: plan
            .hub
            .home_region
            .clone()
            .or_else(|| deps.default_home_region()),
        progress_update_stream: plan.hub.progress_update_stream.clone(),
        next_update_seconds: Some(next_update_seconds(&plan.polling)),
    };
    let tasks = task_names(&plan);
    let (hub_status, hub_error) = if hub.enabled {
        match register_in_hub(&hub, &tasks, not_started_next_update_seconds(&plan), deps).await {
            Ok(()) => {
                info!(wave_id = %plan.wave_id, tasks = tasks.len(), "registered in Migration Hub");
                (HubStatus::Registered, None)
            }
            Err(e) if degrades(&e) => {
                warn!(wave_id = %plan.wave_id, error = %e, "Migration Hub unavailable: reporting to EventBridge only");
                hub.enabled = false;
                (HubStatus::Unavailable, Some(e.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        (HubStatus::Disabled, None)
    };

    let items: Vec<Value> = plan
        .workspaces
        .iter()
        .map(|w| {
            json!({
                "workspaceId": w.workspace_id,
                "bundleId": w.bundle_id,
                "taskName": plan::workspace_task_name(&plan.wave_id, &w.workspace_id),
            })
        })
        .collect();
    let bots: Vec<Value> = plan
        .lex_bots
        .iter()
        .map(|b| {
            json!({
                "v1BotName": b.v1_bot_name,
                "v1BotVersion": b.v1_bot_version,
                "taskName": plan::bot_task_name(&plan.wave_id, &b.v1_bot_name, &b.v1_bot_version),
            })
        })
        .collect();
    let mut base = json!({
        "waveId": plan.wave_id,
        "executionName": plan.execution_name(),
        "hub": hub,
        "hubStatus": hub_status,
    });
    if let Some(e) = &hub_error {
        base["hubError"] = json!(e);
    }
    let details = split_detail(base, vec![("workspaces", items), ("lexBots", bots)]);
    publish(deps, events::WAVE_REGISTERED, details).await?;

    Ok(RegisterOutput {
        plan,
        hub,
        hub_status,
        hub_error,
    })
}

async fn update(input: UpdateInput, deps: &Deps) -> Result<UpdateOutput, Error> {
    validate_update(&input).map_err(Error::InvalidInput)?;
    let task_name = match &input.task {
        TaskRef::Workspace { id } => plan::workspace_task_name(&input.wave_id, id),
        TaskRef::LexBot { id, version } => plan::bot_task_name(&input.wave_id, id, version),
    };
    let detail = input
        .status_detail
        .as_deref()
        .map(|d| truncate_chars(d, MAX_STATUS_DETAIL_CHARS));
    // Both in range: validate_update checked them.
    let percent = input.progress_percent.map(|p| p as i32);
    let derived = input
        .hub
        .next_update_seconds
        .unwrap_or_else(|| next_update_seconds(&Polling::default()));
    let next = input
        .next_update_seconds
        .map_or(i64::from(derived), |n| n.max(i64::from(derived)))
        .min(i64::from(i32::MAX)) as i32;

    let (hub_status, hub_error) = if input.hub.enabled {
        let client = deps.hub_in(input.hub.home_region.as_deref());
        let report = TaskReport {
            stream: &input.hub.progress_update_stream,
            name: &task_name,
            status: input.status,
            detail: detail.as_deref(),
            percent,
            next_update_seconds: next,
        };
        // An update never fails on Migration Hub: the Hub is an optional mirror, and failing here
        // would stop the item (ReportStarted) or lose its final state (ReportCompleted/Failed)
        // although EventBridge, the sink of record, can still take it. The SDK has already retried
        // transient errors (BULK_SDK_MAX_ATTEMPTS); what is left is reported with the event.
        match notify_or_import(&client, &report).await {
            Ok(()) => (HubStatus::Updated, None),
            Err(e) => {
                warn!(
                    task = %task_name,
                    error_type = e.kind.error_type(),
                    error = %e,
                    "Migration Hub not updated: reporting to EventBridge only"
                );
                (HubStatus::Unavailable, Some(e))
            }
        }
    } else {
        (HubStatus::Disabled, None)
    };

    let mut event = json!({
        "waveId": input.wave_id,
        "taskName": task_name,
        "task": input.task,
        "status": input.status,
        "updatedAt": now_rfc3339(),
        "hubStatus": hub_status,
    });
    if let Some(e) = &hub_error {
        event["hubError"] = json!(e.to_string());
        event["hubErrorType"] = json!(e.kind.error_type());
    }
    if let Some(d) = &detail {
        event["statusDetail"] = json!(d);
    }
    if let Some(p) = percent {
        event["progressPercent"] = json!(p);
    }
    if let Some(t) = &input.target_workspace_id {
        event["targetWorkspaceId"] = json!(t);
    }
    publish(deps, events::ITEM_PROGRESS, vec![event]).await?;
    info!(task = %task_name, status = ?input.status, hub_status = ?hub_status, "progress reported");
    Ok(UpdateOutput {
        hub_status,
        event_published: true,
        hub_error_type: hub_error.as_ref().map(|e| e.kind.error_type().to_owned()),
        hub_error: hub_error.map(|e| e.to_string()),
    })
}

/// Cause of a planned item the wave returned no result for.
pub const NO_RESULT_CAUSE: &str =
    "no result reported: its iteration failed outside the item's own error handling";

async fn finish(input: FinishInput, deps: &Deps) -> Result<FinishOutput, Error> {
    validate_finish(&input).map_err(Error::InvalidInput)?;
    let ws = reconcile(
        input
            .planned
            .as_ref()
            .map(|p| p.iter().map(|w| w.workspace_id.clone()).collect()),
        &input.workspaces,
        |r: &ItemResult| r.source_workspace_id.clone(),
        |id| ItemResult {
            source_workspace_id: id.clone(),
            target_workspace_id: None,
            status: "FAILED".to_owned(),
            cause: Some(NO_RESULT_CAUSE.to_owned()),
            standby: None,
        },
    );
    let bots = reconcile(
        input.planned_bots.as_ref().map(|p| {
            p.iter()
                .map(|b| (b.v1_bot_name.clone(), b.v1_bot_version.clone()))
                .collect()
        }),
        &input.bots,
        |r: &BotResult| (r.v1_bot_name.clone(), r.v1_bot_version.clone()),
        |(name, version)| BotResult {
            v1_bot_name: name.clone(),
            v1_bot_version: version.clone(),
            migration_id: None,
            v2_bot_id: None,
            status: "FAILED".to_owned(),
            cause: Some(NO_RESULT_CAUSE.to_owned()),
        },
    );
    let standby_failures: Vec<(&ItemResult, String)> = ws
        .rows
        .iter()
        .filter(|(r, _)| is_done(&r.status))
        .filter_map(|(r, _)| Some((r, standby_failure(r.standby.as_ref()?)?)))
        .collect();
    let total = ws.total() + bots.total();
    let failed = ws.failed() + bots.failed();
    let unreadable = ws.unreadable.len() + bots.unreadable.len();
    let unplanned = ws.unplanned().count() + bots.unplanned().count();
    let cause = summary(&ws, &bots, &standby_failures);

    let mapping: Vec<MappingEntry> = ws
        .rows
        .iter()
        .map(|(w, _)| MappingEntry {
            source_workspace_id: w.source_workspace_id.clone(),
            target_workspace_id: w.target_workspace_id.clone(),
            status: w.status.clone(),
            cause: w
                .cause
                .as_deref()
                .map(|c| truncate_chars(c, MAX_STATUS_DETAIL_CHARS)),
        })
        .collect();
    let items: Vec<Value> = ws
        .rows
        .iter()
        .zip(&mapping)
        .map(|((w, _), m)| {
            let mut v = json!(m);
            if let Some(s) = &w.standby {
                v["standby"] = s.clone();
            }
            v
        })
        .collect();
    let bot_rows: Vec<BotResult> = bots.rows.into_iter().map(|(b, _)| b).collect();
    let bot_items: Vec<Value> = bot_rows.iter().map(|b| json!(b)).collect();
    let base = json!({
        "waveId": input.wave_id,
        "total": total,
        "completed": total - failed,
        "failed": failed,
        "standbyFailed": standby_failures.len(),
        "unreadable": unreadable,
        "unplanned": unplanned,
        "cause": cause,
    });
    let details = split_detail(base, vec![("mapping", items), ("bots", bot_items)]);
    let events_published = details.len();
    publish(deps, events::WAVE_FINISHED, details).await?;
    info!(
        wave_id = %input.wave_id,
        total,
        failed,
        standby_failed = standby_failures.len(),
        unreadable,
        unplanned,
        "wave finished"
    );

    Ok(FinishOutput {
        wave_id: input.wave_id,
        total,
        completed: total - failed,
        failed,
        mapping,
        bots: bot_rows,
        cause,
        events_published,
        standby_failed: standby_failures.len(),
        unreadable,
        unplanned,
    })
}

fn is_done(status: &str) -> bool {
    status == "COMPLETED"
}

/// An item's result row: planned (or, with no plan given, standing for the plan) or not.
type Row<T> = (T, bool);

/// The results of one Map matched against the plan's items.
struct Reconciled<T> {
    /// In plan order, then the results for items not in the plan. A planned item without a
    /// result has a FAILED row of its own.
    rows: Vec<Row<T>>,
    /// Planned items; with no plan given, the distinct readable results plus the unreadable ones
    /// (each of those stands for an item that cannot be named).
    planned: usize,
    /// Planned items none of whose rows is COMPLETED.
    planned_failed: usize,
    /// Entries that were not results.
    unreadable: Vec<Value>,
}

impl<T> Reconciled<T> {
    fn total(&self) -> usize {
        self.planned
    }

    fn failed(&self) -> usize {
        self.planned_failed
    }

    fn unplanned(&self) -> impl Iterator<Item = &T> {
        self.rows.iter().filter(|(_, p)| !p).map(|(r, _)| r)
    }
}

trait HasStatus {
    fn status(&self) -> &str;
}

impl HasStatus for ItemResult {
    fn status(&self) -> &str {
        &self.status
    }
}

impl HasStatus for BotResult {
    fn status(&self) -> &str {
        &self.status
    }
}

fn reconcile<T, K>(
    planned: Option<Vec<K>>,
    results: &[Value],
    key: impl Fn(&T) -> K,
    missing: impl Fn(&K) -> T,
) -> Reconciled<T>
where
    T: serde::de::DeserializeOwned + HasStatus,
    K: PartialEq + Clone,
{
    let mut readable: Vec<Option<T>> = Vec::new();
    let mut unreadable = Vec::new();
    for v in results {
        match serde_json::from_value::<T>(v.clone()) {
            Ok(r) => readable.push(Some(r)),
            Err(e) => {
                warn!(error = %e, "a Map result is not an item result");
                unreadable.push(v.clone());
            }
        }
    }
    let given = planned.is_some();
    let keys: Vec<K> = planned.unwrap_or_else(|| {
        let mut keys: Vec<K> = Vec::new();
        for k in readable.iter().flatten().map(&key) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    });
    let mut rows = Vec::new();
    let mut planned_failed = 0;
    for k in &keys {
        let mut found: Vec<T> = Vec::new();
        for slot in readable.iter_mut() {
            if slot.as_ref().is_some_and(|r| key(r) == *k)
                && let Some(r) = slot.take()
            {
                found.push(r);
            }
        }
        if found.is_empty() {
            found.push(missing(k));
        }
        if !found.iter().any(|r| is_done(r.status())) {
            planned_failed += 1;
        }
        rows.extend(found.into_iter().map(|r| (r, true)));
    }
    rows.extend(readable.into_iter().flatten().map(|r| (r, false)));
    let (planned, planned_failed) = if given {
        (keys.len(), planned_failed)
    } else {
        (
            keys.len() + unreadable.len(),
            planned_failed + unreadable.len(),
        )
    };
    Reconciled {
        rows,
        planned,
        planned_failed,
        unreadable,
    }
}

/// Why a COMPLETED WorkSpace has no standby, if it has none: the create-standby state's caught
/// error (`{"Error", "Cause"}`) or its failed requests.
fn standby_failure(standby: &Value) -> Option<String> {
    if let Some(error) = standby.get("Error") {
        let error = error.as_str().unwrap_or("error");
        return Some(match standby.get("Cause").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => format!("{error}: {}", lambda_message(c)),
            _ => error.to_owned(),
        });
    }
    let failed = standby.get("failed")?.as_array()?;
    if failed.is_empty() {
        return None;
    }
    Some(
        failed
            .iter()
            .map(|f| {
                let field = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default();
                format!("{}: {}", field("errorCode"), field("errorMessage"))
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The message of a caught Lambda error, whose `Cause` is the function's error payload as JSON.
fn lambda_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c.get("errorMessage")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn check_wave_id(v: &mut Violations, wave_id: &str) {
    v.length("waveId", wave_id, 1, plan::MAX_WAVE_ID_LEN);
    v.pattern("waveId", wave_id, &rules::WAVE_ID);
}

fn check_hub(v: &mut Violations, hub: &HubRef) {
    v.length(
        "hub.progressUpdateStream",
        &hub.progress_update_stream,
        1,
        50,
    );
    v.pattern(
        "hub.progressUpdateStream",
        &hub.progress_update_stream,
        &rules::PROGRESS_UPDATE_STREAM,
    );
    if let Some(r) = &hub.home_region {
        v.pattern("hub.homeRegion", r, &rules::REGION);
    }
}

fn validate_update(input: &UpdateInput) -> Result<(), Violations> {
    let mut v = Violations::default();
    check_wave_id(&mut v, &input.wave_id);
    check_hub(&mut v, &input.hub);
    if let Some(p) = input.progress_percent {
        v.range("progressPercent", p, 0, 100);
    }
    if let Some(t) = &input.target_workspace_id {
        if matches!(input.task, TaskRef::LexBot { .. }) {
            v.push(
                "targetWorkspaceId",
                "only a WorkSpace task has a new WorkSpace id",
            );
        }
        v.pattern("targetWorkspaceId", t, &rules::WORKSPACE_ID);
    }
    if let Some(n) = input.next_update_seconds {
        v.range("nextUpdateSeconds", n, 0, i64::from(i32::MAX));
    }
    match &input.task {
        TaskRef::Workspace { id } => v.pattern("task.id", id, &rules::WORKSPACE_ID),
        TaskRef::LexBot { id, version } => {
            v.length("task.id", id, 2, 50);
            v.pattern("task.id", id, &rules::LEX_BOT_NAME);
            v.length("task.version", version, 1, 64);
            v.pattern("task.version", version, &rules::LEX_BOT_VERSION);
        }
    }
    v.into_result()
}

/// Only the wave id: the results are read leniently (see [`FinishInput`]).
fn validate_finish(input: &FinishInput) -> Result<(), Violations> {
    let mut v = Violations::default();
    check_wave_id(&mut v, &input.wave_id);
    v.into_result()
}

// ---------------------------------------------------------------------------------------------
// Migration Hub
// ---------------------------------------------------------------------------------------------

/// `NextUpdateSeconds` for a wave: after that long without an update Migration Hub shows a task
/// as stale, so it must exceed the longest time a healthy task goes without a report, plus the
/// state machine's retry backoff. A task is silent while it waits: for the BYOL image import
/// (NOT_STARTED, up to the image deadline plus one poll), for its migration (IN_PROGRESS, up to the
/// migration or bot deadline plus one poll, since the poll that notices the deadline comes after
/// it), and between any two polls.
pub fn next_update_seconds(p: &Polling) -> u32 {
    let longest_poll = p
        .migration_first_check_seconds
        .max(p.migration_interval_seconds)
        .max(p.image_poll_seconds)
        .max(p.bot_poll_seconds);
    let waits = [
        longest_poll,
        p.image_deadline_minutes.saturating_mul(60) + p.image_poll_seconds,
        p.migration_deadline_minutes.saturating_mul(60) + p.migration_interval_seconds,
        p.bot_deadline_minutes.saturating_mul(60) + p.bot_poll_seconds,
    ];
    let longest = waits.into_iter().max().unwrap_or(longest_poll);
    longest
        .saturating_add(BACKOFF_ALLOWANCE_SECONDS)
        .min(i32::MAX as u32)
}

/// `NextUpdateSeconds` of the NOT_STARTED report `register` makes for every item: the last item of
/// the wave waits that long before its first update, so none shows as stale while it queues. The
/// wave waits on the image gate, then runs its WorkSpaces `maxConcurrency` at a time (each taking
/// up to the migration deadline plus one poll), then its Lex bots two at a time.
pub fn not_started_next_update_seconds(plan: &Plan) -> u32 {
    let p = &plan.polling;
    let rounds = |items: usize, at_once: u32| (items as u64).div_ceil(u64::from(at_once.max(1)));
    let image = if plan.image.is_some() {
        u64::from(p.image_deadline_minutes) * 60 + u64::from(p.image_poll_seconds)
    } else {
        0
    };
    let workspaces = rounds(plan.workspaces.len(), plan.max_concurrency)
        * (u64::from(p.migration_deadline_minutes) * 60 + u64::from(p.migration_interval_seconds));
    let bots = rounds(plan.lex_bots.len(), BOT_CONCURRENCY)
        * (u64::from(p.bot_deadline_minutes) * 60 + u64::from(p.bot_poll_seconds));
    let queued = image + workspaces + bots + u64::from(BACKOFF_ALLOWANCE_SECONDS);
    queued
        .max(u64::from(next_update_seconds(p)))
        .min(i32::MAX as u64) as u32
}

/// The task names of every item of a plan (ids only: no personal data).
fn task_names(plan: &Plan) -> Vec<String> {
    let ws = plan
        .workspaces
        .iter()
        .map(|w| plan::workspace_task_name(&plan.wave_id, &w.workspace_id));
    let bots = plan
        .lex_bots
        .iter()
        .map(|b| plan::bot_task_name(&plan.wave_id, &b.v1_bot_name, &b.v1_bot_version));
    let mut seen = HashSet::new();
    ws.chain(bots).filter(|n| seen.insert(n.clone())).collect()
}

/// The plan against what this stack's roles may do, before any WorkSpace is touched: otherwise
/// every WorkSpace would migrate and only then every standby (or bot) fail with AccessDenied.
fn check_against_stack(plan: &Plan, deps: &Deps) -> Result<(), Violations> {
    let primary = deps.events.config().region().map(|r| r.as_ref().to_owned());
    stack_violations(plan, primary.as_deref(), &deps.settings).into_result()
}

/// Every rule the stack's parameters put on a plan (kept apart from the clients for tests).
fn stack_violations(plan: &Plan, primary: Option<&str>, settings: &Settings) -> Violations {
    let mut v = Violations::default();
    if let Some(standby) = &plan.standby {
        standby.check_region(
            "standby",
            primary,
            settings.standby_region.as_deref(),
            &mut v,
        );
        // create-standby's role may let WorkSpaces use only the stack's StandbyKmsKeyArn
        // (kms:CreateGrant and kms:DescribeKey on that key); any other key would fail on AWS.
        if let Some(key) = &standby.volume_encryption_key {
            match settings.standby_kms_key_arn.as_deref() {
                None => v.push(
                    "standby.volumeEncryptionKey",
                    "is not allowed: the stack has no StandbyKmsKeyArn, so create-standby may not use a KMS key (deploy with StandbyKmsKeyArn set to this key's ARN)",
                ),
                Some(allowed) if allowed != key => v.push(
                    "standby.volumeEncryptionKey",
                    format!(
                        "must be {allowed}, the stack's StandbyKmsKeyArn (the only key create-standby may use; give its full ARN) (is {key})"
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    if !plan.lex_bots.is_empty() && !settings.lex_migration_enabled {
        v.push(
            "lexBots",
            "must be empty: the stack's LexMigrationEnabled is false, so start-migration has no Lex permission (deploy with LexMigrationEnabled=true and LexV2BotRoleArn to migrate bots)",
        );
    } else {
        for (i, bot) in plan.lex_bots.iter().enumerate() {
            let field = format!("lexBots[{i}].v2BotRole");
            match settings.lex_v2_bot_role_arn.as_deref() {
                None => v.push(
                    field,
                    "is not allowed: the stack has no LexV2BotRoleArn, so start-migration may pass no role to Lex V2",
                ),
                Some(allowed) if allowed != bot.v2_bot_role => v.push(
                    field,
                    format!(
                        "must be {allowed}, the stack's LexV2BotRoleArn (the only role start-migration may pass to Lex V2) (is {})",
                        bot.v2_bot_role
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    v
}

/// Whether `arn` is an ARN of `service` (`arn:<partition>:<service>:...`).
fn is_arn_of(arn: &str, service: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && parts[2] == service
}

/// Whether a Migration Hub failure means "use events only" rather than "fail the state".
fn degrades(e: &AwsError) -> bool {
    matches!(e.kind, ErrorKind::HubUnavailable | ErrorKind::AccessDenied)
}

async fn register_in_hub(
    hub: &HubRef,
    tasks: &[String],
    next: u32,
    deps: &Deps,
) -> Result<(), AwsError> {
    let client = deps.hub_in(hub.home_region.as_deref());
    let stream_name = hub.progress_update_stream.as_str();
    // Creating an existing stream succeeds, so "create if missing" needs no lookup first.
    client
        .create_progress_update_stream()
        .progress_update_stream_name(stream_name)
        .send()
        .await
        .map_err(|e| hub_error("CreateProgressUpdateStream", &e))?;
    let next = next.min(i32::MAX as u32) as i32;
    stream::iter(tasks.iter().map(Ok::<_, AwsError>))
        .try_for_each_concurrent(HUB_CONCURRENCY, |name| {
            let client = &client;
            async move {
                import_task(client, stream_name, name).await?;
                notify(
                    client,
                    &TaskReport {
                        stream: stream_name,
                        name,
                        status: ProgressStatus::NotStarted,
                        detail: Some("registered; waiting to start"),
                        percent: Some(0),
                        next_update_seconds: next,
                    },
                )
                .await
            }
        })
        .await
}

struct TaskReport<'a> {
    stream: &'a str,
    name: &'a str,
    status: ProgressStatus,
    detail: Option<&'a str>,
    percent: Option<i32>,
    next_update_seconds: i32,
}

async fn import_task(
    client: &aws_sdk_migrationhub::Client,
    stream_name: &str,
    name: &str,
) -> Result<(), AwsError> {
    client
        .import_migration_task()
        .progress_update_stream(stream_name)
        .migration_task_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hub_error("ImportMigrationTask", &e))
}

async fn notify(client: &aws_sdk_migrationhub::Client, r: &TaskReport<'_>) -> Result<(), AwsError> {
    let task = Task::builder()
        .status(r.status.hub())
        .set_status_detail(r.detail.map(str::to_owned))
        .set_progress_percent(r.percent)
        .build()
        .map_err(|e| AwsError {
            kind: ErrorKind::Unexpected,
            operation: "NotifyMigrationTaskState",
            code: None,
            message: e.to_string(),
        })?;
    client
        .notify_migration_task_state()
        .progress_update_stream(r.stream)
        .migration_task_name(r.name)
        .task(task)
        .update_date_time(DateTime::from(fleetshift_clock::now()))
        .next_update_seconds(r.next_update_seconds)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hub_error("NotifyMigrationTaskState", &e))
}

/// Notifies; a task Migration Hub does not know (registration degraded or ran against another
/// stream) is imported and notified once more.
async fn notify_or_import(
    client: &aws_sdk_migrationhub::Client,
    r: &TaskReport<'_>,
) -> Result<(), AwsError> {
    match notify(client, r).await {
        Err(e) if e.kind == ErrorKind::NotFound => {
            info!(task = %r.name, "task unknown to Migration Hub: importing it");
            import_task(client, r.stream, r.name).await?;
            notify(client, r).await
        }
        other => other,
    }
}

/// The modeled errors the Migration Hub operations share, as typed `is_*` checks.
trait HubModeledError {
    fn modeled_kind(&self) -> Option<ErrorKind>;
}

macro_rules! hub_modeled_error {
    ($ty:ty, |$e:ident| $not_found:expr) => {
        impl HubModeledError for $ty {
            fn modeled_kind(&self) -> Option<ErrorKind> {
                let $e = self;
                Some(if $e.is_home_region_not_set_exception() {
                    ErrorKind::HubUnavailable
                } else if $e.is_access_denied_exception() || $e.is_unauthorized_operation() {
                    ErrorKind::AccessDenied
                } else if $e.is_throttling_exception() {
                    ErrorKind::Throttling
                } else if $e.is_internal_server_error() || $e.is_service_unavailable_exception() {
                    ErrorKind::ServiceUnavailable
                } else if $e.is_invalid_input_exception() {
                    ErrorKind::InvalidRequest
                } else if $not_found {
                    ErrorKind::NotFound
                } else if $e.is_dry_run_operation() {
                    // Only a DryRun request (never sent here) may answer this: nothing was done.
                    ErrorKind::Unexpected
                } else {
                    return None;
                })
            }
        }
    };
}

hub_modeled_error!(CreateProgressUpdateStreamError, |_e| false);
hub_modeled_error!(ImportMigrationTaskError, |e| e
    .is_resource_not_found_exception());
hub_modeled_error!(NotifyMigrationTaskStateError, |e| e
    .is_resource_not_found_exception());

fn hub_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: HubModeledError + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let classified = match err
        .as_service_error()
        .and_then(HubModeledError::modeled_kind)
    {
        Some(kind) => AwsError::from_kind(kind, operation, err),
        None => AwsError::classify(operation, err),
    };
    warn!(operation, kind = ?classified.kind, error = %DisplayErrorContext(err), "Migration Hub call failed");
    classified
}

// ---------------------------------------------------------------------------------------------
// EventBridge
// ---------------------------------------------------------------------------------------------

/// Publishes one event per detail, packing them into as few `PutEvents` requests as the limits
/// allow (10 entries, 256 KB).
async fn publish(deps: &Deps, detail_type: &str, details: Vec<Value>) -> Result<(), AwsError> {
    let time = DateTime::from(fleetshift_clock::now());
    let entries: Vec<(usize, PutEventsRequestEntry)> = details
        .iter()
        .map(|d| {
            let detail = d.to_string();
            let size = entry_size(detail_type, &detail);
            let entry = PutEventsRequestEntry::builder()
                .source(events::SOURCE)
                .detail_type(detail_type)
                .detail(detail)
                .event_bus_name(&deps.settings.event_bus_name)
                .time(time)
                .build();
            (size, entry)
        })
        .collect();
    for batch in batches(entries) {
        let sent = batch.len();
        let out = deps
            .events
            .put_events()
            .set_entries(Some(batch))
            .send()
            .await
            .map_err(|e| {
                let classified = match e.as_service_error() {
                    Some(s) if s.is_internal_exception() => {
                        AwsError::from_kind(ErrorKind::ServiceUnavailable, "PutEvents", &e)
                    }
                    _ => AwsError::classify("PutEvents", &e),
                };
                warn!(kind = ?classified.kind, error = %DisplayErrorContext(&e), "PutEvents failed");
                classified
            })?;
        if out.failed_entry_count() > 0 {
            let first = out.entries().iter().find(|r| r.error_code().is_some());
            let code = first.and_then(|r| r.error_code()).map(str::to_owned);
            let message = format!(
                "{} of {sent} {detail_type} events rejected: {}",
                out.failed_entry_count(),
                first
                    .and_then(|r| r.error_message())
                    .unwrap_or("no message")
            );
            let kind = code
                .as_deref()
                .map(entry_error_kind)
                .unwrap_or(ErrorKind::ServiceUnavailable);
            let err = AwsError {
                kind,
                operation: "PutEvents",
                code,
                message,
            };
            warn!(kind = ?err.kind, error = %err, "EventBridge rejected events");
            return Err(err);
        }
    }
    Ok(())
}

/// The class of a rejected `PutEvents` entry. Entry failures other than permissions and malformed
/// details are transient ("retry the failed entries", says the EventBridge guide).
fn entry_error_kind(code: &str) -> ErrorKind {
    match code {
        "NotAuthorizedForSourceException" | "NotAuthorizedForDetailTypeException" => {
            ErrorKind::AccessDenied
        }
        "MalformedDetail" | "InvalidArgument" => ErrorKind::InvalidRequest,
        other => ErrorKind::from_code(other).unwrap_or(ErrorKind::ServiceUnavailable),
    }
}

/// An entry's size as EventBridge counts it (time 14 bytes, then source, detail-type and detail).
fn entry_size(detail_type: &str, detail: &str) -> usize {
    14 + events::SOURCE.len() + detail_type.len() + detail.len()
}

fn batches(entries: Vec<(usize, PutEventsRequestEntry)>) -> Vec<Vec<PutEventsRequestEntry>> {
    let mut out: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
    let mut size = 0;
    for (n, entry) in entries {
        match out.last_mut() {
            Some(b) if b.len() < MAX_ENTRIES_PER_REQUEST && size + n <= MAX_EVENT_BYTES => {
                size += n;
                b.push(entry);
            }
            _ => {
                size = n;
                out.push(vec![entry]);
            }
        }
    }
    out
}

/// Splits a detail whose lists may exceed one event into parts that each fit
/// [`DETAIL_BUDGET_BYTES`]; every part repeats `base` and carries `part` and `parts`.
fn split_detail(base: Value, lists: Vec<(&'static str, Vec<Value>)>) -> Vec<Value> {
    // Room for the list keys, `part`/`parts` and brackets.
    let overhead =
        base.to_string().len() + lists.iter().map(|(k, _)| k.len() + 6).sum::<usize>() + 40;
    let mut parts: Vec<Vec<Vec<Value>>> = vec![vec![Vec::new(); lists.len()]];
    let mut size = overhead;
    for (li, (_, items)) in lists.iter().enumerate() {
        for item in items {
            let n = item.to_string().len() + 1;
            if size + n > DETAIL_BUDGET_BYTES
                && parts
                    .last()
                    .is_some_and(|p| p.iter().any(|l| !l.is_empty()))
            {
                parts.push(vec![Vec::new(); lists.len()]);
                size = overhead;
            }
            size += n;
            if let Some(p) = parts.last_mut() {
                p[li].push(item.clone());
            }
        }
    }
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut d = base.clone();
            for ((key, _), chunk) in lists.iter().zip(part) {
                d[*key] = Value::Array(chunk);
            }
            d["part"] = json!(i + 1);
            d["parts"] = json!(count);
            d
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    const MARK: &str = "...";
    let keep = max.saturating_sub(MARK.len());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(MARK);
    out
}

fn now_rfc3339() -> String {
    DateTime::from(fleetshift_clock::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_owned()
    } else {
        many.to_owned()
    }
}

/// One line for an operator, e.g. `3 of 50 WorkSpaces and 1 of 2 bots failed: ws-..: cause; ...`,
/// followed by the standby failures, results for items not in the plan and unreadable results.
fn summary(
    ws: &Reconciled<ItemResult>,
    bots: &Reconciled<BotResult>,
    standby_failures: &[(&ItemResult, String)],
) -> String {
    let (wt, bt) = (ws.total(), bots.total());
    let ws_word = plural(wt, "WorkSpace", "WorkSpaces");
    let bot_word = plural(bt, "bot", "bots");
    let reason = |c: Option<&str>| {
        truncate_chars(c.unwrap_or("no cause reported"), SUMMARY_CAUSE_CHARS)
            .replace(['\n', '\r'], " ")
    };
    let ws_name =
        |w: &ItemResult| format!("{}: {}", w.source_workspace_id, reason(w.cause.as_deref()));
    let bot_name = |b: &BotResult| {
        format!(
            "{}:{}: {}",
            b.v1_bot_name,
            b.v1_bot_version,
            reason(b.cause.as_deref())
        )
    };
    let failed = |planned: bool, s: &str| planned && !is_done(s);
    let named: Vec<String> = ws
        .rows
        .iter()
        .filter(|(w, p)| failed(*p, &w.status))
        .map(|(w, _)| ws_name(w))
        .chain(
            bots.rows
                .iter()
                .filter(|(b, p)| failed(*p, &b.status))
                .map(|(b, _)| bot_name(b)),
        )
        .collect();

    let mut sections = Vec::new();
    if ws.failed() == 0 && bots.failed() == 0 {
        sections.push(match (wt, bt) {
            (0, 0) => "the wave had no items".to_owned(),
            (w, 0) => format!("all {w} {ws_word} completed"),
            (0, b) => format!("all {b} {bot_word} completed"),
            (w, b) => format!("all {w} {ws_word} and {b} {bot_word} completed"),
        });
    } else {
        let mut head = Vec::new();
        if wt > 0 {
            head.push(format!("{} of {wt} {ws_word}", ws.failed()));
        }
        if bt > 0 {
            head.push(format!("{} of {bt} {bot_word}", bots.failed()));
        }
        sections.push(format!("{} failed: {}", head.join(" and "), listed(&named)));
    }
    if !standby_failures.is_empty() {
        let n = standby_failures.len();
        let named: Vec<String> = standby_failures
            .iter()
            .map(|(w, why)| format!("{}: {}", w.source_workspace_id, reason(Some(why))))
            .collect();
        sections.push(format!(
            "{n} {} failed: {}",
            plural(n, "standby", "standbys"),
            listed(&named)
        ));
    }
    let unplanned: Vec<String> = ws
        .unplanned()
        .map(|w| format!("{} {}", w.source_workspace_id, w.status))
        .chain(
            bots.unplanned()
                .map(|b| format!("{}:{} {}", b.v1_bot_name, b.v1_bot_version, b.status)),
        )
        .collect();
    if !unplanned.is_empty() {
        let n = unplanned.len();
        sections.push(format!(
            "{n} {} for items not in the plan: {}",
            plural(n, "result", "results"),
            listed(&unplanned)
        ));
    }
    let unreadable: Vec<String> = ws
        .unreadable
        .iter()
        .chain(&bots.unreadable)
        .map(|v| {
            let field = |k: &str| v.get(k).and_then(Value::as_str);
            match (field("Error"), field("Cause")) {
                (Some(e), Some(c)) => format!("{e}: {}", reason(Some(&lambda_message(c)))),
                (Some(e), None) => e.to_owned(),
                _ => truncate_chars(&v.to_string(), SUMMARY_CAUSE_CHARS),
            }
        })
        .collect();
    if !unreadable.is_empty() {
        let n = unreadable.len();
        sections.push(format!(
            "{n} {} not an item result: {}",
            plural(n, "result was", "results were"),
            listed(&unreadable)
        ));
    }
    // Sections end with a period; the lists inside them use semicolons.
    sections
        .iter()
        .map(|s| s.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(". ")
}

/// The first few of `named`, then how many more.
fn listed(named: &[String]) -> String {
    let mut line = named
        .iter()
        .take(SUMMARY_LISTED_FAILURES)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if named.len() > SUMMARY_LISTED_FAILURES {
        line.push_str(&format!(
            "; and {} more",
            named.len() - SUMMARY_LISTED_FAILURES
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_plan(extra: serde_json::Value) -> Plan {
        let mut p = serde_json::json!({
            "waveId": "w1",
            "bundleId": "wsb-target0001",
            "workspaces": [{"workspaceId": "ws-abcd12345"}],
        });
        for (k, val) in extra.as_object().unwrap() {
            p[k] = val.clone();
        }
        Plan::parse(&p).unwrap()
    }

    fn rules_of(v: Violations) -> Vec<(String, String)> {
        v.0.into_iter().map(|x| (x.field, x.rule)).collect()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/LexV2";
    const KEY: &str = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn bot(role: &str) -> serde_json::Value {
        serde_json::json!([{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST",
            "v2BotName": "OrderFlowersV2", "v2BotRole": role, "migrationStrategy": "CREATE_NEW"}])
    }

    #[test]
    fn lex_bots_are_refused_unless_the_stack_enables_lex_migration() {
        let plan = stack_plan(serde_json::json!({"lexBots": bot(ROLE)}));
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &Settings::default())),
            vec![(
                "lexBots".to_owned(),
                "must be empty: the stack's LexMigrationEnabled is false, so start-migration has no Lex permission (deploy with LexMigrationEnabled=true and LexV2BotRoleArn to migrate bots)".to_owned()
            )]
        );
        let enabled = Settings {
            lex_migration_enabled: true,
            lex_v2_bot_role_arn: Some(ROLE.to_owned()),
            ..Settings::default()
        };
        assert!(stack_violations(&plan, Some("us-east-1"), &enabled).is_empty());
    }

    #[test]
    fn only_the_stack_s_lex_v2_bot_role_may_be_passed() {
        let plan =
            stack_plan(serde_json::json!({"lexBots": bot("arn:aws:iam::123456789012:role/Admin")}));
        let enabled = Settings {
            lex_migration_enabled: true,
            lex_v2_bot_role_arn: Some(ROLE.to_owned()),
            ..Settings::default()
        };
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &enabled)),
            vec![(
                "lexBots[0].v2BotRole".to_owned(),
                "must be arn:aws:iam::123456789012:role/LexV2, the stack's LexV2BotRoleArn (the only role start-migration may pass to Lex V2) (is arn:aws:iam::123456789012:role/Admin)".to_owned()
            )]
        );
        let no_role = Settings {
            lex_migration_enabled: true,
            ..Settings::default()
        };
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &no_role))[0].1,
            "is not allowed: the stack has no LexV2BotRoleArn, so start-migration may pass no role to Lex V2"
        );
    }

    #[test]
    fn an_encrypted_standby_needs_the_stack_s_key() {
        let plan = |key: &str| {
            stack_plan(serde_json::json!({"standby": {"region": "us-west-2",
                "directoryId": "d-9267001234", "volumeEncryptionKey": key}}))
        };
        assert_eq!(
            rules_of(stack_violations(&plan(KEY), Some("us-east-1"), &Settings::default())),
            vec![(
                "standby.volumeEncryptionKey".to_owned(),
                "is not allowed: the stack has no StandbyKmsKeyArn, so create-standby may not use a KMS key (deploy with StandbyKmsKeyArn set to this key's ARN)".to_owned()
            )]
        );
        let with_key = Settings {
            standby_kms_key_arn: Some(KEY.to_owned()),
            ..Settings::default()
        };
        assert!(stack_violations(&plan(KEY), Some("us-east-1"), &with_key).is_empty());
        assert_eq!(
            rules_of(stack_violations(
                &plan("alias/other"),
                Some("us-east-1"),
                &with_key
            )),
            vec![(
                "standby.volumeEncryptionKey".to_owned(),
                format!(
                    "must be {KEY}, the stack's StandbyKmsKeyArn (the only key create-standby may use; give its full ARN) (is alias/other)"
                )
            )]
        );
    }

    #[test]
    fn stack_arn_settings_are_checked() {
        let s = Settings::from_lookup(|n| match n {
            "LEX_MIGRATION_ENABLED" => Some("true".into()),
            "LEX_V2_BOT_ROLE_ARN" => Some(ROLE.into()),
            "STANDBY_KMS_KEY_ARN" => Some(KEY.into()),
            _ => None,
        })
        .unwrap();
        assert!(s.lex_migration_enabled);
        assert_eq!(s.lex_v2_bot_role_arn.as_deref(), Some(ROLE));
        assert_eq!(s.standby_kms_key_arn.as_deref(), Some(KEY));
        assert_eq!(
            Settings::from_lookup(|n| (n == "LEX_V2_BOT_ROLE_ARN").then(|| "LexV2".into()))
                .unwrap_err(),
            "environment variable LEX_V2_BOT_ROLE_ARN must be an IAM role ARN (is \"LexV2\")"
        );
        assert_eq!(
            Settings::from_lookup(|n| (n == "LEX_MIGRATION_ENABLED").then(|| "on".into()))
                .unwrap_err(),
            "environment variable LEX_MIGRATION_ENABLED must be \"true\" or \"false\" (is \"on\")"
        );
    }

    #[test]
    fn status_detail_is_cut_to_the_hub_limit() {
        let long = "é".repeat(3000);
        let cut = truncate_chars(&long, MAX_STATUS_DETAIL_CHARS);
        assert_eq!(cut.chars().count(), MAX_STATUS_DETAIL_CHARS);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate_chars("short", 10), "short");
    }

    #[test]
    fn next_update_outlasts_every_wait_plus_backoff() {
        let p = Polling::default();
        let n = next_update_seconds(&p);
        let longest_poll = p
            .migration_first_check_seconds
            .max(p.migration_interval_seconds)
            .max(p.image_poll_seconds)
            .max(p.bot_poll_seconds);
        assert!(n > longest_poll + BACKOFF_ALLOWANCE_SECONDS - 1);
        assert!(n > p.migration_deadline_minutes * 60 + p.migration_interval_seconds);
        assert!(n > p.image_deadline_minutes * 60);
        // Longer polling gives a longer staleness window.
        let slow = Polling {
            image_deadline_minutes: 7 * 24 * 60,
            ..Polling::default()
        };
        assert!(next_update_seconds(&slow) > 7 * 24 * 3600);
    }

    #[test]
    fn queued_items_are_registered_with_room_for_the_whole_queue() {
        let plan = |n: usize, image: bool| {
            let mut p = json!({
                "waveId": "w",
                "bundleId": "wsb-abcd12345",
                "workspaces": (0..n).map(|i| json!({"workspaceId": format!("ws-{i:010}")})).collect::<Vec<_>>(),
            });
            if image {
                p["image"] = json!({"imageId": "wsi-abcd12345"});
            }
            Plan::parse(&p).unwrap()
        };
        // A small wave: the per-update value (a migration's longest silence) is the larger one.
        let small = plan(2, false);
        assert_eq!(
            not_started_next_update_seconds(&small),
            next_update_seconds(&small.polling)
        );
        // 400 WorkSpaces, 25 at a time, 90 minutes + one 10-minute poll each: 16 rounds of
        // 6,000 s, plus the image gate (240 min + one 5-minute poll) and the backoff allowance.
        let big = plan(400, true);
        assert_eq!(
            not_started_next_update_seconds(&big),
            16 * 6_000 + 14_700 + BACKOFF_ALLOWANCE_SECONDS
        );
    }

    #[test]
    fn settings_parse_and_name_the_bad_variable() {
        let s = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(s, Settings::default());
        let s = Settings::from_lookup(|n| match n {
            "HUB_ENABLED" => Some("TRUE".into()),
            "HUB_HOME_REGION" => Some("us-west-2".into()),
            "EVENT_BUS_NAME" => Some("fleet".into()),
            "STANDBY_REGION" => Some("eu-west-1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.standby_region.as_deref(), Some("eu-west-1"));
        assert!(s.hub_enabled);
        assert_eq!(s.home_region.as_deref(), Some("us-west-2"));
        assert_eq!(s.event_bus_name, "fleet");
        let e = Settings::from_lookup(|n| (n == "HUB_ENABLED").then(|| "yes".into())).unwrap_err();
        assert!(e.contains("HUB_ENABLED"), "{e}");
        let e =
            Settings::from_lookup(|n| (n == "HUB_HOME_REGION").then(|| "home".into())).unwrap_err();
        assert!(e.contains("HUB_HOME_REGION"), "{e}");
        let e =
            Settings::from_lookup(|n| (n == "STANDBY_REGION").then(|| "west".into())).unwrap_err();
        assert!(e.contains("STANDBY_REGION"), "{e}");
    }

    #[test]
    fn large_details_are_split_and_small_ones_are_not() {
        let base = json!({"waveId": "w"});
        let one = split_detail(
            base.clone(),
            vec![("mapping", vec![json!({"a": 1})]), ("bots", vec![])],
        );
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["parts"], 1);
        assert_eq!(one[0]["bots"], json!([]));

        let item = json!({"sourceWorkspaceId": "ws-abcd12345", "cause": "x".repeat(2000)});
        let items = vec![item; 400];
        let parts = split_detail(
            base,
            vec![
                ("mapping", items),
                ("bots", vec![json!({"v1BotName": "B"})]),
            ],
        );
        assert!(parts.len() >= 4, "{}", parts.len());
        let mut n = 0;
        for p in &parts {
            assert!(p.to_string().len() <= DETAIL_BUDGET_BYTES);
            assert_eq!(p["parts"], parts.len());
            n += p["mapping"].as_array().unwrap().len();
        }
        assert_eq!(n, 400);
        assert_eq!(parts.last().unwrap()["bots"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn requests_respect_entry_count_and_size() {
        let entry = || PutEventsRequestEntry::builder().build();
        let small: Vec<_> = (0..23).map(|_| (100, entry())).collect();
        let b = batches(small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 3]);
        let big: Vec<_> = (0..3).map(|_| (200_000, entry())).collect();
        assert_eq!(batches(big).len(), 3);
    }

    #[test]
    fn entry_failures_are_classified() {
        assert_eq!(
            entry_error_kind("ThrottlingException"),
            ErrorKind::Throttling
        );
        assert_eq!(
            entry_error_kind("InternalFailure"),
            ErrorKind::ServiceUnavailable
        );
        assert_eq!(
            entry_error_kind("NotAuthorizedForSourceException"),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            entry_error_kind("MalformedDetail"),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            entry_error_kind("SomethingNew"),
            ErrorKind::ServiceUnavailable
        );
    }
}

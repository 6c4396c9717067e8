//! The report of a wave: per WorkSpace old id -> new id and final state with cause, standbys, bots
//! and Migration Hub tasks, built from what an operator can see: the `Wave Finished` summary first;
//! for an item the summary does not name (it was not published), the item results in the
//! execution history, then the item's last `Migration Progress` event. An item is NOT_STARTED only
//! when none of them shows it started.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use cloud_local::{HubTaskSnapshot, RecordedEvent};
use fleetshift_core::contract::{
    Adoption, BOUNDED_CAUSE, BotResult, CaughtError, MigrationProgress, Reason, StandbyResult,
    Status, TaskRef, WaveFinished, WorkspaceResult,
};
use fleetshift_core::events;
use push_hub_update::{PlannedBot, PlannedWorkspace};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfn_local::{ExecutionDescription, HistoryEvent};

/// Where a row's outcome was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadFrom {
    /// The `Wave Finished` summary.
    Summary,
    /// The item results the wave's Map states returned, in the execution history.
    ExecutionHistory,
    /// The item's last `Migration Progress` event.
    ProgressEvent,
    /// Only the plan: nothing shows the item started.
    Plan,
}

/// One WorkSpace's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRow {
    pub source_workspace_id: String,
    pub target_workspace_id: Option<String>,
    /// COMPLETED, FAILED, NOT_STARTED when nothing shows the item started, or IN_PROGRESS when it
    /// started and the wave ended before its result was recorded.
    pub status: String,
    pub cause: Option<String>,
    /// The standby WorkSpace id, or why it failed.
    pub standby: Option<String>,
    /// Set when the migration was adopted after MigrateWorkspace's answer was lost (the row is
    /// marked `[adopted: <evidence>]`): the new id was found, not answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
    pub read_from: ReadFrom,
}

impl WorkspaceRow {
    /// The cause column: the cause, then the adoption marker when the migration was adopted.
    pub fn shown_cause(&self) -> String {
        let marker = self
            .adoption
            .map(|a| format!("[adopted: {}]", a.evidence.as_str()));
        [self.cause.clone(), marker]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One Lex bot's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotRow {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    pub v2_bot_id: Option<String>,
    /// As [`WorkspaceRow::status`].
    pub status: String,
    pub cause: Option<String>,
    pub read_from: ReadFrom,
}

/// One Migration Hub task's last state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRow {
    pub task: String,
    pub status: Option<String>,
    pub detail: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveReport {
    pub wave_id: String,
    pub execution_arn: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub workspaces: Vec<WorkspaceRow>,
    pub bots: Vec<BotRow>,
    pub hub_tasks: Vec<HubRow>,
    pub events_published: usize,
    /// Virtual time from start to end of the execution.
    pub virtual_seconds: u64,
    /// Real time the run took.
    pub wall_millis: u64,
}

impl WaveReport {
    /// Builds the report of a finished execution from its history and what the sinks received.
    pub fn build(
        plan: &Value,
        done: &ExecutionDescription,
        history: &[HistoryEvent],
        published: &[RecordedEvent],
        hub_tasks: Vec<HubTaskSnapshot>,
        wall: Duration,
    ) -> Self {
        let plan = PlanItems::read(plan);
        let wave_id = plan.wave_id.clone();
        let finished: Vec<WaveFinished> = published
            .iter()
            .filter(|e| e.detail_type == events::WAVE_FINISHED)
            .filter_map(|e| serde_json::from_str::<WaveFinished>(&e.detail).ok())
            .filter(|d| d.counts.wave_id == wave_id)
            .collect();
        let (history_workspaces, history_bots) = history_results(history);
        let progress = last_progress(published, &wave_id);
        // Why an item nothing shows started did not start, or why a started one has no result.
        let ended = done
            .cause
            .clone()
            .or_else(|| done.error.clone())
            .unwrap_or_else(|| done.status.as_str().to_owned());

        let mut workspaces = Vec::new();
        let mut summary_workspaces: Vec<WorkspaceResult> =
            finished.iter().flat_map(|d| d.mapping.clone()).collect();
        for w in &plan.workspaces {
            let id = w.workspace_id.clone();
            let named = |r: &WorkspaceResult| r.source_workspace_id == id;
            let from_summary = summary_workspaces
                .iter()
                .position(named)
                .map(|i| summary_workspaces.remove(i));
            let row = if let Some(r) = from_summary.as_ref().filter(|r| !result_lost(r.reason)) {
                workspace_row(r, ReadFrom::Summary)
            } else if let Some(r) = history_workspaces
                .iter()
                .find(|r| named(r) && !result_lost(r.reason))
            {
                workspace_row(r, ReadFrom::ExecutionHistory)
            } else if let Some((event, (status, cause))) = progress
                .get(&TaskRef::Workspace { id: id.clone() })
                .and_then(|d| Some((d, progress_outcome(d, &ended)?)))
            {
                WorkspaceRow {
                    source_workspace_id: id,
                    // Progress events carry the new id once MigrateWorkspace named it.
                    target_workspace_id: event.target_workspace_id.clone(),
                    status,
                    cause,
                    standby: None,
                    adoption: None,
                    read_from: ReadFrom::ProgressEvent,
                }
            } else if let Some(r) = from_summary {
                // The wave lost the result and no event tells more: the summary's word stands.
                workspace_row(&r, ReadFrom::Summary)
            } else {
                WorkspaceRow {
                    source_workspace_id: id,
                    target_workspace_id: None,
                    status: NOT_STARTED.into(),
                    cause: Some(not_started(&ended)),
                    standby: None,
                    adoption: None,
                    read_from: ReadFrom::Plan,
                }
            };
            let mut row = row;
            row.cause = full_cause(
                row.cause,
                progress.get(&TaskRef::Workspace {
                    id: row.source_workspace_id.clone(),
                }),
            );
            workspaces.push(row);
        }
        // Rows the summary has beyond the plan stay visible.
        workspaces.extend(
            summary_workspaces
                .iter()
                .map(|r| workspace_row(r, ReadFrom::Summary)),
        );

        let mut bots = Vec::new();
        let mut summary_bots: Vec<BotResult> =
            finished.iter().flat_map(|d| d.bots.clone()).collect();
        for b in &plan.lex_bots {
            let (name, version) = (b.v1_bot_name.clone(), b.v1_bot_version.clone());
            let named = |r: &BotResult| r.v1_bot_name == name && r.v1_bot_version == version;
            let from_summary = summary_bots
                .iter()
                .position(named)
                .map(|i| summary_bots.remove(i));
            let row = if let Some(r) = from_summary.as_ref().filter(|r| !result_lost(r.reason)) {
                bot_row(r, ReadFrom::Summary)
            } else if let Some(r) = history_bots
                .iter()
                .find(|r| named(r) && !result_lost(r.reason))
            {
                bot_row(r, ReadFrom::ExecutionHistory)
            } else if let Some((status, cause)) = progress
                .get(&TaskRef::LexBot {
                    id: name.clone(),
                    version: version.clone(),
                })
                .and_then(|d| progress_outcome(d, &ended))
            {
                BotRow {
                    v1_bot_name: name,
                    v1_bot_version: version,
                    v2_bot_id: None,
                    status,
                    cause,
                    read_from: ReadFrom::ProgressEvent,
                }
            } else if let Some(r) = from_summary {
                bot_row(&r, ReadFrom::Summary)
            } else {
                BotRow {
                    v1_bot_name: name,
                    v1_bot_version: version,
                    v2_bot_id: None,
                    status: NOT_STARTED.into(),
                    cause: Some(not_started(&ended)),
                    read_from: ReadFrom::Plan,
                }
            };
            let mut row = row;
            row.cause = full_cause(
                row.cause,
                progress.get(&TaskRef::LexBot {
                    id: row.v1_bot_name.clone(),
                    version: row.v1_bot_version.clone(),
                }),
            );
            bots.push(row);
        }
        bots.extend(summary_bots.iter().map(|r| bot_row(r, ReadFrom::Summary)));

        let prefix = format!("{wave_id}-");
        let hub_tasks = hub_tasks
            .into_iter()
            .filter(|t| t.migration_task_name.starts_with(&prefix))
            .map(|t| HubRow {
                task: t.migration_task_name,
                status: t.status,
                detail: t.status_detail,
            })
            .collect();
        let virtual_seconds = done
            .stop_date
            .and_then(|end| end.duration_since(done.start_date).ok())
            .map_or(0, |d| d.as_secs());
        WaveReport {
            wave_id,
            execution_arn: done.execution_arn.clone(),
            status: done.status.as_str().to_owned(),
            error: done.error.clone(),
            cause: done.cause.clone(),
            workspaces,
            bots,
            hub_tasks,
            events_published: published.len(),
            virtual_seconds,
            wall_millis: wall.as_millis() as u64,
        }
    }

    /// Whether every item completed (the exit status of `local run`).
    pub fn all_completed(&self) -> bool {
        self.status == "SUCCEEDED"
            && self.workspaces.iter().all(|w| w.status == "COMPLETED")
            && self.bots.iter().all(|b| b.status == "COMPLETED")
    }

    /// The report as a table for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Wave {}: {} after {} of virtual time ({} ms real)",
            self.wave_id,
            self.status,
            human(self.virtual_seconds),
            self.wall_millis
        );
        if let Some(e) = &self.error {
            let caught = CaughtError {
                error: e.clone(),
                cause: self.cause.clone(),
            };
            let _ = writeln!(out, "  error: {}", caught.to_cause());
        }
        let unsummarised = self
            .workspaces
            .iter()
            .map(|w| w.read_from)
            .chain(self.bots.iter().map(|b| b.read_from))
            .filter(|r| matches!(r, ReadFrom::ExecutionHistory | ReadFrom::ProgressEvent))
            .count();
        if unsummarised > 0 {
            let (items, are) = if unsummarised == 1 {
                ("item", "is")
            } else {
                ("items", "are")
            };
            let _ = writeln!(
                out,
                "  {unsummarised} {items} {are} in no Wave Finished summary: state read from the \
                 execution history or the last progress event"
            );
        }
        let done = self
            .workspaces
            .iter()
            .filter(|w| w.status == "COMPLETED")
            .count();
        let _ = writeln!(
            out,
            "\nWorkSpaces: {done} of {} completed",
            self.workspaces.len()
        );
        if !self.workspaces.is_empty() {
            let _ = writeln!(
                out,
                "  {:<16}    {:<16} {:<12} {:<18} CAUSE",
                "WORKSPACE", "NEW WORKSPACE", "STATE", "STANDBY"
            );
            for w in &self.workspaces {
                let _ = writeln!(
                    out,
                    "  {:<16} -> {:<16} {:<12} {:<18} {}",
                    w.source_workspace_id,
                    w.target_workspace_id.as_deref().unwrap_or("-"),
                    w.status,
                    w.standby.as_deref().unwrap_or("-"),
                    w.shown_cause()
                );
            }
        }
        if !self.bots.is_empty() {
            let done = self.bots.iter().filter(|b| b.status == "COMPLETED").count();
            let _ = writeln!(out, "\nLex bots: {done} of {} completed", self.bots.len());
            for b in &self.bots {
                let _ = writeln!(
                    out,
                    "  {:<24} -> {:<12} {:<12} {}",
                    format!("{}:{}", b.v1_bot_name, b.v1_bot_version),
                    b.v2_bot_id.as_deref().unwrap_or("-"),
                    b.status,
                    b.cause.as_deref().unwrap_or("")
                );
            }
        }
        if self.hub_tasks.is_empty() {
            let _ = writeln!(out, "\nMigration Hub: no tasks (disabled or unavailable)");
        } else {
            let _ = writeln!(out, "\nMigration Hub tasks: {}", self.hub_tasks.len());
            for t in &self.hub_tasks {
                let _ = writeln!(
                    out,
                    "  {:<40} {}",
                    t.task,
                    t.status.as_deref().unwrap_or("-")
                );
            }
        }
        let _ = writeln!(
            out,
            "\nEvents published to EventBridge: {}",
            self.events_published
        );
        out
    }
}

const NOT_STARTED: &str = "NOT_STARTED";

/// The plan's items, read leniently: a report is also made of a wave whose plan was refused.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanItems {
    #[serde(default)]
    wave_id: String,
    #[serde(default)]
    workspaces: Vec<PlannedWorkspace>,
    #[serde(default)]
    lex_bots: Vec<PlannedBot>,
}

impl PlanItems {
    fn read(plan: &Value) -> Self {
        serde_json::from_value(plan.clone()).unwrap_or_default()
    }
}

/// The state data that holds the wave's item results (the Map states' `ResultPath`s).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateResults {
    workspace_results: Option<Vec<Value>>,
    bot_results: Option<Vec<Value>>,
}

/// The entries of a Map's output that are item results of the contract (a child execution that
/// failed outside its item's Catch returns `{"Error", "Cause"}`, which names no item).
fn readable<T: serde::de::DeserializeOwned>(entries: Vec<Value>) -> Vec<T> {
    entries
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

/// The item results last seen in the execution history: the `workspaceResults` and `botResults`
/// the Map states return, which the Finish state gets as its input. They survive a Finish that
/// fails (its Catch replaces the state's data, not the history).
fn history_results(history: &[HistoryEvent]) -> (Vec<WorkspaceResult>, Vec<BotResult>) {
    let (mut workspaces, mut bots) = (Vec::new(), Vec::new());
    for (_, details) in history.iter().filter_map(|e| e.details.as_ref()) {
        for key in ["input", "output"] {
            // Inputs and outputs are JSON text; parse only the few that can hold results.
            let Some(text) = details.get(key).and_then(Value::as_str) else {
                continue;
            };
            if !text.contains("Results\"") {
                continue;
            }
            let Ok(data) = serde_json::from_str::<StateResults>(text) else {
                continue;
            };
            if let Some(r) = data.workspace_results {
                workspaces = readable(r);
            }
            if let Some(r) = data.bot_results {
                bots = readable(r);
            }
        }
    }
    (workspaces, bots)
}

/// The last `Migration Progress` event of each item of the wave.
fn last_progress(
    published: &[RecordedEvent],
    wave_id: &str,
) -> HashMap<TaskRef, MigrationProgress> {
    let mut last = HashMap::new();
    for e in published
        .iter()
        .filter(|e| e.detail_type == events::ITEM_PROGRESS)
        // Parse only events that can be this wave's: with many waves on one stack, most are not.
        .filter(|e| e.detail.contains(wave_id))
    {
        let Ok(d) = serde_json::from_str::<MigrationProgress>(&e.detail) else {
            continue;
        };
        if d.wave_id == wave_id {
            last.insert(d.task.clone(), d);
        }
    }
    last
}

/// Whether a result only says the wave lost the item's real result (its Map failed, or its
/// iteration failed outside the item's own handling): the item's last progress event, which it
/// published itself, then tells more.
fn result_lost(reason: Option<Reason>) -> bool {
    Reason::result_missing(reason)
}

/// An item's state and cause from its last progress event; `None` when the event does not show
/// it started. `ended` is why the wave ended.
fn progress_outcome(event: &MigrationProgress, ended: &str) -> Option<(String, Option<String>)> {
    let detail = event.status_detail.clone();
    match event.status {
        Status::Completed => Some((Status::Completed.to_string(), None)),
        Status::Failed => Some((
            Status::Failed.to_string(),
            Some(detail.unwrap_or_else(|| "FAILED (no detail reported)".into())),
        )),
        Status::NotStarted => None,
        status @ Status::InProgress => Some((
            Status::InProgress.to_string(),
            Some(format!(
                "started, but the wave ended before its result was recorded ({ended}); last \
                 progress: {status}{}",
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            )),
        )),
    }
}

/// A result keeps a caught error's code and [`BOUNDED_CAUSE`] only: the full cause is read back
/// from the item's FAILED progress event (`<Error>: <Cause>`, cut to Migration Hub's limit) and
/// shown as its code and message once, as the result showed it before it was bounded.
fn full_cause(cause: Option<String>, event: Option<&MigrationProgress>) -> Option<String> {
    let bounded = cause.as_deref().is_some_and(|c| c.ends_with(BOUNDED_CAUSE));
    let detail = event
        .filter(|e| bounded && e.status == Status::Failed)
        .and_then(|e| e.status_detail.as_deref());
    match detail.and_then(|d| d.split_once(": ")) {
        Some((error, caught)) => Some(
            CaughtError {
                error: error.to_owned(),
                cause: Some(caught.to_owned()),
            }
            .to_cause()
            .to_string(),
        ),
        None => cause,
    }
}

fn not_started(ended: &str) -> String {
    format!("not started: the wave ended first ({ended})")
}

/// A WorkSpace's row from a result as the Map returns it and the summary maps it.
fn workspace_row(r: &WorkspaceResult, read_from: ReadFrom) -> WorkspaceRow {
    WorkspaceRow {
        source_workspace_id: r.source_workspace_id.clone(),
        target_workspace_id: r.target_workspace_id.clone(),
        status: r.status.to_string(),
        cause: r.shown_cause(),
        standby: r.standby.as_ref().and_then(standby_summary),
        adoption: r.adoption,
        read_from,
    }
}

/// A bot's row from a result as the Map returns it and the summary lists it.
fn bot_row(r: &BotResult, read_from: ReadFrom) -> BotRow {
    BotRow {
        v1_bot_name: r.v1_bot_name.clone(),
        v1_bot_version: r.v1_bot_version.clone(),
        v2_bot_id: r.v2_bot_id.clone(),
        status: r.status.to_string(),
        cause: r.shown_cause(),
        read_from,
    }
}

/// A short summary of an item's standby result: the standby id, or why it failed (each cause
/// once, as its code and message).
fn standby_summary(standby: &StandbyResult) -> Option<String> {
    if let Some(id) = standby.standby_workspace_id() {
        return Some(id.to_owned());
    }
    let causes: Vec<String> = standby.failures().iter().map(ToString::to_string).collect();
    (!causes.is_empty()).then(|| format!("FAILED {}", causes.join(", ")))
}

/// A duration as `2h 05m`, `3m 07s` or `9s`.
pub fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::json;
    use sfn_local::ExecutionStatus;

    use super::*;
    use fleetshift_core::contract::AdoptionEvidence;

    fn aborted() -> ExecutionDescription {
        ExecutionDescription {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:w".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            name: "w".into(),
            status: ExecutionStatus::Aborted,
            input: Value::Null,
            output: None,
            error: Some("States.Aborted".into()),
            cause: None,
            start_date: SystemTime::UNIX_EPOCH,
            stop_date: Some(SystemTime::UNIX_EPOCH),
            parent_execution_arn: None,
        }
    }

    fn progress(task: Value, status: &str, detail: &str) -> RecordedEvent {
        let mut d = json!({"waveId": "w1", "taskName": "w1-task", "task": task, "status": status,
            "statusDetail": detail, "updatedAt": "2026-01-01T00:00:00Z", "hubStatus": "disabled"});
        if let Some(target) = detail.strip_prefix("migrated to ") {
            d["targetWorkspaceId"] = json!(target);
        }
        RecordedEvent {
            event_id: String::new(),
            source: events::SOURCE.into(),
            detail_type: events::ITEM_PROGRESS.into(),
            detail: d.to_string(),
            resources: Vec::new(),
            event_bus_name: "default".into(),
            time: None,
            received_at: SystemTime::UNIX_EPOCH,
        }
    }

    fn history_event(details: Value) -> HistoryEvent {
        HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: SystemTime::UNIX_EPOCH,
            event_type: "MapStateExited",
            details: Some(("stateExitedEventDetails", details)),
        }
    }

    #[test]
    fn without_a_summary_or_history_the_last_progress_event_decides() {
        // A wave stopped mid-way: no summary, no Map results. What each item's last progress event
        // shows is reported; only the item with no event at all is NOT_STARTED.
        let plan = json!({"waveId": "w1", "workspaces": [
            {"workspaceId": "ws-done00001"}, {"workspaceId": "ws-fail00001"},
            {"workspaceId": "ws-busy00001"}, {"workspaceId": "ws-idle00001"}],
            "lexBots": [{"v1BotName": "BookTrip", "v1BotVersion": "3"}]});
        let ws = |id: &str| json!({"kind": "workspace", "id": id});
        let published = [
            progress(
                ws("ws-done00001"),
                "IN_PROGRESS",
                "MigrateWorkspace requested",
            ),
            progress(ws("ws-done00001"), "COMPLETED", "migrated to ws-new000001"),
            progress(
                ws("ws-fail00001"),
                "FAILED",
                "ResourceUnavailableException: gone",
            ),
            progress(
                ws("ws-busy00001"),
                "IN_PROGRESS",
                "MigrateWorkspace requested",
            ),
            progress(
                json!({"kind": "lexBot", "id": "BookTrip", "version": "3"}),
                "IN_PROGRESS",
                "StartMigration requested",
            ),
        ];
        let report = WaveReport::build(
            &plan,
            &aborted(),
            &[],
            &published,
            Vec::new(),
            Duration::ZERO,
        );
        let row = |id: &str| {
            report
                .workspaces
                .iter()
                .find(|w| w.source_workspace_id == id)
                .unwrap()
                .clone()
        };
        assert_eq!(report.workspaces.len(), 4);
        assert_eq!(row("ws-done00001").status, "COMPLETED");
        assert_eq!(row("ws-done00001").read_from, ReadFrom::ProgressEvent);
        assert_eq!(
            row("ws-done00001").target_workspace_id.as_deref(),
            Some("ws-new000001"),
            "the new id from the event's targetWorkspaceId"
        );
        assert_eq!(row("ws-fail00001").status, "FAILED");
        assert_eq!(
            row("ws-fail00001").cause.as_deref(),
            Some("ResourceUnavailableException: gone")
        );
        let busy = row("ws-busy00001");
        assert_eq!(busy.status, "IN_PROGRESS");
        assert!(
            busy.cause.as_deref().unwrap().contains("States.Aborted"),
            "{busy:?}"
        );
        assert_eq!(row("ws-idle00001").status, "NOT_STARTED");
        assert_eq!(row("ws-idle00001").read_from, ReadFrom::Plan);
        assert_eq!(report.bots[0].status, "IN_PROGRESS");
        assert!(!report.all_completed());
    }

    #[test]
    fn the_summary_comes_first_then_the_history_results() {
        let plan = json!({"waveId": "w1", "workspaces": [
            {"workspaceId": "ws-sum000001"}, {"workspaceId": "ws-his000001"}]});
        let summary = RecordedEvent {
            detail_type: events::WAVE_FINISHED.into(),
            detail: json!({"waveId": "w1", "total": 2, "completed": 1, "failed": 1,
                "standbyFailed": 0, "unreadable": 0, "unplanned": 0, "cause": "1 of 2 WorkSpaces failed",
                "mapping": [{"sourceWorkspaceId": "ws-sum000001",
                    "targetWorkspaceId": "ws-new000001", "status": "COMPLETED"}],
                "bots": [], "part": 1, "parts": 1})
            .to_string(),
            ..progress(Value::Null, "", "")
        };
        let results = json!({"workspaceResults": [
            {"sourceWorkspaceId": "ws-sum000001", "targetWorkspaceId": "ws-other0001",
             "status": "FAILED", "cause": "x"},
            {"sourceWorkspaceId": "ws-his000001", "targetWorkspaceId": "ws-new000002",
             "status": "COMPLETED", "cause": null, "standby": {"region": "us-west-2", "pending": [
                {"primaryWorkspaceId": "ws-new000002", "standbyWorkspaceId": "ws-stb000001",
                 "directoryId": "d-9267001234", "state": "PENDING"}], "failed": []}}]});
        let history = [history_event(
            json!({"name": "MigrateWorkspaces", "output": results.to_string()}),
        )];
        let report = WaveReport::build(
            &plan,
            &aborted(),
            &history,
            &[summary],
            Vec::new(),
            Duration::ZERO,
        );
        let w = &report.workspaces;
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].read_from, w[0].target_workspace_id.as_deref()),
            (ReadFrom::Summary, Some("ws-new000001"))
        );
        assert_eq!(
            (w[1].read_from, w[1].status.as_str()),
            (ReadFrom::ExecutionHistory, "COMPLETED")
        );
        assert_eq!(w[1].target_workspace_id.as_deref(), Some("ws-new000002"));
        assert_eq!(w[1].standby.as_deref(), Some("ws-stb000001"));
        assert!(
            report
                .render()
                .contains("1 item is in no Wave Finished summary")
        );
    }

    #[test]
    fn an_adopted_migration_is_marked_on_its_row() {
        let plan = json!({"waveId": "w1", "workspaces": [
            {"workspaceId": "ws-ado000001"}, {"workspaceId": "ws-ans000001"}]});
        let summary = RecordedEvent {
            detail_type: events::WAVE_FINISHED.into(),
            detail: json!({"waveId": "w1", "total": 2, "completed": 2, "failed": 0,
                "standbyFailed": 0, "unreadable": 0, "unplanned": 0, "cause": "all 2 WorkSpaces completed",
                "mapping": [
                    {"sourceWorkspaceId": "ws-ado000001", "targetWorkspaceId": "ws-new000001",
                     "status": "COMPLETED",
                     "adoption": {"adopted": true, "evidence": "relatedWorkspacesNameSource"}},
                    {"sourceWorkspaceId": "ws-ans000001", "targetWorkspaceId": "ws-new000002",
                     "status": "COMPLETED"}],
                "bots": [], "part": 1, "parts": 1})
            .to_string(),
            ..progress(Value::Null, "", "")
        };
        let report = WaveReport::build(
            &plan,
            &aborted(),
            &[],
            &[summary],
            Vec::new(),
            Duration::ZERO,
        );
        let w = &report.workspaces;
        assert_eq!(
            w[0].adoption,
            Some(Adoption {
                adopted: true,
                evidence: AdoptionEvidence::RelatedWorkspacesNameSource
            })
        );
        assert_eq!(w[0].shown_cause(), "[adopted: relatedWorkspacesNameSource]");
        assert_eq!(w[1].adoption, None);
        assert_eq!(w[1].shown_cause(), "");
        let rendered = report.render();
        assert!(
            rendered.contains(
                "  ws-ado000001     -> ws-new000001     COMPLETED    -                  [adopted: relatedWorkspacesNameSource]\n"
            ),
            "{rendered}"
        );
        assert_eq!(
            serde_json::to_value(&w[0]).unwrap()["adoption"],
            json!({"adopted": true, "evidence": "relatedWorkspacesNameSource"})
        );
    }
}

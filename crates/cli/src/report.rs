//! The report of a wave: per WorkSpace old id -> new id and final state with cause, standbys, bots
//! and Migration Hub tasks, built from what the sinks received (the `Wave Finished` events), so
//! the report and the sinks cannot disagree.

use std::fmt::Write as _;
use std::time::Duration;

use cloud_local::Running;
use serde::Serialize;
use serde_json::Value;
use sfn_local::ExecutionDescription;

/// One WorkSpace's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRow {
    pub source_workspace_id: String,
    pub target_workspace_id: Option<String>,
    /// COMPLETED, FAILED, or NOT_STARTED when the wave ended before the item ran.
    pub status: String,
    pub cause: Option<String>,
    /// The standby WorkSpace id, or why it failed.
    pub standby: Option<String>,
}

/// One Lex bot's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotRow {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    pub v2_bot_id: Option<String>,
    pub status: String,
    pub cause: Option<String>,
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
    pub(crate) fn build(
        plan: &Value,
        done: &ExecutionDescription,
        cloud: &Running,
        wall: Duration,
    ) -> Self {
        let wave_id = plan
            .get("waveId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let events = cloud.events();
        let finished: Vec<Value> = events
            .iter()
            .filter(|e| e.detail_type == fleetshift_core::events::WAVE_FINISHED)
            .filter_map(|e| serde_json::from_str::<Value>(&e.detail).ok())
            .filter(|d| d.get("waveId").and_then(Value::as_str) == Some(wave_id.as_str()))
            .collect();
        let mut workspaces: Vec<WorkspaceRow> = finished
            .iter()
            .flat_map(|d| {
                d.get("mapping")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|m| WorkspaceRow {
                source_workspace_id: s(&m, "sourceWorkspaceId").unwrap_or_default(),
                target_workspace_id: s(&m, "targetWorkspaceId"),
                status: s(&m, "status").unwrap_or_else(|| "FAILED".into()),
                cause: s(&m, "cause"),
                standby: m.get("standby").and_then(standby_summary),
            })
            .collect();
        let mut bots: Vec<BotRow> = finished
            .iter()
            .flat_map(|d| {
                d.get("bots")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|b| BotRow {
                v1_bot_name: s(&b, "v1BotName").unwrap_or_default(),
                v1_bot_version: s(&b, "v1BotVersion").unwrap_or_default(),
                v2_bot_id: s(&b, "v2BotId"),
                status: s(&b, "status").unwrap_or_else(|| "FAILED".into()),
                cause: s(&b, "cause"),
            })
            .collect();
        // Items the wave never reached (it failed before them) are reported, not dropped.
        let why = done
            .cause
            .clone()
            .or_else(|| done.error.clone())
            .map(|c| format!("not started: the wave ended first ({c})"));
        for w in plan
            .get("workspaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = s(w, "workspaceId").unwrap_or_default();
            if !workspaces.iter().any(|r| r.source_workspace_id == id) {
                workspaces.push(WorkspaceRow {
                    source_workspace_id: id,
                    target_workspace_id: None,
                    status: "NOT_STARTED".into(),
                    cause: why.clone(),
                    standby: None,
                });
            }
        }
        for b in plan
            .get("lexBots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (name, version) = (
                s(b, "v1BotName").unwrap_or_default(),
                s(b, "v1BotVersion").unwrap_or_default(),
            );
            if !bots
                .iter()
                .any(|r| r.v1_bot_name == name && r.v1_bot_version == version)
            {
                bots.push(BotRow {
                    v1_bot_name: name,
                    v1_bot_version: version,
                    v2_bot_id: None,
                    status: "NOT_STARTED".into(),
                    cause: why.clone(),
                });
            }
        }
        let prefix = format!("{wave_id}-");
        let hub_tasks = cloud
            .hub_tasks()
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
            events_published: events.len(),
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
            let _ = writeln!(
                out,
                "  error: {e}: {}",
                readable_cause(self.cause.as_deref())
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
                    w.cause.as_deref().unwrap_or("")
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

/// A Lambda error payload as `message`, any other cause as it is.
fn readable_cause(cause: Option<&str>) -> String {
    let cause = cause.unwrap_or_default();
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| s(&v, "errorMessage"))
        .unwrap_or_else(|| cause.to_owned())
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// A short summary of an item's standby result: the standby id, or the failure code.
fn standby_summary(v: &Value) -> Option<String> {
    if let Some(p) = v
        .get("pending")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return s(p, "standbyWorkspaceId").or_else(|| Some("pending".into()));
    }
    if let Some(f) = v
        .get("failed")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return Some(format!("FAILED {}", s(f, "errorCode").unwrap_or_default()));
    }
    // A caught error (`{Error, Cause}`), the cause being the Lambda error payload.
    if let Some(e) = v.get("Error").and_then(Value::as_str) {
        let message = v
            .get("Cause")
            .and_then(Value::as_str)
            .and_then(|c| serde_json::from_str::<Value>(c).ok())
            .and_then(|c| s(&c, "errorMessage"))
            .unwrap_or_default();
        return Some(format!("FAILED {e}: {message}"));
    }
    None
}

fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

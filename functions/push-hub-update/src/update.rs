//! `update` (states `ReportStarted`, `ReportCompleted`, `ReportFailed` and their bot twins): one
//! item's new state to Migration Hub, when the wave uses it, and as a `Migration Progress` event.

use fleetshift_core::contract::{HubRef, HubStatus, MigrationProgress, TaskRef};
use fleetshift_core::plan::Polling;
use fleetshift_core::validate as rules;
use fleetshift_core::{Violations, events};
use tracing::{info, warn};

use crate::contract::{UpdateInput, UpdateOutput, check_wave_id};
use crate::eventbridge::publish;
use crate::hub::{TaskReport, notify_or_import};
use crate::register::next_update_seconds;
use crate::{Deps, Error, MAX_STATUS_DETAIL_CHARS, now_rfc3339, truncate_chars};

pub(crate) async fn update(input: UpdateInput, deps: &Deps) -> Result<UpdateOutput, Error> {
    validate_update(&input).map_err(Error::InvalidInput)?;
    let task_name = input.task.task_name(&input.wave_id);
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

    let event = MigrationProgress {
        wave_id: input.wave_id.clone(),
        task_name: task_name.clone(),
        task: input.task.clone(),
        status: input.status,
        updated_at: now_rfc3339(),
        hub_status,
        hub_error: hub_error.as_ref().map(ToString::to_string),
        hub_error_type: hub_error.as_ref().map(|e| e.kind.error_type().to_owned()),
        status_detail: detail,
        progress_percent: percent,
        target_workspace_id: input.target_workspace_id.clone(),
        adoption: input.adoption,
    };
    publish(deps, events::ITEM_PROGRESS, &[event]).await?;
    info!(task = %task_name, status = ?input.status, hub_status = ?hub_status, "progress reported");
    Ok(UpdateOutput {
        hub_status,
        event_published: true,
        hub_error_type: hub_error.as_ref().map(|e| e.kind.error_type().to_owned()),
        hub_error: hub_error.map(|e| e.to_string()),
    })
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
            fleetshift_core::lex_v1::check_bot(&mut v, ("task.id", id), ("task.version", version))
        }
    }
    v.into_result()
}

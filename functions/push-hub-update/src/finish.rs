//! `finish` (states `Finish` and `ReportImageGate`): the wave's summary, built from the plan's
//! items and the results the Maps returned, published as `Wave Finished` and returned as the
//! execution's output.

use fleetshift_core::contract::{
    BotResult, Reason, Status, WaveCounts, WaveFinished, WaveSummary, WorkspaceResult,
};
use fleetshift_core::{Violations, events};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{info, warn};

use crate::contract::{FinishInput, check_wave_id};
use crate::eventbridge::{json_len, publish, split_lists};
use crate::summary::{StandbyFailure, summary};
use crate::{Deps, Error, MAX_STATUS_DETAIL_CHARS, truncate_chars};

/// Cause of a planned item the wave returned no result for (its `reason` is
/// [`Reason::NoResult`]).
pub const NO_RESULT_CAUSE: &str =
    "no result reported: its iteration failed outside the item's own error handling";

pub(crate) async fn finish(input: FinishInput, deps: &Deps) -> Result<WaveSummary, Error> {
    validate_finish(&input).map_err(Error::InvalidInput)?;
    let ws = reconcile(
        input
            .planned
            .iter()
            .map(|w| w.workspace_id.clone())
            .collect(),
        &input.workspaces,
        |r: &WorkspaceResult| r.source_workspace_id.clone(),
        |id| WorkspaceResult {
            source_workspace_id: id.clone(),
            target_workspace_id: None,
            status: Status::Failed,
            cause: Some(NO_RESULT_CAUSE.to_owned()),
            error: None,
            reason: Some(Reason::NoResult),
            standby: None,
            adoption: None,
        },
    );
    let bots = reconcile(
        input
            .planned_bots
            .iter()
            .map(|b| (b.v1_bot_name.clone(), b.v1_bot_version.clone()))
            .collect(),
        &input.bots,
        |r: &BotResult| (r.v1_bot_name.clone(), r.v1_bot_version.clone()),
        |(name, version)| BotResult {
            v1_bot_name: name.clone(),
            v1_bot_version: version.clone(),
            migration_id: None,
            v2_bot_id: None,
            status: Status::Failed,
            cause: Some(NO_RESULT_CAUSE.to_owned()),
            error: None,
            reason: Some(Reason::NoResult),
        },
    );
    let standby_failures: Vec<StandbyFailure> = ws
        .rows
        .iter()
        .filter(|(r, _)| r.status == Status::Completed)
        .filter_map(|(r, _)| {
            let causes = r.standby.as_ref()?.failures();
            (!causes.is_empty()).then_some((r, causes))
        })
        .collect();
    let total = ws.planned + bots.planned;
    let failed = ws.planned_failed + bots.planned_failed;
    let counts = WaveCounts {
        wave_id: input.wave_id.clone(),
        total,
        completed: total - failed,
        failed,
        standby_failed: standby_failures.len(),
        unreadable: ws.unreadable.len() + bots.unreadable.len(),
        unplanned: ws.unplanned().count() + bots.unplanned().count(),
        cause: match input.gate_cause.as_deref() {
            // The gate's cause is said once, for the wave; its items carry only `gateClosed`.
            Some(gate) => format!(
                "the image gate closed: {}. {}",
                truncate_chars(gate, MAX_STATUS_DETAIL_CHARS),
                summary(&ws, &bots, &standby_failures)
            ),
            None => summary(&ws, &bots, &standby_failures),
        },
    };

    // The event carries each result whole (its standby too); the summary only what the wave's
    // output needs. Both cut the cause to Migration Hub's limit.
    let mapping: Vec<WorkspaceResult> = ws
        .rows
        .into_iter()
        .map(|(w, _)| WorkspaceResult {
            // A caught error is shown once (code and message) and cut like any cause: the event
            // and the summary stay small whatever AWS's message.
            cause: w
                .shown_cause()
                .map(|c| truncate_chars(&c, MAX_STATUS_DETAIL_CHARS)),
            error: None,
            ..w
        })
        .collect();
    let bot_rows: Vec<BotResult> = bots
        .rows
        .into_iter()
        .map(|(b, _)| BotResult {
            cause: b
                .shown_cause()
                .map(|c| truncate_chars(&c, MAX_STATUS_DETAIL_CHARS)),
            error: None,
            ..b
        })
        .collect();
    let event = |mapping, bots, part, parts| WaveFinished {
        counts: counts.clone(),
        mapping,
        bots,
        part,
        parts,
    };
    let base = json_len(&event(Vec::new(), Vec::new(), 1, 1));
    let parts = split_lists(base, mapping.clone(), bot_rows.clone());
    let count = parts.len();
    let details: Vec<WaveFinished> = parts
        .into_iter()
        .enumerate()
        .map(|(i, (m, b))| event(m, b, i + 1, count))
        .collect();
    publish(deps, events::WAVE_FINISHED, &details).await?;
    info!(
        wave_id = %input.wave_id,
        total,
        failed,
        standby_failed = counts.standby_failed,
        unreadable = counts.unreadable,
        unplanned = counts.unplanned,
        "wave finished"
    );

    Ok(WaveSummary {
        counts,
        mapping: mapping
            .into_iter()
            .map(|w| WorkspaceResult { standby: None, ..w })
            .collect(),
        bots: bot_rows,
        events_published: count,
    })
}

/// Only the wave id: the results are read leniently (see [`FinishInput`]).
fn validate_finish(input: &FinishInput) -> Result<(), Violations> {
    let mut v = Violations::default();
    check_wave_id(&mut v, &input.wave_id);
    v.into_result()
}

/// An item's result row: planned or not.
type Row<T> = (T, bool);

/// The results of one Map matched against the plan's items.
pub(crate) struct Reconciled<T> {
    /// In plan order, then the results for items not in the plan. A planned item without a
    /// result has a FAILED row of its own.
    pub(crate) rows: Vec<Row<T>>,
    /// Planned items.
    pub(crate) planned: usize,
    /// Planned items none of whose rows is COMPLETED.
    pub(crate) planned_failed: usize,
    /// Entries that were not results.
    pub(crate) unreadable: Vec<Value>,
}

impl<T> Reconciled<T> {
    pub(crate) fn unplanned(&self) -> impl Iterator<Item = &T> {
        self.rows.iter().filter(|(_, p)| !p).map(|(r, _)| r)
    }
}

/// A Map result's state.
pub(crate) trait HasStatus {
    fn status(&self) -> Status;
}

impl HasStatus for WorkspaceResult {
    fn status(&self) -> Status {
        self.status
    }
}

impl HasStatus for BotResult {
    fn status(&self) -> Status {
        self.status
    }
}

fn reconcile<T, K>(
    planned: Vec<K>,
    results: &[Value],
    key: impl Fn(&T) -> K,
    missing: impl Fn(&K) -> T,
) -> Reconciled<T>
where
    T: DeserializeOwned + HasStatus,
    K: PartialEq,
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
    let mut rows = Vec::new();
    let mut planned_failed = 0;
    for k in &planned {
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
        if !found.iter().any(|r| r.status() == Status::Completed) {
            planned_failed += 1;
        }
        rows.extend(found.into_iter().map(|r| (r, true)));
    }
    rows.extend(readable.into_iter().flatten().map(|r| (r, false)));
    Reconciled {
        rows,
        planned: planned.len(),
        planned_failed,
        unreadable,
    }
}

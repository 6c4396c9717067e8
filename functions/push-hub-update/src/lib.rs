//! push-hub-update: reports a wave's progress to its sinks.
//!
//! Called by the states `Register` (action `register`), `ReportStarted`, `ReportCompleted`,
//! `ReportFailed` and their bot twins (action `update`), and `Finish` and `ReportImageGate` (action
//! `finish`) of the fleet-migration state machine. One module per concern: [`contract`] (what each
//! action takes and answers; the events and results themselves are `fleetshift_core::contract`'s),
//! `register`, `update`, `finish` (with `summary`, its one-line text), and the two sinks, `hub`
//! and `eventbridge`.
//!
//! Two sinks:
//! - **EventBridge** (always): every action publishes an event with source `fleetshift` on the
//!   stack's bus. Events are the always-on sink, so a failed `PutEvents` is an error the state
//!   machine retries.
//! - **Migration Hub** (optional): Migration Hub is closed to new customers since 2025-11-07, so it
//!   is used only when the plan or the stack enables it, and no failure of it ever fails the
//!   wave. In `register`, each item is registered or not, and `Wave Registered` says which
//!   (`hubRegistered`, `hubErrorType`): throttling and server errors are retried in rounds that
//!   resume at the step that failed, with bounded concurrency and backoff, within a time budget;
//!   a missing home Region or access denied stops the Hub for the wave at once; when no item could
//!   be registered the wave reports `hubStatus: "unavailable"` and uses events only. In `update`,
//!   every Hub failure degrades (after the SDK's own retries), and an item left unregistered is
//!   imported then: a Hub outage must neither stop a migration nor lose an item's final state,
//!   and the event carries `hubError` and `hubErrorType`.
//!
//! **Why the plan is validated here.** `Register` is the workflow's first Task: the plan is
//! checked before any item is registered or any WorkSpace touched, so an invalid plan fails the
//! execution at once with `InvalidPlan` (never retried), and every later state reads the
//! normalised plan `register` returns. The checks against the stack (StandbyRegion,
//! StandbyKmsKeyArn, LexMigrationEnabled, LexV2BotRoleArn) belong here too: this function's
//! environment carries the stack's parameters, and without them every WorkSpace would migrate and
//! only then every standby (or bot) fail with AccessDenied. start-wave does not validate, so a
//! wave started from the console is checked the same way as one started by an event.
//!
//! Migration Hub's limits are respected here: task names carry WorkSpace ids and bot names, never
//! user names; `StatusDetail` is cut to 2500 characters; `ProgressPercent` is kept in 0-100; and
//! `NextUpdateSeconds` is derived from the plan's polling settings so that a task waiting on a poll
//! (plus retry backoff) is never shown as stale.

pub mod contract;
mod eventbridge;
mod finish;
mod hub;
mod register;
mod settings;
mod summary;
mod update;

use serde_json::Value;

pub use contract::{
    FinishInput, FinishOutput, Input, Output, PlannedBot, PlannedWorkspace, RegisterInput,
    RegisterOutput, UpdateInput, UpdateOutput, parse_input,
};
pub use eventbridge::{DETAIL_BUDGET_BYTES, MAX_ENTRIES_PER_REQUEST, MAX_EVENT_BYTES};
pub use finish::NO_RESULT_CAUSE;
pub use fleetshift_core::contract::{HubRef, HubStatus, Status, TaskRef};
pub use hub::{HUB_BACKOFF_BASE, HUB_BACKOFF_CAP, HUB_REGISTER_BUDGET, HUB_RETRY_ROUNDS};
pub use register::{next_update_seconds, not_started_next_update_seconds};
pub use settings::{Deps, Settings};

/// Migration Hub's limit on `StatusDetail`, in characters.
pub const MAX_STATUS_DETAIL_CHARS: usize = 2500;
/// Added to the longest silent period of a task when computing `NextUpdateSeconds`: the state
/// machine's retriers (exponential backoff, capped delays, several attempts) can hold a task this
/// much longer before its next report.
pub const BACKOFF_ALLOWANCE_SECONDS: u32 = 1800;
/// The MigrateBots Map's MaxConcurrency in the state machine.
pub const BOT_CONCURRENCY: u32 = 2;
/// Migration Hub calls in flight at once while registering a wave: Migration Hub throttles per
/// account (AWS publishes no request rate for it), registration is not urgent, and 400 tasks at
/// two calls each still take well under a minute at this pace when the Hub answers in a few
/// hundred milliseconds.
pub const HUB_CONCURRENCY: usize = 4;

/// The failure classes the state machine routes on: the input (or the plan in it) is invalid and
/// nothing was called (`InvalidPlan`), or Migration Hub or EventBridge failed in a way that is
/// not a degradation (its AWS class). Core's one error shape; push-hub-update has no failure of
/// its own.
pub type Error = fleetshift_core::diagnostic::Error;

/// Parses the raw Lambda payload (a malformed payload is `InvalidPlan` naming the field, not a
/// runtime deserialisation error no retrier matches) and runs [`handler`].
pub async fn handle(payload: Value, deps: &Deps) -> Result<Output, Error> {
    let input = parse_input(payload)?;
    handler(input, deps).await
}

/// Runs one action.
#[tracing::instrument(skip(deps))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    match input {
        Input::Register(i) => register::register(i, deps)
            .await
            .map(|o| Output::Register(Box::new(o))),
        Input::Update(i) => update::update(i, deps).await.map(Output::Update),
        Input::Finish(i) => finish::finish(i, deps).await.map(Output::Finish),
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub use fleetshift_core::text::truncate_chars;

/// Now, on the function's clock, as RFC 3339.
fn now_rfc3339() -> String {
    fleetshift_core::rfc3339::format(fleetshift_clock::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_detail_is_cut_to_the_hub_limit() {
        let long = "é".repeat(3000);
        let cut = truncate_chars(&long, MAX_STATUS_DETAIL_CHARS);
        assert_eq!(cut, format!("{}...", "é".repeat(2497)));
        assert_eq!(truncate_chars("short", 10), "short");
    }
}

//! Reports where a BYOL image import stands: one DescribeCustomWorkspaceImageImport call. Called
//! by the state `PollImageImport`, which waits and polls again until the import is `done`, or
//! fails the wave when it is `failed` (state ERROR) or `expired` (not done by its deadline).
//!
//! The import goes through 14 states (PENDING ... PUBLISHING, COMPLETED, ERROR); the SDK enum is
//! non-exhaustive, so a state this code does not know counts as still in progress.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_workspaces::operation::describe_custom_workspace_image_import::DescribeCustomWorkspaceImageImportError;
use aws_sdk_workspaces::types::CustomWorkspaceImageImportState as State;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::diagnostic::Operation;
use fleetshift_core::{ErrorKind, Violations, rfc3339, validate};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

const OPERATION: Operation<DescribeCustomWorkspaceImageImportError> =
    Operation::new("DescribeCustomWorkspaceImageImport", |e| {
        Some(if e.is_access_denied_exception() {
            ErrorKind::AccessDenied
        } else if e.is_resource_not_found_exception() {
            ErrorKind::NotFound
        } else {
            return None;
        })
    });

/// The deadline when the input names `waitingSince` but no `deadlineMinutes` (the plan's default
/// `polling.imageDeadlineMinutes`).
pub const DEFAULT_DEADLINE_MINUTES: u32 = 240;
/// The longest deadline accepted (a week), as for the plan's `polling.imageDeadlineMinutes`.
pub const MAX_DEADLINE_MINUTES: u32 = 7 * 24 * 60;

/// The import to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The imported image, `wsi-...`.
    pub image_id: String,
    /// When the wave started waiting for the import (RFC 3339); without it there is no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<String>,
    /// How long after `waitingSince` the import may take (default 240).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_minutes: Option<u32>,
}

/// Where the import stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub image_id: String,
    /// The import's state as WorkSpaces names it, e.g. `IMAGE_TESTING_START`.
    pub state: String,
    /// 0-100.
    pub progress_percentage: i32,
    /// The state is COMPLETED: the image can be used.
    pub done: bool,
    /// The state is ERROR: see `errorDetails`.
    pub failed: bool,
    /// Neither done nor failed, and past `waitingSince` + `deadlineMinutes`.
    pub expired: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    #[serde(default)]
    pub error_details: Vec<ErrorDetail>,
}

/// One reason an import failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub error_code: String,
    pub error_message: String,
}

/// The failures the state machine routes on: invalid input (`InvalidPlan`) or a failed AWS call
/// (its retry class).
pub type Error = fleetshift_core::diagnostic::Error;

/// The WorkSpaces client of the image's Region.
#[derive(Clone, Debug)]
pub struct Deps {
    pub workspaces: aws_sdk_workspaces::Client,
}

impl Deps {
    /// Builds from the process's shared configuration.
    pub fn from_config(sdk: &SdkConfig) -> Self {
        Deps {
            workspaces: fleetshift_core::clients::workspaces(sdk),
        }
    }
}

/// Whether a state ends the import, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    InProgress,
    Completed,
    Failed,
}

/// The phase of an import state. The SDK enum is non-exhaustive and may gain states: anything
/// but COMPLETED and ERROR, known or not, is still in progress.
pub fn phase(state: &State) -> Phase {
    match state {
        State::Completed => Phase::Completed,
        State::Error => Phase::Failed,
        _ => Phase::InProgress,
    }
}

/// Reads the input from the JSON a state passes (missing or mistyped fields become `InvalidPlan`
/// with the field's path), then runs [`handler`].
pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    let input: Input = validate::from_json(input).map_err(Error::InvalidInput)?;
    handler(input, deps).await
}

/// Checks the import once; see the crate docs.
#[tracing::instrument(skip(deps))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    let deadline = check(&input).map_err(Error::InvalidInput)?;

    let answer = deps
        .workspaces
        .describe_custom_workspace_image_import()
        .image_id(&input.image_id)
        .send()
        .await
        .map_err(|err| {
            let classified = OPERATION.classify(&err);
            warn!(error = %DisplayErrorContext(&err), kind = ?classified.kind, "DescribeCustomWorkspaceImageImport failed");
            Error::Aws(classified)
        })?;

    // A missing state is treated like an unknown one: keep polling, the deadline bounds the wait.
    let (state, phase) = match answer.state() {
        Some(s) => (s.as_str().to_owned(), phase(s)),
        None => ("UNKNOWN".to_owned(), Phase::InProgress),
    };
    let done = phase == Phase::Completed;
    let failed = phase == Phase::Failed;
    let expired = !done && !failed && deadline.is_some_and(|d| fleetshift_clock::now() > d);
    let progress_percentage = answer
        .progress_percentage()
        .unwrap_or(if done { 100 } else { 0 })
        .clamp(0, 100);
    let output = Output {
        image_id: input.image_id,
        state,
        progress_percentage,
        done,
        failed,
        expired,
        state_message: answer.state_message().map(str::to_owned),
        error_details: answer
            .error_details()
            .iter()
            .map(|e| ErrorDetail {
                error_code: e.error_code().unwrap_or_default().to_owned(),
                error_message: e.error_message().unwrap_or_default().to_owned(),
            })
            .collect(),
    };
    if failed || expired {
        warn!(image_id = %output.image_id, state = %output.state, expired, details = ?output.error_details, "image import did not complete");
    } else {
        info!(image_id = %output.image_id, state = %output.state, progress = output.progress_percentage, done, "image import checked");
    }
    Ok(output)
}

/// Validates the input; returns the deadline, if any.
fn check(input: &Input) -> Result<Option<SystemTime>, Violations> {
    let mut v = Violations::default();
    v.pattern("imageId", &input.image_id, &validate::IMAGE_ID);
    let minutes = input.deadline_minutes.unwrap_or(DEFAULT_DEADLINE_MINUTES);
    v.range(
        "deadlineMinutes",
        minutes.into(),
        1,
        MAX_DEADLINE_MINUTES.into(),
    );
    let since = match &input.waiting_since {
        None => None,
        Some(s) => match rfc3339::parse(s) {
            Some(t) => Some(t),
            None => {
                v.push(
                    "waitingSince",
                    format!(
                        "must be an RFC 3339 date-time such as 2025-11-07T12:00:00Z (is {s:?})"
                    ),
                );
                None
            }
        },
    };
    v.into_result()?;
    Ok(since.map(|t| t + Duration::from_secs(u64::from(minutes) * 60)))
}

#[cfg(test)]
mod tests;

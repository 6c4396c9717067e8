//! Creates standby WorkSpaces in another Region for migrated WorkSpaces: one
//! CreateStandbyWorkspaces call, made with a client for the *standby* Region and `PrimaryRegion`
//! naming the source. Called by the state `CreateStandby` once a WorkSpace's migration completed
//! and the plan asks for a standby.
//!
//! A 200 answer can still hold `FailedStandbyRequests`: a partial failure is data (each requested
//! WorkSpace appears exactly once, in `pending` or in `failed`); only when every request failed is
//! the call an error, `StandbyFailed`.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_workspaces::config::Region;
use aws_sdk_workspaces::operation::create_standby_workspaces::CreateStandbyWorkspacesOutput;
use aws_sdk_workspaces::types::{DataReplication, StandbyWorkspace};
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::plan::Standby;
use fleetshift_core::{AwsError, ErrorKind, Violations, error_type, validate};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

const OPERATION: &str = "CreateStandbyWorkspaces";

/// The error code of a requested WorkSpace that the answer neither accepted nor rejected.
pub const NOT_ACKNOWLEDGED: &str = "NotAcknowledged";

/// What to create: the plan's standby settings and the primary WorkSpaces that get a standby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The Region of the primary WorkSpaces; defaults to the function's own Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// The plan's `standby` section: standby Region, directory, key, tags, DataReplication.
    pub standby: Standby,
    /// The primary WorkSpaces (ids in `primaryRegion`), each at most once.
    pub workspace_ids: Vec<String>,
}

/// The answer, with every requested WorkSpace in exactly one of `pending` and `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The standby Region the requests were made in.
    pub region: String,
    /// Standby WorkSpaces being created.
    pub pending: Vec<PendingStandby>,
    /// Requests WorkSpaces rejected, each with its reason.
    pub failed: Vec<FailedStandby>,
}

/// A standby WorkSpace being created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingStandby {
    pub primary_workspace_id: String,
    /// The new standby WorkSpace's id, when the answer ties it to this primary unambiguously
    /// (WorkSpaces does not name the primary in `PendingStandbyRequests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_workspace_id: Option<String>,
    /// The directory the standby joins, in the standby Region.
    pub directory_id: String,
    /// The standby WorkSpace's state, e.g. `PENDING`.
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

/// The failure classes the state machine routes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks a rule of the service model; no call was made. Never retried.
    #[error("invalid input: {0}")]
    InvalidInput(Violations),
    /// The call itself failed; its class decides the retry.
    #[error(transparent)]
    Aws(AwsError),
    /// WorkSpaces answered, but rejected every request.
    #[error("{}", standby_failed_message(region, failed))]
    StandbyFailed {
        region: String,
        failed: Vec<FailedStandby>,
    },
}

fn standby_failed_message(region: &str, failed: &[FailedStandby]) -> String {
    let each: Vec<String> = failed
        .iter()
        .map(|f| {
            format!(
                "{}: {}: {}",
                f.primary_workspace_id, f.error_code, f.error_message
            )
        })
        .collect();
    format!(
        "all {} standby requests in {region} failed: {}",
        failed.len(),
        each.join("; ")
    )
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        let error_type = match &err {
            Error::InvalidInput(_) => error_type::INVALID_PLAN,
            Error::Aws(e) => e.kind.error_type(),
            Error::StandbyFailed { .. } => error_type::STANDBY_FAILED,
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// The WorkSpaces client configuration, re-targeted per call at the standby Region, and the
/// function's own Region (the default primary Region).
#[derive(Clone, Debug)]
pub struct Deps {
    workspaces: aws_sdk_workspaces::Config,
    own_region: Option<String>,
}

impl Deps {
    /// Builds from the process's shared configuration (as `fleetshift_core::clients` does).
    pub fn from_config(sdk: &SdkConfig) -> Self {
        Self::new(fleetshift_core::clients::workspaces(sdk).config().clone())
    }

    /// Builds from a WorkSpaces client configuration; its Region is the default primary Region.
    pub fn new(workspaces: aws_sdk_workspaces::Config) -> Self {
        let own_region = workspaces.region().map(|r| r.as_ref().to_owned());
        Deps {
            workspaces,
            own_region,
        }
    }

    /// A client for `region`, otherwise configured like the function's own (retries, endpoint,
    /// credentials). Same construction as `fleetshift_core::clients::workspaces_in`, but from a
    /// client configuration, so tests can inject a mocked one.
    pub fn client_in(&self, region: &str) -> aws_sdk_workspaces::Client {
        let conf = self
            .workspaces
            .to_builder()
            .region(Region::new(region.to_owned()))
            .build();
        aws_sdk_workspaces::Client::from_conf(conf)
    }
}

/// Reads the input from the JSON a state passes (missing or mistyped fields become `InvalidPlan`
/// with the field's path), then runs [`handler`].
pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    let input: Input = validate::from_json(input).map_err(Error::InvalidInput)?;
    handler(input, deps).await
}

/// Creates the standby WorkSpaces; see the crate docs.
#[tracing::instrument(skip(deps), fields(standby_region = %input.standby.region))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    let primary_region = input
        .primary_region
        .clone()
        .or_else(|| deps.own_region.clone())
        .unwrap_or_default();
    check(&input, &primary_region).map_err(Error::InvalidInput)?;
    let requests = requests(&input)?;

    let client = deps.client_in(&input.standby.region);
    let answer = client
        .create_standby_workspaces()
        .primary_region(&primary_region)
        .set_standby_workspaces(Some(requests))
        .send()
        .await
        .map_err(|err| {
            let classified = match err.as_service_error() {
                Some(e) if e.is_access_denied_exception() => {
                    AwsError::from_kind(ErrorKind::AccessDenied, OPERATION, &err)
                }
                Some(e) if e.is_invalid_parameter_values_exception() => {
                    AwsError::from_kind(ErrorKind::InvalidRequest, OPERATION, &err)
                }
                Some(e) if e.is_operation_not_supported_exception() => {
                    AwsError::from_kind(ErrorKind::NotSupported, OPERATION, &err)
                }
                Some(e) if e.is_resource_not_found_exception() => {
                    AwsError::from_kind(ErrorKind::NotFound, OPERATION, &err)
                }
                Some(e) if e.is_resource_limit_exceeded_exception() => {
                    AwsError::from_kind(ErrorKind::LimitExceeded, OPERATION, &err)
                }
                _ => AwsError::classify(OPERATION, &err),
            };
            warn!(error = %DisplayErrorContext(&err), kind = ?classified.kind, "CreateStandbyWorkspaces failed");
            Error::Aws(classified)
        })?;

    let output = reconcile(&input, &answer);
    for f in &output.failed {
        warn!(workspace_id = %f.primary_workspace_id, error_code = %f.error_code, error_message = %f.error_message, "standby request failed");
    }
    info!(
        pending = output.pending.len(),
        failed = output.failed.len(),
        "standby requests answered"
    );
    if output.pending.is_empty() {
        return Err(Error::StandbyFailed {
            region: output.region,
            failed: output.failed,
        });
    }
    Ok(output)
}

fn check(input: &Input, primary_region: &str) -> Result<(), Violations> {
    let mut v = Violations::default();
    input.standby.check("standby", &mut v);
    if primary_region.is_empty() {
        v.push(
            "primaryRegion",
            "is required when the function's own Region is unknown",
        );
    } else {
        v.pattern("primaryRegion", primary_region, &validate::REGION);
        v.length("primaryRegion", primary_region, 1, 31);
        input
            .standby
            .check_region("standby", Some(primary_region), None, &mut v);
    }
    if input.workspace_ids.is_empty() {
        v.push("workspaceIds", "must name at least one WorkSpace");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, id) in input.workspace_ids.iter().enumerate() {
        v.pattern(&format!("workspaceIds[{i}]"), id, &validate::WORKSPACE_ID);
        if !seen.insert(id.as_str()) {
            v.push(
                format!("workspaceIds[{i}]"),
                format!("must be unique ({id} appears twice)"),
            );
        }
    }
    v.into_result()
}

fn requests(input: &Input) -> Result<Vec<StandbyWorkspace>, Error> {
    let s = &input.standby;
    let tags = s
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            aws_sdk_workspaces::types::Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
                .map_err(|e| invalid(format!("standby.tags[{i}]"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    input
        .workspace_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            StandbyWorkspace::builder()
                .primary_workspace_id(id)
                .directory_id(&s.directory_id)
                .set_volume_encryption_key(s.volume_encryption_key.clone())
                .set_tags((!tags.is_empty()).then(|| tags.clone()))
                .set_data_replication(s.data_replication.as_deref().map(DataReplication::from))
                .build()
                .map_err(|e| invalid(format!("workspaceIds[{i}]"), e))
        })
        .collect()
}

fn invalid(field: String, err: impl std::fmt::Display) -> Error {
    let mut v = Violations::default();
    v.push(field, err.to_string());
    Error::InvalidInput(v)
}

/// Puts every requested WorkSpace in exactly one of `pending` and `failed`.
///
/// Failed requests echo the request, so they are attributed by primary id. Pending ones name only
/// the new standby WorkSpace, so a requested WorkSpace not reported failed is pending, and its
/// standby id is filled in only when one WorkSpace and one pending request remain. A requested
/// WorkSpace the answer does not account for at all (no pending request left for it) is failed with
/// [`NOT_ACKNOWLEDGED`] or the code of an unattributed failure, never dropped.
fn reconcile(input: &Input, answer: &CreateStandbyWorkspacesOutput) -> Output {
    let mut failed_by_id: HashMap<&str, (String, String)> = HashMap::new();
    let mut unattributed = Vec::new();
    for f in answer.failed_standby_requests() {
        let code = f.error_code().unwrap_or("Unknown").to_owned();
        let message = f.error_message().unwrap_or_default().to_owned();
        match f
            .standby_workspace_request()
            .map(|r| r.primary_workspace_id())
        {
            Some(id) if input.workspace_ids.iter().any(|w| w == id) => {
                failed_by_id.entry(id).or_insert((code, message));
            }
            other => {
                warn!(primary_workspace_id = ?other, error_code = %code, "failed standby request not among the requested WorkSpaces");
                unattributed.push((code, message));
            }
        }
    }

    let pending_answers = answer.pending_standby_requests();
    let remaining: Vec<&String> = input
        .workspace_ids
        .iter()
        .filter(|id| !failed_by_id.contains_key(id.as_str()))
        .collect();
    let common_state = common_state(pending_answers);
    let unambiguous = remaining.len() == 1 && pending_answers.len() == 1;
    if remaining.len() != pending_answers.len() {
        warn!(
            remaining = remaining.len(),
            pending = pending_answers.len(),
            "pending standby requests do not match the requested WorkSpaces one to one"
        );
    }

    let mut pending = Vec::new();
    let mut failed = Vec::new();
    for id in &input.workspace_ids {
        if let Some((code, message)) = failed_by_id.remove(id.as_str()) {
            failed.push(FailedStandby {
                primary_workspace_id: id.clone(),
                error_code: code,
                error_message: message,
            });
        } else if pending_answers.is_empty() {
            let (code, message) = unattributed.first().cloned().unwrap_or_else(|| {
                (
                    NOT_ACKNOWLEDGED.to_owned(),
                    "CreateStandbyWorkspaces answered with neither a pending nor a failed request for this WorkSpace".to_owned(),
                )
            });
            failed.push(FailedStandby {
                primary_workspace_id: id.clone(),
                error_code: code,
                error_message: message,
            });
        } else {
            let answer = unambiguous.then(|| &pending_answers[0]);
            pending.push(PendingStandby {
                primary_workspace_id: id.clone(),
                standby_workspace_id: answer.and_then(|a| a.workspace_id()).map(str::to_owned),
                directory_id: answer
                    .and_then(|a| a.directory_id())
                    .unwrap_or(&input.standby.directory_id)
                    .to_owned(),
                state: answer
                    .and_then(|a| a.state())
                    .map(|s| s.as_str().to_owned())
                    .or_else(|| common_state.clone())
                    .unwrap_or_else(|| "PENDING".to_owned()),
            });
        }
    }
    Output {
        region: input.standby.region.clone(),
        pending,
        failed,
    }
}

/// The state all pending requests share, if they share one.
fn common_state(
    pending: &[aws_sdk_workspaces::types::PendingCreateStandbyWorkspacesRequest],
) -> Option<String> {
    let mut states = pending.iter().filter_map(|p| p.state()).map(|s| s.as_str());
    let first = states.next()?;
    states.all(|s| s == first).then(|| first.to_owned())
}

#[cfg(test)]
mod tests;

//! Creates the standby WorkSpace of a migrated WorkSpace in another Region: one
//! CreateStandbyWorkspaces call, made with a client for the *standby* Region and `PrimaryRegion`
//! naming the source. Called by the state `CreateStandby` once a WorkSpace's migration completed
//! and the plan asks for a standby; each WorkSpace's iteration calls it for its own new WorkSpace
//! (`workspaceIds` is `States.Array($.migration.targetWorkspaceId)`), so a call requests exactly
//! one standby.
//!
//! A 200 answer can still hold `FailedStandbyRequests`: when it rejects the request (or accepts
//! none), the call is an error, `StandbyFailed`, naming WorkSpaces' code and message.

use aws_config::SdkConfig;
use aws_sdk_workspaces::config::Region;
use aws_sdk_workspaces::operation::create_standby_workspaces::{
    CreateStandbyWorkspacesError, CreateStandbyWorkspacesOutput,
};
use aws_sdk_workspaces::types::{DataReplication, StandbyWorkspace};
use aws_smithy_types::error::display::DisplayErrorContext;
pub use fleetshift_core::contract::{FailedStandby, PendingStandby, StandbyCreated};
use fleetshift_core::diagnostic::{ErrorType, Operation};
use fleetshift_core::plan::Standby;
use fleetshift_core::{ErrorKind, Violations, error_type, validate};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

const OPERATION: Operation<CreateStandbyWorkspacesError> =
    Operation::new("CreateStandbyWorkspaces", |e| {
        Some(if e.is_access_denied_exception() {
            ErrorKind::AccessDenied
        } else if e.is_invalid_parameter_values_exception() {
            ErrorKind::InvalidRequest
        } else if e.is_operation_not_supported_exception() {
            ErrorKind::NotSupported
        } else if e.is_resource_not_found_exception() {
            ErrorKind::NotFound
        } else if e.is_resource_limit_exceeded_exception() {
            ErrorKind::LimitExceeded
        } else {
            return None;
        })
    });

/// The error code of a requested WorkSpace that the answer neither accepted nor rejected.
pub const NOT_ACKNOWLEDGED: &str = "NotAcknowledged";

/// What to create: the plan's standby settings and the primary WorkSpace that gets a standby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The Region of the primary WorkSpaces; defaults to the function's own Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// The plan's `standby` section: standby Region, directory, key, tags, DataReplication.
    pub standby: Standby,
    /// The primary WorkSpace (its id in `primaryRegion`), as a one-element list: the form the
    /// state machine's `States.Array` builds.
    pub workspace_ids: Vec<String>,
}

/// The answer: the standby WorkSpace being created, in `pending`; `failed` is empty on success (a
/// rejected request is the `StandbyFailed` error). The type is the wave's contract, read back by
/// push-hub-update and the report.
pub type Output = StandbyCreated;

/// The failure classes the state machine routes on: invalid input (`InvalidPlan`), a failed call
/// (its retry class), or a request WorkSpaces rejected.
pub type Error = fleetshift_core::diagnostic::Error<StandbyFailed>;

/// WorkSpaces answered, but rejected the request (or accepted none): `StandbyFailed`.
#[derive(Debug, thiserror::Error)]
#[error("{}", standby_failed_message(region, failed))]
pub struct StandbyFailed {
    pub region: String,
    pub failed: Vec<FailedStandby>,
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

impl ErrorType for StandbyFailed {
    fn error_type(&self) -> &'static str {
        error_type::STANDBY_FAILED
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
    /// credentials); built from a client configuration, so tests can inject a mocked one.
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

/// Creates the standby WorkSpace; see the crate docs.
#[tracing::instrument(skip(deps), fields(standby_region = %input.standby.region))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    let primary_region = input
        .primary_region
        .clone()
        .or_else(|| deps.own_region.clone())
        .unwrap_or_default();
    check(&input, &primary_region).map_err(Error::InvalidInput)?;
    let primary = input.workspace_ids[0].as_str();
    let request = request(&input.standby, primary)?;

    let client = deps.client_in(&input.standby.region);
    let answer = client
        .create_standby_workspaces()
        .primary_region(&primary_region)
        .standby_workspaces(request)
        .send()
        .await
        .map_err(|err| {
            let classified = OPERATION.classify(&err);
            warn!(error = %DisplayErrorContext(&err), kind = ?classified.kind, "CreateStandbyWorkspaces failed");
            Error::Aws(classified)
        })?;

    match outcome(&input.standby, primary, &answer) {
        Ok(pending) => {
            info!(
                primary_workspace_id = %pending.primary_workspace_id,
                standby_workspace_id = pending.standby_workspace_id.as_deref().unwrap_or("unknown"),
                "standby requested"
            );
            Ok(Output {
                region: input.standby.region,
                pending: vec![pending],
                failed: Vec::new(),
            })
        }
        Err(failed) => {
            warn!(workspace_id = %failed.primary_workspace_id, error_code = %failed.error_code, error_message = %failed.error_message, "standby request failed");
            Err(Error::Own(StandbyFailed {
                region: input.standby.region,
                failed: vec![failed],
            }))
        }
    }
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
    match input.workspace_ids.as_slice() {
        [id] => v.pattern("workspaceIds[0]", id, &validate::WORKSPACE_ID),
        ids => v.push(
            "workspaceIds",
            format!(
                "must name exactly one WorkSpace, the migrated one (names {})",
                ids.len()
            ),
        ),
    }
    v.into_result()
}

fn request(s: &Standby, primary: &str) -> Result<StandbyWorkspace, Error> {
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
    StandbyWorkspace::builder()
        .primary_workspace_id(primary)
        .directory_id(&s.directory_id)
        .set_volume_encryption_key(s.volume_encryption_key.clone())
        .set_tags((!tags.is_empty()).then_some(tags))
        .set_data_replication(s.data_replication.as_deref().map(DataReplication::from))
        .build()
        .map_err(|e| invalid("workspaceIds[0]".to_owned(), e))
}

fn invalid(field: String, err: impl std::fmt::Display) -> Error {
    let mut v = Violations::default();
    v.push(field, err.to_string());
    Error::InvalidInput(v)
}

/// What the answer says of the one requested WorkSpace: pending when WorkSpaces accepted a request
/// and rejected none for it; else failed, with the rejection naming it, or the rejection the answer
/// gives without naming a WorkSpace, or [`NOT_ACKNOWLEDGED`] when the answer says nothing at all.
fn outcome(
    standby: &Standby,
    primary: &str,
    answer: &CreateStandbyWorkspacesOutput,
) -> Result<PendingStandby, FailedStandby> {
    let failures = answer.failed_standby_requests();
    let named = failures.iter().find(|f| {
        f.standby_workspace_request()
            .is_some_and(|r| r.primary_workspace_id() == primary)
    });
    let pending = answer.pending_standby_requests();
    if named.is_none() && !pending.is_empty() {
        // Several pending answers to one request: none of them can be told to be this one.
        let answer = match pending {
            [one] => Some(one),
            _ => {
                warn!(
                    pending = pending.len(),
                    "several pending standby requests answer one request"
                );
                None
            }
        };
        return Ok(PendingStandby {
            primary_workspace_id: primary.to_owned(),
            standby_workspace_id: answer.and_then(|a| a.workspace_id()).map(str::to_owned),
            directory_id: answer
                .and_then(|a| a.directory_id())
                .unwrap_or(&standby.directory_id)
                .to_owned(),
            state: answer
                .and_then(|a| a.state())
                .map_or("PENDING", |s| s.as_str())
                .to_owned(),
        });
    }
    Err(match named.or(failures.first()) {
        Some(f) => FailedStandby {
            primary_workspace_id: primary.to_owned(),
            error_code: f.error_code().unwrap_or("Unknown").to_owned(),
            error_message: f.error_message().unwrap_or_default().to_owned(),
        },
        None => FailedStandby {
            primary_workspace_id: primary.to_owned(),
            error_code: NOT_ACKNOWLEDGED.to_owned(),
            error_message: "CreateStandbyWorkspaces answered with neither a pending nor a failed request for this WorkSpace".to_owned(),
        },
    })
}

#[cfg(test)]
mod tests;

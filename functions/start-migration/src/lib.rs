//! start-migration: starts the migration of one item of a wave and returns the ids the later
//! states poll and report on.
//!
//! Called by the `StartMigration` state of each WorkSpace iteration (WorkSpaces
//! `MigrateWorkspace`, which answers with the new WorkSpace id; the source id stays valid until the
//! migration completes, and stays for good if it fails; when a retried call finds the migration
//! an earlier call started, its new WorkSpace is looked up with `DescribeWorkspaces`) and by the `StartBotMigration` state of
//! each Lex bot iteration (Lex V1 `StartMigration`). Lex V1 stopped answering on 2025-09-15: in
//! most accounts that call now fails, which is reported as `LexV1Unavailable` and never retried.

mod lex;

use aws_sdk_workspaces::operation::migrate_workspace::MigrateWorkspaceError;
use aws_sdk_workspaces::types::WorkspaceState;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::contract::{Adoption, AdoptionEvidence};
use fleetshift_core::diagnostic::{ErrorType, Operation};
use fleetshift_core::{ErrorKind, Violations, error_type, lex_v1, rfc3339, validate};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// What to migrate. The state machine builds it from one item of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Input {
    /// A WorkSpace to move to another bundle.
    Workspace(WorkspaceInput),
    /// A Lex V1 bot to migrate to Lex V2.
    LexBot(LexBotInput),
}

/// A WorkSpace migration: MigrateWorkspace(SourceWorkspaceId, BundleId).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInput {
    /// The WorkSpace to migrate (`ws-...`); it must be AVAILABLE, STOPPED or ERROR.
    pub workspace_id: String,
    /// The target bundle (`wsb-...`). BYOL bundles move only to BYOL bundles.
    pub bundle_id: String,
    /// When the first attempt began (RFC 3339): the ASL passes `$$.State.EnteredTime` of
    /// StartMigration, which Step Functions keeps across the state's retries (a retry does not
    /// re-enter the state). An adopted migration was started by an earlier attempt, so its
    /// deadline counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_at: Option<String>,
}

/// A Lex bot migration: StartMigration with the plan's bot settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBotInput {
    /// The Lex V1 bot's name.
    pub v1_bot_name: String,
    /// The Lex V1 bot version (`$LATEST` or a number).
    pub v1_bot_version: String,
    /// The Lex V2 bot to create or update.
    pub v2_bot_name: String,
    /// The IAM role Lex V2 uses for the new bot.
    pub v2_bot_role: String,
    /// `CREATE_NEW` or `UPDATE_EXISTING`.
    pub migration_strategy: String,
}

/// The started migration: what check-migration polls and push-hub-update reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Output {
    /// A started WorkSpace migration.
    Workspace(WorkspaceOutput),
    /// A started Lex bot migration.
    LexBot(LexBotOutput),
}

/// MigrateWorkspace's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOutput {
    /// The original WorkSpace id.
    pub source_workspace_id: String,
    /// The id of the new WorkSpace, to poll until it is AVAILABLE.
    pub target_workspace_id: String,
    /// When the migration was started (RFC 3339); check-migration's deadline counts from here.
    /// For an adopted migration, the first attempt's time (`firstAttemptAt`), not the retry's.
    pub started_at: String,
    /// Set (always written, `null` otherwise, so the ASL can copy it into the item result) when
    /// MigrateWorkspace's answer was lost and the migration under way was adopted.
    pub adoption: Option<Adoption>,
}

/// StartMigration's answer. Fields Lex left out are filled from the input, or null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBotOutput {
    /// The id to pass to GetMigration.
    pub migration_id: String,
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    /// The Lex V2 bot the migration creates or updates.
    pub v2_bot_id: Option<String>,
    pub v2_bot_role: String,
    /// The locale of the V1 bot, e.g. `en-US`.
    pub v1_bot_locale: Option<String>,
    pub migration_strategy: String,
    /// When Lex started the migration (RFC 3339).
    pub migration_timestamp: Option<String>,
    /// When this function started it (RFC 3339); check-migration's deadline counts from here.
    pub started_at: String,
}

/// The failures the state machine routes on: invalid input (`InvalidPlan`), a failed AWS call (its
/// retry class), an answer without a field the workflow needs, or a lost answer whose migration
/// cannot be told apart.
pub type Error = fleetshift_core::diagnostic::Error<Failure>;

/// The handler's own failures.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// AWS answered success without a field the workflow needs: `UnexpectedResponse`.
    #[error(transparent)]
    MissingField(#[from] MissingField),
    /// MigrateWorkspace's answer was lost, and DescribeWorkspaces shows PENDING WorkSpaces that
    /// may be its migration but nothing that says which: `MigrationUnconfirmed`, final (a guess
    /// could report COMPLETED for someone else's WorkSpace; another MigrateWorkspace could migrate
    /// twice). The cause names what an operator should check.
    #[error(
        "MigrateWorkspace's answer was lost and the retry was refused as in progress; a migration \
         of {source_workspace_id} may be under way, but nothing DescribeWorkspaces shows ties it to \
         one WorkSpace: check {} ({reason}) before migrating {source_workspace_id} again",
        list_ids(candidates)
    )]
    Unconfirmed {
        source_workspace_id: String,
        /// The candidates' ids; the cause names at most [`MAX_NAMED_CANDIDATES`].
        candidates: Vec<String>,
        reason: &'static str,
    },
}

/// AWS answered success without a field the workflow needs.
#[derive(Debug, thiserror::Error)]
#[error("{operation} answered without {field}")]
pub struct MissingField {
    pub operation: &'static str,
    pub field: &'static str,
}

impl ErrorType for Failure {
    fn error_type(&self) -> &'static str {
        match self {
            Failure::MissingField(_) => error_type::UNEXPECTED_RESPONSE,
            Failure::Unconfirmed { .. } => error_type::MIGRATION_UNCONFIRMED,
        }
    }
}

/// How many candidate ids a cause names: a user has few WorkSpaces, and the cause stays small.
pub const MAX_NAMED_CANDIDATES: usize = 5;

/// `ws-a`, `ws-a and ws-b`, `ws-a, ws-b and ws-c`; past the cap `ws-a, ..., ws-e and 3 more`.
fn list_ids(ids: &[String]) -> String {
    let shown = &ids[..ids.len().min(MAX_NAMED_CANDIDATES)];
    let more = ids.len() - shown.len();
    let mut out = match shown {
        [] => String::from("no WorkSpace"),
        [one] => one.clone(),
        [init @ .., last] if more == 0 => format!("{} and {last}", init.join(", ")),
        _ => shown.join(", "),
    };
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

/// The AWS clients the handler calls.
#[derive(Debug, Clone)]
pub struct Deps {
    pub workspaces: aws_sdk_workspaces::Client,
    pub lex: aws_sdk_lexmodelbuilding::Client,
}

impl Deps {
    pub fn new(
        workspaces: aws_sdk_workspaces::Client,
        lex: aws_sdk_lexmodelbuilding::Client,
    ) -> Self {
        Deps { workspaces, lex }
    }

    /// Builds the clients from one loaded configuration (the Lambda's, or the offline runner's
    /// pointed at cloud-local).
    pub fn from_config(sdk: &aws_config::SdkConfig) -> Self {
        Deps::new(
            fleetshift_core::clients::workspaces(sdk),
            fleetshift_core::clients::lex_models(sdk),
        )
    }
}

/// Reads the raw event, naming the offending field, so a malformed event is `InvalidPlan` like
/// any other invalid input (the runtime's own deserialization error has no stable `errorType`).
pub fn parse_input(value: serde_json::Value) -> Result<Input, Error> {
    validate::from_json_tagged(value, "input", Some("kind")).map_err(Error::InvalidInput)
}

impl Input {
    /// Checks every field against the service model; every violation is reported.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::default();
        match self {
            Input::Workspace(w) => {
                v.pattern("workspaceId", &w.workspace_id, &validate::WORKSPACE_ID);
                v.pattern("bundleId", &w.bundle_id, &validate::BUNDLE_ID);
                if let Some(t) = &w.first_attempt_at
                    && rfc3339::parse(t).is_none()
                {
                    v.push("firstAttemptAt", "must be an RFC 3339 time");
                }
            }
            Input::LexBot(b) => lex_v1::MigrationRequest {
                v1_bot_name: &b.v1_bot_name,
                v1_bot_version: &b.v1_bot_version,
                v2_bot_name: &b.v2_bot_name,
                v2_bot_role: &b.v2_bot_role,
                migration_strategy: &b.migration_strategy,
            }
            .check("", &mut v),
        }
        v.into_result()
    }
}

/// Parses the raw event and runs [`handler`]: what the Lambda binary and the offline runner call.
pub async fn handle(event: serde_json::Value, deps: &Deps) -> Result<Output, Error> {
    handler(parse_input(event)?, deps).await
}

/// Validates the input (no AWS call when it is invalid), then starts the migration.
#[tracing::instrument(skip(deps))]
pub async fn handler(input: Input, deps: &Deps) -> Result<Output, Error> {
    input.validate().map_err(Error::InvalidInput)?;
    match input {
        Input::Workspace(w) => migrate_workspace(w, deps).await.map(Output::Workspace),
        Input::LexBot(b) => lex::start_migration(b, deps).await.map(Output::LexBot),
    }
}

async fn migrate_workspace(w: WorkspaceInput, deps: &Deps) -> Result<WorkspaceOutput, Error> {
    let started_at = rfc3339::format(fleetshift_clock::now());
    let out = match deps
        .workspaces
        .migrate_workspace()
        .source_workspace_id(&w.workspace_id)
        .bundle_id(&w.bundle_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err) => {
            let classified = MIGRATE_WORKSPACE.classify(&err);
            warn!(
                workspace_id = %w.workspace_id,
                error_type = classified.kind.error_type(),
                error = %DisplayErrorContext(&err),
                "MigrateWorkspace failed"
            );
            if classified.kind == ErrorKind::OperationInProgress {
                match migration_in_flight(&w, deps).await {
                    InFlight::Adopt { target, evidence } => {
                        // The migration began at an earlier attempt: its deadline counts from the
                        // first one (the earliest it can have begun), not from this retry.
                        let first = w
                            .first_attempt_at
                            .as_deref()
                            .and_then(rfc3339::parse)
                            .map_or(started_at, rfc3339::format);
                        return Ok(WorkspaceOutput {
                            source_workspace_id: w.workspace_id,
                            target_workspace_id: target,
                            started_at: first,
                            adoption: Some(Adoption {
                                adopted: true,
                                evidence,
                            }),
                        });
                    }
                    InFlight::Unconfirmed { candidates, reason } => {
                        return Err(Error::Own(Failure::Unconfirmed {
                            source_workspace_id: w.workspace_id,
                            candidates,
                            reason,
                        }));
                    }
                    InFlight::None => {}
                }
            }
            return Err(Error::Aws(classified));
        }
    };
    let target = out
        .target_workspace_id()
        .filter(|t| !t.is_empty())
        .ok_or(Error::Own(Failure::MissingField(MissingField {
            operation: MIGRATE_WORKSPACE.name,
            field: "TargetWorkspaceId",
        })))?;
    info!(
        source_workspace_id = %w.workspace_id,
        target_workspace_id = %target,
        bundle_id = %w.bundle_id,
        "migration started"
    );
    Ok(WorkspaceOutput {
        source_workspace_id: out
            .source_workspace_id()
            .unwrap_or(&w.workspace_id)
            .to_owned(),
        target_workspace_id: target.to_owned(),
        started_at,
        adoption: None,
    })
}

/// What DescribeWorkspaces shows of a migration under way after a lost answer.
#[derive(Debug)]
enum InFlight {
    /// Exactly one WorkSpace carries the evidence: follow it.
    Adopt {
        target: String,
        evidence: AdoptionEvidence,
    },
    /// PENDING WorkSpaces that may be the migration, none (or several) with the evidence.
    Unconfirmed {
        candidates: Vec<String>,
        reason: &'static str,
    },
    /// No PENDING candidate, no source, or the lookup failed: OperationInProgress stays as it was
    /// (Step Functions retries it; a new WorkSpace may not be listed yet).
    None,
}

/// MigrateWorkspace is not idempotent: when an accepted call's answer is lost (a timeout, a 5xx
/// after the work was done) and the SDK or Step Functions calls again, the second call is
/// `OperationInProgressException` because *our own* migration is running, and its new WorkSpace id
/// was in the lost answer. Retrying would only end in FAILED while the WorkSpace moves anyway.
///
/// What AWS documents of the new WorkSpace (sources, as read for this comment):
/// - Administration Guide, "Migrate a WorkSpace": "When you initiate the migration process, a new
///   WorkSpace is created"; the migration "recreates the WorkSpace by using a new root volume from
///   the target bundle image and the user volume from the last available snapshot of the original
///   WorkSpace"; on an error "the new WorkSpace is terminated". So: the source's user, on the
///   requested bundle, being created (WorkspaceState `PENDING`, API Reference, Workspace).
/// - API Reference, MigrateWorkspace: the answer's `TargetWorkspaceId` is "the new identifier of
///   the WorkSpace that is being migrated" (the id this lookup stands in for).
/// - API Reference, Workspace / RelatedWorkspaceProperties: `RelatedWorkspaces` is "the standby
///   WorkSpace or primary WorkSpace related to the specified WorkSpace"; its `Type` is `PRIMARY |
///   STANDBY` (botocore model, `StandbyWorkspaceRelationshipType`). The Workspace shape has no
///   creation time and no field naming a migration's source.
///
/// Not documented: any field of DescribeWorkspaces that ties a migration's new WorkSpace to its
/// source. The same user may also have other PENDING WorkSpaces on the same bundle (CreateWorkspaces
/// takes a `WorkspaceName` so a user can have several in one directory), so user, directory,
/// bundle and PENDING alone are a guess. This function therefore adopts only a candidate whose
/// `RelatedWorkspaces` name the source (whatever its `Type`, which has no value for a migration):
/// an id match cannot be a coincidence. If AWS does not fill it for migrations, every candidate is
/// reported unconfirmed (FAILED, named for an operator), never COMPLETED on a guess; cloud-local
/// fills it for a migration's target only (crates/cloud-local/src/workspaces.rs).
async fn migration_in_flight(w: &WorkspaceInput, deps: &Deps) -> InFlight {
    let lookup = async {
        let source = deps
            .workspaces
            .describe_workspaces()
            .workspace_ids(&w.workspace_id)
            .send()
            .await?;
        let Some(source) = source
            .workspaces()
            .iter()
            .find(|ws| ws.workspace_id() == Some(w.workspace_id.as_str()))
        else {
            return Ok(Vec::new());
        };
        let (Some(directory), Some(user)) = (source.directory_id(), source.user_name()) else {
            return Ok(Vec::new());
        };
        let mut candidates = Vec::new();
        let mut pages = deps
            .workspaces
            .describe_workspaces()
            .directory_id(directory)
            .user_name(user)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            candidates.extend(
                page?
                    .workspaces()
                    .iter()
                    .filter(|ws| {
                        ws.workspace_id().is_some_and(|id| id != w.workspace_id)
                            && ws.bundle_id() == Some(w.bundle_id.as_str())
                            && ws.state() == Some(&WorkspaceState::Pending)
                    })
                    .filter_map(|ws| {
                        let names_source = ws
                            .related_workspaces()
                            .iter()
                            .any(|r| r.workspace_id() == Some(w.workspace_id.as_str()));
                        ws.workspace_id().map(|id| (id.to_owned(), names_source))
                    }),
            );
        }
        Ok::<_, aws_sdk_workspaces::error::SdkError<_, _>>(candidates)
    };
    let candidates = match lookup.await {
        Ok(candidates) => candidates,
        Err(err) => {
            warn!(
                source_workspace_id = %w.workspace_id,
                error = %DisplayErrorContext(&err),
                "DescribeWorkspaces failed while looking for a migration under way"
            );
            return InFlight::None;
        }
    };
    let evidenced: Vec<String> = candidates
        .iter()
        .filter(|(_, names_source)| *names_source)
        .map(|(id, _)| id.clone())
        .collect();
    let all: Vec<String> = candidates.into_iter().map(|(id, _)| id).collect();
    match (evidenced.as_slice(), all.len()) {
        ([target], _) => {
            warn!(
                source_workspace_id = %w.workspace_id,
                target_workspace_id = %target,
                bundle_id = %w.bundle_id,
                "MigrateWorkspace answered OperationInProgress for a migration already under way \
                 (an earlier call's answer was lost); adopting its new WorkSpace, whose \
                 RelatedWorkspaces name the source"
            );
            InFlight::Adopt {
                target: target.clone(),
                evidence: AdoptionEvidence::RelatedWorkspacesNameSource,
            }
        }
        ([], 0) => {
            info!(
                source_workspace_id = %w.workspace_id,
                "OperationInProgress with no PENDING WorkSpace of the source's user on the bundle"
            );
            InFlight::None
        }
        ([], _) => InFlight::Unconfirmed {
            candidates: all,
            reason: "PENDING, same directory, user and bundle; none names the source in \
                     RelatedWorkspaces",
        },
        (_, _) => InFlight::Unconfirmed {
            candidates: evidenced,
            reason: "PENDING, same directory, user and bundle; each names the source in \
                     RelatedWorkspaces",
        },
    }
}

const MIGRATE_WORKSPACE: Operation<MigrateWorkspaceError> =
    Operation::new("MigrateWorkspace", |e| {
        Some(if e.is_operation_in_progress_exception() {
            ErrorKind::OperationInProgress
        } else if e.is_resource_unavailable_exception() {
            ErrorKind::ResourceUnavailable
        } else if e.is_resource_not_found_exception() {
            ErrorKind::NotFound
        } else if e.is_access_denied_exception() {
            ErrorKind::AccessDenied
        } else if e.is_operation_not_supported_exception() {
            ErrorKind::NotSupported
        } else if e.is_invalid_parameter_values_exception() {
            ErrorKind::InvalidRequest
        } else {
            return None;
        })
    });

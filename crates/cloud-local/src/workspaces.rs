//! Amazon WorkSpaces (awsJson1_1, `WorkspacesService.<Op>`).
//!
//! Sources, cited next to each behaviour: the WorkSpaces API Reference (one page per operation),
//! the botocore model `workspaces/2015-04-08/service-2.json` (shape names, patterns, each
//! operation's `errors`), and the WorkSpaces Administration Guide ("Migrate a WorkSpace",
//! "Multi-Region Resilience"). Where AWS documents no answer, the comment says "not documented"
//! and why cloud-local answers as it does.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::fleet::{BUNDLE_ID, DIRECTORY_ID, REGION, WORKSPACE_ID};
use crate::validate::{Input, Str};
use crate::world::{Ctx, MigrationRecord, Pending, StandbyRecord, World, Ws, epoch_secs};

pub(crate) fn invalid(message: String) -> ApiError {
    ApiError::bad("InvalidParameterValuesException", message)
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::bad(
        "ResourceNotFoundException",
        format!("The {what} {id} could not be found."),
    )
    .with("ResourceId", id)
}

/// States a WorkSpace may be migrated from. Not documented: neither the API Reference
/// (MigrateWorkspace) nor the botocore model lists the source states MigrateWorkspace accepts, and
/// the Administration Guide's "Migrate a WorkSpace" (as read for this comment) lists migration
/// scenarios and limits, not states. Chosen because these are the model's `WorkspaceState` values
/// in which a WorkSpace is neither changing (PENDING, STARTING, REBOOTING, REBUILDING, RESTORING,
/// UPDATING, STOPPING, TERMINATING) nor gone, under maintenance or suspended; the guide says a
/// failed migration returns the original WorkSpace to its original state, so ERROR is kept.
const MIGRATABLE: &[&str] = &["AVAILABLE", "STOPPED", "ERROR"];

pub(crate) fn target_id(op: &str, body: &Value) -> Option<String> {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    match op {
        "MigrateWorkspace" => body.get("SourceWorkspaceId").and_then(s),
        "DescribeWorkspaces" => body
            .get("WorkspaceIds")
            .and_then(|l| l.get(0))
            .and_then(s)
            .or_else(|| body.get("DirectoryId").and_then(s)),
        "CreateStandbyWorkspaces" => body
            .get("StandbyWorkspaces")
            .and_then(|l| l.get(0))
            .and_then(|w| w.get("PrimaryWorkspaceId"))
            .and_then(s),
        "DescribeCustomWorkspaceImageImport" => body.get("ImageId").and_then(s),
        _ => None,
    }
}

pub(crate) fn call(
    world: &mut World,
    ctx: &Ctx,
    op: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    match op {
        "MigrateWorkspace" => migrate(world, ctx, body),
        "DescribeWorkspaces" => describe(world, ctx, body),
        "CreateStandbyWorkspaces" => create_standbys(world, ctx, body),
        "DescribeCustomWorkspaceImageImport" => describe_import(world, ctx, body),
        _ => Err(crate::server::unknown_operation("WorkspacesService", op)),
    }
}

fn migrate(world: &mut World, ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let input = Input::new(body, invalid)?;
    let source_id = input.req_str("SourceWorkspaceId", Str::pattern(WORKSPACE_ID))?;
    let bundle_id = input.req_str("BundleId", Str::pattern(BUNDLE_ID))?;
    let now = ctx.now;

    let source = world
        .workspaces
        .get(source_id)
        .filter(|w| w.region == ctx.region && w.visible(now))
        .ok_or_else(|| not_found("WorkSpace", source_id))?;
    // OperationInProgressException is among MigrateWorkspace's errors in the botocore model ("The
    // properties of this WorkSpace are currently being modified. Try again in a moment."). That AWS
    // answers it to a second MigrateWorkspace of a source whose migration is under way (or of a
    // target still PENDING) is not documented; chosen because it is the model's only error that
    // says "busy, try again", and start-migration's lost-answer recovery is built on it (it looks
    // for the migration under way before retrying).
    if source.migrated_to.is_some() || source.being_created(now) {
        return Err(ApiError::bad(
            "OperationInProgressException",
            format!(
                "The WorkSpace {source_id} is being migrated; wait until the migration completes."
            ),
        ));
    }
    let state = source.state(now);
    if !MIGRATABLE.contains(&state) {
        // The model lists no InvalidResourceStateException for MigrateWorkspace (its errors:
        // InvalidParameterValues, ResourceNotFound, AccessDenied, OperationNotSupported,
        // OperationInProgress, ResourceUnavailable): a WorkSpace that cannot be migrated in its
        // current state is unavailable for it (ResourceUnavailableException, "The specified
        // resource is not available.", with ResourceId). Which of these AWS really sends for a
        // wrong state is not documented.
        return Err(ApiError::bad(
            "ResourceUnavailableException",
            format!("The WorkSpace {source_id} is {state}; it must be AVAILABLE, STOPPED or ERROR to be migrated."),
        )
        .with("ResourceId", source_id));
    }
    let bundle = |id: &str| world.fleet.bundles.iter().find(|b| b.bundle_id == id);
    let target_bundle = bundle(bundle_id).ok_or_else(|| not_found("bundle", bundle_id))?;
    let source_byol = bundle(&source.bundle_id).is_some_and(|b| b.byol);
    // Administration Guide, "Migrate a WorkSpace", Migration Limits: "You can migrate BYOL
    // WorkSpaces only to other BYOL bundles" and "You cannot migrate a WorkSpace created from
    // public or custom bundles to a BYOL bundle". Which error AWS answers is not documented (the
    // API Reference and the model say nothing about BYOL). cloud-local answers
    // OperationNotSupportedException with reason BYOL_BUNDLE_MISMATCH, chosen because the model
    // gives that shape a `reason` member and "This operation is not supported." fits a refused
    // scenario. Plausible alternatives are InvalidParameterValuesException (the bundle id is a
    // parameter) and InvalidResourceStateException (unmodeled for this operation, modeled for
    // other WorkSpaces operations such as CreateWorkspaceImage): start-migration reports each as
    // a final, unretried failure (InvalidRequest, OperationNotSupported, InvalidResourceState);
    // see functions/start-migration/tests/workspace.rs, `byol_mismatch_*`.
    if source_byol != target_bundle.byol {
        let message = if source_byol {
            format!(
                "The WorkSpace {source_id} uses a BYOL bundle and can be migrated only to a BYOL bundle; {bundle_id} is not BYOL."
            )
        } else {
            format!(
                "The WorkSpace {source_id} does not use a BYOL bundle and cannot be migrated to the BYOL bundle {bundle_id}."
            )
        };
        return Err(ApiError::bad("OperationNotSupportedException", message)
            .with("reason", "BYOL_BUNDLE_MISMATCH"));
    }

    // API Reference, MigrateWorkspace: the answer carries SourceWorkspaceId and a new
    // TargetWorkspaceId ("If the migration does not succeed, the target WorkSpace ID will not be
    // used, and the WorkSpace will still have the original WorkSpace ID"). Administration Guide,
    // "Migrate a WorkSpace": "When you initiate the migration process, a new WorkSpace is
    // created"; the process "takes up to one hour per WorkSpace"; on an error "the original
    // WorkSpace is recovered and returned to its original state, and the new WorkSpace is
    // terminated". The new WorkSpace is PENDING (a `WorkspaceState` of the model) until it is
    // AVAILABLE; that the source then disappears from DescribeWorkspaces is not stated in those
    // words (the guide calls the process a recreation of the WorkSpace under a new id): chosen
    // because afterwards only the new id exists for the user. A migration a scenario marks as
    // never finishing stays PENDING forever: not what AWS documents (it would recover the
    // original), chosen so that tests reach the handlers' deadline path.
    let duration = source
        .migration_duration
        .unwrap_or(Duration::from_secs(world.fleet.migration_duration_secs));
    let source = source.clone();
    let until = (!world.scenario.never_finishes(source_id)).then(|| now + duration);
    let target_id = world.fresh_workspace_id();
    let ip = world.next_ip();
    let computer_name = format!("WSAMZN-{}", &target_id[3..11].to_uppercase());
    world.workspaces.insert(
        target_id.clone(),
        Ws {
            id: target_id.clone(),
            bundle_id: bundle_id.to_owned(),
            base_state: "AVAILABLE".into(),
            computer_name,
            ip,
            pending: Some(Pending { until }),
            migrated_to: None,
            migrated_from: Some(source_id.to_owned()),
            standbys: Vec::new(),
            primary: None,
            ..source.clone()
        },
    );
    if let Some(w) = world.workspaces.get_mut(source_id) {
        w.migrated_to = Some((target_id.clone(), until));
    }
    world.migrations.push(MigrationRecord {
        source_workspace_id: source_id.to_owned(),
        target_workspace_id: target_id.clone(),
        bundle_id: bundle_id.to_owned(),
        started_at: now,
        completes_at: until,
    });
    Ok(json!({"SourceWorkspaceId": source_id, "TargetWorkspaceId": target_id}))
}

/// DescribeWorkspaces. Botocore model `DescribeWorkspacesRequest`: WorkspaceIds (1-25), "You
/// cannot combine this parameter with any other filter"; the operation's documentation says "you
/// can specify only one filter at a time" (DirectoryId, optionally with UserName, or BundleId);
/// Limit 1-25. The exact message texts are not documented; NextToken here is an offset (AWS's is
/// opaque).
fn describe(world: &mut World, ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let input = Input::new(body, invalid)?;
    let ids = match input.opt_list("WorkspaceIds", Some(1), Some(25))? {
        Some(items) => Some(input.str_items("WorkspaceIds", items, Str::pattern(WORKSPACE_ID))?),
        None => None,
    };
    let directory = input.opt_str("DirectoryId", Str::len_pattern(10, 65, DIRECTORY_ID))?;
    let user = input.opt_str("UserName", Str::len(1, 63))?;
    let bundle = input.opt_str("BundleId", Str::pattern(BUNDLE_ID))?;
    let limit = input.opt_int("Limit", Some(1), Some(25))?.unwrap_or(25) as usize;
    let token = input.opt_str("NextToken", Str::len(1, 2048))?;
    let name = input.opt_str(
        "WorkspaceName",
        Str::pattern("^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$"),
    )?;
    if ids.is_some()
        && (directory.is_some() || user.is_some() || bundle.is_some() || name.is_some())
    {
        return Err(invalid(
            "WorkspaceIds cannot be combined with any other filter.".into(),
        ));
    }
    if directory.is_some() && bundle.is_some() {
        return Err(invalid(
            "Specify only one filter: DirectoryId or BundleId.".into(),
        ));
    }
    if user.is_some() && directory.is_none() {
        return Err(invalid(
            "UserName can be used only together with DirectoryId.".into(),
        ));
    }
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid(format!("The NextToken {t} is not valid.")))?,
    };
    let now = ctx.now;
    // By id: at most 25 map lookups, not a scan of the account (which grows with every migration).
    let candidates: Box<dyn Iterator<Item = &Ws>> = match &ids {
        Some(ids) => {
            let mut found: Vec<&Ws> = ids
                .iter()
                .filter_map(|id| world.workspaces.get(*id))
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            found.dedup_by(|a, b| a.id == b.id);
            Box::new(found.into_iter())
        }
        None => Box::new(world.workspaces.values()),
    };
    let all: Vec<&Ws> = candidates
        .filter(|w| w.region == ctx.region && w.visible(now))
        .filter(|w| directory.is_none_or(|d| w.directory_id == d))
        .filter(|w| user.is_none_or(|u| w.user_name == u))
        .filter(|w| bundle.is_none_or(|b| w.bundle_id == b))
        .filter(|w| name.is_none_or(|n| w.computer_name == n))
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|w| workspace_json(world, w, now))
        .collect();
    let mut out = json!({ "Workspaces": page });
    if start + limit < all.len() {
        out["NextToken"] = Value::String((start + limit).to_string());
    }
    Ok(out)
}

fn workspace_json(world: &World, w: &Ws, now: SystemTime) -> Value {
    let mut v = json!({
        "WorkspaceId": w.id,
        "DirectoryId": w.directory_id,
        "UserName": w.user_name,
        "IpAddress": w.ip,
        "State": w.state(now),
        "BundleId": w.bundle_id,
        "SubnetId": "subnet-0a1b2c3d",
        "ComputerName": w.computer_name,
        "UserVolumeEncryptionEnabled": false,
        "RootVolumeEncryptionEnabled": false,
        "WorkspaceProperties": {
            "RunningMode": "AUTO_STOP",
            "RunningModeAutoStopTimeoutInMinutes": 60,
            "RootVolumeSizeGib": 80,
            "UserVolumeSizeGib": 50,
            "ComputeTypeName": "STANDARD",
            "Protocols": ["WSP"]
        },
        "ModificationStates": []
    });
    let related = |id: &str, kind: &str| {
        world.workspaces.get(id).map(|o| {
            json!({"WorkspaceId": o.id, "Region": o.region, "State": o.state(now), "Type": kind})
        })
    };
    // Botocore model `Workspace`: RelatedWorkspaces (`RelatedWorkspaceProperties`: WorkspaceId,
    // Region, State, Type PRIMARY|STANDBY) and StandbyWorkspacesProperties (StandbyWorkspaceId,
    // DataReplication, RecoverySnapshotTime); Administration Guide, "Multi-Region Resilience":
    // a primary and its standby name each other.
    let mut rel: Vec<Value> = w
        .standbys
        .iter()
        .filter_map(|s| related(s, "STANDBY"))
        .collect();
    if let Some(p) = &w.primary {
        rel.extend(related(p, "PRIMARY"));
    }
    // A migration's new WorkSpace names its source while the source is listed (until the migration
    // completes or fails), with no `Type`. Not documented: the API Reference documents
    // RelatedWorkspaces only for standby and primary WorkSpaces (RelatedWorkspaceProperties: "a
    // standby WorkSpace or primary WorkSpace"; Type PRIMARY | STANDBY, not required), and neither
    // it nor the Administration Guide ("Migrate a WorkSpace") says what DescribeWorkspaces shows of
    // a migration's target. cloud-local shows it because it is the one evidence start-migration
    // adopts a migration on after a lost MigrateWorkspace answer; the other plausible answer (no
    // such entry) makes start-migration report the WorkSpace FAILED naming the candidate
    // (functions/start-migration/tests/adoption.rs covers both). WorkSpaces created otherwise
    // (the fleet, standbys) never get it.
    if let Some(source) = w
        .migrated_from
        .as_deref()
        .and_then(|s| world.workspaces.get(s))
        .filter(|s| s.visible(now) && s.migrated_to.as_ref().is_some_and(|(t, _)| *t == w.id))
    {
        rel.push(
            json!({"WorkspaceId": source.id, "Region": source.region, "State": source.state(now)}),
        );
    }
    if !rel.is_empty() {
        v["RelatedWorkspaces"] = Value::Array(rel);
    }
    if !w.standbys.is_empty() {
        v["StandbyWorkspacesProperties"] = w
            .standbys
            .iter()
            .map(|s| json!({"StandbyWorkspaceId": s, "DataReplication": "NO_REPLICATION"}))
            .collect();
    }
    v
}

/// CreateStandbyWorkspaces. API Reference and botocore model: called in the standby's Region with
/// the primary's `PrimaryRegion`; the answer lists FailedStandbyRequests
/// (`FailedCreateStandbyWorkspacesRequest`: the request, ErrorCode, ErrorMessage) and
/// PendingStandbyRequests (`PendingCreateStandbyWorkspacesRequest`: UserName, DirectoryId, State,
/// WorkspaceId; "Because this operation is asynchronous, the identifier returned is not
/// immediately available"). The modeled errors (AccessDenied, InvalidParameterValues,
/// OperationNotSupported, ResourceNotFound, ResourceLimitExceeded) reject the whole call;
/// per-standby failures come back in FailedStandbyRequests with HTTP 200.
fn create_standbys(world: &mut World, ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let input = Input::new(body, invalid)?;
    let primary_region = input.req_str("PrimaryRegion", Str::len_pattern(1, 31, REGION))?;
    let requests = input.req_list("StandbyWorkspaces", None, None)?;
    let mut parsed = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let path = format!("StandbyWorkspaces.{}", i + 1);
        let sw = input.nested(r, &path)?;
        let primary = sw.req_str("PrimaryWorkspaceId", Str::pattern(WORKSPACE_ID))?;
        let directory = sw.req_str("DirectoryId", Str::len_pattern(10, 65, DIRECTORY_ID))?;
        sw.opt_str("VolumeEncryptionKey", Str::any())?;
        sw.opt_str(
            "DataReplication",
            Str::one_of(&["NO_REPLICATION", "PRIMARY_AS_SOURCE"]),
        )?;
        if let Some(tags) = sw.opt_list("Tags", None, None)? {
            for (j, t) in tags.iter().enumerate() {
                let tag = sw.nested(t, &format!("{path}.Tags.{}", j + 1))?;
                tag.req_str("Key", Str::len(1, 127))?;
                tag.opt_str(
                    "Value",
                    Str {
                        max: Some(255),
                        ..Str::any()
                    },
                )?;
            }
        }
        parsed.push((r.clone(), primary.to_owned(), directory.to_owned()));
    }
    // Administration Guide, "Multi-Region Resilience": the standby lives in another Region than
    // its primary. The error for the same Region is not documented; chosen: the modeled
    // InvalidParameterValuesException, since PrimaryRegion is the invalid parameter.
    if primary_region == ctx.region {
        return Err(invalid(format!(
            "The standby Region must differ from the primary Region {primary_region}; call CreateStandbyWorkspaces in the standby Region."
        )));
    }

    let now = ctx.now;
    let mut failed = Vec::new();
    let mut pending = Vec::new();
    for (request, primary_id, directory_id) in parsed {
        let fail = |code: &str, message: String| json!({"StandbyWorkspaceRequest": request, "ErrorCode": code, "ErrorMessage": message});
        // The ErrorCode values below (`WorkspaceErrorCode` is a free string in the model) are not
        // documented: the names are chosen after WorkSpaces' dotted error codes (as in
        // FailedCreateWorkspaceRequest); create-standby reports any FailedStandbyRequests entry as
        // that standby's failure, carrying its ErrorCode, whatever the code.
        // A scenario names WorkSpaces as its fleet file does: the primary, or the WorkSpace the
        // primary was migrated from (the new id is not known when the scenario is written).
        let migrated_from = world
            .workspaces
            .get(&primary_id)
            .and_then(|w| w.migrated_from.clone());
        if let Some(f) = world.scenario.fail_standbys.iter().find(|f| {
            f.primary_workspace_id == primary_id
                || migrated_from.as_deref() == Some(f.primary_workspace_id.as_str())
        }) {
            failed.push(fail(
                f.error_code.as_deref().unwrap_or("InternalError"),
                f.error_message.clone().unwrap_or_else(|| {
                    format!("The standby WorkSpace for {primary_id} could not be created.")
                }),
            ));
            continue;
        }
        let Some(primary) = world
            .workspaces
            .get(&primary_id)
            .filter(|w| w.region == primary_region && w.visible(now))
            .cloned()
        else {
            failed.push(fail(
                "ResourceNotFound.Workspace",
                format!("The WorkSpace {primary_id} could not be found in {primary_region}."),
            ));
            continue;
        };
        if world.directory_region(&directory_id).as_deref() != Some(ctx.region.as_str()) {
            failed.push(fail(
                "ResourceNotFound.Directory",
                format!(
                    "The directory {directory_id} could not be found in {}.",
                    ctx.region
                ),
            ));
            continue;
        }
        if primary.standbys.iter().any(|s| {
            world
                .workspaces
                .get(s)
                .is_some_and(|w| w.region == ctx.region)
        }) {
            failed.push(fail(
                "ResourceAlreadyExists.StandbyWorkspace",
                format!(
                    "The WorkSpace {primary_id} already has a standby WorkSpace in {}.",
                    ctx.region
                ),
            ));
            continue;
        }
        let standby_id = world.fresh_workspace_id();
        let ip = world.next_ip();
        let until = now + Duration::from_secs(world.fleet.standby_duration_secs);
        world.workspaces.insert(
            standby_id.clone(),
            Ws {
                id: standby_id.clone(),
                directory_id: directory_id.clone(),
                region: ctx.region.clone(),
                base_state: "AVAILABLE".into(),
                computer_name: format!("WSAMZN-{}", &standby_id[3..11].to_uppercase()),
                ip,
                pending: Some(Pending { until: Some(until) }),
                migrated_to: None,
                migrated_from: None,
                standbys: Vec::new(),
                primary: Some(primary_id.clone()),
                ..primary.clone()
            },
        );
        if let Some(p) = world.workspaces.get_mut(&primary_id) {
            p.standbys.push(standby_id.clone());
        }
        world.standbys.push(StandbyRecord {
            primary_workspace_id: primary_id.clone(),
            primary_region: primary_region.to_owned(),
            standby_workspace_id: standby_id.clone(),
            region: ctx.region.clone(),
            directory_id: directory_id.clone(),
        });
        pending.push(json!({
            "UserName": primary.user_name,
            "DirectoryId": directory_id,
            "State": "PENDING",
            "WorkspaceId": standby_id
        }));
    }
    Ok(json!({"FailedStandbyRequests": failed, "PendingStandbyRequests": pending}))
}

/// The in-progress states of an image import, in order: botocore model
/// `CustomWorkspaceImageImportState` (PENDING ... PUBLISHING, then COMPLETED or ERROR). The model
/// lists the values, not an order; that an import walks them in this order is not documented
/// (chosen: the model's order); poll-image-import tells only COMPLETED, ERROR and "anything
/// else (in progress)" apart.
const IMPORT_STATES: &[&str] = &[
    "PENDING",
    "IN_PROGRESS",
    "PROCESSING_SOURCE_IMAGE",
    "IMAGE_TESTING_START",
    "UPDATING_OPERATING_SYSTEM",
    "IMAGE_COMPATIBILITY_CHECKING",
    "IMAGE_TESTING_GENERALIZATION",
    "CREATING_TEST_INSTANCE",
    "INSTALLING_COMPONENTS",
    "GENERALIZING",
    "VALIDATING",
    "PUBLISHING",
];

fn describe_import(world: &mut World, ctx: &Ctx, body: &Value) -> Result<Value, ApiError> {
    let input = Input::new(body, invalid)?;
    let image_id = input.req_str("ImageId", Str::pattern("wsi-[0-9a-z]{9,63}"))?;
    let failure = world
        .scenario
        .fail_image_imports
        .iter()
        .find(|f| f.image_id == image_id)
        .cloned();
    let account = world.fleet.account_id.clone();
    let import = world
        .imports
        .get_mut(image_id)
        .ok_or_else(|| not_found("image import", image_id))?;
    let now = ctx.now;
    let started = *import.started.get_or_insert(now);
    let duration = Duration::from_secs(import.seed.duration_secs.max(1));
    let elapsed = now.duration_since(started).unwrap_or_default();
    let frac = elapsed.as_secs_f64() / duration.as_secs_f64();

    let (fail_at, details) = match (&failure, import.seed.final_state.as_str()) {
        (Some(f), _) => (
            Some(f64::from(f.at_percent) / 100.0),
            f.error_details.clone(),
        ),
        (None, "ERROR") => (Some(1.0), import.seed.error_details.clone()),
        _ => (None, Vec::new()),
    };
    let end = |f: f64| started + duration.mul_f64(f);
    let (state, progress, updated) = match fail_at {
        Some(f) if frac >= f => ("ERROR", (f * 100.0).min(99.0) as i64, end(f)),
        _ if frac >= 1.0 => ("COMPLETED", 100, end(1.0)),
        _ => {
            let i = ((frac * IMPORT_STATES.len() as f64) as usize).min(IMPORT_STATES.len() - 1);
            (IMPORT_STATES[i], (frac * 100.0) as i64, now)
        }
    };
    // API Reference, DescribeCustomWorkspaceImageImport: ImageId, InfrastructureConfigurationArn,
    // State, StateMessage, ProgressPercentage, Created, LastUpdatedTime, ImageSource and, in
    // ERROR, ErrorDetails (`CustomWorkspaceImageImportErrorDetails`: ErrorCode, ErrorMessage).
    // The ErrorCode of a failed import is not documented; "ImageValidationFailed" is chosen.
    let mut out = json!({
        "ImageId": image_id,
        "InfrastructureConfigurationArn": format!("arn:aws:imagebuilder:{}:{account}:infrastructure-configuration/fleetshift-import", ctx.region),
        "State": state,
        "StateMessage": format!("The image import is {state}."),
        "ProgressPercentage": progress,
        "Created": epoch_secs(started),
        "LastUpdatedTime": epoch_secs(updated),
        "ImageSource": {"Ec2ImageId": "ami-0123456789abcdef0"},
    });
    if state == "ERROR" {
        let details: Vec<Value> = if details.is_empty() {
            vec![
                json!({"ErrorCode": "ImageValidationFailed", "ErrorMessage": "The image failed validation."}),
            ]
        } else {
            details
                .iter()
                .map(|d| json!({"ErrorCode": d.error_code, "ErrorMessage": d.error_message}))
                .collect()
        };
        out["ErrorDetails"] = Value::Array(details);
    }
    Ok(out)
}

//! AWS Migration Hub (awsJson1_1, `AWSMigrationHub.<Op>`; errors carry `Message`).
//!
//! Sources: the botocore model `mgh/2017-05-31/service-2.json` (each operation's errors, the
//! `ProgressUpdateStream`, `MigrationTaskName`, `Status`, `StatusDetail` and `NextUpdateSeconds`
//! shapes), the Migration Hub API Reference and the Migration Hub Home Region API Reference
//! ("Welcome"), and the Migration Hub User Guide ("The AWS Migration Hub home Region").

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::scenario::HubAvailability;
use crate::validate::{Input, Str};
use crate::world::{Ctx, HubTask, World};

fn invalid(message: String) -> ApiError {
    ApiError::bad("InvalidInputException", message).upper()
}

fn not_found(message: String) -> ApiError {
    ApiError::bad("ResourceNotFoundException", message).upper()
}

// The model's `[^/:|\000-\037]+` and `[^:|]+`, over the whole value.
const STREAM: Str = Str::len_pattern(1, 50, "[^/:|\\x00-\\x1F]+");
const TASK_NAME: Str = Str::len_pattern(1, 256, "[^:|]+");
const STATUS: &[&str] = &["NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED"];

pub(crate) fn target_id(op: &str, body: &Value) -> Option<String> {
    let field = match op {
        "CreateProgressUpdateStream" => "ProgressUpdateStreamName",
        "ImportMigrationTask" | "NotifyMigrationTaskState" | "DescribeMigrationTask" => {
            "MigrationTaskName"
        }
        _ => return None,
    };
    body.get(field).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn call(
    world: &mut World,
    ctx: &Ctx,
    op: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    // HomeRegionNotSetException ("The home region is not set. Set the home region to continue.")
    // and AccessDeniedException are among the errors of every operation used here (botocore
    // model); a scenario makes the whole service answer one of them.
    match world.scenario.migration_hub {
        HubAvailability::Available => {}
        HubAvailability::HomeRegionNotSet => {
            return Err(ApiError::bad(
                "HomeRegionNotSetException",
                "The home region is not set. Set the home region to continue.",
            )
            .upper());
        }
        HubAvailability::AccessDenied => {
            return Err(ApiError::bad(
                "AccessDeniedException",
                "You do not have sufficient access to perform this action: AWS Migration Hub is not available to this account.",
            )
            .upper());
        }
    }
    // Migration Hub Home Region API Reference, "Welcome": write calls (create, notify, import,
    // ...) must be made in the home Region "or a HomeRegionNotSetException error is returned",
    // and, in the same page, "If you call a write API outside the home region, an
    // InvalidInputException is returned"; read calls (list, describe) "are permitted outside of
    // your home region". The two write answers contradict each other: which one AWS sends is not
    // documented. cloud-local answers HomeRegionNotSetException to every call outside the home
    // Region, reads included (stricter than AWS for reads), chosen so that a handler calling from
    // the wrong Region fails here at once; whichever AWS sends, the handlers degrade every
    // Migration Hub failure to events only for that item and never fail the wave on it (issue 11,
    // item 3).
    let home = world.fleet.hub_home_region().to_owned();
    if ctx.region != home {
        return Err(ApiError::bad(
            "HomeRegionNotSetException",
            format!(
                "Migration Hub calls must be made in the home region {home}, not {}.",
                ctx.region
            ),
        )
        .upper());
    }
    match op {
        "CreateProgressUpdateStream" => {
            let input = Input::new(body, invalid)?;
            let name = input.req_str("ProgressUpdateStreamName", STREAM)?;
            dry_run(&input)?;
            // API Reference, CreateProgressUpdateStream: the stream "does not need to be unique
            // for each AWS account because it is scoped to the AWS account"; creating an existing
            // stream again succeeds here (not documented; chosen because the handlers create it
            // on every wave).
            world.hub_streams.insert(name.to_owned());
            Ok(json!({}))
        }
        "ImportMigrationTask" => {
            let input = Input::new(body, invalid)?;
            let stream = input.req_str("ProgressUpdateStream", STREAM)?;
            let name = input.req_str("MigrationTaskName", TASK_NAME)?;
            dry_run(&input)?;
            stream_exists(world, stream)?;
            // API Reference, ImportMigrationTask: registers a task, "a prerequisite to calling the
            // NotifyMigrationTaskState API"; importing one that exists again succeeds and keeps
            // its status (idempotent: not stated in those words; chosen because the handlers'
            // register resumes by importing again).
            world
                .hub_tasks
                .entry((stream.to_owned(), name.to_owned()))
                .or_default();
            Ok(json!({}))
        }
        "NotifyMigrationTaskState" => {
            let input = Input::new(body, invalid)?;
            let stream = input.req_str("ProgressUpdateStream", STREAM)?;
            let name = input.req_str("MigrationTaskName", TASK_NAME)?;
            let task = input.raw("Task").ok_or_else(|| {
                invalid("1 validation error detected: Value null at 'Task' failed to satisfy constraint: Member must not be null".into())
            })?;
            let task = input.nested(task, "Task")?;
            let status = task.req_str("Status", Str::one_of(STATUS))?;
            let detail = task.opt_str("StatusDetail", Str::len_pattern(0, 2500, ".{0,2500}"))?;
            let percent = task.opt_int("ProgressPercent", Some(0), Some(100))?;
            let update = input.req_timestamp("UpdateDateTime")?;
            let next = input.req_int("NextUpdateSeconds", Some(0), None)?;
            dry_run(&input)?;
            stream_exists(world, stream)?;
            // API Reference, NotifyMigrationTaskState: the task must have been imported
            // (ImportMigrationTask "is a prerequisite"); its modeled errors include
            // ResourceNotFoundException, "a resource (... update stream, migration task, etc.)
            // that does not exist" (botocore model).
            let t = world
                .hub_tasks
                .get_mut(&(stream.to_owned(), name.to_owned()))
                .ok_or_else(|| {
                    not_found(format!(
                        "Migration task {name} was not found in progress update stream {stream}; import it with ImportMigrationTask first."
                    ))
                })?;
            *t = HubTask {
                status: Some(status.to_owned()),
                status_detail: detail.map(str::to_owned),
                progress_percent: percent,
                update_date_time: Some(update),
                next_update_seconds: Some(next),
                notifications: t.notifications + 1,
            };
            Ok(json!({}))
        }
        "DescribeMigrationTask" => {
            let input = Input::new(body, invalid)?;
            let stream = input.req_str("ProgressUpdateStream", STREAM)?;
            let name = input.req_str("MigrationTaskName", TASK_NAME)?;
            stream_exists(world, stream)?;
            let t = world
                .hub_tasks
                .get(&(stream.to_owned(), name.to_owned()))
                .ok_or_else(|| {
                    not_found(format!(
                        "Migration task {name} was not found in progress update stream {stream}."
                    ))
                })?;
            let mut task = task_json(t);
            let mut out = json!({
                "ProgressUpdateStream": stream,
                "MigrationTaskName": name,
                "ResourceAttributeList": []
            });
            if let Some(u) = t.update_date_time {
                out["UpdateDateTime"] = json!(u);
            }
            out["Task"] = task.take();
            Ok(json!({ "MigrationTask": out }))
        }
        "ListMigrationTasks" => {
            let input = Input::new(body, invalid)?;
            let token = input.opt_str(
                "NextToken",
                Str::len_pattern(0, 2048, "^[a-zA-Z0-9\\/\\+\\=]{0,2048}$"),
            )?;
            let max = input
                .opt_int("MaxResults", Some(1), Some(100))?
                .unwrap_or(100) as usize;
            let resource =
                input.opt_str("ResourceName", Str::len_pattern(1, 1600, "^.{1,1600}$"))?;
            let start = match token {
                None | Some("") => 0,
                Some(t) => t
                    .parse::<usize>()
                    .map_err(|_| invalid(format!("The NextToken {t} is not valid.")))?,
            };
            // No task has associated resources here, so a ResourceName filter matches nothing.
            let all: Vec<Value> = if resource.is_some() {
                Vec::new()
            } else {
                world
                    .hub_tasks
                    .iter()
                    .map(|((stream, name), t)| {
                        let mut s =
                            json!({"ProgressUpdateStream": stream, "MigrationTaskName": name});
                        let task = task_json(t);
                        for k in ["Status", "StatusDetail", "ProgressPercent"] {
                            if let Some(v) = task.get(k) {
                                s[k] = v.clone();
                            }
                        }
                        if let Some(u) = t.update_date_time {
                            s["UpdateDateTime"] = json!(u);
                        }
                        s
                    })
                    .collect()
            };
            let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
            let mut out = json!({ "MigrationTaskSummaryList": page });
            if start + max < all.len() {
                out["NextToken"] = Value::String((start + max).to_string());
            }
            Ok(out)
        }
        _ => Err(crate::server::unknown_operation("AWSMigrationHub", op)),
    }
}

fn task_json(t: &HubTask) -> Value {
    let mut task = json!({ "Status": t.status.as_deref().unwrap_or("NOT_STARTED") });
    if let Some(d) = &t.status_detail {
        task["StatusDetail"] = json!(d);
    }
    if let Some(p) = t.progress_percent {
        task["ProgressPercent"] = json!(p);
    }
    task
}

/// Botocore model `DryRunOperation`: "Exception raised to indicate a successfully authorized
/// action when the DryRun flag is set to "true"".
fn dry_run(input: &Input<'_>) -> Result<(), ApiError> {
    if input.opt_bool("DryRun")? == Some(true) {
        return Err(ApiError::bad(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )
        .upper());
    }
    Ok(())
}

fn stream_exists(world: &World, stream: &str) -> Result<(), ApiError> {
    if world.hub_streams.contains(stream) {
        Ok(())
    } else {
        Err(not_found(format!(
            "Progress update stream {stream} does not exist; create it with CreateProgressUpdateStream."
        )))
    }
}

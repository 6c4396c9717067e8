//! The Migration Hub sink (optional): the wave's stream, one task per item imported as
//! NOT_STARTED by `register`, then each `update`'s state. Calls go to the account's home Region.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_migrationhub::operation::create_progress_update_stream::CreateProgressUpdateStreamError;
use aws_sdk_migrationhub::operation::import_migration_task::ImportMigrationTaskError;
use aws_sdk_migrationhub::operation::notify_migration_task_state::NotifyMigrationTaskStateError;
use aws_sdk_migrationhub::types::Task;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::DateTime;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use fleetshift_core::contract::{HubRef, Status};
use fleetshift_core::diagnostic::Operation;
use fleetshift_core::{AwsError, ErrorKind};
use futures_util::{StreamExt, stream};
use tracing::{info, warn};

use crate::{Deps, HUB_CONCURRENCY};

/// A Migration Hub task state.
fn hub_status(status: Status) -> aws_sdk_migrationhub::types::Status {
    use aws_sdk_migrationhub::types::Status as Hub;
    match status {
        Status::NotStarted => Hub::NotStarted,
        Status::InProgress => Hub::InProgress,
        Status::Failed => Hub::Failed,
        Status::Completed => Hub::Completed,
    }
}

/// Whether a Migration Hub failure means the Hub cannot be used for this wave at all (no home
/// Region, or this role may not call it): registering stops at once rather than calling it again
/// for every item.
fn ends_registration(e: &AwsError) -> bool {
    matches!(e.kind, ErrorKind::HubUnavailable | ErrorKind::AccessDenied)
}

/// Whether a failed registration step may succeed later: throttling and server errors (an SDK
/// timeout is classified `ServiceUnavailable`), and a stream not found yet just after it was
/// created. Any other failure (an invalid input, an answer the model does not know) is final
/// for that item.
fn worth_retrying(e: &AwsError, step: Step) -> bool {
    match e.kind {
        ErrorKind::Throttling | ErrorKind::ServiceUnavailable | ErrorKind::LimitExceeded => true,
        ErrorKind::NotFound => step == Step::Import,
        _ => false,
    }
}

/// Where one task's registration stands: both calls are made once each when they succeed, so a
/// retry resumes at the call that failed instead of starting the task (or the wave) over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `ImportMigrationTask` has not succeeded yet.
    Import,
    /// The task exists; its NOT_STARTED `NotifyMigrationTaskState` has not succeeded yet.
    Notify,
}

/// One task's registration attempt: done, or the step that failed and why.
type StepResult = Result<(), (Step, AwsError)>;

/// What registering a wave's tasks came to. Never an error: Migration Hub is optional, so any
/// failure of it degrades to events only, item by item.
#[derive(Debug, Default)]
pub(crate) struct Registration {
    /// The first failure that stopped the Hub for the whole wave (no stream, no home Region, no
    /// access), if any.
    pub(crate) wave_error: Option<AwsError>,
    /// Each task not registered, with its last failure.
    pub(crate) unregistered: HashMap<String, AwsError>,
}

impl Registration {
    /// How many of `total` tasks are registered.
    pub(crate) fn registered(&self, total: usize) -> usize {
        total.saturating_sub(self.unregistered.len())
    }

    /// Why the Hub is not (fully) used: the wave's failure, else the failure most tasks share.
    pub(crate) fn error(&self) -> Option<&AwsError> {
        self.wave_error.as_ref().or_else(|| {
            let mut counts: Vec<(&str, usize, &AwsError)> = Vec::new();
            for e in self.unregistered.values() {
                match counts
                    .iter_mut()
                    .find(|(t, _, _)| *t == e.kind.error_type())
                {
                    Some(c) => c.1 += 1,
                    None => counts.push((e.kind.error_type(), 1, e)),
                }
            }
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            counts.first().map(|c| c.2)
        })
    }
}

/// Time `register` spends on Migration Hub before it reports the tasks still unregistered and
/// publishes `Wave Registered`: half the function's 300 s timeout. No new call starts after it,
/// and a call in flight ends within the SDK's 22 s operation timeout (two per task at most:
/// 150 + 2 x 22 s), which leaves more than 100 s for `PutEvents` and its retries.
pub const HUB_REGISTER_BUDGET: Duration = Duration::from_secs(150);
/// Pause before the first retry round; doubled each round up to [`HUB_BACKOFF_CAP`]. Rounds
/// of up to 2, 4, 8, 16 and 32 s give a throttled account a minute of breathing room, long
/// enough for a per-second rate limit to refill many times over.
pub const HUB_BACKOFF_BASE: Duration = Duration::from_secs(2);
/// The longest pause between two rounds.
pub const HUB_BACKOFF_CAP: Duration = Duration::from_secs(32);
/// Retry rounds after the first attempt: pauses of at most 2 + 4 + 8 + 16 + 32 = 62 s, well
/// inside [`HUB_REGISTER_BUDGET`] even with every call slow; each call also gets the SDK's own
/// attempts (`BULK_SDK_MAX_ATTEMPTS`), so a task is tried up to 6 x 4 times.
pub const HUB_RETRY_ROUNDS: u32 = 5;

/// The pause before retry round `round` (1-based): exponential, capped, with "equal jitter"
/// (half fixed, half random) so that waves registering at once in one account do not retry in
/// step (AWS Architecture Blog, "Exponential Backoff And Jitter").
fn backoff(round: u32, jitter: f64) -> Duration {
    let full = HUB_BACKOFF_BASE
        .saturating_mul(1 << round.saturating_sub(1).min(16))
        .min(HUB_BACKOFF_CAP);
    full / 2 + (full / 2).mul_f64(jitter.clamp(0.0, 1.0))
}

/// A cheap jitter in 0..1 from the clock (no RNG dependency; virtual time makes it repeatable).
fn jitter(round: u32) -> f64 {
    let nanos = fleetshift_clock::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (u64::from(nanos) ^ u64::from(round).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0x2545_F491_4F6C_DD1D);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

/// Registers every task of a wave: its stream, then each task imported and reported NOT_STARTED,
/// [`HUB_CONCURRENCY`] calls at a time. Steps that fail for a reason that may pass (throttling
/// after the SDK's own retries, a server error) are retried in rounds, after an exponential pause,
/// each round resuming every unfinished task at the call that failed, until every task is
/// registered or [`HUB_REGISTER_BUDGET`] is spent. A failure that makes the Hub unusable for the
/// wave stops it at once.
///
/// A step retried after an answer that never arrived may repeat a call that took effect:
/// `CreateProgressUpdateStream` of an existing stream succeeds (the state machine has always
/// relied on it, and cloud-local does the same), and the `ImportMigrationTask` API reference lists
/// no "already exists" error among the operation's errors (AccessDenied, DryRunOperation,
/// HomeRegionNotSet, InternalServerError, InvalidInput, ResourceNotFound, ServiceUnavailable,
/// Throttling, UnauthorizedOperation:
/// <https://docs.aws.amazon.com/migrationhub/latest/ug/API_ImportMigrationTask.html>), so importing
/// a task again is taken to succeed. AWS does not say so in words; should it answer
/// InvalidInput instead, that task is reported unregistered and its first update, which notifies
/// before it imports, still finds it.
pub(crate) async fn register_in_hub(
    hub: &HubRef,
    tasks: &[String],
    next: u32,
    deps: &Deps,
) -> Registration {
    let client = deps.hub_in(hub.home_region.as_deref());
    let stream_name = hub.progress_update_stream.as_str();
    let deadline = fleetshift_clock::now() + HUB_REGISTER_BUDGET;
    let in_time = |pause: Duration| fleetshift_clock::now() + pause < deadline;
    let wave_failed = |e: AwsError| Registration {
        unregistered: tasks.iter().map(|t| (t.clone(), e.clone())).collect(),
        wave_error: Some(e),
    };

    // Creating an existing stream succeeds, so "create if missing" needs no lookup first.
    let mut round = 0;
    loop {
        match create_stream(&client, stream_name).await {
            Ok(()) => break,
            Err(e)
                if worth_retrying(&e, Step::Notify)
                    && round < HUB_RETRY_ROUNDS
                    && in_time(backoff(round + 1, 1.0)) =>
            {
                round += 1;
                fleetshift_clock::sleep(backoff(round, jitter(round))).await;
            }
            // Without a stream no task can be imported: the whole wave goes to events only.
            Err(e) => return wave_failed(e),
        }
    }

    let next = next.min(i32::MAX as u32) as i32;
    let stop = AtomicBool::new(false);
    let mut pending: Vec<(usize, Step)> = (0..tasks.len()).map(|i| (i, Step::Import)).collect();
    let mut out = Registration::default();
    let mut round = 0;
    loop {
        let outcomes: Vec<(usize, StepResult)> = stream::iter(pending)
            .map(|(i, step)| {
                let (client, stop, name) = (&client, &stop, tasks[i].as_str());
                async move {
                    let r = if stop.load(Ordering::Relaxed) || fleetshift_clock::now() >= deadline {
                        Err((step, out_of_time(stop.load(Ordering::Relaxed))))
                    } else {
                        register_task(client, stream_name, name, step, next, deadline).await
                    };
                    if let Err((_, e)) = &r
                        && ends_registration(e)
                    {
                        stop.store(true, Ordering::Relaxed);
                    }
                    (i, r)
                }
            })
            .buffer_unordered(HUB_CONCURRENCY)
            .collect()
            .await;
        let mut retry = Vec::new();
        for (i, r) in outcomes {
            let name = &tasks[i];
            match r {
                Ok(()) => {
                    out.unregistered.remove(name);
                }
                // Not tried this round: the failure that left it pending is the one to report.
                Err((_, e)) if e.operation == NOT_TRIED => {
                    out.unregistered.entry(name.clone()).or_insert(e);
                }
                Err((step, e)) => {
                    if ends_registration(&e) && out.wave_error.is_none() {
                        out.wave_error = Some(e.clone());
                    }
                    if worth_retrying(&e, step) {
                        retry.push((i, step));
                    }
                    out.unregistered.insert(name.clone(), e);
                }
            }
        }
        round += 1;
        // The stop flag may have been raised after a task's call was retried: those are final.
        if retry.is_empty() || stop.load(Ordering::Relaxed) || round > HUB_RETRY_ROUNDS {
            break;
        }
        let pause = backoff(round, jitter(round));
        if !in_time(pause) {
            info!(
                unregistered = retry.len(),
                "Migration Hub registration out of time: left to the items' updates"
            );
            break;
        }
        warn!(
            round,
            retrying = retry.len(),
            pause_ms = pause.as_millis() as u64,
            "Migration Hub registration incomplete: resuming after a pause"
        );
        fleetshift_clock::sleep(pause).await;
        pending = retry;
    }
    // A task left untried because the Hub was found unusable is unregistered for that reason.
    if let Some(wave) = &out.wave_error {
        for e in out.unregistered.values_mut() {
            if e.operation == NOT_TRIED {
                *e = wave.clone();
            }
        }
    }
    out
}

/// The operation of [`out_of_time`]'s failures: no call was made.
const NOT_TRIED: &str = "Migration Hub registration";

/// The failure recorded for a task never tried (again): the Hub was found unusable for the wave,
/// or the registration budget ran out.
fn out_of_time(stopped: bool) -> AwsError {
    AwsError {
        kind: if stopped {
            ErrorKind::HubUnavailable
        } else {
            ErrorKind::Throttling
        },
        operation: NOT_TRIED,
        code: None,
        message: if stopped {
            "not tried: Migration Hub was found unusable for this wave".to_owned()
        } else {
            format!(
                "not registered within {} s: left to the item's first update",
                HUB_REGISTER_BUDGET.as_secs()
            )
        },
    }
}

/// One task's remaining steps, from `step` on; the step that failed comes back with its error.
async fn register_task(
    client: &aws_sdk_migrationhub::Client,
    stream: &str,
    name: &str,
    step: Step,
    next: i32,
    deadline: SystemTime,
) -> StepResult {
    if step == Step::Import {
        import_task(client, stream, name)
            .await
            .map_err(|e| (Step::Import, e))?;
        if fleetshift_clock::now() >= deadline {
            return Err((Step::Notify, out_of_time(false)));
        }
    }
    notify(
        client,
        &TaskReport {
            stream,
            name,
            status: Status::NotStarted,
            detail: Some("registered; waiting to start"),
            percent: Some(0),
            next_update_seconds: next,
        },
    )
    .await
    .map_err(|e| (Step::Notify, e))
}

async fn create_stream(
    client: &aws_sdk_migrationhub::Client,
    stream_name: &str,
) -> Result<(), AwsError> {
    client
        .create_progress_update_stream()
        .progress_update_stream_name(stream_name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hub_error(&CREATE_PROGRESS_UPDATE_STREAM, &e))
}

pub(crate) struct TaskReport<'a> {
    pub(crate) stream: &'a str,
    pub(crate) name: &'a str,
    pub(crate) status: Status,
    pub(crate) detail: Option<&'a str>,
    pub(crate) percent: Option<i32>,
    pub(crate) next_update_seconds: i32,
}

async fn import_task(
    client: &aws_sdk_migrationhub::Client,
    stream_name: &str,
    name: &str,
) -> Result<(), AwsError> {
    client
        .import_migration_task()
        .progress_update_stream(stream_name)
        .migration_task_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hub_error(&IMPORT_MIGRATION_TASK, &e))
}

async fn notify(client: &aws_sdk_migrationhub::Client, r: &TaskReport<'_>) -> Result<(), AwsError> {
    let task = Task::builder()
        .status(hub_status(r.status))
        .set_status_detail(r.detail.map(str::to_owned))
        .set_progress_percent(r.percent)
        .build()
        .map_err(|e| AwsError {
            kind: ErrorKind::Unexpected,
            operation: "NotifyMigrationTaskState",
            code: None,
            message: e.to_string(),
        })?;
    client
        .notify_migration_task_state()
        .progress_update_stream(r.stream)
        .migration_task_name(r.name)
        .task(task)
        .update_date_time(DateTime::from(fleetshift_clock::now()))
        .next_update_seconds(r.next_update_seconds)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| hub_error(&NOTIFY_MIGRATION_TASK_STATE, &e))
}

/// Notifies; a task Migration Hub does not know (registration degraded or ran against another
/// stream) is imported and notified once more.
pub(crate) async fn notify_or_import(
    client: &aws_sdk_migrationhub::Client,
    r: &TaskReport<'_>,
) -> Result<(), AwsError> {
    match notify(client, r).await {
        Err(e) if e.kind == ErrorKind::NotFound => {
            info!(task = %r.name, "task unknown to Migration Hub: importing it");
            import_task(client, r.stream, r.name).await?;
            notify(client, r).await
        }
        other => other,
    }
}

/// The modeled errors the Migration Hub operations share, as typed `is_*` checks.
trait HubModeledError {
    fn modeled_kind(&self) -> Option<ErrorKind>;
}

macro_rules! hub_modeled_error {
    ($ty:ty, |$e:ident| $not_found:expr) => {
        impl HubModeledError for $ty {
            fn modeled_kind(&self) -> Option<ErrorKind> {
                let $e = self;
                Some(if $e.is_home_region_not_set_exception() {
                    ErrorKind::HubUnavailable
                } else if $e.is_access_denied_exception() || $e.is_unauthorized_operation() {
                    ErrorKind::AccessDenied
                } else if $e.is_throttling_exception() {
                    ErrorKind::Throttling
                } else if $e.is_internal_server_error() || $e.is_service_unavailable_exception() {
                    ErrorKind::ServiceUnavailable
                } else if $e.is_invalid_input_exception() {
                    ErrorKind::InvalidRequest
                } else if $not_found {
                    ErrorKind::NotFound
                } else if $e.is_dry_run_operation() {
                    // Only a DryRun request (never sent here) may answer this: nothing was done.
                    ErrorKind::Unexpected
                } else {
                    return None;
                })
            }
        }
    };
}

hub_modeled_error!(CreateProgressUpdateStreamError, |_e| false);
hub_modeled_error!(ImportMigrationTaskError, |e| e
    .is_resource_not_found_exception());
hub_modeled_error!(NotifyMigrationTaskStateError, |e| e
    .is_resource_not_found_exception());

const CREATE_PROGRESS_UPDATE_STREAM: Operation<CreateProgressUpdateStreamError> =
    Operation::new("CreateProgressUpdateStream", HubModeledError::modeled_kind);
const IMPORT_MIGRATION_TASK: Operation<ImportMigrationTaskError> =
    Operation::new("ImportMigrationTask", HubModeledError::modeled_kind);
const NOTIFY_MIGRATION_TASK_STATE: Operation<NotifyMigrationTaskStateError> =
    Operation::new("NotifyMigrationTaskState", HubModeledError::modeled_kind);

/// Classifies a failed Migration Hub call and logs it with the SDK's full context.
fn hub_error<E>(operation: &Operation<E>, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let classified = operation.classify(err);
    warn!(operation = operation.name, kind = ?classified.kind, error = %DisplayErrorContext(err), "Migration Hub call failed");
    classified
}

//! The Migration Hub sink (optional): the wave's stream, one task per item imported as
//! NOT_STARTED by `register`, then each `update`'s state. Calls go to the account's home Region.

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
use futures_util::{TryStreamExt, stream};
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

/// Whether a Migration Hub failure means "use events only" rather than "fail the state".
pub(crate) fn degrades(e: &AwsError) -> bool {
    matches!(e.kind, ErrorKind::HubUnavailable | ErrorKind::AccessDenied)
}

pub(crate) async fn register_in_hub(
    hub: &HubRef,
    tasks: &[String],
    next: u32,
    deps: &Deps,
) -> Result<(), AwsError> {
    let client = deps.hub_in(hub.home_region.as_deref());
    let stream_name = hub.progress_update_stream.as_str();
    // Creating an existing stream succeeds, so "create if missing" needs no lookup first.
    client
        .create_progress_update_stream()
        .progress_update_stream_name(stream_name)
        .send()
        .await
        .map_err(|e| hub_error(&CREATE_PROGRESS_UPDATE_STREAM, &e))?;
    let next = next.min(i32::MAX as u32) as i32;
    stream::iter(tasks.iter().map(Ok::<_, AwsError>))
        .try_for_each_concurrent(HUB_CONCURRENCY, |name| {
            let client = &client;
            async move {
                import_task(client, stream_name, name).await?;
                notify(
                    client,
                    &TaskReport {
                        stream: stream_name,
                        name,
                        status: Status::NotStarted,
                        detail: Some("registered; waiting to start"),
                        percent: Some(0),
                        next_update_seconds: next,
                    },
                )
                .await
            }
        })
        .await
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

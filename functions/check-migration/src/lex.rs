//! Lex V1 GetMigration. The Lex V1 SDK is deprecated as a whole; the allowance is confined to
//! this module.
#![allow(deprecated)]

use aws_sdk_lexmodelbuilding::operation::get_migration::GetMigrationError;
use aws_sdk_lexmodelbuilding::types::{MigrationAlert, MigrationAlertType, MigrationStatus};
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::diagnostic::Operation;
use fleetshift_core::text::truncate_chars;
use fleetshift_core::{ErrorKind, rfc3339};
use tracing::{info, warn};

use crate::{Alert, Checked, Deps, Error, LexBotInput, LexBotOutput, Status};

/// Keeps a cause readable (and well inside Migration Hub's 2500-character StatusDetail).
const MAX_CAUSE_CHARS: usize = 1500;

pub(crate) async fn check_migration(
    b: LexBotInput,
    checked: &Checked,
    deps: &Deps,
) -> Result<LexBotOutput, Error> {
    let out = deps
        .lex
        .get_migration()
        .migration_id(&b.migration_id)
        .send()
        .await
        .map_err(|err| {
            let classified = GET_MIGRATION.classify(&err);
            warn!(
                migration_id = %b.migration_id,
                error_type = classified.kind.error_type(),
                error = %DisplayErrorContext(&err),
                "GetMigration failed"
            );
            Error::Aws(classified)
        })?;
    let now = fleetshift_clock::now();
    let expired = now > checked.deadline();
    let lex_status = out.migration_status();
    let status_name = lex_status.map_or("unknown", |s| s.as_str());
    let (status, cause) = match lex_status {
        Some(MigrationStatus::Completed) => (Status::Completed, None),
        Some(MigrationStatus::Failed) => {
            let errors: Vec<&str> = out
                .alerts()
                .iter()
                .filter(|a| a.r#type() == Some(&MigrationAlertType::Error))
                .filter_map(MigrationAlert::message)
                .collect();
            let why = if errors.is_empty() {
                "Lex gave no error alert".to_owned()
            } else {
                errors.join("; ")
            };
            (
                Status::Failed,
                Some(truncate_chars(
                    &format!("Lex migration {} FAILED: {why}", b.migration_id),
                    MAX_CAUSE_CHARS,
                )),
            )
        }
        // IN_PROGRESS, or a status this code does not know yet: the deadline decides.
        _ if expired => (
            Status::Failed,
            Some(format!(
                "Lex migration {} not finished {} minutes after it started (status {status_name})",
                b.migration_id, checked.deadline_minutes
            )),
        ),
        _ => (Status::InProgress, None),
    };
    info!(
        migration_id = %b.migration_id,
        migration_status = status_name,
        status = ?status,
        alerts = out.alerts().len(),
        "bot migration checked"
    );
    Ok(LexBotOutput {
        status,
        migration_id: out.migration_id().unwrap_or(&b.migration_id).to_owned(),
        migration_status: lex_status.map(|s| s.as_str().to_owned()),
        v2_bot_id: out.v2_bot_id().map(str::to_owned),
        alerts: out.alerts().iter().map(alert).collect(),
        cause,
        checked_at: rfc3339::format(now),
    })
}

fn alert(a: &MigrationAlert) -> Alert {
    Alert {
        alert_type: a.r#type().map_or("UNKNOWN", |t| t.as_str()).to_owned(),
        message: a.message().unwrap_or_default().to_owned(),
        details: a.details().to_vec(),
        reference_urls: a.reference_urls().to_vec(),
    }
}

const GET_MIGRATION: Operation<GetMigrationError> = Operation::lex_v1("GetMigration", |e| {
    Some(if e.is_limit_exceeded_exception() {
        // Lex's LimitExceededException is its rate limit ("try your request again").
        ErrorKind::Throttling
    } else if e.is_internal_failure_exception() {
        ErrorKind::ServiceUnavailable
    } else if e.is_bad_request_exception() {
        ErrorKind::InvalidRequest
    } else if e.is_not_found_exception() {
        ErrorKind::NotFound
    } else {
        return None;
    })
});

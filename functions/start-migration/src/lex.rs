//! Lex V1 StartMigration. The Lex V1 SDK is deprecated as a whole; the allowance is confined to
//! this module.
#![allow(deprecated)]

use std::time::SystemTime;

use aws_sdk_lexmodelbuilding::operation::start_migration::StartMigrationError;
use aws_sdk_lexmodelbuilding::types::MigrationStrategy;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::diagnostic::Operation;
use fleetshift_core::{ErrorKind, rfc3339};
use tracing::{info, warn};

use crate::{Deps, Error, LexBotInput, LexBotOutput, MissingField};

pub(crate) async fn start_migration(b: LexBotInput, deps: &Deps) -> Result<LexBotOutput, Error> {
    let started_at = rfc3339::format(fleetshift_clock::now());
    let out = deps
        .lex
        .start_migration()
        .v1_bot_name(&b.v1_bot_name)
        .v1_bot_version(&b.v1_bot_version)
        .v2_bot_name(&b.v2_bot_name)
        .v2_bot_role(&b.v2_bot_role)
        .migration_strategy(MigrationStrategy::from(b.migration_strategy.as_str()))
        .send()
        .await
        .map_err(|err| {
            let classified = START_MIGRATION.classify(&err);
            warn!(
                v1_bot_name = %b.v1_bot_name,
                v1_bot_version = %b.v1_bot_version,
                error_type = classified.kind.error_type(),
                error = %DisplayErrorContext(&err),
                "StartMigration failed"
            );
            Error::Aws(classified)
        })?;
    let migration_id = out
        .migration_id()
        .filter(|id| !id.is_empty())
        .ok_or(Error::Own(
            MissingField {
                operation: START_MIGRATION.name,
                field: "migrationId",
            }
            .into(),
        ))?
        .to_owned();
    info!(
        v1_bot_name = %b.v1_bot_name,
        v1_bot_version = %b.v1_bot_version,
        migration_id = %migration_id,
        "bot migration started"
    );
    Ok(LexBotOutput {
        migration_id,
        v1_bot_name: out.v1_bot_name().unwrap_or(&b.v1_bot_name).to_owned(),
        v1_bot_version: out.v1_bot_version().unwrap_or(&b.v1_bot_version).to_owned(),
        v2_bot_id: out.v2_bot_id().map(str::to_owned),
        v2_bot_role: out.v2_bot_role().unwrap_or(&b.v2_bot_role).to_owned(),
        v1_bot_locale: out.v1_bot_locale().map(|l| l.as_str().to_owned()),
        migration_strategy: out
            .migration_strategy()
            .map(|s| s.as_str().to_owned())
            .unwrap_or(b.migration_strategy),
        migration_timestamp: out
            .migration_timestamp()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .map(rfc3339::format),
        started_at,
    })
}

const START_MIGRATION: Operation<StartMigrationError> = Operation::lex_v1("StartMigration", |e| {
    Some(if e.is_limit_exceeded_exception() {
        // Lex's LimitExceededException is its rate limit ("try your request again").
        ErrorKind::Throttling
    } else if e.is_internal_failure_exception() {
        ErrorKind::ServiceUnavailable
    } else if e.is_bad_request_exception() {
        ErrorKind::InvalidRequest
    } else if e.is_access_denied_exception() {
        ErrorKind::AccessDenied
    } else if e.is_not_found_exception() {
        ErrorKind::NotFound
    } else {
        return None;
    })
});

//! Lex V1 model building stopped answering on 2025-09-15. StartMigration and GetMigration belong
//! to V1, so in most accounts a call now fails before any modeled error comes back: the endpoint
//! does not resolve or accept connections, or something other than Lex answers. [`classify`] turns
//! those answers into [`ErrorKind::LexV1Unavailable`] (never retried: waiting will not bring the
//! endpoint back) and leaves every other answer to [`AwsError::classify`], so accounts and test
//! doubles where Lex V1 still works keep the normal retry classes.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws_error::{AwsError, ErrorKind};

/// What an operator reads when Lex V1 no longer answers.
pub const STOPPED_MESSAGE: &str = "Amazon Lex V1 stopped answering on 2025-09-15, so this bot cannot be \
     migrated through the V1 StartMigration/GetMigration APIs; rebuild it in Lex V2 \
     (console or import) instead";

/// Error codes an endpoint answers with when the operation or the endpoint no longer exists.
const GONE_CODES: &[&str] = &[
    "EndpointGone",
    "EndpointGoneException",
    "UnknownOperationException",
    "UnknownEndpoint",
    "UnrecognizedEndpoint",
    "ServiceDeprecated",
    "ServiceDeprecatedException",
];

/// Whether `err` says the Lex V1 endpoint is gone rather than that the call failed: a failure to
/// connect at all, an answer that is not Lex's (unparseable), `410 Gone`, a gone-like code, or a
/// `404` without Lex's own `NotFoundException` (the path is unknown to whoever answered).
pub fn is_gone<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => {
            if err.code().is_some_and(|c| GONE_CODES.contains(&c)) {
                return true;
            }
            match err.raw_response().map(|r| r.status().as_u16()) {
                Some(410) => true,
                Some(404) => err.code() != Some("NotFoundException"),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Classifies a failed Lex V1 call: [`ErrorKind::LexV1Unavailable`] when the endpoint is gone
/// (see [`is_gone`]), else [`AwsError::classify`]. Match the operation's modeled errors first.
pub fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let base = AwsError::classify(operation, err);
    if is_gone(err) {
        AwsError {
            kind: ErrorKind::LexV1Unavailable,
            message: format!("{STOPPED_MESSAGE} ({})", base.message),
            ..base
        }
    } else {
        base
    }
}

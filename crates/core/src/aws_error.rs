//! One place that turns an AWS SDK error into the class the state machine routes on.
//!
//! Functions first match the modeled errors of their operation with the typed `is_*` methods (see
//! [`AwsError::from_kind`]); everything else goes through [`AwsError::classify`], which reads the
//! service's error code (`ProvideErrorMetadata::code`) for unmodeled errors such as
//! `ThrottlingException`, and the SDK error variant for timeouts and network failures. The code and
//! message are kept, never stringified away: they are what an operator reads in the execution's
//! failure cause.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error_type;

/// The retry class of a failed AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    OperationInProgress,
    ResourceUnavailable,
    Throttling,
    ServiceUnavailable,
    InvalidRequest,
    InvalidResourceState,
    NotFound,
    AccessDenied,
    NotSupported,
    LimitExceeded,
    HubUnavailable,
    LexV1Unavailable,
    Unexpected,
}

impl ErrorKind {
    /// The stable `errorType` this class is reported as.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::OperationInProgress => error_type::OPERATION_IN_PROGRESS,
            ErrorKind::ResourceUnavailable => error_type::RESOURCE_UNAVAILABLE,
            ErrorKind::Throttling => error_type::THROTTLING,
            ErrorKind::ServiceUnavailable => error_type::SERVICE_UNAVAILABLE,
            ErrorKind::InvalidRequest => error_type::INVALID_REQUEST,
            ErrorKind::InvalidResourceState => error_type::INVALID_RESOURCE_STATE,
            ErrorKind::NotFound => error_type::RESOURCE_NOT_FOUND,
            ErrorKind::AccessDenied => error_type::ACCESS_DENIED,
            ErrorKind::NotSupported => error_type::OPERATION_NOT_SUPPORTED,
            ErrorKind::LimitExceeded => error_type::RESOURCE_LIMIT_EXCEEDED,
            ErrorKind::HubUnavailable => error_type::HUB_UNAVAILABLE,
            ErrorKind::LexV1Unavailable => error_type::LEX_V1_UNAVAILABLE,
            ErrorKind::Unexpected => error_type::UNEXPECTED_RESPONSE,
        }
    }

    /// The class of a service error code, for codes the operation's model does not declare.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "LimitExceededException" => ErrorKind::Throttling,
            "OperationInProgressException" => ErrorKind::OperationInProgress,
            "ResourceUnavailableException" => ErrorKind::ResourceUnavailable,
            "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalFailureException"
            | "InternalServerError"
            | "InternalServerException"
            | "InternalError"
            | "InternalException"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "ExpiredTokenException"
            | "ExpiredToken" => ErrorKind::ServiceUnavailable,
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidSignatureException" => ErrorKind::AccessDenied,
            "ResourceNotFoundException" | "NotFoundException" => ErrorKind::NotFound,
            "OperationNotSupportedException" => ErrorKind::NotSupported,
            "InvalidResourceStateException" => ErrorKind::InvalidResourceState,
            "ResourceLimitExceededException" => ErrorKind::LimitExceeded,
            "HomeRegionNotSetException" => ErrorKind::HubUnavailable,
            "InvalidParameterValuesException"
            | "InvalidInputException"
            | "BadRequestException"
            | "ValidationException"
            | "InvalidParameterException"
            | "SerializationException"
            | "PreconditionFailedException"
            | "ConflictException" => ErrorKind::InvalidRequest,
            _ => return None,
        })
    }
}

/// A failed AWS call, classified, with the service's own code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub kind: ErrorKind,
    /// The operation that failed, e.g. `MigrateWorkspace`.
    pub operation: &'static str,
    /// The service's error code when it sent one (`ThrottlingException`).
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error by its code and variant. Use after matching the operation's
    /// modeled errors with the typed `is_*` methods.
    pub fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| DisplayErrorContext(err).to_string());
        let kind = match err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                ErrorKind::ServiceUnavailable
            }
            SdkError::ConstructionFailure(_) => ErrorKind::Unexpected,
            SdkError::ResponseError(_) => ErrorKind::ServiceUnavailable,
            _ => match code.as_deref().and_then(ErrorKind::from_code) {
                Some(kind) => kind,
                None => match err.raw_response().map(|r| r.status().as_u16()) {
                    Some(429) => ErrorKind::Throttling,
                    Some(403) => ErrorKind::AccessDenied,
                    Some(404) => ErrorKind::NotFound,
                    Some(s) if s >= 500 => ErrorKind::ServiceUnavailable,
                    _ => ErrorKind::Unexpected,
                },
            },
        };
        AwsError {
            kind,
            operation,
            code,
            message,
        }
    }

    /// An error of a known class, e.g. after a typed `is_operation_in_progress_exception()` match.
    pub fn from_kind<E>(
        kind: ErrorKind,
        operation: &'static str,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        AwsError {
            kind,
            ..Self::classify(operation, err)
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {}: {}", self.operation, code, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
    }
}

impl StdError for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmodeled_codes_are_classified() {
        assert_eq!(
            ErrorKind::from_code("ThrottlingException"),
            Some(ErrorKind::Throttling)
        );
        assert_eq!(
            ErrorKind::from_code("HomeRegionNotSetException"),
            Some(ErrorKind::HubUnavailable)
        );
        assert_eq!(ErrorKind::from_code("SomethingNew"), None);
        assert_eq!(ErrorKind::Throttling.error_type(), error_type::THROTTLING);
    }
}

//! One error shape for every function: what Lambda reports when a handler fails, and how a failed
//! SDK call becomes the retry class the state machine routes on.
//!
//! Every function fails in the same few ways, so its error is [`Error`]: input that breaks a rule
//! (`InvalidPlan`), a failed AWS call (its retry class), and, where it has one, a failure of its
//! own (`F`: create-standby's `StandbyFailed`, start-migration's unusable answer), which says its
//! stable [`error_type`] by implementing [`ErrorType`]. `Error` converts to the `Diagnostic`
//! Lambda reports: the stable name as `errorType`, its `Display` as `errorMessage`. A function
//! whose failures do not fit (start-wave refuses plans and foreign events) implements
//! [`ErrorType`] on its own enum and writes its conversion with
//! [`impl_diagnostic!`](crate::impl_diagnostic).
//!
//! Each SDK operation a function calls is described once, as an [`Operation`]: the modeled errors
//! of that operation (matched with the SDK's typed `is_*` methods, which a renamed or removed
//! error turns into a compile error) and what to do with every other answer (the service's code
//! and the SDK's error variant, see [`AwsError::classify`], or for a Lex V1 operation the check
//! that the endpoint is gone, see [`lex_v1::classify`]).

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use lambda_runtime::Diagnostic;

use crate::aws_error::{AwsError, ErrorKind};
use crate::validate::Violations;
use crate::{error_type, lex_v1};

/// A failure a function reports to Step Functions: its stable `errorType`, one of
/// [`error_type::ALL`], which the state machine's `Retry` and `Catch` match.
pub trait ErrorType: fmt::Display {
    /// The stable `errorType` of this failure.
    fn error_type(&self) -> &'static str;
}

/// A failed AWS call is reported as its retry class.
impl ErrorType for AwsError {
    fn error_type(&self) -> &'static str {
        self.kind.error_type()
    }
}

/// Input that breaks a rule (a plan, or a state's input) is `InvalidPlan`: never retried.
impl ErrorType for Violations {
    fn error_type(&self) -> &'static str {
        error_type::INVALID_PLAN
    }
}

/// A function without failures of its own: `Error<Infallible>` has only the shared ones.
impl ErrorType for Infallible {
    fn error_type(&self) -> &'static str {
        match *self {}
    }
}

/// What a function's call fails with.
#[derive(Debug, thiserror::Error)]
pub enum Error<F = Infallible> {
    /// The input is malformed or breaks a rule of the service model; no AWS call was made.
    /// `InvalidPlan`: never retried.
    #[error("invalid input: {0}")]
    InvalidInput(Violations),
    /// An AWS call failed; its class decides the retry.
    #[error(transparent)]
    Aws(AwsError),
    /// A failure of the function's own, with its own `errorType`.
    #[error(transparent)]
    Own(F),
}

impl<F: ErrorType> ErrorType for Error<F> {
    fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidInput(v) => v.error_type(),
            Error::Aws(e) => e.error_type(),
            Error::Own(f) => f.error_type(),
        }
    }
}

impl<F> From<AwsError> for Error<F> {
    fn from(e: AwsError) -> Self {
        Error::Aws(e)
    }
}

impl<F: ErrorType> From<Error<F>> for Diagnostic {
    fn from(err: Error<F>) -> Self {
        diagnostic(&err)
    }
}

/// The `Diagnostic` Lambda reports for `err`: its stable `errorType` and its message.
pub fn diagnostic(err: &(impl ErrorType + ?Sized)) -> Diagnostic {
    Diagnostic {
        error_type: err.error_type().to_owned(),
        error_message: err.to_string(),
    }
}

/// Writes `impl From<$error> for Diagnostic` through [`diagnostic`](crate::diagnostic::diagnostic)
/// for a function's own error enum (which implements [`ErrorType`]), so the handler can return it
/// to `lambda_runtime` as is. [`Error`] has its conversion already.
#[macro_export]
macro_rules! impl_diagnostic {
    ($error:ty) => {
        impl ::core::convert::From<$error> for $crate::diagnostic::Diagnostic {
            fn from(err: $error) -> Self {
                $crate::diagnostic::diagnostic(&err)
            }
        }
    };
}

/// What an answer none of an operation's modeled errors explains is classified by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmodeled {
    /// The service's error code, then the SDK's error variant and the HTTP status.
    Aws,
    /// First whether the Lex V1 endpoint is gone ([`ErrorKind::LexV1Unavailable`]), then as `Aws`.
    LexV1,
}

/// How the failures of one SDK operation are classified. Describe each operation once, as a
/// `const`, and classify at the call site:
///
/// ```
/// use aws_sdk_workspaces::operation::describe_workspaces::DescribeWorkspacesError;
/// use fleetshift_core::ErrorKind;
/// use fleetshift_core::diagnostic::Operation;
///
/// const DESCRIBE_WORKSPACES: Operation<DescribeWorkspacesError> =
///     Operation::new("DescribeWorkspaces", |e| {
///         Some(if e.is_resource_unavailable_exception() {
///             ErrorKind::ResourceUnavailable
///         } else if e.is_invalid_parameter_values_exception() {
///             ErrorKind::InvalidRequest
///         } else {
///             return None;
///         })
///     });
/// assert_eq!(DESCRIBE_WORKSPACES.name, "DescribeWorkspaces");
/// ```
pub struct Operation<E> {
    /// The operation's name as AWS spells it, e.g. `MigrateWorkspace`: it heads the error message.
    pub name: &'static str,
    modeled: fn(&E) -> Option<ErrorKind>,
    unmodeled: Unmodeled,
}

impl<E> Operation<E> {
    /// An operation whose modeled errors `modeled` classifies (`None`: not one it knows).
    pub const fn new(name: &'static str, modeled: fn(&E) -> Option<ErrorKind>) -> Self {
        Operation {
            name,
            modeled,
            unmodeled: Unmodeled::Aws,
        }
    }

    /// A Lex V1 model building operation: an answer none of its modeled errors explains may mean
    /// the endpoint is gone (see [`lex_v1::is_gone`]), which is `LexV1Unavailable`.
    pub const fn lex_v1(name: &'static str, modeled: fn(&E) -> Option<ErrorKind>) -> Self {
        Operation {
            name,
            modeled,
            unmodeled: Unmodeled::LexV1,
        }
    }
}

impl<E> Operation<E>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    /// Classifies a failed call of this operation, keeping the service's code and message.
    pub fn classify(&self, err: &SdkError<E, HttpResponse>) -> AwsError {
        match err.as_service_error().and_then(self.modeled) {
            Some(kind) => AwsError::from_kind(kind, self.name, err),
            None => match self.unmodeled {
                Unmodeled::Aws => AwsError::classify(self.name, err),
                Unmodeled::LexV1 => lex_v1::classify(self.name, err),
            },
        }
    }
}

impl<E> fmt::Debug for Operation<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.name)
            .field("unmodeled", &self.unmodeled)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_workspaces::operation::describe_workspaces::DescribeWorkspacesError;
    use aws_sdk_workspaces::types::error::{
        InvalidParameterValuesException, ResourceUnavailableException,
    };
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const DESCRIBE: Operation<DescribeWorkspacesError> =
        Operation::new("DescribeWorkspaces", |e| {
            e.is_resource_unavailable_exception()
                .then_some(ErrorKind::ResourceUnavailable)
        });
    const DESCRIBE_LEX_V1: Operation<DescribeWorkspacesError> =
        Operation::lex_v1("GetMigration", |_| None);

    fn service_error(
        err: DescribeWorkspacesError,
        status: u16,
    ) -> SdkError<DescribeWorkspacesError, HttpResponse> {
        SdkError::service_error(
            err,
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    /// A failure of a function's own.
    #[derive(Debug, thiserror::Error)]
    #[error("all 1 standby requests failed")]
    struct StandbyFailed;

    impl ErrorType for StandbyFailed {
        fn error_type(&self) -> &'static str {
            error_type::STANDBY_FAILED
        }
    }

    /// A function's own enum, converted by the macro.
    #[derive(Debug, thiserror::Error)]
    #[error("refused event: {0}")]
    struct Foreign(&'static str);

    impl ErrorType for Foreign {
        fn error_type(&self) -> &'static str {
            error_type::FOREIGN_EVENT
        }
    }

    crate::impl_diagnostic!(Foreign);

    #[test]
    fn a_modeled_error_keeps_the_service_code_and_message() {
        let err = service_error(
            DescribeWorkspacesError::ResourceUnavailableException(
                ResourceUnavailableException::builder()
                    .message("busy")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceUnavailableException")
                            .message("busy")
                            .build(),
                    )
                    .build(),
            ),
            400,
        );
        assert_eq!(
            DESCRIBE.classify(&err),
            AwsError {
                kind: ErrorKind::ResourceUnavailable,
                operation: "DescribeWorkspaces",
                code: Some("ResourceUnavailableException".to_owned()),
                message: "busy".to_owned(),
            }
        );
    }

    #[test]
    fn an_error_the_operation_does_not_model_is_classified_by_its_code() {
        // InvalidParameterValuesException is not in DESCRIBE's table: its code decides.
        let invalid = service_error(
            DescribeWorkspacesError::InvalidParameterValuesException(
                InvalidParameterValuesException::builder()
                    .message("bad")
                    .meta(
                        ErrorMetadata::builder()
                            .code("InvalidParameterValuesException")
                            .message("bad")
                            .build(),
                    )
                    .build(),
            ),
            400,
        );
        assert_eq!(DESCRIBE.classify(&invalid).kind, ErrorKind::InvalidRequest);
        let throttled = service_error(
            DescribeWorkspacesError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("slow down")
                    .build(),
            ),
            400,
        );
        assert_eq!(DESCRIBE.classify(&throttled).kind, ErrorKind::Throttling);
        // The same answer of a Lex V1 operation is not a gone endpoint.
        assert_eq!(
            DESCRIBE_LEX_V1.classify(&throttled).kind,
            ErrorKind::Throttling
        );
    }

    #[test]
    fn a_lex_v1_operation_answered_410_is_lex_v1_unavailable() {
        let gone = service_error(
            DescribeWorkspacesError::generic(ErrorMetadata::builder().message("Gone").build()),
            410,
        );
        let classified = DESCRIBE_LEX_V1.classify(&gone);
        assert_eq!(classified.kind, ErrorKind::LexV1Unavailable);
        assert_eq!(classified.operation, "GetMigration");
        assert_eq!(DESCRIBE.classify(&gone).kind, ErrorKind::Unexpected);
    }

    #[test]
    fn the_diagnostic_is_the_stable_name_and_the_message() {
        let mut v = Violations::default();
        v.push("workspaceId", "must match ^ws-[0-9a-z]{8,63}$");
        assert_eq!(
            Diagnostic::from(Error::<Infallible>::InvalidInput(v)),
            Diagnostic {
                error_type: "InvalidPlan".to_owned(),
                error_message: "invalid input: workspaceId: must match ^ws-[0-9a-z]{8,63}$"
                    .to_owned(),
            }
        );
        let aws = AwsError {
            kind: ErrorKind::Throttling,
            operation: "MigrateWorkspace",
            code: Some("ThrottlingException".to_owned()),
            message: "Rate exceeded".to_owned(),
        };
        assert_eq!(
            Diagnostic::from(Error::<Infallible>::Aws(aws)),
            Diagnostic {
                error_type: "ThrottlingException".to_owned(),
                error_message: "MigrateWorkspace failed: ThrottlingException: Rate exceeded"
                    .to_owned(),
            }
        );
        assert_eq!(
            Diagnostic::from(Error::Own(StandbyFailed)),
            Diagnostic {
                error_type: "StandbyFailed".to_owned(),
                error_message: "all 1 standby requests failed".to_owned(),
            }
        );
        assert_eq!(
            Diagnostic::from(Foreign("another account")),
            Diagnostic {
                error_type: "ForeignEvent".to_owned(),
                error_message: "refused event: another account".to_owned(),
            }
        );
    }
}

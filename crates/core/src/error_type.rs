//! The `errorType` names the Lambda functions report and the state machine matches in
//! `ErrorEquals`. They are stable API: a renamed constant silently disables a retrier, and a test
//! checks that every custom name in the ASL is one of [`ALL`].

/// WorkSpaces is busy with the resource (retried with backoff).
pub const OPERATION_IN_PROGRESS: &str = "OperationInProgressException";
/// The resource is not available right now (retried with backoff).
pub const RESOURCE_UNAVAILABLE: &str = "ResourceUnavailableException";
/// The account's request rate was exceeded (retried with a separate, longer backoff).
pub const THROTTLING: &str = "ThrottlingException";
/// The service or the network failed transiently (retried).
pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
/// The plan or the function's input is invalid; never retried.
pub const INVALID_PLAN: &str = "InvalidPlan";
/// AWS rejected a parameter that passed our own validation; never retried.
pub const INVALID_REQUEST: &str = "InvalidRequest";
/// The resource is not in a state that allows the operation (e.g. ADMIN_MAINTENANCE).
pub const INVALID_RESOURCE_STATE: &str = "InvalidResourceState";
/// A WorkSpace, image, bot, stream or migration does not exist.
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
/// The function's role may not make the call.
pub const ACCESS_DENIED: &str = "AccessDenied";
/// The operation is not supported for this resource (e.g. BYOL to non-BYOL).
pub const OPERATION_NOT_SUPPORTED: &str = "OperationNotSupported";
/// An account quota would be exceeded.
pub const RESOURCE_LIMIT_EXCEEDED: &str = "ResourceLimitExceeded";
/// Lex V1 model building no longer answers (its endpoints stopped on 2025-09-15).
pub const LEX_V1_UNAVAILABLE: &str = "LexV1Unavailable";
/// Migration Hub is not usable for this account (home Region not set, access denied, closed).
pub const HUB_UNAVAILABLE: &str = "HubUnavailable";
/// Every standby WorkSpace request of a call failed.
pub const STANDBY_FAILED: &str = "StandbyFailed";
/// AWS answered in a way the function cannot use.
pub const UNEXPECTED_RESPONSE: &str = "UnexpectedResponse";
/// MigrateWorkspace's answer was lost and nothing tells which WorkSpace is the migration under way
/// (start-migration names the candidates to check): final, never retried.
pub const MIGRATION_UNCONFIRMED: &str = "MigrationUnconfirmed";
/// A `Wave Requested` event that did not come from the stack's own account (or is not a
/// `Wave Requested` event at all): start-wave refuses it and it goes to the dead-letter queue.
pub const FOREIGN_EVENT: &str = "ForeignEvent";

/// Every name above: the ASL may match these and the `States.*` names, nothing else.
pub const ALL: &[&str] = &[
    OPERATION_IN_PROGRESS,
    RESOURCE_UNAVAILABLE,
    THROTTLING,
    SERVICE_UNAVAILABLE,
    INVALID_PLAN,
    INVALID_REQUEST,
    INVALID_RESOURCE_STATE,
    RESOURCE_NOT_FOUND,
    ACCESS_DENIED,
    OPERATION_NOT_SUPPORTED,
    RESOURCE_LIMIT_EXCEEDED,
    LEX_V1_UNAVAILABLE,
    HUB_UNAVAILABLE,
    STANDBY_FAILED,
    UNEXPECTED_RESPONSE,
    MIGRATION_UNCONFIRMED,
    FOREIGN_EVENT,
];

/// The Lambda service errors Step Functions reports for a failed invoke, retried as AWS recommends.
pub const LAMBDA_SERVICE_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_not_reserved() {
        let set: HashSet<_> = ALL.iter().collect();
        assert_eq!(set.len(), ALL.len());
        assert!(
            ALL.iter()
                .all(|n| !n.starts_with("States.") && !n.starts_with("Lambda."))
        );
    }
}

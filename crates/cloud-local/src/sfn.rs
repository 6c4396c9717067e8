//! AWS Step Functions (awsJson1_0, `AWSStepFunctions.<Op>`): validated here, executed by a backend.
//!
//! cloud-local does not run state machines itself: an [`SfnBackend`] (the sfn-local engine, attached
//! by whoever starts the server) does. Without one, every Step Functions call answers
//! `UnsupportedOperation` (HTTP 501) saying that no backend is attached: never a fake execution.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use serde_json::Value;

use crate::error::ApiError;
use crate::validate::{Input, Str};

/// A boxed future returned by an [`SfnBackend`].
pub type SfnFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send + 'a>>;

/// Runs Step Functions executions for cloud-local. Each method receives the request body (already
/// validated against the model) and the caller's now, and returns the response body as the model
/// shapes it (timestamps as epoch seconds), or an [`ApiError`] such as
/// [`ApiError::sfn`]`("ExecutionAlreadyExists", ..)` or `("StateMachineDoesNotExist", ..)`.
pub trait SfnBackend: Send + Sync + 'static {
    /// StartExecution: idempotent by name for the same input while the execution runs (as AWS).
    fn start_execution(&self, request: Value, now: SystemTime) -> SfnFuture<'_>;
    /// DescribeExecution.
    fn describe_execution(&self, request: Value, now: SystemTime) -> SfnFuture<'_>;
    /// GetExecutionHistory.
    fn get_execution_history(&self, request: Value, now: SystemTime) -> SfnFuture<'_>;
    /// ListExecutions.
    fn list_executions(&self, request: Value, now: SystemTime) -> SfnFuture<'_>;
}

impl ApiError {
    /// A Step Functions error (HTTP 400, `message`), for [`SfnBackend`] implementations.
    pub fn sfn(code: &str, message: impl Into<String>) -> Self {
        Self::bad(code, message)
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::bad("ValidationException", message)
}

const ARN: Str = Str::len(1, 256);
const STATUS: &[&str] = &[
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

/// Characters Step Functions refuses in execution names.
const NAME_FORBIDDEN: &[char] = &[
    '<', '>', '{', '}', '[', ']', '?', '*', '"', '#', '%', '\\', '^', '|', '~', '`', '$', '&', ',',
    ';', ':', '/',
];

pub(crate) fn target_id(op: &str, body: &Value) -> Option<String> {
    let field = match op {
        "StartExecution" | "ListExecutions" => "stateMachineArn",
        _ => "executionArn",
    };
    body.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn arn_of(input: &Input<'_>, field: &str, kind: &str, required: bool) -> Result<(), ApiError> {
    let value = if required {
        Some(input.req_str(field, ARN)?)
    } else {
        input.opt_str(field, ARN)?
    };
    if let Some(v) = value {
        let parts: Vec<&str> = v.splitn(7, ':').collect();
        if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != kind {
            return Err(ApiError::bad(
                "InvalidArn",
                format!("Invalid Arn: '{v}' is not a valid {kind} ARN"),
            ));
        }
    }
    Ok(())
}

/// Checks a request against the model before it reaches the backend.
pub(crate) fn validate(op: &str, body: &Value) -> Result<(), ApiError> {
    let input = Input::new(body, invalid)?;
    match op {
        "StartExecution" => {
            arn_of(&input, "stateMachineArn", "stateMachine", true)?;
            if let Some(name) = input.opt_str("name", Str::len(1, 80))?
                && name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || NAME_FORBIDDEN.contains(&c))
            {
                return Err(ApiError::bad(
                    "InvalidName",
                    format!("Invalid Name: '{name}'"),
                ));
            }
            if let Some(text) = input.opt_str(
                "input",
                Str {
                    max: Some(262_144),
                    ..Str::any()
                },
            )? && serde_json::from_str::<Value>(text).is_err()
            {
                return Err(ApiError::bad(
                    "InvalidExecutionInput",
                    "Invalid State Machine Execution Input: the input is not valid JSON",
                ));
            }
            input.opt_str("traceHeader", Str::len_pattern(0, 256, "[\\x00-\\x7F]*"))?;
        }
        "DescribeExecution" => {
            arn_of(&input, "executionArn", "execution", true)?;
            input.opt_str("includedData", Str::one_of(&["ALL_DATA", "METADATA_ONLY"]))?;
        }
        "GetExecutionHistory" => {
            arn_of(&input, "executionArn", "execution", true)?;
            input.opt_int("maxResults", Some(0), Some(1000))?;
            input.opt_bool("reverseOrder")?;
            input.opt_str("nextToken", Str::len(1, 1024))?;
            input.opt_bool("includeExecutionData")?;
        }
        "ListExecutions" => {
            arn_of(&input, "stateMachineArn", "stateMachine", false)?;
            input.opt_str("statusFilter", Str::one_of(STATUS))?;
            input.opt_int("maxResults", Some(0), Some(1000))?;
            input.opt_str("nextToken", Str::len(1, 3096))?;
            input.opt_str("mapRunArn", Str::len(1, 2000))?;
            input.opt_str("redriveFilter", Str::one_of(&["REDRIVEN", "NOT_REDRIVEN"]))?;
            if input.raw("stateMachineArn").is_none() && input.raw("mapRunArn").is_none() {
                return Err(invalid(
                    "Must provide a StateMachine ARN or MapRun ARN".into(),
                ));
            }
        }
        _ => return Err(crate::server::unknown_operation("AWSStepFunctions", op)),
    }
    Ok(())
}

/// Validates and hands the request to the backend.
pub(crate) async fn call(
    backend: Option<&dyn SfnBackend>,
    op: &str,
    body: Value,
    now: SystemTime,
) -> Result<Value, ApiError> {
    validate(op, &body)?;
    let Some(backend) = backend else {
        return Err(ApiError::new(
            501,
            "UnsupportedOperation",
            format!(
                "{op}: no Step Functions backend is attached to cloud-local (start it with Options::sfn set to an sfn-local engine)"
            ),
        ));
    };
    match op {
        "StartExecution" => backend.start_execution(body, now).await,
        "DescribeExecution" => backend.describe_execution(body, now).await,
        "GetExecutionHistory" => backend.get_execution_history(body, now).await,
        _ => backend.list_executions(body, now).await,
    }
}

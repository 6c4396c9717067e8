//! start-wave: starts the fleet-migration state machine for a wave plan.
//!
//! Invoked by the EventBridge rule on source `fleetshift`, detail-type `Wave Requested` (not by a
//! state of the workflow). The event's detail is a wave plan: it is validated with
//! [`Plan::parse`] (every violation named, no call made when invalid), then `StartExecution` runs
//! with the plan as input (as an operator would paste it in the console) and
//! [`Plan::execution_name`] as name: the wave id and a hash of the plan as sent (canonical JSON of
//! the detail, no defaults filled in, so a release that changes a default renames no plan).
//!
//! EventBridge delivers at least once, so the same plan can arrive twice. A second
//! `StartExecution` with the same name and input while the first execution runs returns that
//! execution; once it has ended, Step Functions answers `ExecutionAlreadyExists`. Both count as
//! success: the wave was started, once. A plan that says something else (a field added, removed
//! or changed, a default spelled out) hashes to a new name and starts a new execution; key order
//! and whitespace do not count.

use aws_config::SdkConfig;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::diagnostic::{ErrorType, Operation};
use fleetshift_core::{AwsError, ErrorKind, Plan, Violations, error_type};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

/// The `Wave Requested` event; its detail is the plan (validated by the handler).
pub type Input = EventBridgeEvent<Value>;

/// The started (or already started) execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The execution's ARN.
    pub execution_arn: String,
    /// `<waveId>-<hash of the plan>`.
    pub execution_name: String,
    /// True when an execution of this name existed already (a duplicate delivery, or the same
    /// plan sent again).
    pub already_started: bool,
    /// The existing execution's status (`RUNNING`, `SUCCEEDED`, `FAILED`, ...) when it existed
    /// already and DescribeExecution answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_status: Option<String>,
}

/// The failure classes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event or its plan is invalid; nothing was started.
    #[error("invalid plan: {0}")]
    InvalidInput(Violations),
    /// The event is not a `Wave Requested` event of the stack's own account; nothing was started.
    #[error("refused event: {0}")]
    Foreign(String),
    /// StartExecution failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl ErrorType for Error {
    fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidInput(v) => v.error_type(),
            Error::Foreign(_) => error_type::FOREIGN_EVENT,
            Error::Aws(e) => e.error_type(),
        }
    }
}

fleetshift_core::impl_diagnostic!(Error);

/// StartExecution's modeled errors. `ExecutionAlreadyExists` is not among them: it is the
/// answer to a plan sent again, handled as success before classification.
const START_EXECUTION: Operation<StartExecutionError> = Operation::new("StartExecution", |e| {
    Some(
        if e.is_invalid_name()
            || e.is_invalid_execution_input()
            || e.is_invalid_arn()
            || e.is_validation_exception()
        {
            ErrorKind::InvalidRequest
        } else if e.is_state_machine_does_not_exist() || e.is_state_machine_deleting() {
            ErrorKind::NotFound
        } else if e.is_execution_limit_exceeded() {
            ErrorKind::LimitExceeded
        } else if e.is_kms_throttling_exception() {
            ErrorKind::Throttling
        } else if e.is_kms_access_denied_exception() {
            ErrorKind::AccessDenied
        } else if e.is_kms_invalid_state_exception() {
            ErrorKind::InvalidResourceState
        } else {
            return None;
        },
    )
});

/// The stack's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `STATE_MACHINE_ARN`: the fleet-migration state machine (a version or alias ARN works too).
    pub state_machine_arn: String,
}

impl Settings {
    /// Reads `STATE_MACHINE_ARN`, failing with the variable's name when it is missing or not a
    /// state machine ARN.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Settings::from_env`], from any lookup: the offline stack builds the in-process
    /// function from the environment template.yaml gives it, through this same parser.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let name = "STATE_MACHINE_ARN";
        Self::new(get(name).ok_or_else(|| format!("environment variable {name} is not set"))?)
    }

    /// Checks the ARN's shape (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`).
    pub fn new(state_machine_arn: impl Into<String>) -> Result<Self, String> {
        let state_machine_arn = state_machine_arn.into();
        if execution_arn(&state_machine_arn, "x").is_none() {
            return Err(format!(
                "environment variable STATE_MACHINE_ARN must be a state machine ARN \
                 (arn:aws:states:<region>:<account>:stateMachine:<name>), is {state_machine_arn:?}"
            ));
        }
        Ok(Settings { state_machine_arn })
    }

    /// The stack's account: the account of its state machine.
    pub fn account(&self) -> &str {
        self.state_machine_arn.split(':').nth(4).unwrap_or_default()
    }
}

/// The Step Functions client and the state machine to start.
#[derive(Clone, Debug)]
pub struct Deps {
    pub sfn: aws_sdk_sfn::Client,
    pub settings: Settings,
}

impl Deps {
    pub fn from_config(sdk: &SdkConfig, settings: Settings) -> Self {
        Deps {
            sfn: fleetshift_core::clients::step_functions(sdk),
            settings,
        }
    }
}

/// The ARN of execution `name` of a state machine (or of one of its versions or aliases):
/// `arn:<p>:states:<r>:<a>:stateMachine:<sm>[:<qualifier>]` -> `arn:<p>:states:<r>:<a>:execution:<sm>:<name>`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = state_machine_arn.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            partition,
            "states",
            region,
            account,
            "stateMachine",
            sm,
            rest @ ..,
        ] if rest.len() <= 1
            && !partition.is_empty()
            && !region.is_empty()
            && !account.is_empty()
            && !sm.is_empty() =>
        {
            Some(format!(
                "arn:{partition}:states:{region}:{account}:execution:{sm}:{name}"
            ))
        }
        _ => None,
    }
}

/// Parses the raw Lambda payload (a malformed envelope is `InvalidPlan` naming the field) and runs
/// [`handler`].
pub async fn handle(payload: Value, deps: &Deps) -> Result<Output, Error> {
    let event: Input = fleetshift_core::validate::from_json_tagged(payload, "event", None)
        .map_err(Error::InvalidInput)?;
    handler(event, deps).await
}

/// Validates the plan and starts its execution.
#[tracing::instrument(skip(deps, event), fields(event_id = ?event.id, detail_type = %event.detail_type, source = %event.source))]
pub async fn handler(event: Input, deps: &Deps) -> Result<Output, Error> {
    check_origin(&event, deps.settings.account())?;
    let plan = Plan::parse(&event.detail).map_err(|v| {
        // The plan is the event's detail: name fields as the operator's event spells them.
        let mut named = Violations::default();
        for x in v.0 {
            named.push(format!("detail.{}", x.field), x.rule);
        }
        warn!(violations = %named, "invalid plan: nothing started");
        Error::InvalidInput(named)
    })?;
    let name = plan.execution_name(&event.detail);
    // The input is the plan as the operator wrote it (validated above): the state machine applies
    // the stack's defaults (DefaultConcurrency) where the plan is silent, as for a console start.
    let input = serde_json::to_string(&event.detail).map_err(|e| {
        let mut v = Violations::default();
        v.push("detail", format!("cannot be serialised: {e}"));
        Error::InvalidInput(v)
    })?;
    let arn = &deps.settings.state_machine_arn;
    let sent_at = fleetshift_clock::now();

    match deps
        .sfn
        .start_execution()
        .state_machine_arn(arn)
        .name(&name)
        .input(input)
        .send()
        .await
    {
        // Step Functions answers a StartExecution with the name and input of a *running*
        // execution with that execution, as a success: its start date tells it apart from a
        // start made now (a duplicate delivered within seconds of the first cannot be told).
        Ok(out) if started_before(out.start_date(), sent_at) => {
            info!(
                execution_name = %name,
                execution_arn = %out.execution_arn(),
                wave_id = %plan.wave_id,
                "execution of this plan already running (duplicate delivery): nothing new started"
            );
            Ok(Output {
                execution_arn: out.execution_arn().to_owned(),
                execution_name: name,
                already_started: true,
                existing_status: Some("RUNNING".to_owned()),
            })
        }
        Ok(out) => {
            info!(execution_name = %name, execution_arn = %out.execution_arn(), wave_id = %plan.wave_id, "wave started");
            Ok(Output {
                execution_arn: out.execution_arn().to_owned(),
                execution_name: name,
                already_started: false,
                existing_status: None,
            })
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(StartExecutionError::is_execution_already_exists) =>
        {
            let execution_arn = execution_arn(arn, &name).ok_or_else(|| AwsError {
                kind: ErrorKind::Unexpected,
                operation: START_EXECUTION.name,
                code: Some("ExecutionAlreadyExists".to_owned()),
                message: format!("cannot derive an execution ARN from {arn}"),
            })?;
            let existing_status = existing_status(deps, &execution_arn).await;
            match existing_status.as_deref() {
                Some("RUNNING") | Some("PENDING_REDRIVE") | None => info!(
                    execution_name = %name,
                    execution_arn = %execution_arn,
                    wave_id = %plan.wave_id,
                    status = existing_status.as_deref().unwrap_or("unknown"),
                    "execution already exists (duplicate delivery of the same plan): nothing new started"
                ),
                Some(status) => warn!(
                    execution_name = %name,
                    execution_arn = %execution_arn,
                    wave_id = %plan.wave_id,
                    status,
                    "this plan already ran and its execution ended {status}: nothing new started; \
                     to run the wave again, send it with another waveId"
                ),
            }
            Ok(Output {
                execution_arn,
                execution_name: name,
                already_started: true,
                existing_status,
            })
        }
        Err(err) => {
            let classified = START_EXECUTION.classify(&err);
            warn!(execution_name = %name, kind = ?classified.kind, error = %DisplayErrorContext(&err), "StartExecution failed");
            Err(classified.into())
        }
    }
}

/// Refuses an event that is not a `Wave Requested` event of the stack's own account. The stack's
/// rule already matches only those (its pattern names the account) and its bus admits only the
/// account's principals; this is the last line should the rule or the bus policy be changed by
/// hand or the function be invoked directly. EventBridge sets `account` itself (PutEvents has no
/// such field), so a sender cannot forge it (EventBridge User Guide, "Amazon EventBridge events":
/// "account: The 12-digit number identifying an AWS account").
fn check_origin(event: &Input, account: &str) -> Result<(), Error> {
    let refused = |why: String| {
        warn!(
            event_id = ?event.id,
            event_account = ?event.account,
            source = %event.source,
            detail_type = %event.detail_type,
            "{why}: nothing started"
        );
        Err(Error::Foreign(why))
    };
    if event.source != fleetshift_core::events::SOURCE
        || event.detail_type != fleetshift_core::events::WAVE_REQUESTED
    {
        return refused(format!(
            "the event is {:?} from source {:?}, not {:?} from {:?}",
            event.detail_type,
            event.source,
            fleetshift_core::events::WAVE_REQUESTED,
            fleetshift_core::events::SOURCE
        ));
    }
    match event.account.as_deref() {
        Some(a) if a == account => Ok(()),
        Some(a) => refused(format!(
            "the event comes from account {a}, not the stack's account {account}"
        )),
        None => refused(format!(
            "the event names no account; only the stack's account {account} may start a wave"
        )),
    }
}

/// Clock skew between Lambda and Step Functions this code tolerates before calling an answered
/// execution one that was already running.
const START_SKEW: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether an execution StartExecution answered with started well before this call was made.
fn started_before(start_date: &aws_smithy_types::DateTime, sent_at: std::time::SystemTime) -> bool {
    std::time::SystemTime::try_from(*start_date).is_ok_and(|t| t + START_SKEW < sent_at)
}

/// The status of the execution a plan already started, so a plan sent again after its wave ended
/// is told apart from a duplicate delivery. Best effort: `None` when DescribeExecution fails (the
/// answer is still success: nothing new was started either way).
async fn existing_status(deps: &Deps, execution_arn: &str) -> Option<String> {
    match deps
        .sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
    {
        Ok(out) => Some(out.status().as_str().to_owned()),
        Err(err) => {
            warn!(execution_arn, error = %DisplayErrorContext(&err), "DescribeExecution failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_state_machine_arn_from_a_lookup() {
        let arn =
            "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration:live";
        let s =
            Settings::from_lookup(|n| (n == "STATE_MACHINE_ARN").then(|| arn.to_owned())).unwrap();
        assert_eq!(s.state_machine_arn, arn);
        assert_eq!(s.account(), "123456789012");
        assert_eq!(
            Settings::from_lookup(|_| None).unwrap_err(),
            "environment variable STATE_MACHINE_ARN is not set"
        );
    }

    #[test]
    fn execution_arn_is_derived_from_any_state_machine_arn() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:fleet",
                "w-1"
            )
            .as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:execution:fleet:w-1")
        );
        // Versions and aliases run as executions of the state machine itself.
        assert_eq!(
            execution_arn(
                "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:fleet:prod",
                "w"
            )
            .as_deref(),
            Some("arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:fleet:w")
        );
        assert_eq!(
            execution_arn("arn:aws:lambda:us-east-1:1:function:f", "w"),
            None
        );
        assert_eq!(execution_arn("fleet", "w"), None);
    }

    #[test]
    fn settings_name_the_variable() {
        assert!(Settings::new("arn:aws:states:us-east-1:123456789012:stateMachine:fleet").is_ok());
        let e = Settings::new("fleet").unwrap_err();
        assert!(e.contains("STATE_MACHINE_ARN"), "{e}");
    }
}

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
    /// StartExecution: idempotent by name for the same input while the execution runs. API
    /// Reference, StartExecution: "For a STANDARD workflow, if you call StartExecution with the
    /// same name and input as a running execution, the call succeeds and return[s] the same
    /// response as the original request. If the execution is closed or if the input is different,
    /// it returns a 400 ExecutionAlreadyExists error."
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

/// Characters Step Functions refuses in execution names: botocore model
/// `stepfunctions/2016-11-23`, `StartExecutionInput.name` ("A name must not contain: white space,
/// brackets < > { } [ ], wildcard characters ? *, special characters " # % \ ^ | ~ ` $ & , ; : /,
/// control characters"); 1-80 characters (`Name` shape).
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
                    // Botocore `SensitiveData`: max 262144 (256 KiB), the execution input limit.
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

/// The sfn-local engine as cloud-local's Step Functions backend: state machines are registered by
/// ARN with their definition; executions run on the engine (on the caller's virtual time when the
/// request carries it).
#[derive(Clone)]
pub struct SfnLocalBackend {
    engine: sfn_local::Engine,
    machines: std::sync::Arc<
        std::sync::RwLock<std::collections::HashMap<String, std::sync::Arc<sfn_local::Definition>>>,
    >,
    /// Alias ARN -> the state machine it belongs to.
    aliases: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, String>>>,
    /// Execution ARN -> the alias it was started through.
    started_via: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, String>>>,
}

impl std::fmt::Debug for SfnLocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfnLocalBackend")
            .field("state_machines", &self.state_machines())
            .finish()
    }
}

impl SfnLocalBackend {
    /// Wraps an engine (its handlers already registered).
    pub fn new(engine: sfn_local::Engine) -> Self {
        Self {
            engine,
            machines: Default::default(),
            aliases: Default::default(),
            started_via: Default::default(),
        }
    }

    /// The engine, e.g. to register handlers or wait for an execution.
    pub fn engine(&self) -> &sfn_local::Engine {
        &self.engine
    }

    /// Registers a state machine called `name` (in the engine's Region and account); returns its ARN.
    pub fn register(
        &self,
        name: &str,
        definition: std::sync::Arc<sfn_local::Definition>,
    ) -> String {
        let arn = self.engine.state_machine_arn(name);
        self.machines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(arn.clone(), definition);
        arn
    }

    /// Registers the alias `name` of the state machine `state_machine_arn` (which must be
    /// registered); returns the alias ARN (`<state machine ARN>:<name>`). An execution started
    /// through it runs the state machine's definition, is named under the state machine
    /// (`execution:<state machine name>:<execution name>`) and its DescribeExecution names the alias
    /// (`stateMachineAliasArn`), as Step Functions does (API reference, StartExecution and
    /// DescribeExecution). Offline there is one definition per state machine, so the alias always
    /// routes to it.
    pub fn register_alias(&self, state_machine_arn: &str, name: &str) -> String {
        let alias = format!("{state_machine_arn}:{name}");
        self.aliases
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(alias.clone(), state_machine_arn.to_owned());
        alias
    }

    /// The state machine an ARN names: itself, or the state machine of a registered alias.
    fn unqualified(&self, arn: &str) -> Option<String> {
        self.aliases
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .cloned()
    }

    /// ARNs of the registered state machines.
    pub fn state_machines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .machines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    fn definition(&self, arn: &str) -> Result<std::sync::Arc<sfn_local::Definition>, ApiError> {
        self.machines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::sfn(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })
    }

    fn describe_json(&self, d: &sfn_local::ExecutionDescription, with_data: bool) -> Value {
        let mut v = serde_json::json!({
            "executionArn": d.execution_arn,
            "stateMachineArn": d.state_machine_arn,
            "name": d.name,
            "status": d.status.as_str(),
            "startDate": crate::world::epoch_secs(d.start_date),
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
        });
        if let Some(stop) = d.stop_date {
            v["stopDate"] = crate::world::epoch_secs(stop);
        }
        if let Some(alias) = self
            .started_via
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&d.execution_arn)
        {
            v["stateMachineAliasArn"] = Value::String(alias.clone());
        }
        if with_data {
            v["input"] = Value::String(d.input.to_string());
            v["inputDetails"] = serde_json::json!({"included": true});
            if let Some(out) = &d.output {
                v["output"] = Value::String(out.to_string());
                v["outputDetails"] = serde_json::json!({"included": true});
            }
        }
        if let Some(e) = &d.error {
            v["error"] = Value::String(e.clone());
        }
        if let Some(c) = &d.cause {
            v["cause"] = Value::String(c.clone());
        }
        v
    }

    fn execution(&self, request: &Value) -> Result<sfn_local::ExecutionDescription, ApiError> {
        let arn = request["executionArn"].as_str().unwrap_or_default();
        self.engine.describe(arn).ok_or_else(|| {
            ApiError::sfn(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            )
        })
    }
}

fn page(request: &Value, len: usize) -> Result<(usize, usize), ApiError> {
    let start = match request.get("nextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= len)
            .ok_or_else(|| ApiError::sfn("InvalidToken", format!("Invalid Token: '{t}'")))?,
    };
    let max = match request.get("maxResults").and_then(Value::as_u64) {
        None | Some(0) => 100,
        Some(n) => n as usize,
    };
    Ok((start, max))
}

impl SfnBackend for SfnLocalBackend {
    fn start_execution(&self, request: Value, now: SystemTime) -> SfnFuture<'_> {
        Box::pin(async move {
            let requested = request["stateMachineArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let alias = self
                .unqualified(&requested)
                .map(|sm| (requested.clone(), sm));
            let arn = alias
                .as_ref()
                .map_or_else(|| requested.clone(), |(_, sm)| sm.clone());
            let definition = self.definition(&requested).or_else(|e| match &alias {
                Some(_) => self.definition(&arn),
                None => Err(e),
            })?;
            let input: Value = match request.get("input").and_then(Value::as_str) {
                Some(text) => serde_json::from_str(text).map_err(|e| {
                    ApiError::sfn(
                        "InvalidExecutionInput",
                        format!("Invalid State Machine Execution Input: {e}"),
                    )
                })?,
                None => serde_json::json!({}),
            };
            let name = request
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let engine = self.engine.clone();
            // Started inside a scope, the execution's virtual clock begins at the caller's now.
            let (started, _) = fleetshift_clock::scope(now, async move {
                engine.start_execution(definition, &arn, name.as_deref(), input)
            })
            .await;
            let execution_arn = started.map_err(|e| {
                let code = match &e {
                    sfn_local::StartError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
                    sfn_local::StartError::InvalidArn(_) => "InvalidArn",
                    sfn_local::StartError::InvalidName(_) => "InvalidName",
                    sfn_local::StartError::InvalidExecutionInput(_) => "InvalidExecutionInput",
                };
                ApiError::sfn(code, e.to_string())
            })?;
            if let Some((alias_arn, _)) = alias {
                self.started_via
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(execution_arn.clone())
                    .or_insert(alias_arn);
            }
            let start = self
                .engine
                .describe(&execution_arn)
                .map_or(now, |d| d.start_date);
            Ok(serde_json::json!({
                "executionArn": execution_arn,
                "startDate": crate::world::epoch_secs(start),
            }))
        })
    }

    fn describe_execution(&self, request: Value, _now: SystemTime) -> SfnFuture<'_> {
        Box::pin(async move {
            let d = self.execution(&request)?;
            let with_data =
                request.get("includedData").and_then(Value::as_str) != Some("METADATA_ONLY");
            Ok(self.describe_json(&d, with_data))
        })
    }

    fn get_execution_history(&self, request: Value, _now: SystemTime) -> SfnFuture<'_> {
        Box::pin(async move {
            let d = self.execution(&request)?;
            let mut events: Vec<Value> = self
                .engine
                .history(&d.execution_arn)
                .unwrap_or_default()
                .iter()
                .map(sfn_local::HistoryEvent::to_json)
                .collect();
            if request.get("reverseOrder").and_then(Value::as_bool) == Some(true) {
                events.reverse();
            }
            let (start, max) = page(&request, events.len())?;
            let mut out = serde_json::json!({
                "events": events.iter().skip(start).take(max).cloned().collect::<Vec<_>>()
            });
            if start + max < events.len() {
                out["nextToken"] = Value::String((start + max).to_string());
            }
            Ok(out)
        })
    }

    fn list_executions(&self, request: Value, _now: SystemTime) -> SfnFuture<'_> {
        Box::pin(async move {
            let Some(arn) = request.get("stateMachineArn").and_then(Value::as_str) else {
                return Ok(serde_json::json!({ "executions": [] }));
            };
            self.definition(arn)?;
            let status = request.get("statusFilter").and_then(Value::as_str);
            let items: Vec<Value> = self
                .engine
                .list(arn)
                .iter()
                .filter(|d| status.is_none_or(|s| d.status.as_str() == s))
                .map(|d| {
                    let mut v = serde_json::json!({
                        "executionArn": d.execution_arn,
                        "stateMachineArn": d.state_machine_arn,
                        "name": d.name,
                        "status": d.status.as_str(),
                        "startDate": crate::world::epoch_secs(d.start_date),
                    });
                    if let Some(stop) = d.stop_date {
                        v["stopDate"] = crate::world::epoch_secs(stop);
                    }
                    v
                })
                .collect();
            let (start, max) = page(&request, items.len())?;
            let mut out = serde_json::json!({
                "executions": items.iter().skip(start).take(max).cloned().collect::<Vec<_>>()
            });
            if start + max < items.len() {
                out["nextToken"] = Value::String((start + max).to_string());
            }
            Ok(out)
        })
    }
}

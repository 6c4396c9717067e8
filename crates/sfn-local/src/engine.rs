//! The engine: handlers, clock mode, and the registry of executions.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde_json::Value;
use tokio::sync::watch;

use crate::definition::Definition;
use crate::history::HistoryEvent;

/// A Task's failure, as a Lambda function reports it (`errorType`, `errorMessage`). The
/// `error_type` becomes the state's error name that `Retry` and `Catch` match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct TaskFailure {
    /// The error name (`errorType`).
    pub error_type: String,
    /// The message (`errorMessage`).
    pub error_message: String,
}

impl TaskFailure {
    /// A failure with this error name and message.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }
}

/// What a handler learns about the call besides its input.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The execution's ARN.
    pub execution_arn: Arc<str>,
    /// The execution's name.
    pub execution_name: Arc<str>,
    /// The Task state's name.
    pub state_name: String,
    /// The Lambda function name (or the Resource, for other integrations).
    pub function: String,
    /// The function as the Task names it (`FunctionName` or `Resource`), qualifier included: what
    /// Lambda authorizes the invocation against (a version or alias ARN is its own resource).
    pub invoked: String,
    /// The branch's time when the call started (virtual or wall clock).
    pub now: SystemTime,
}

/// The heartbeats of the handler call running in this task, when its Task has a heartbeat.
pub(crate) struct Beats {
    /// When each heartbeat came (the branch's time: virtual or wall clock).
    pub(crate) times: Vec<SystemTime>,
    /// The wall-clock instant of the last heartbeat (or of the call's start).
    pub(crate) last_wall: std::time::Instant,
}

tokio::task_local! {
    pub(crate) static HEARTBEATS: Arc<Mutex<Beats>>;
}

impl TaskContext {
    /// Tells the engine the task is still alive (`SendTaskHeartbeat`). A Task with
    /// `HeartbeatSeconds` (or `HeartbeatSecondsPath`) fails with `States.HeartbeatTimeout` when
    /// more than that passes without one: from the call's start to the first heartbeat, between
    /// two, or from the last one to the handler's end. Counted on the branch's clock (virtual
    /// time, or the wall clock in real-time mode); a handler that stops answering is also
    /// caught on the wall clock. Call it from the handler's own task (a task the handler
    /// spawns does not reach the engine); elsewhere it does nothing.
    pub fn heartbeat(&self) {
        let _ = HEARTBEATS.try_with(|b| {
            let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
            b.times.push(fleetshift_clock::now());
            b.last_wall = std::time::Instant::now();
        });
    }
}

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + Send>>;

/// Serves the Task states that call one Lambda function (or one other Resource).
///
/// Any `Fn(Value) -> impl Future<Output = Result<Value, TaskFailure>>` is a handler; wrap a closure
/// that also wants the [`TaskContext`] with [`with_context`].
///
/// A handler runs inside the calling branch's task, so it sees that branch's virtual time
/// ([`fleetshift_clock::now`]), and how far it advances the clock ([`fleetshift_clock::sleep`]) is
/// its duration for `TimeoutSeconds`.
pub trait Handler: Send + Sync + 'static {
    /// Runs the task with its input (the Lambda payload).
    fn call(&self, input: Value, ctx: TaskContext) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
{
    fn call(&self, input: Value, _ctx: TaskContext) -> HandlerFuture {
        Box::pin(self(input))
    }
}

/// A handler built from a closure that also takes the [`TaskContext`].
pub struct ContextHandler<F>(F);

/// Wraps `|input, ctx| async move { ... }` as a [`Handler`].
pub fn with_context<F, Fut>(f: F) -> ContextHandler<F>
where
    F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
{
    ContextHandler(f)
}

impl<F, Fut> Handler for ContextHandler<F>
where
    F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
{
    fn call(&self, input: Value, ctx: TaskContext) -> HandlerFuture {
        Box::pin((self.0)(input, ctx))
    }
}

/// How executions tell time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Each execution runs on its own virtual clock: waits, backoff and timeouts take no real
    /// time. An execution started from inside a [`fleetshift_clock::scope`] starts at that
    /// scope's time; otherwise at `start`.
    Virtual {
        /// Where a clock starts when the caller has none.
        start: SystemTime,
    },
    /// The wall clock: waits really wait.
    Real,
}

/// An execution's status, as `DescribeExecution` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Still running.
    Running,
    /// Ended successfully.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Hit the state machine's `TimeoutSeconds`.
    TimedOut,
    /// Stopped by [`Engine::stop_execution`], or abandoned: a Distributed Map child whose map
    /// run failed or whose parent stopped, or a [`Engine::run`] its caller dropped.
    Aborted,
}

impl ExecutionStatus {
    /// `RUNNING`, `SUCCEEDED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// What `DescribeExecution` says about an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    /// `arn:aws:states:<region>:<account>:execution:<state machine>:<name>`.
    pub execution_arn: String,
    /// The state machine it runs (for a Distributed Map child: `<parent machine>/<label>`).
    pub state_machine_arn: String,
    /// The execution's name.
    pub name: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// The input it started with.
    pub input: Value,
    /// The output, once it succeeded.
    pub output: Option<Value>,
    /// The error name, once it failed.
    pub error: Option<String>,
    /// The cause, once it failed (when there is one).
    pub cause: Option<String>,
    /// When it started (virtual time in virtual mode).
    pub start_date: SystemTime,
    /// When it ended.
    pub stop_date: Option<SystemTime>,
    /// For a Distributed Map child, the parent execution's ARN.
    pub parent_execution_arn: Option<String>,
}

/// Why an execution could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The name is taken (by a finished execution, or a running one with another input).
    #[error("ExecutionAlreadyExists: execution {0} already exists")]
    ExecutionAlreadyExists(String),
    /// The state machine ARN is malformed.
    #[error("InvalidArn: {0}")]
    InvalidArn(String),
    /// The name breaks AWS's rules (1-80 characters, no whitespace or `<>{}[]?*"#%\^|~$&,;:/`).
    #[error("InvalidName: {0}")]
    InvalidName(String),
    /// The input is not within 256 KiB.
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
}

pub(crate) struct RecordState {
    pub(crate) status: ExecutionStatus,
    pub(crate) output: Option<Value>,
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
    pub(crate) stop: Option<SystemTime>,
    pub(crate) events: Vec<HistoryEvent>,
}

pub(crate) struct ExecRecord {
    pub(crate) arn: String,
    pub(crate) sm_arn: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) start: SystemTime,
    pub(crate) parent: Option<String>,
    pub(crate) state: Mutex<RecordState>,
    pub(crate) done: watch::Sender<bool>,
    pub(crate) abort: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ExecRecord {
    /// Ends a running execution ABORTED with an `ExecutionAborted` event (at its last event's
    /// time on the virtual clock). False when it had already ended.
    pub(crate) fn mark_aborted(
        &self,
        clock: ClockMode,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> bool {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.status != ExecutionStatus::Running {
                return false;
            }
            let mut details = serde_json::Map::new();
            if let Some(e) = error {
                details.insert("error".into(), Value::from(e));
            }
            if let Some(c) = cause {
                details.insert("cause".into(), Value::from(c));
            }
            let now = match clock {
                ClockMode::Real => SystemTime::now(),
                ClockMode::Virtual { .. } => {
                    s.events.last().map(|e| e.timestamp).unwrap_or(self.start)
                }
            };
            let id = s.events.len() as u64 + 1;
            s.events.push(HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: now,
                event_type: "ExecutionAborted",
                details: Some(("executionAbortedEventDetails", Value::Object(details))),
            });
            s.status = ExecutionStatus::Aborted;
            s.error = error.map(str::to_string);
            s.cause = cause.map(str::to_string);
            s.stop = Some(now);
        }
        self.done.send_replace(true);
        true
    }

    pub(crate) fn describe(&self) -> ExecutionDescription {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        ExecutionDescription {
            execution_arn: self.arn.clone(),
            state_machine_arn: self.sm_arn.clone(),
            name: self.name.clone(),
            status: s.status,
            input: self.input.clone(),
            output: s.output.clone(),
            error: s.error.clone(),
            cause: s.cause.clone(),
            start_date: self.start,
            stop_date: s.stop,
            parent_execution_arn: self.parent.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) by_arn: HashMap<String, Arc<ExecRecord>>,
    pub(crate) order: Vec<Arc<ExecRecord>>,
}

pub(crate) struct Inner {
    pub(crate) handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
    pub(crate) clock: ClockMode,
    pub(crate) seed: u64,
    /// Whether [`EngineBuilder::seed`] was called: then intrinsics draw from the seed too.
    pub(crate) seeded: bool,
    /// [`EngineBuilder::handler_time_limit`].
    pub(crate) handler_time_limit: Option<std::time::Duration>,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) role_arn: String,
    pub(crate) registry: Mutex<Registry>,
}

/// Runs state machine executions. Cheap to clone (an `Arc` inside); every clone shares the
/// handlers and the registry of executions.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    handlers: HashMap<String, Arc<dyn Handler>>,
    clock: ClockMode,
    seed: u64,
    seeded: bool,
    handler_time_limit: Option<std::time::Duration>,
    region: String,
    account: String,
    role_arn: Option<String>,
}

/// The key a Lambda function is registered and looked up under: its bare name. Accepts a full
/// ARN, an ARN or name with a version/alias qualifier, a partial ARN or a bare name, as AWS does.
pub(crate) fn function_key(s: &str) -> String {
    let parts: Vec<&str> = s.split(':').collect();
    if let Some(i) = parts.iter().position(|p| *p == "function")
        && i + 1 < parts.len()
    {
        return parts[i + 1].to_string();
    }
    if s.starts_with("arn:") {
        return s.to_string();
    }
    parts[0].to_string()
}

impl EngineBuilder {
    /// Registers the handler for a Lambda function: give its ARN (with or without qualifier) or
    /// bare name. A Task reaches it through its `Resource` (`arn:aws:lambda:...:function:NAME`)
    /// or through `arn:aws:states:::lambda:invoke` with `FunctionName`. Any other Resource ARN
    /// (another service integration) is matched exactly.
    pub fn handler(mut self, function: &str, handler: impl Handler) -> Self {
        self.handlers
            .insert(function_key(function), Arc::new(handler));
        self
    }

    /// Virtual time (the default) starting at `start` for executions started outside a scope.
    pub fn virtual_clock(mut self, start: SystemTime) -> Self {
        self.clock = ClockMode::Virtual { start };
        self
    }

    /// Real time: waits, backoff and timeouts take wall-clock time.
    pub fn real_time(mut self) -> Self {
        self.clock = ClockMode::Real;
        self
    }

    /// Seeds the random numbers behind retry jitter, `States.UUID` and `States.MathRandom`
    /// (without a seed argument): a named execution repeats exactly.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.seeded = true;
        self
    }

    /// The longest a handler may run on the wall clock (default: no limit). A handler still
    /// running then fails its Task with `States.Timeout`, as a hung Lambda function would on AWS;
    /// on the virtual clock the Task ends at its `TimeoutSeconds` if it has one, else this long
    /// after it started.
    ///
    /// Without it, a Task's `TimeoutSeconds` (and what is left of the execution's) still holds
    /// on the wall clock too: a handler that hangs or waits on real I/O cannot outlast it.
    pub fn handler_time_limit(mut self, limit: std::time::Duration) -> Self {
        self.handler_time_limit = Some(limit);
        self
    }

    /// The Region in ARNs and events (default `us-east-1`).
    pub fn region(mut self, region: &str) -> Self {
        self.region = region.to_string();
        self
    }

    /// The account in ARNs (default `123456789012`).
    pub fn account(mut self, account: &str) -> Self {
        self.account = account.to_string();
        self
    }

    /// The execution role shown in `ExecutionStarted` and `$$.Execution.RoleArn`.
    pub fn role_arn(mut self, arn: &str) -> Self {
        self.role_arn = Some(arn.to_string());
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let role_arn = self
            .role_arn
            .unwrap_or_else(|| format!("arn:aws:iam::{}:role/sfn-local-execution", self.account));
        Engine {
            inner: Arc::new(Inner {
                handlers: RwLock::new(self.handlers),
                clock: self.clock,
                seed: self.seed,
                seeded: self.seeded,
                handler_time_limit: self.handler_time_limit,
                region: self.region,
                account: self.account,
                role_arn,
                registry: Mutex::new(Registry::default()),
            }),
        }
    }
}

/// The 2000-01-01T00:00:00Z default start of virtual clocks.
const DEFAULT_VIRTUAL_START_MS: u64 = 946_684_800_000;

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

impl Inner {
    /// The seed, when the engine has one.
    pub(crate) fn seeded(&self) -> Option<u64> {
        self.seeded.then_some(self.seed)
    }
}

impl Engine {
    /// A builder with no handlers, a virtual clock, seed 0, `us-east-1` and account
    /// `123456789012`.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            handlers: HashMap::new(),
            clock: ClockMode::Virtual {
                start: fleetshift_clock::from_millis(DEFAULT_VIRTUAL_START_MS),
            },
            seed: 0,
            seeded: false,
            handler_time_limit: None,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            role_arn: None,
        }
    }

    /// Registers (or replaces) a handler after the engine is built; see [`EngineBuilder::handler`].
    pub fn register(&self, function: &str, handler: impl Handler) {
        let mut h = self
            .inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        h.insert(function_key(function), Arc::new(handler));
    }

    /// The Region in ARNs.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account in ARNs.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The ARN of the state machine called `name` in this engine's Region and account.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.inner.region, self.inner.account
        )
    }

    /// Starts an execution in the background (on the current tokio runtime) and returns its ARN.
    ///
    /// `name` defaults to a UUID. As in AWS, a name is unique per state machine: starting again
    /// with the same name and input while the first still runs returns the same ARN; otherwise
    /// [`StartError::ExecutionAlreadyExists`].
    pub fn start_execution(
        &self,
        definition: Arc<Definition>,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, StartError> {
        let (rec, fresh) = self.create_record(state_machine_arn, name, input, None)?;
        if fresh {
            let engine = self.clone();
            let rec2 = rec.clone();
            let handle =
                tokio::spawn(
                    async move { crate::exec::run_execution(engine, definition, rec2).await },
                );
            *rec.abort.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.abort_handle());
        }
        Ok(rec.arn.clone())
    }

    /// Starts an execution and waits for it to end; returns its description.
    pub async fn run(
        &self,
        definition: Arc<Definition>,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<ExecutionDescription, StartError> {
        let (rec, fresh) = self.create_record(state_machine_arn, name, input, None)?;
        if fresh {
            crate::exec::run_execution(self.clone(), definition, rec.clone()).await;
        } else {
            wait_record(&rec).await;
        }
        Ok(rec.describe())
    }

    pub(crate) fn create_record(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
        parent: Option<String>,
    ) -> Result<(Arc<ExecRecord>, bool), StartError> {
        let parts: Vec<&str> = state_machine_arn.splitn(7, ':').collect();
        if parts.len() != 7
            || parts[0] != "arn"
            || parts[2] != "states"
            || parts[5] != "stateMachine"
        {
            return Err(StartError::InvalidArn(format!(
                "invalid state machine ARN '{state_machine_arn}'"
            )));
        }
        let name = match name {
            Some(n) => {
                if !valid_name(n) {
                    return Err(StartError::InvalidName(format!(
                        "invalid execution name '{n}'"
                    )));
                }
                n.to_string()
            }
            None => crate::intrinsics::uuid_v4(),
        };
        let size = serde_json::to_string(&input).map(|s| s.len()).unwrap_or(0);
        if size > crate::exec::PAYLOAD_LIMIT {
            return Err(StartError::InvalidExecutionInput(format!(
                "input of {size} bytes is over the 262144-byte limit"
            )));
        }
        let arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            parts[3], parts[4], parts[6]
        );
        let mut reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = reg.by_arn.get(&arn) {
            let running = existing
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .status
                == ExecutionStatus::Running;
            if running && existing.input == input {
                return Ok((existing.clone(), false));
            }
            return Err(StartError::ExecutionAlreadyExists(arn));
        }
        let start = match self.inner.clock {
            ClockMode::Virtual { start } => {
                if fleetshift_clock::is_virtual() {
                    fleetshift_clock::now()
                } else {
                    start
                }
            }
            ClockMode::Real => SystemTime::now(),
        };
        let (done, _) = watch::channel(false);
        let rec = Arc::new(ExecRecord {
            arn: arn.clone(),
            sm_arn: state_machine_arn.to_string(),
            name,
            input,
            start,
            parent,
            state: Mutex::new(RecordState {
                status: ExecutionStatus::Running,
                output: None,
                error: None,
                cause: None,
                stop: None,
                events: Vec::new(),
            }),
            done,
            abort: Mutex::new(None),
        });
        reg.by_arn.insert(arn, rec.clone());
        reg.order.push(rec.clone());
        Ok((rec, true))
    }

    fn record(&self, arn: &str) -> Option<Arc<ExecRecord>> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_arn
            .get(arn)
            .cloned()
    }

    /// The execution's status, input, output, error and dates (`DescribeExecution`).
    pub fn describe(&self, execution_arn: &str) -> Option<ExecutionDescription> {
        self.record(execution_arn).map(|r| r.describe())
    }

    /// The execution's events so far (`GetExecutionHistory`).
    pub fn history(&self, execution_arn: &str) -> Option<Vec<HistoryEvent>> {
        self.record(execution_arn).map(|r| {
            r.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .events
                .clone()
        })
    }

    /// The executions of a state machine, newest first (`ListExecutions`). Distributed Map
    /// children are listed under `<state machine ARN>/<map label>`.
    pub fn list(&self, state_machine_arn: &str) -> Vec<ExecutionDescription> {
        let reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        reg.order
            .iter()
            .rev()
            .filter(|r| r.sm_arn == state_machine_arn)
            .map(|r| r.describe())
            .collect()
    }

    /// Waits until the execution ends and returns its description.
    pub async fn wait(&self, execution_arn: &str) -> Option<ExecutionDescription> {
        let rec = self.record(execution_arn)?;
        wait_record(&rec).await;
        Some(rec.describe())
    }

    /// Stops a running execution (`StopExecution`): it ends ABORTED. Returns false when there is
    /// no such execution or it already ended.
    pub fn stop_execution(
        &self,
        execution_arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> bool {
        let Some(rec) = self.record(execution_arn) else {
            return false;
        };
        if !rec.mark_aborted(self.inner.clock, error, cause) {
            return false;
        }
        if let Some(h) = rec.abort.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
        true
    }
}

async fn wait_record(rec: &ExecRecord) {
    let mut rx = rec.done.subscribe();
    let _ = rx.wait_for(|d| *d).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_keys() {
        assert_eq!(function_key("arn:aws:lambda:us-east-1:1:function:f"), "f");
        assert_eq!(
            function_key("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_key("f:prod"), "f");
        assert_eq!(function_key("1:function:f"), "f");
        assert_eq!(function_key("f"), "f");
    }
}

//! The interpreter: runs a definition's states, writes the history, keeps virtual time.
//!
//! This module holds the run loop (an execution from start to end, a body state by state), the
//! history it writes and the data flow every state shares (paths, the context object, the payload
//! limit). Each kind of state has its own module: [`task`] (with the handler call in
//! `task::call`), [`retry`] (Retry and Catch around Task, Parallel and Map), [`choice`], [`wait`],
//! [`parallel`], [`map`] (inline) and [`distributed`] (the Distributed Map's child executions).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use crate::definition::{Body, Definition, Kind, State, StrOrQuery};
use crate::engine::{ClockMode, Engine, ExecRecord, ExecutionStatus};
use crate::history::HistoryEvent;
use crate::path::{Draws, Scope};
use crate::time::format_timestamp;

mod choice;
mod distributed;
mod map;
mod parallel;
mod retry;
mod task;
mod wait;

/// The payload limit of Step Functions (256 KiB).
pub(crate) const PAYLOAD_LIMIT: usize = 262_144;

/// Whether `v` as JSON text (UTF-8 bytes) is over [`PAYLOAD_LIMIT`]. Stops serialising as soon
/// as the limit is passed, and allocates nothing.
pub(crate) fn over_limit(v: &Value) -> bool {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            if self.0 > PAYLOAD_LIMIT {
                return Err(std::io::Error::other("over the payload limit"));
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Count(0), v).is_err()
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
    /// The execution's own TimeoutSeconds ran out: nothing catches it.
    pub(crate) exec_timeout: bool,
    /// Raised by the state's own data processing (not by a branch or iteration).
    pub(crate) runtime_in_state: bool,
    /// A `States.DataLimitExceeded` of a state's own output or built input: AWS documents it as
    /// terminal, not matched by `States.ALL` (or `States.TaskFailed`); only a catcher or retrier
    /// naming it matches. (The recordings show the wildcards do match it for a task's result.)
    pub(crate) named_only: bool,
}

impl Failure {
    fn new(error: impl Into<String>, cause: Option<String>) -> Self {
        Self {
            error: Some(error.into()),
            cause,
            exec_timeout: false,
            runtime_in_state: false,
            named_only: false,
        }
    }
    fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
    fn uncatchable(&self) -> bool {
        self.exec_timeout || self.name() == "States.Runtime"
    }
}

struct Branch {
    prev: u64,
    /// `$$.Map.Item` for Map iterations.
    item: Option<(usize, Value)>,
    /// Mixed into the jitter seed so every branch draws its own, repeatable numbers.
    key: u64,
    /// `States.UUID` and `States.MathRandom` draws, when the engine has a seed.
    draws: Option<Draws>,
    /// A Parallel state's branch: a Task whose error ends the branch is aborted.
    parallel: bool,
}

impl Branch {
    fn new(prev: u64, item: Option<(usize, Value)>, key: u64, seed: Option<u64>) -> Self {
        Self {
            prev,
            item,
            key,
            draws: seed.map(|s| Draws::new(hash64(&[s, key, 3]))),
            parallel: false,
        }
    }
}

struct Run {
    engine: Engine,
    rec: Arc<ExecRecord>,
    virtual_time: bool,
    deadline: Option<SystemTime>,
    execution_ctx: Value,
    state_machine_ctx: Value,
    exec_arn: Arc<str>,
    exec_name: Arc<str>,
    definition_timeout: Option<u64>,
}

fn text(v: &Value) -> Value {
    Value::String(serde_json::to_string(v).unwrap_or_default())
}

fn io_details(key: &str, v: &Value) -> Map<String, Value> {
    let mut m = Map::with_capacity(3);
    m.insert(key.into(), text(v));
    m.insert(format!("{key}Details"), json!({"truncated": false}));
    m
}

fn error_details(f: &Failure) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(e) = &f.error {
        m.insert("error".into(), Value::from(e.as_str()));
    }
    if let Some(c) = &f.cause {
        m.insert("cause".into(), Value::from(c.as_str()));
    }
    m
}

pub(crate) fn hash64(parts: &[u64]) -> u64 {
    // splitmix64 over the parts
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        let mut z = h ^ p.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

fn str_hash(s: &str) -> u64 {
    hash64(&s.bytes().map(u64::from).collect::<Vec<_>>())
}

/// Ends the execution ABORTED when the future driving it is dropped before it ends: a
/// Distributed Map child whose map run failed or whose parent stopped, or a run its caller
/// gave up on. A no-op once the execution has ended.
struct AbortOnDrop(Arc<ExecRecord>, ClockMode);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.mark_aborted(self.1, None, None);
    }
}

impl Run {
    /// The run of `rec`: its context object's Execution and StateMachine, its deadline.
    fn new(engine: Engine, definition: &Definition, rec: Arc<ExecRecord>) -> Self {
        let virtual_time = matches!(engine.inner.clock, ClockMode::Virtual { .. });
        let sm_name = rec
            .sm_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let execution_ctx = json!({
            "Id": rec.arn,
            "Input": rec.input,
            "StartTime": format_timestamp(rec.start),
            "Name": rec.name,
            "RoleArn": engine.inner.role_arn,
            "RedriveCount": 0,
        });
        let state_machine_ctx = json!({"Id": rec.sm_arn, "Name": sm_name});
        Run {
            deadline: definition
                .timeout_seconds
                .map(|t| rec.start + Duration::from_secs(t)),
            definition_timeout: definition.timeout_seconds,
            exec_arn: Arc::from(rec.arn.as_str()),
            exec_name: Arc::from(rec.name.as_str()),
            engine,
            rec,
            virtual_time,
            execution_ctx,
            state_machine_ctx,
        }
    }
}

pub(crate) async fn run_execution(
    engine: Engine,
    definition: Arc<Definition>,
    rec: Arc<ExecRecord>,
) {
    let _abort_on_drop = AbortOnDrop(rec.clone(), engine.inner.clock);
    let run = Run::new(engine, &definition, rec.clone());
    let virtual_time = run.virtual_time;
    let body = definition.root.clone();
    let fut = async {
        let mut br = Branch::new(0, None, str_hash(&run.rec.arn), run.engine.inner.seeded());
        let mut started = io_details("input", &run.rec.input);
        started.insert(
            "roleArn".into(),
            Value::from(run.engine.inner.role_arn.as_str()),
        );
        run.emit(
            &mut br,
            "ExecutionStarted",
            Some(("executionStartedEventDetails", Value::Object(started))),
        );
        br.prev = 0;
        let res = run.run_body(&body, run.rec.input.clone(), &mut br).await;
        (res, br)
    };
    let mut stop = SystemTime::now();
    let (res, br) = if virtual_time {
        let (mut r, mut end) = fleetshift_clock::scope(rec.start, fut).await;
        // Whatever ran past the execution's deadline (a handler, a Distributed Map's children)
        // does not count: the execution timed out at its deadline.
        if let Some(d) = run.deadline
            && end > d
            && !matches!(&r.0, Err(f) if f.exec_timeout)
        {
            r.0 = Err(exec_timeout());
            end = d;
        }
        stop = end;
        // A caller on virtual time (a Distributed Map waiting for this child) resumes when the
        // execution ends, not when it started.
        fleetshift_clock::advance_to(end);
        r
    } else if let Some(t) = run.definition_timeout {
        match tokio::time::timeout(Duration::from_secs(t), fut).await {
            Ok(r) => r,
            // The branch that ran is gone with its future: the timeout follows the last event.
            Err(_) => (Err(exec_timeout()), Branch::new(u64::MAX, None, 0, None)),
        }
    } else {
        fut.await
    };
    if !virtual_time {
        stop = SystemTime::now();
    }
    record_end(&rec, res, br, stop);
}

/// Records how the execution ended (its last event, status, output or error), unless it was
/// stopped meanwhile, and wakes whoever waits for it.
fn record_end(rec: &ExecRecord, res: Result<Value, Failure>, mut br: Branch, stop: SystemTime) {
    let (status, ty, details) = match &res {
        Ok(out) => (
            ExecutionStatus::Succeeded,
            "ExecutionSucceeded",
            (
                "executionSucceededEventDetails",
                Value::Object(io_details("output", out)),
            ),
        ),
        Err(f) if f.exec_timeout => (
            ExecutionStatus::TimedOut,
            "ExecutionTimedOut",
            (
                "executionTimedOutEventDetails",
                Value::Object(error_details(f)),
            ),
        ),
        Err(f) => (
            ExecutionStatus::Failed,
            "ExecutionFailed",
            (
                "executionFailedEventDetails",
                Value::Object(error_details(f)),
            ),
        ),
    };
    {
        let mut s = rec.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.status != ExecutionStatus::Running {
            return; // stopped meanwhile
        }
        let id = s.events.len() as u64 + 1;
        if br.prev == u64::MAX {
            br.prev = id - 1;
        }
        s.events.push(HistoryEvent {
            id,
            previous_event_id: br.prev,
            timestamp: stop,
            event_type: ty,
            details: Some(details),
        });
        br.prev = id;
        s.status = status;
        s.stop = Some(stop);
        match res {
            Ok(out) => s.output = Some(out),
            Err(f) => {
                s.error = f.error;
                s.cause = f.cause;
            }
        }
    }
    rec.done.send_replace(true);
}

enum Step {
    Next(Value, Option<String>),
}

fn entered_type(k: &Kind) -> &'static str {
    match k {
        Kind::Pass { .. } => "PassStateEntered",
        Kind::Task(_) => "TaskStateEntered",
        Kind::Choice { .. } => "ChoiceStateEntered",
        Kind::Wait(_) => "WaitStateEntered",
        Kind::Succeed => "SucceedStateEntered",
        Kind::Fail { .. } => "FailStateEntered",
        Kind::Parallel { .. } => "ParallelStateEntered",
        Kind::Map(_) => "MapStateEntered",
    }
}

fn exited_type(k: &Kind) -> &'static str {
    match k {
        Kind::Pass { .. } => "PassStateExited",
        Kind::Task(_) => "TaskStateExited",
        Kind::Choice { .. } => "ChoiceStateExited",
        Kind::Wait(_) => "WaitStateExited",
        Kind::Succeed => "SucceedStateExited",
        Kind::Fail { .. } => "FailStateExited",
        Kind::Parallel { .. } => "ParallelStateExited",
        Kind::Map(_) => "MapStateExited",
    }
}

impl Run {
    fn now(&self) -> SystemTime {
        if self.virtual_time {
            fleetshift_clock::now()
        } else {
            SystemTime::now()
        }
    }

    fn emit(
        &self,
        br: &mut Branch,
        ty: &'static str,
        details: Option<(&'static str, Value)>,
    ) -> u64 {
        let ts = self.now();
        let mut s = self.rec.state.lock().unwrap_or_else(|e| e.into_inner());
        let id = s.events.len() as u64 + 1;
        s.events.push(HistoryEvent {
            id,
            previous_event_id: br.prev,
            timestamp: ts,
            event_type: ty,
            details,
        });
        br.prev = id;
        id
    }

    fn runtime(&self, state: &str, entered: u64, msg: impl std::fmt::Display) -> Failure {
        let mut f = Failure::new(
            "States.Runtime",
            Some(format!(
                "An error occurred while executing the state '{state}' (entered at the event id #{entered}). {msg}"
            )),
        );
        f.runtime_in_state = true;
        f
    }

    /// A state's output (or a Parallel/Map result) over the payload limit fails the state.
    fn limit_output(&self, st: &State, v: Value) -> Result<Value, Failure> {
        if over_limit(&v) {
            return Err(data_limit(st, "returned a result"));
        }
        Ok(v)
    }

    /// An input built by Parameters or ItemSelector (what a Task sends, what a branch or
    /// iteration starts with) over the payload limit fails the state.
    fn limit_input(&self, st: &State, v: &Value) -> Result<(), Failure> {
        if over_limit(v) {
            return Err(data_limit(st, "has an input"));
        }
        Ok(())
    }

    fn context(&self, st: &State, entered_time: SystemTime, retry: u64, br: &Branch) -> Value {
        if !st.uses_context {
            return Value::Null;
        }
        let mut m = Map::with_capacity(4);
        m.insert("Execution".into(), self.execution_ctx.clone());
        m.insert("StateMachine".into(), self.state_machine_ctx.clone());
        let mut state = Map::new();
        state.insert(
            "EnteredTime".into(),
            Value::from(format_timestamp(entered_time)),
        );
        state.insert("Name".into(), Value::from(st.name.as_str()));
        if matches!(
            st.kind,
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
        ) {
            state.insert("RetryCount".into(), Value::from(retry));
        }
        m.insert("State".into(), Value::Object(state));
        if let Some((i, v)) = &br.item {
            m.insert("Map".into(), json!({"Item": {"Index": i, "Value": v}}));
        }
        Value::Object(m)
    }

    fn check_deadline(&self) -> Result<(), Failure> {
        if let Some(d) = self.deadline
            && self.virtual_time
            && fleetshift_clock::now() > d
        {
            fleetshift_clock::advance_to(d);
            return Err(exec_timeout());
        }
        Ok(())
    }

    /// Waits `d`, but no longer than the execution may run.
    async fn sleep(&self, d: Duration) -> Result<(), Failure> {
        if self.virtual_time {
            if let Some(deadline) = self.deadline
                && fleetshift_clock::now() + d > deadline
            {
                fleetshift_clock::advance_to(deadline);
                return Err(exec_timeout());
            }
            fleetshift_clock::sleep(d).await;
        } else {
            tokio::time::sleep(d).await;
        }
        Ok(())
    }

    fn run_body<'a>(
        &'a self,
        body: &'a Body,
        input: Value,
        br: &'a mut Branch,
    ) -> BoxFut<'a, Result<Value, Failure>> {
        Box::pin(async move {
            let mut st = body.states[&body.start_at].clone();
            let mut input = input;
            loop {
                self.check_deadline()?;
                let entered_time = self.now();
                let mut d = io_details("input", &input);
                d.insert("name".into(), Value::from(st.name.as_str()));
                let entered = self.emit(
                    br,
                    entered_type(&st.kind),
                    Some(("stateEnteredEventDetails", Value::Object(d))),
                );
                let step = self.run_state(&st, input, br, entered, entered_time).await;
                let Step::Next(output, next) = match step {
                    Ok(s) => s,
                    Err(f) => {
                        // AWS marks a Task whose error ends a Parallel branch as aborted
                        // (recorded: TaskFailed, then TaskStateAborted).
                        if br.parallel && matches!(st.kind, Kind::Task(_)) && !f.exec_timeout {
                            self.emit(br, "TaskStateAborted", None);
                        }
                        return Err(f);
                    }
                };
                let mut d = io_details("output", &output);
                d.insert("name".into(), Value::from(st.name.as_str()));
                self.emit(
                    br,
                    exited_type(&st.kind),
                    Some(("stateExitedEventDetails", Value::Object(d))),
                );
                match next {
                    Some(n) => {
                        st = body.states[&n].clone();
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    async fn run_state(
        &self,
        st: &State,
        raw: Value,
        br: &mut Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        match &st.kind {
            Kind::Pass { result } => self.pass_state(st, result, raw, br, entered, entered_time),
            Kind::Succeed => self.succeed_state(st, raw, br, entered, entered_time),
            Kind::Fail { error, cause } => {
                Err(self.fail_state(st, (error, cause), &raw, br, entered, entered_time)?)
            }
            Kind::Choice { choices, default } => {
                self.choice_state(st, (choices, default), raw, br, entered, entered_time)
            }
            Kind::Wait(w) => self.wait_state(st, w, raw, br, entered, entered_time).await,
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                self.run_with_retry(st, raw, br, entered, entered_time)
                    .await
            }
        }
    }

    fn pass_state(
        &self,
        st: &State,
        result: &Option<Value>,
        raw: Value,
        br: &Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let ctx = self.context(st, entered_time, 0, br);
        let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
        let res = match (result, &st.parameters) {
            (Some(r), _) => r.clone(),
            (None, Some(p)) => p
                .eval(&Scope {
                    input: &eff,
                    context: &ctx,
                    rng: br.draws.as_ref(),
                })
                .map_err(rt)?,
            (None, None) => eff,
        };
        let out = st.result_path.apply(&raw, res).map_err(rt)?;
        let out = st.output_path.apply(&out, &ctx).map_err(rt)?;
        Ok(Step::Next(self.limit_output(st, out)?, st.next.clone()))
    }

    fn succeed_state(
        &self,
        st: &State,
        raw: Value,
        br: &Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let ctx = self.context(st, entered_time, 0, br);
        let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
        let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
        Ok(Step::Next(self.limit_output(st, out)?, None))
    }

    /// The failure a Fail state ends with (`Err` when its ErrorPath or CausePath cannot be read).
    fn fail_state(
        &self,
        st: &State,
        (error, cause): (&Option<StrOrQuery>, &Option<StrOrQuery>),
        raw: &Value,
        br: &Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Failure, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let ctx = self.context(st, entered_time, 0, br);
        let pick = |x: &Option<StrOrQuery>| -> Result<Option<String>, Failure> {
            match x {
                None => Ok(None),
                Some(StrOrQuery::Str(s)) => Ok(Some(s.clone())),
                Some(StrOrQuery::Query(q)) => match q.eval(&Scope {
                    input: raw,
                    context: &ctx,
                    rng: br.draws.as_ref(),
                }) {
                    Ok(Value::String(s)) => Ok(Some(s)),
                    Ok(other) => Err(rt(format!(
                        "The path '{}' does not reference a string: {other}",
                        q.text()
                    ))),
                    Err(e) => Err(rt(e)),
                },
            }
        };
        Ok(Failure {
            error: pick(error)?,
            cause: pick(cause)?,
            exec_timeout: false,
            runtime_in_state: false,
            named_only: false,
        })
    }

    /// Runs branches or iterations `width` at a time and collects their outputs in order,
    /// stopping at the first failure in that order; on virtual time the state then resumes at
    /// the latest end among those that ran.
    async fn in_order(
        &self,
        futs: Vec<BoxFut<'_, (Result<Value, Failure>, SystemTime)>>,
        width: usize,
        start: SystemTime,
    ) -> Result<Vec<Value>, Failure> {
        let mut results = Vec::with_capacity(futs.len());
        let mut stream = futures_util::stream::iter(futs).buffered(width);
        let mut failure = None;
        let mut end_max = start;
        while let Some((r, end)) = stream.next().await {
            end_max = end_max.max(end);
            match r {
                Ok(v) => results.push(v),
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        drop(stream);
        if self.virtual_time {
            fleetshift_clock::advance_to(end_max);
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(results),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        st: &State,
        raw: &Value,
        ctx: &Value,
        result: Value,
        entered: u64,
        br: &Branch,
    ) -> Result<Value, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        // A Task's result was checked as the connector's output; a Parallel or Map result
        // array is the state's own.
        if !matches!(st.kind, Kind::Task(_)) && over_limit(&result) {
            return self.limit_output(st, result);
        }
        let result = match &st.result_selector {
            Some(t) => t
                .eval(&Scope {
                    input: &result,
                    context: ctx,
                    rng: br.draws.as_ref(),
                })
                .map_err(rt)?,
            None => result,
        };
        let out = st.result_path.apply(raw, result).map_err(rt)?;
        let out = st.output_path.apply(&out, ctx).map_err(rt)?;
        self.limit_output(st, out)
    }
}

/// `States.DataLimitExceeded` of a state's own output or built input (`what`: "returned a result"
/// or "has an input"): only a catcher or retrier naming it matches.
fn data_limit(st: &State, what: &str) -> Failure {
    let mut f = Failure::new(
        "States.DataLimitExceeded",
        Some(format!(
            "The state/task '{}' {what} with a size exceeding the maximum number of bytes service limit.",
            st.name
        )),
    );
    f.runtime_in_state = true;
    f.named_only = true;
    f
}

/// The execution's own TimeoutSeconds ran out: `States.Timeout`, which nothing catches.
fn exec_timeout() -> Failure {
    Failure {
        error: Some("States.Timeout".into()),
        cause: None,
        exec_timeout: true,
        runtime_in_state: false,
        named_only: false,
    }
}

/// A value as AWS quotes it in a runtime error: a string bare, anything else as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        o => o.to_string(),
    }
}

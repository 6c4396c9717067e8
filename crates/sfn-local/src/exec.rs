//! The interpreter: runs a definition's states, writes the history, keeps virtual time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::definition::{
    Body, Catcher, Definition, Kind, Seconds, State, StrOrQuery, TaskSpec, WaitSpec,
};
use crate::engine::{
    Beats, ClockMode, Engine, ExecRecord, ExecutionStatus, HEARTBEATS, TaskContext, function_key,
};
use crate::history::HistoryEvent;
use crate::path::{Draws, Scope};
use crate::time::{format_timestamp, parse_timestamp};

mod choice;
mod distributed;
mod map;
mod parallel;

use choice::eval_rule;

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

pub(crate) async fn run_execution(
    engine: Engine,
    definition: Arc<Definition>,
    rec: Arc<ExecRecord>,
) {
    let _abort_on_drop = AbortOnDrop(rec.clone(), engine.inner.clock);
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
    let run = Run {
        deadline: definition
            .timeout_seconds
            .map(|t| rec.start + Duration::from_secs(t)),
        definition_timeout: definition.timeout_seconds,
        exec_arn: Arc::from(rec.arn.as_str()),
        exec_name: Arc::from(rec.name.as_str()),
        engine,
        rec: rec.clone(),
        virtual_time,
        execution_ctx,
        state_machine_ctx,
    };
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
    let (res, mut br) = if virtual_time {
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

fn matches_error(list: &[String], f: &Failure) -> bool {
    if f.uncatchable() {
        return false;
    }
    let name = f.name();
    if f.named_only {
        return list.iter().any(|e| e == name);
    }
    list.iter().any(|e| {
        e == name || e == "States.ALL" || (e == "States.TaskFailed" && name != "States.Timeout")
    })
}

enum Resource {
    /// `arn:aws:lambda:...:function:NAME`: the input is the payload, the result is the output.
    LambdaDirect { arn: String, name: String },
    /// `arn:aws:states:::lambda:invoke`: FunctionName/Payload parameters, an envelope around the result.
    LambdaInvoke,
    /// Any other resource: a handler registered under the exact ARN.
    Other {
        resource_type: String,
        resource: String,
    },
}

fn classify(resource: &str) -> Resource {
    if resource.starts_with("arn:aws:lambda:")
        || resource.contains(":lambda:") && resource.contains(":function:")
    {
        return Resource::LambdaDirect {
            arn: resource.to_string(),
            name: function_key(resource),
        };
    }
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if rest == "lambda:invoke" {
            return Resource::LambdaInvoke;
        }
        let mut it = rest.splitn(2, ':');
        let ty = it.next().unwrap_or_default().to_string();
        let r = it.next().unwrap_or_default().to_string();
        return Resource::Other {
            resource_type: ty,
            resource: r,
        };
    }
    Resource::Other {
        resource_type: "activity".into(),
        resource: resource.to_string(),
    }
}

/// Python's `json.dumps` length, for Lambda's Content-Length header.
fn python_json_len(v: &Value) -> usize {
    fn s_len(s: &str) -> usize {
        2 + s
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
                c if (c as u32) < 0x20 => 6,
                c if (c as u32) < 0x80 => 1,
                c if (c as u32) > 0xFFFF => 12,
                _ => 6,
            })
            .sum::<usize>()
    }
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s_len(s),
        Value::Array(a) => {
            2 + a.iter().map(python_json_len).sum::<usize>() + a.len().saturating_sub(1) * 2
        }
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, v)| s_len(k) + 2 + python_json_len(v))
                .sum::<usize>()
                + m.len().saturating_sub(1) * 2
        }
    }
}

fn lambda_envelope(payload: Value, request_id: &str, now: SystemTime) -> Value {
    let len = python_json_len(&payload).to_string();
    let date = chrono::DateTime::<chrono::Utc>::from(now)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let trace = format!(
        "Root=1-{:08x}-{}",
        fleetshift_clock::to_millis(now) / 1000,
        &request_id.replace('-', "")[..24]
    );
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [len],
                "Date": [date],
                "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": len,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200
    })
}

enum CallError {
    Failed(Failure),
    TimedOut,
    /// No heartbeat within HeartbeatSeconds.
    HeartbeatTimedOut,
    /// The execution's own TimeoutSeconds ran out while the handler ran: no task event.
    ExecTimedOut,
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
        let rt = |m: String| self.runtime(&st.name, entered, m);
        match &st.kind {
            Kind::Pass { result } => {
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
            Kind::Succeed => {
                let ctx = self.context(st, entered_time, 0, br);
                let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
                let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
                Ok(Step::Next(self.limit_output(st, out)?, None))
            }
            Kind::Fail { error, cause } => {
                let ctx = self.context(st, entered_time, 0, br);
                let pick = |x: &Option<StrOrQuery>| -> Result<Option<String>, Failure> {
                    match x {
                        None => Ok(None),
                        Some(StrOrQuery::Str(s)) => Ok(Some(s.clone())),
                        Some(StrOrQuery::Query(q)) => match q.eval(&Scope {
                            input: &raw,
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
                Err(Failure {
                    error: pick(error)?,
                    cause: pick(cause)?,
                    exec_timeout: false,
                    runtime_in_state: false,
                    named_only: false,
                })
            }
            Kind::Choice { choices, default } => {
                let ctx = self.context(st, entered_time, 0, br);
                let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
                let scope = Scope {
                    input: &eff,
                    context: &ctx,
                    rng: br.draws.as_ref(),
                };
                let mut next = None;
                for c in choices {
                    if eval_rule(c, &scope).map_err(rt)? {
                        next = c.next().map(str::to_string);
                        break;
                    }
                }
                let next = match next.or_else(|| default.clone()) {
                    Some(n) => n,
                    None => {
                        return Err(Failure::new(
                            "States.NoChoiceMatched",
                            Some(format!(
                                "An error occurred while executing the state '{}' (entered at the event id #{entered}). No Choice Rule matched and no Default is given.",
                                st.name
                            )),
                        ));
                    }
                };
                let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
                Ok(Step::Next(self.limit_output(st, out)?, Some(next)))
            }
            Kind::Wait(w) => {
                let ctx = self.context(st, entered_time, 0, br);
                let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
                let scope = Scope {
                    input: &eff,
                    context: &ctx,
                    rng: br.draws.as_ref(),
                };
                let now = self.now();
                let until: SystemTime = match w {
                    WaitSpec::Seconds(s) => now + Duration::from_secs(*s),
                    WaitSpec::SecondsPath(q) => {
                        let v = q.eval(&scope).map_err(rt)?;
                        let shown = match &v {
                            Value::String(s) => s.clone(),
                            o => o.to_string(),
                        };
                        match v.as_i64() {
                            Some(n) if n < 0 => {
                                return Err(rt(format!(
                                    "The SecondsPath parameter references a negative value: {} == {shown}",
                                    q.text()
                                )));
                            }
                            Some(n) => now + Duration::from_secs(n as u64),
                            None => {
                                return Err(rt(format!(
                                    "The SecondsPath parameter cannot be parsed as a long value: {} == {shown}",
                                    q.text()
                                )));
                            }
                        }
                    }
                    WaitSpec::Timestamp(t) => parse_timestamp(t).unwrap_or(now),
                    WaitSpec::TimestampPath(q) => {
                        let v = q.eval(&scope).map_err(rt)?;
                        match v.as_str().and_then(parse_timestamp) {
                            Some(t) => t,
                            None => {
                                let shown = match &v {
                                    Value::String(s) => s.clone(),
                                    o => o.to_string(),
                                };
                                return Err(rt(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {shown}",
                                    q.text()
                                )));
                            }
                        }
                    }
                };
                let d = until.duration_since(now).unwrap_or_default();
                if d.as_secs() > i32::MAX as u64 {
                    return Err(rt("Wait state delay is too long.".into()));
                }
                self.sleep(d).await?;
                let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
                Ok(Step::Next(self.limit_output(st, out)?, st.next.clone()))
            }
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                self.run_with_retry(st, raw, br, entered, entered_time)
                    .await
            }
        }
    }

    async fn run_with_retry(
        &self,
        st: &State,
        raw: Value,
        br: &mut Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let mut counters = vec![0u64; st.retry.len()];
        let mut retry_count = 0u64;
        loop {
            let ctx = self.context(st, entered_time, retry_count, br);
            let res = match &st.kind {
                Kind::Task(spec) => self.task_attempt(st, spec, &raw, &ctx, br, entered).await,
                Kind::Parallel { branches } => {
                    self.parallel_attempt(st, branches, &raw, &ctx, br, entered)
                        .await
                }
                Kind::Map(spec) => self.map_attempt(st, spec, &raw, &ctx, br, entered).await,
                _ => unreachable!("only Task, Parallel and Map retry"),
            };
            let f = match res {
                Ok(out) => return Ok(Step::Next(out, st.next.clone())),
                Err(f) => f,
            };
            if let Some(delay) = self.retry_delay(st, &mut counters, &f, br, retry_count) {
                self.sleep(delay).await?;
                retry_count += 1;
                continue;
            }
            if !f.exec_timeout && !f.runtime_in_state {
                match &st.kind {
                    Kind::Parallel { .. } => {
                        self.emit(br, "ParallelStateFailed", None);
                    }
                    Kind::Map(_) => {
                        self.emit(br, "MapStateFailed", None);
                    }
                    _ => {}
                }
            }
            return self.catch(st, &st.catch, &raw, f, entered);
        }
    }

    fn retry_delay(
        &self,
        st: &State,
        counters: &mut [u64],
        f: &Failure,
        br: &Branch,
        retry_count: u64,
    ) -> Option<Duration> {
        if f.uncatchable() {
            return None;
        }
        let retriers = &st.retry;
        let i = retriers
            .iter()
            .position(|r| matches_error(&r.error_equals, f))?;
        let r = &retriers[i];
        if counters[i] >= r.max_attempts {
            return None;
        }
        let mut secs = r.interval_seconds * r.backoff_rate.powi(counters[i] as i32);
        if let Some(m) = r.max_delay_seconds {
            secs = secs.min(m);
        }
        counters[i] += 1;
        if r.jitter_full {
            // Each state of a branch draws its own jitter.
            let mut rng = rand::rngs::StdRng::seed_from_u64(hash64(&[
                self.engine.inner.seed,
                br.key,
                str_hash(&st.name),
                retry_count,
            ]));
            secs = rng.random_range(0.0..=secs);
        }
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    fn catch(
        &self,
        st: &State,
        catchers: &[Catcher],
        raw: &Value,
        f: Failure,
        entered: u64,
    ) -> Result<Step, Failure> {
        let Some(c) = catchers.iter().find(|c| matches_error(&c.error_equals, &f)) else {
            return Err(f);
        };
        let mut m = Map::new();
        m.insert(
            "Error".into(),
            Value::from(f.error.clone().unwrap_or_default()),
        );
        match &f.cause {
            Some(cause) => {
                m.insert("Cause".into(), Value::from(cause.as_str()));
            }
            // AWS reports a Task timeout with an empty cause
            None if f.name() == "States.Timeout" => {
                m.insert("Cause".into(), Value::from(""));
            }
            None => {}
        }
        let out = c
            .result_path
            .apply(raw, Value::Object(m))
            .map_err(|e| self.runtime(&st.name, entered, e))?;
        Ok(Step::Next(
            self.limit_output(st, out)?,
            Some(c.next.clone()),
        ))
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

    async fn task_attempt(
        &self,
        st: &State,
        spec: &TaskSpec,
        raw: &Value,
        ctx: &Value,
        br: &mut Branch,
        entered: u64,
    ) -> Result<Value, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let eff = st.input_path.apply(raw, ctx).map_err(rt)?;
        let params = match &st.parameters {
            Some(t) => t
                .eval(&Scope {
                    input: &eff,
                    context: ctx,
                    rng: br.draws.as_ref(),
                })
                .map_err(rt)?,
            None => eff,
        };
        let (timeout, heartbeat) = {
            let scope = Scope {
                input: raw,
                context: ctx,
                rng: br.draws.as_ref(),
            };
            (
                task_seconds(spec.timeout.as_ref(), "TimeoutSecondsPath", &scope, rt)?,
                task_seconds(spec.heartbeat.as_ref(), "HeartbeatSecondsPath", &scope, rt)?,
            )
        };
        let resource = classify(&spec.resource);
        let (function, payload) = match &resource {
            Resource::LambdaDirect { name, .. } => (name.clone(), params.clone()),
            Resource::LambdaInvoke => {
                let fname = params
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        rt(
                            "The lambda:invoke integration needs a FunctionName parameter"
                                .to_string(),
                        )
                    })?;
                // The payload goes to Lambda as JSON text: a string is sent as it is.
                let payload = match params.get("Payload") {
                    None | Some(Value::Null) => json!({}),
                    Some(Value::String(s)) => {
                        serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                    }
                    Some(p) => p.clone(),
                };
                (fname.to_string(), payload)
            }
            Resource::Other { .. } => (spec.resource.clone(), params.clone()),
        };
        self.limit_input(st, &payload)?;
        let (res_type, res_name) = match &resource {
            Resource::LambdaDirect { .. } => ("", ""),
            Resource::LambdaInvoke => ("lambda", "invoke"),
            Resource::Other {
                resource_type,
                resource,
            } => (resource_type.as_str(), resource.as_str()),
        };
        let is_direct = matches!(resource, Resource::LambdaDirect { .. });
        let with_res = |mut m: Map<String, Value>| {
            m.insert("resource".into(), Value::from(res_name));
            m.insert("resourceType".into(), Value::from(res_type));
            Value::Object(m)
        };

        // Scheduled, Started
        if let Resource::LambdaDirect { arn, .. } = &resource {
            let mut d = io_details("input", &params);
            d.insert("resource".into(), Value::from(arn.as_str()));
            if let Some(t) = timeout {
                d.insert("timeoutInSeconds".into(), Value::from(t));
            }
            self.emit(
                br,
                "LambdaFunctionScheduled",
                Some(("lambdaFunctionScheduledEventDetails", Value::Object(d))),
            );
            self.emit(br, "LambdaFunctionStarted", None);
        } else {
            let mut d = Map::new();
            d.insert("parameters".into(), text(&params));
            d.insert(
                "region".into(),
                Value::from(self.engine.inner.region.as_str()),
            );
            if let Some(t) = timeout {
                d.insert("timeoutInSeconds".into(), Value::from(t));
            }
            // The resolved value, from HeartbeatSeconds or HeartbeatSecondsPath alike.
            if let Some(h) = heartbeat {
                d.insert("heartbeatInSeconds".into(), Value::from(h));
            }
            self.emit(
                br,
                "TaskScheduled",
                Some(("taskScheduledEventDetails", with_res(d))),
            );
            self.emit(
                br,
                "TaskStarted",
                Some(("taskStartedEventDetails", with_res(Map::new()))),
            );
        }

        let handler = {
            let h = self
                .engine
                .inner
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let key = if matches!(resource, Resource::Other { .. }) {
                spec.resource.clone()
            } else {
                function_key(&function)
            };
            h.get(&key).cloned()
        };
        let request_id = if is_direct && handler.is_some() {
            String::new()
        } else {
            crate::intrinsics::uuid_v4()
        };
        let outcome: Result<Value, CallError> = match handler {
            None => {
                let (error, cause) = match &resource {
                    Resource::Other { .. } => (
                        "States.Runtime".to_string(),
                        format!("No handler is registered for resource '{}'", spec.resource),
                    ),
                    _ => (
                        "Lambda.ResourceNotFoundException".to_string(),
                        format!(
                            "Function not found: arn:aws:lambda:{}:{}:function:{}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)",
                            self.engine.inner.region,
                            self.engine.inner.account,
                            function_key(&function)
                        ),
                    ),
                };
                Err(CallError::Failed(Failure::new(error, Some(cause))))
            }
            Some(h) => {
                let tctx = TaskContext {
                    execution_arn: self.exec_arn.clone(),
                    execution_name: self.exec_name.clone(),
                    state_name: st.name.clone(),
                    function: function_key(&function),
                    invoked: if matches!(resource, Resource::LambdaDirect { .. }) {
                        spec.resource.clone()
                    } else {
                        function.clone()
                    },
                    now: self.now(),
                };
                let beats = heartbeat.map(|h| {
                    let b = Arc::new(Mutex::new(Beats {
                        times: Vec::new(),
                        last_wall: std::time::Instant::now(),
                    }));
                    (Duration::from_secs(h), b)
                });
                let fut = h.call(payload, tctx);
                // None: no heartbeat came in time on the wall clock.
                let fut = async {
                    match &beats {
                        None => Some(fut.await),
                        Some((h, b)) => {
                            HEARTBEATS
                                .scope(b.clone(), watch_heartbeats(fut, b, *h))
                                .await
                        }
                    }
                };
                let cap = self.engine.inner.handler_time_limit;
                if self.virtual_time {
                    let start = fleetshift_clock::now();
                    // The handler's window: its own TimeoutSeconds, or what is left of the
                    // execution's, whichever ends first.
                    let task_end = timeout.map(|t| start + Duration::from_secs(t));
                    // A handler that hangs or waits on real I/O (a Lambda process) does not
                    // advance virtual time: the window also holds on the wall clock, and so
                    // does the engine's handler time limit.
                    let guard = [
                        timeout.map(Duration::from_secs),
                        self.deadline
                            .map(|d| d.duration_since(start).unwrap_or_default()),
                        cap,
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    let scoped = fleetshift_clock::scope(start, fut);
                    let ran = match guard {
                        None => Some(scoped.await),
                        Some(g) => tokio::time::timeout(g, scoped).await.ok(),
                    };
                    // When it ended; None while still running when a wall-clock guard ran
                    // out: then it is past its whole window.
                    let finished = match &ran {
                        Some((Some(_), end)) => Some(*end),
                        _ => None,
                    };
                    let past = |limit: SystemTime| finished.is_none_or(|end| end > limit);
                    // The first gap between heartbeats (from the start, to the end) too long.
                    let hb_end = beats.as_ref().and_then(|(h, b)| {
                        let b = b.lock().unwrap_or_else(|e| e.into_inner());
                        let mut from = start;
                        for t in b.times.iter().copied().chain(finished) {
                            if t > from + *h {
                                return Some(from + *h);
                            }
                            from = from.max(t);
                        }
                        finished.is_none().then_some(from + *h)
                    });
                    // The earliest window to close wins; at a tie the Task's own timeout.
                    let closed = [
                        task_end.filter(|t| past(*t)).map(|t| (t, 0)),
                        self.deadline.filter(|d| past(*d)).map(|d| (d, 1)),
                        hb_end.map(|t| (t, 2)),
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    match (closed, ran) {
                        (Some((t, which)), _) => {
                            fleetshift_clock::advance_to(t);
                            Err(match which {
                                0 => CallError::TimedOut,
                                1 => CallError::ExecTimedOut,
                                _ => CallError::HeartbeatTimedOut,
                            })
                        }
                        (None, Some((Some(r), end))) => {
                            fleetshift_clock::advance_to(end);
                            r.map_err(|e| CallError::Failed(lambda_failure(&e)))
                        }
                        // only the engine's limit: it ran that long
                        (None, _) => {
                            fleetshift_clock::advance_to(start + cap.unwrap_or_default());
                            Err(CallError::TimedOut)
                        }
                    }
                } else {
                    let limit = [timeout.map(Duration::from_secs), cap]
                        .into_iter()
                        .flatten()
                        .min();
                    let ran = match limit {
                        Some(t) => tokio::time::timeout(t, fut).await.ok(),
                        None => Some(fut.await),
                    };
                    match ran {
                        Some(Some(r)) => r.map_err(|e| CallError::Failed(lambda_failure(&e))),
                        Some(None) => Err(CallError::HeartbeatTimedOut),
                        None => Err(CallError::TimedOut),
                    }
                }
            }
        };
        let outcome = outcome.and_then(|v| {
            let size = serde_json::to_string(&v).map(|s| s.len()).unwrap_or(0);
            if size > PAYLOAD_LIMIT {
                let who = if is_direct { spec.resource.as_str() } else { res_type };
                return Err(CallError::Failed(Failure::new(
                    "States.DataLimitExceeded",
                    Some(format!(
                        "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
                    )),
                )));
            }
            Ok(v)
        });
        match outcome {
            Ok(v) => {
                let result = match resource {
                    Resource::LambdaInvoke => {
                        let mut env = lambda_envelope(v, &request_id, self.now());
                        if params.get("LogType").and_then(Value::as_str) == Some("Tail") {
                            use base64::Engine as _;
                            let log = format!(
                                "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n"
                            );
                            let log = base64::engine::general_purpose::STANDARD.encode(log);
                            // Lambda returns the log tail as a header too, and the envelope
                            // shows every header.
                            let http = &mut env["SdkHttpMetadata"];
                            http["AllHttpHeaders"]["X-Amz-Log-Result"] = json!([log]);
                            http["HttpHeaders"]["X-Amz-Log-Result"] = Value::from(log.as_str());
                            env["LogResult"] = Value::from(log);
                        }
                        env
                    }
                    _ => v,
                };
                if is_direct {
                    self.emit(
                        br,
                        "LambdaFunctionSucceeded",
                        Some((
                            "lambdaFunctionSucceededEventDetails",
                            Value::Object(io_details("output", &result)),
                        )),
                    );
                } else {
                    self.emit(
                        br,
                        "TaskSucceeded",
                        Some((
                            "taskSucceededEventDetails",
                            with_res(io_details("output", &result)),
                        )),
                    );
                }
                self.finish(st, raw, ctx, result, entered, br)
            }
            Err(CallError::Failed(f)) => {
                if is_direct {
                    self.emit(
                        br,
                        "LambdaFunctionFailed",
                        Some((
                            "lambdaFunctionFailedEventDetails",
                            Value::Object(error_details(&f)),
                        )),
                    );
                } else {
                    self.emit(
                        br,
                        "TaskFailed",
                        Some(("taskFailedEventDetails", with_res(error_details(&f)))),
                    );
                }
                Err(f)
            }
            Err(CallError::ExecTimedOut) => Err(exec_timeout()),
            Err(e @ (CallError::TimedOut | CallError::HeartbeatTimedOut)) => {
                let name = match e {
                    CallError::HeartbeatTimedOut => "States.HeartbeatTimeout",
                    _ => "States.Timeout",
                };
                let f = Failure::new(name, None);
                if is_direct {
                    self.emit(
                        br,
                        "LambdaFunctionTimedOut",
                        Some((
                            "lambdaFunctionTimedOutEventDetails",
                            Value::Object(error_details(&f)),
                        )),
                    );
                } else {
                    self.emit(
                        br,
                        "TaskTimedOut",
                        Some(("taskTimedOutEventDetails", with_res(error_details(&f)))),
                    );
                }
                Err(f)
            }
        }
    }
}

/// Runs a handler's future until it ends, or until `h` of wall-clock time passes without a
/// heartbeat (then None).
async fn watch_heartbeats(
    mut fut: crate::engine::HandlerFuture,
    beats: &Mutex<Beats>,
    h: Duration,
) -> Option<Result<Value, crate::engine::TaskFailure>> {
    loop {
        let last = beats.lock().unwrap_or_else(|e| e.into_inner()).last_wall;
        match tokio::time::timeout_at((last + h).into(), &mut fut).await {
            Ok(r) => return Some(r),
            Err(_) => {
                if beats.lock().unwrap_or_else(|e| e.into_inner()).last_wall == last {
                    return None;
                }
            }
        }
    }
}

/// A Task's TimeoutSeconds or HeartbeatSeconds: the fixed number, or the positive integer
/// its Path selects from the state's raw input (`field` names the Path in the error).
fn task_seconds(
    seconds: Option<&Seconds>,
    field: &str,
    scope: &Scope<'_>,
    rt: impl Fn(String) -> Failure,
) -> Result<Option<u64>, Failure> {
    match seconds {
        None => Ok(None),
        Some(Seconds::Fixed(n)) => Ok(Some(*n)),
        Some(Seconds::Path(q)) => {
            let v = q.eval(scope).map_err(&rt)?;
            match v.as_u64().filter(|n| *n > 0) {
                Some(n) => Ok(Some(n)),
                None => Err(rt(format!(
                    "The {field} parameter does not reference a positive integer: {} == {v}",
                    q.text()
                ))),
            }
        }
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

/// A handler's failure as Step Functions reports it: the error name is the `errorType`, the
/// cause is the Lambda error payload.
fn lambda_failure(e: &crate::engine::TaskFailure) -> Failure {
    let cause = json!({"errorMessage": e.error_message, "errorType": e.error_type});
    Failure::new(e.error_type.clone(), Some(cause.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_lengths() {
        assert_eq!(python_json_len(&json!({})), 2);
        assert_eq!(
            python_json_len(&json!({"a": [1, 2]})),
            r#"{"a": [1, 2]}"#.len()
        );
    }
}

//! A Task's handler call under its windows: the Task's TimeoutSeconds, the execution's deadline,
//! HeartbeatSeconds and the engine's handler time limit, on the virtual or the wall clock.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Call, Resource};
use crate::definition::State;
use crate::engine::{Beats, HEARTBEATS, TaskContext, TaskFailure, function_key};
use crate::exec::{Failure, Run};

/// What a handler's run gives: None when no heartbeat came in time on the wall clock.
type HandlerRun = Option<Result<Value, TaskFailure>>;

pub(super) enum CallError {
    Failed(Failure),
    TimedOut,
    /// No heartbeat within HeartbeatSeconds.
    HeartbeatTimedOut,
    /// The execution's own TimeoutSeconds ran out while the handler ran: no task event.
    ExecTimedOut,
}

impl Run {
    /// Calls the attempt's handler with `payload`: the request id Lambda would report, and how
    /// the call ended.
    pub(super) async fn invoke(
        &self,
        st: &State,
        call: &Call<'_>,
        payload: Value,
    ) -> (String, Result<Value, CallError>) {
        let handler = {
            let h = self
                .engine
                .inner
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let key = if matches!(call.resource, Resource::Other { .. }) {
                call.spec.resource.clone()
            } else {
                function_key(&call.function)
            };
            h.get(&key).cloned()
        };
        let request_id = if call.is_direct() && handler.is_some() {
            String::new()
        } else {
            crate::intrinsics::uuid_v4()
        };
        let Some(h) = handler else {
            let f = self.no_handler(call, &request_id);
            return (request_id, Err(CallError::Failed(f)));
        };
        let tctx = TaskContext {
            execution_arn: self.exec_arn.clone(),
            execution_name: self.exec_name.clone(),
            state_name: st.name.clone(),
            function: function_key(&call.function),
            invoked: if call.is_direct() {
                call.spec.resource.clone()
            } else {
                call.function.clone()
            },
            now: self.now(),
        };
        let beats = call.heartbeat.map(|h| {
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
        let outcome = if self.virtual_time {
            self.call_virtual(fut, beats.as_ref(), call.timeout).await
        } else {
            self.call_wall(fut, call.timeout).await
        };
        (request_id, outcome)
    }

    /// No handler for the resource: Lambda's own error for a function, a runtime error otherwise.
    fn no_handler(&self, call: &Call<'_>, request_id: &str) -> Failure {
        let (error, cause) = match &call.resource {
            Resource::Other { .. } => (
                "States.Runtime".to_string(),
                format!(
                    "No handler is registered for resource '{}'",
                    call.spec.resource
                ),
            ),
            _ => (
                "Lambda.ResourceNotFoundException".to_string(),
                format!(
                    "Function not found: arn:aws:lambda:{}:{}:function:{}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)",
                    self.engine.inner.region,
                    self.engine.inner.account,
                    function_key(&call.function)
                ),
            ),
        };
        Failure::new(error, Some(cause))
    }

    /// The call on the branch's virtual clock: the first of its windows to close (the Task's
    /// TimeoutSeconds, the execution's deadline, a heartbeat gap) ends it at that time.
    async fn call_virtual(
        &self,
        fut: impl Future<Output = HandlerRun>,
        beats: Option<&(Duration, Arc<Mutex<Beats>>)>,
        timeout: Option<u64>,
    ) -> Result<Value, CallError> {
        let cap = self.engine.inner.handler_time_limit;
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
        let hb_end = beats.and_then(|(h, b)| heartbeat_gap_end(*h, b, start, finished));
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
    }

    /// The call on the wall clock: the Task's TimeoutSeconds or the engine's handler time limit,
    /// whichever is shorter.
    async fn call_wall(
        &self,
        fut: impl Future<Output = HandlerRun>,
        timeout: Option<u64>,
    ) -> Result<Value, CallError> {
        let cap = self.engine.inner.handler_time_limit;
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

/// Where the first gap between heartbeats longer than `h` (from the call's `start`, to its end
/// when `finished`) closes the heartbeat window, on the branch's clock.
fn heartbeat_gap_end(
    h: Duration,
    beats: &Mutex<Beats>,
    start: SystemTime,
    finished: Option<SystemTime>,
) -> Option<SystemTime> {
    let b = beats.lock().unwrap_or_else(|e| e.into_inner());
    let mut from = start;
    for t in b.times.iter().copied().chain(finished) {
        if t > from + h {
            return Some(from + h);
        }
        from = from.max(t);
    }
    finished.is_none().then_some(from + h)
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

/// A handler's failure as Step Functions reports it: the error name is the `errorType`, the
/// cause is the Lambda error payload.
fn lambda_failure(e: &crate::engine::TaskFailure) -> Failure {
    let cause = json!({"errorMessage": e.error_message, "errorType": e.error_type});
    Failure::new(e.error_type.clone(), Some(cause.to_string()))
}

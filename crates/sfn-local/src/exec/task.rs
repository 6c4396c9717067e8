//! The Task state: its resource (a Lambda function, `lambda:invoke`, another integration), the
//! handler call under the Task's timeouts and heartbeats, and the events and result AWS records.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::{Branch, Failure, PAYLOAD_LIMIT, Run, error_details, exec_timeout, io_details, text};
use crate::definition::{Seconds, State, TaskSpec};
use crate::engine::{Beats, HEARTBEATS, TaskContext, function_key};
use crate::path::Scope;

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
    pub(super) async fn task_attempt(
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

//! The Task state: its resource (a Lambda function, `lambda:invoke`, another integration), the
//! input it sends, and the events and result AWS records. The handler call itself, under the
//! Task's timeouts and heartbeats, is in [`call`].

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::{Branch, Failure, PAYLOAD_LIMIT, Run, error_details, exec_timeout, io_details, text};
use crate::definition::{Seconds, State, TaskSpec};
use crate::engine::function_key;
use crate::path::Scope;

mod call;

use call::CallError;

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

/// One attempt of a Task: what it calls, with which parameters, under which limits.
struct Call<'a> {
    spec: &'a TaskSpec,
    resource: Resource,
    /// The effective parameters (what TaskScheduled shows, and where `LogType` is read).
    params: Value,
    /// The Lambda function named (bare or by ARN), or the resource ARN of another integration.
    function: String,
    /// The TimeoutSeconds and HeartbeatSeconds resolved for this attempt.
    timeout: Option<u64>,
    heartbeat: Option<u64>,
}

impl Call<'_> {
    fn is_direct(&self) -> bool {
        matches!(self.resource, Resource::LambdaDirect { .. })
    }

    /// The `resourceType` and `resource` of the Task events (empty for a Lambda ARN).
    fn type_and_name(&self) -> (&str, &str) {
        match &self.resource {
            Resource::LambdaDirect { .. } => ("", ""),
            Resource::LambdaInvoke => ("lambda", "invoke"),
            Resource::Other {
                resource_type,
                resource,
            } => (resource_type.as_str(), resource.as_str()),
        }
    }

    fn with_res(&self, mut m: Map<String, Value>) -> Value {
        let (res_type, res_name) = self.type_and_name();
        m.insert("resource".into(), Value::from(res_name));
        m.insert("resourceType".into(), Value::from(res_type));
        Value::Object(m)
    }

    /// A result over the payload limit fails the Task, named by its resource.
    fn within_limit(&self, v: Value) -> Result<Value, CallError> {
        let size = serde_json::to_string(&v).map(|s| s.len()).unwrap_or(0);
        if size > PAYLOAD_LIMIT {
            let who = if self.is_direct() {
                self.spec.resource.as_str()
            } else {
                self.type_and_name().0
            };
            return Err(CallError::Failed(Failure::new(
                "States.DataLimitExceeded",
                Some(format!(
                    "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
                )),
            )));
        }
        Ok(v)
    }
}

/// How an attempt ended, for its closing event.
enum End {
    Succeeded,
    Failed,
    TimedOut,
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
        let (call, payload) = self.task_call(st, spec, raw, ctx, br, entered)?;
        self.limit_input(st, &payload)?;
        self.emit_task_started(br, &call);
        let (request_id, outcome) = self.invoke(st, &call, payload).await;
        match outcome.and_then(|v| call.within_limit(v)) {
            Ok(v) => {
                let result = self.task_result(&call, v, &request_id);
                self.emit_task_end(br, &call, End::Succeeded, io_details("output", &result));
                self.finish(st, raw, ctx, result, entered, br)
            }
            Err(CallError::Failed(f)) => {
                self.emit_task_end(br, &call, End::Failed, error_details(&f));
                Err(f)
            }
            Err(CallError::ExecTimedOut) => Err(exec_timeout()),
            Err(e @ (CallError::TimedOut | CallError::HeartbeatTimedOut)) => {
                let name = match e {
                    CallError::HeartbeatTimedOut => "States.HeartbeatTimeout",
                    _ => "States.Timeout",
                };
                let f = Failure::new(name, None);
                self.emit_task_end(br, &call, End::TimedOut, error_details(&f));
                Err(f)
            }
        }
    }

    /// The attempt's call and the payload its handler receives, from the state's input.
    fn task_call<'a>(
        &self,
        st: &State,
        spec: &'a TaskSpec,
        raw: &Value,
        ctx: &Value,
        br: &Branch,
        entered: u64,
    ) -> Result<(Call<'a>, Value), Failure> {
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
        let call = Call {
            spec,
            resource,
            params,
            function,
            timeout,
            heartbeat,
        };
        Ok((call, payload))
    }

    /// `LambdaFunctionScheduled` and `LambdaFunctionStarted` for a Lambda ARN, `TaskScheduled`
    /// and `TaskStarted` for an integration.
    fn emit_task_started(&self, br: &mut Branch, call: &Call<'_>) {
        if let Resource::LambdaDirect { arn, .. } = &call.resource {
            let mut d = io_details("input", &call.params);
            d.insert("resource".into(), Value::from(arn.as_str()));
            if let Some(t) = call.timeout {
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
            d.insert("parameters".into(), text(&call.params));
            d.insert(
                "region".into(),
                Value::from(self.engine.inner.region.as_str()),
            );
            if let Some(t) = call.timeout {
                d.insert("timeoutInSeconds".into(), Value::from(t));
            }
            // The resolved value, from HeartbeatSeconds or HeartbeatSecondsPath alike.
            if let Some(h) = call.heartbeat {
                d.insert("heartbeatInSeconds".into(), Value::from(h));
            }
            self.emit(
                br,
                "TaskScheduled",
                Some(("taskScheduledEventDetails", call.with_res(d))),
            );
            self.emit(
                br,
                "TaskStarted",
                Some(("taskStartedEventDetails", call.with_res(Map::new()))),
            );
        }
    }

    /// The attempt's closing event: `LambdaFunction...` for a Lambda ARN, `Task...` otherwise.
    fn emit_task_end(&self, br: &mut Branch, call: &Call<'_>, end: End, d: Map<String, Value>) {
        let (lambda, task) = match end {
            End::Succeeded => (
                (
                    "LambdaFunctionSucceeded",
                    "lambdaFunctionSucceededEventDetails",
                ),
                ("TaskSucceeded", "taskSucceededEventDetails"),
            ),
            End::Failed => (
                ("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails"),
                ("TaskFailed", "taskFailedEventDetails"),
            ),
            End::TimedOut => (
                (
                    "LambdaFunctionTimedOut",
                    "lambdaFunctionTimedOutEventDetails",
                ),
                ("TaskTimedOut", "taskTimedOutEventDetails"),
            ),
        };
        if call.is_direct() {
            self.emit(br, lambda.0, Some((lambda.1, Value::Object(d))));
        } else {
            self.emit(br, task.0, Some((task.1, call.with_res(d))));
        }
    }

    /// The Task's result: the handler's output, in Lambda's response envelope for
    /// `lambda:invoke`.
    fn task_result(&self, call: &Call<'_>, v: Value, request_id: &str) -> Value {
        let Resource::LambdaInvoke = call.resource else {
            return v;
        };
        let mut env = lambda_envelope(v, request_id, self.now());
        if call.params.get("LogType").and_then(Value::as_str) == Some("Tail") {
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

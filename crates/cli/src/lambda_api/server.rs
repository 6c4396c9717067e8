//! The Runtime API endpoint of one sandbox: the four routes a `provided.al2023` runtime calls,
//! serving the invocations its sandbox queues one at a time.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use sfn_local::TaskFailure;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{API_PREFIX, Reply, lock};

/// One event handed to the runtime.
pub(super) struct Invocation {
    pub(super) request_id: String,
    pub(super) payload: Bytes,
    pub(super) deadline_ms: u64,
    pub(super) trace_id: String,
    /// The invoking branch's virtual time (ms), sent in the client context.
    pub(super) now_ms: u64,
}

/// What the Runtime API endpoint of one sandbox shares with its owner.
pub(super) struct Api {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The invocations handed out and not yet completed, by request id.
    pub(super) pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// When the runtime first asked for an event: the end of its init.
    pub(super) first_next: OnceLock<Instant>,
    pub(super) ready: watch::Sender<bool>,
    /// What the runtime reported through `/init/error`, if it did.
    pub(super) init_error: Mutex<Option<TaskFailure>>,
}

/// A running endpoint: where it listens, how to queue an invocation, and its server task.
pub(super) struct Endpoint {
    pub(super) api: Arc<Api>,
    pub(super) addr: SocketAddr,
    pub(super) queue: mpsc::Sender<Invocation>,
    pub(super) server: JoinHandle<()>,
}

/// Binds an endpoint on a free loopback port and serves it, for the function `function_arn`.
pub(super) async fn serve(function_arn: String) -> std::io::Result<Endpoint> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (queue_tx, queue_rx) = mpsc::channel(1);
    let api = Arc::new(Api {
        function_arn,
        queue: tokio::sync::Mutex::new(queue_rx),
        pending: Mutex::new(HashMap::new()),
        first_next: OnceLock::new(),
        ready: watch::Sender::new(false),
        init_error: Mutex::new(None),
    });
    let app = Router::new()
        .route(&format!("{API_PREFIX}/invocation/next"), get(next))
        .route(
            &format!("{API_PREFIX}/invocation/{{id}}/response"),
            post(response),
        )
        .route(
            &format!("{API_PREFIX}/invocation/{{id}}/error"),
            post(error),
        )
        .route(&format!("{API_PREFIX}/init/error"), post(init_error))
        .with_state(api.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Endpoint {
        api,
        addr,
        queue: queue_tx,
        server,
    })
}

fn reply(status: StatusCode, body: Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn accepted() -> Response {
    reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

fn invalid_request_id(id: &str) -> Response {
    reply(
        StatusCode::BAD_REQUEST,
        json!({"errorType": "InvalidRequestID", "errorMessage": format!("Invalid request ID: {id}")}),
    )
}

/// `GET /runtime/invocation/next`: waits for the next event.
async fn next(State(api): State<Arc<Api>>) -> Response {
    if api.first_next.set(Instant::now()).is_ok() {
        api.ready.send_replace(true);
    }
    let invocation = api.queue.lock().await.recv().await;
    let Some(inv) = invocation else {
        return reply(
            StatusCode::GONE,
            json!({"errorType": "Sandbox.Shutdown", "errorMessage": "the sandbox is shutting down"}),
        );
    };
    let mut r = Response::new(Body::from(inv.payload));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in [
        ("lambda-runtime-aws-request-id", inv.request_id),
        ("lambda-runtime-deadline-ms", inv.deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            api.function_arn.clone(),
        ),
        ("lambda-runtime-trace-id", inv.trace_id),
        // The invoking branch's virtual time, as Lambda passes an Invoke call's ClientContext;
        // the functions honour it because the sandbox sets FLEETSHIFT_VIRTUAL_TIME.
        (
            "lambda-runtime-client-context",
            json!({"custom": {fleetshift_clock::CLIENT_CONTEXT_KEY: inv.now_ms.to_string()}})
                .to_string(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

/// `POST /runtime/invocation/{id}/response`: the function's result.
async fn response(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(tx) = lock(&api.pending).remove(&id) else {
        return invalid_request_id(&id);
    };
    let value = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            TaskFailure::new(
                "Lambda.InvalidResponse",
                format!("the function's response is not JSON: {e}"),
            )
        })
    };
    let _ = tx.send(value);
    accepted()
}

/// The `{errorType, errorMessage}` body of an error report (the header's type when it has none).
fn failure(headers: &HeaderMap, body: &[u8]) -> TaskFailure {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    TaskFailure::new(
        v["errorType"].as_str().unwrap_or(header_type),
        v["errorMessage"]
            .as_str()
            .map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_owned),
    )
}

/// `POST /runtime/invocation/{id}/error`: the function failed.
async fn error(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(tx) = lock(&api.pending).remove(&id) else {
        return invalid_request_id(&id);
    };
    let _ = tx.send(Err(failure(&headers, &body)));
    accepted()
}

/// `POST /runtime/init/error`: the runtime could not start; it exits next.
async fn init_error(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    *lock(&api.init_error) = Some(failure(&headers, &body));
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reports_keep_the_error_type() {
        let body = br#"{"errorType":"OperationInProgressException","errorMessage":"busy"}"#;
        let f = failure(&HeaderMap::new(), body);
        assert_eq!(f.error_type, "OperationInProgressException");
        assert_eq!(f.error_message, "busy");
        let mut h = HeaderMap::new();
        h.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Runtime.InitError"),
        );
        assert_eq!(failure(&h, b"not json").error_type, "Runtime.InitError");
    }
}

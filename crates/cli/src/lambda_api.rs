//! A local Lambda Runtime API: each function runs as its built binary, the way Lambda runs a
//! `provided.al2023` function, and the engine calls it through an [`sfn_local::Handler`] like an
//! in-process one.
//!
//! Each execution environment (a [`Sandbox`]) is one process with a Runtime API of its own on a
//! loopback port (`AWS_LAMBDA_RUNTIME_API`), serving one event at a time, as AWS documents it:
//! `GET /2018-06-01/runtime/invocation/next` (a long poll) hands out the event with the
//! `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and `-Trace-Id`
//! headers; `POST .../invocation/{id}/response` and `POST .../invocation/{id}/error`
//! (`{"errorType", "errorMessage"}`) complete it; `POST /2018-06-01/runtime/init/error` reports a
//! failed init. A process that exits mid-invocation fails it with `Runtime.ExitError`, one that
//! overruns the function's timeout with `Sandbox.Timedout`, and the next invocation starts a fresh
//! process (a cold start), as Lambda does.
//!
//! Virtual time: a binary cannot stamp its requests with the invoking branch's virtual time, so
//! each sandbox signs with an access key id of its own and, for the duration of each invocation,
//! its pool tells cloud-local which virtual time that key is at ([`cloud_local::KeyClock`]). The
//! deadline header is on the same clock, and so is the binaries' own reading of the time
//! (`fleetshift_clock::now()`, for check-migration's deadline and every reported time): each
//! invocation carries the branch's time in its client context
//! (`Lambda-Runtime-Client-Context: {"custom": {"fleetshift-virtual-time": "<ms>"}}`), which the
//! functions honour because the sandbox sets `FLEETSHIFT_VIRTUAL_TIME=client-context`.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use cloud_local::KeyClock;
use serde_json::{Value, json};
use sfn_local::{Handler, HandlerFuture, TaskContext, TaskFailure};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use fleetshift_template::{FunctionModel, StackModel};

use crate::functions::{FUNCTIONS, InProcess, access_key_id};
use crate::local_aws::LOCAL_REGION;

/// The version prefix of every Runtime API path.
pub const API_PREFIX: &str = "/2018-06-01/runtime";
/// Sandboxes (processes) per function: Lambda scales out by starting more of them.
pub const DEFAULT_INSTANCES: usize = 4;
/// The static secret every sandbox signs with (cloud-local does not verify signatures).
const SECRET_ACCESS_KEY: &str = "fleetshift-local-secret";
/// Lines of each process's output kept to explain a crash.
const TAIL_LINES: usize = 20;

/// How to start one execution environment.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// The bootstrap: a function binary, or an interpreter.
    pub program: PathBuf,
    /// Its arguments (e.g. the script an interpreter runs).
    pub args: Vec<String>,
    /// The function's own environment, plus anything that overrides the defaults
    /// (`AWS_ENDPOINT_URL`, ...).
    pub env: Vec<(String, String)>,
    /// The function's timeout: the deadline header, and the wall-clock bound of an invocation.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
}

/// How an execution environment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit(pub String);

struct Invocation {
    request_id: String,
    payload: Bytes,
    deadline_ms: u64,
    trace_id: String,
    /// The invoking branch's virtual time (ms), sent in the client context.
    now_ms: u64,
}

type Reply = Result<Value, TaskFailure>;

/// What the Runtime API endpoint of one sandbox shares with its owner.
struct Api {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    first_next: OnceLock<Instant>,
    ready: watch::Sender<bool>,
    init_error: Mutex<Option<TaskFailure>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One execution environment: a process and the Runtime API endpoint it polls.
pub struct Sandbox {
    spec: Arc<SandboxSpec>,
    access_key_id: String,
    api: Arc<Api>,
    queue: mpsc::Sender<Invocation>,
    exit: watch::Receiver<Option<Exit>>,
    kill: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    watcher: Option<JoinHandle<()>>,
    spawned_at: Instant,
    pid: Option<u32>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("function", &self.spec.function_name)
            .field("pid", &self.pid)
            .field("access_key_id", &self.access_key_id)
            .finish()
    }
}

impl Sandbox {
    /// Binds a Runtime API endpoint on 127.0.0.1 and spawns the process, which signs its AWS
    /// requests with `access_key_id`. `stop` turning true (or its sender dropping) kills it.
    pub async fn start(
        spec: Arc<SandboxSpec>,
        access_key_id: String,
        stop: Option<watch::Receiver<bool>>,
    ) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::channel(1);
        let api = Arc::new(Api {
            function_arn: spec.function_arn.clone(),
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

        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(lambda_env(&spec, addr, &access_key_id))
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A backstop: the watcher kills it first; this covers a runtime torn down mid-run.
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return Err(e);
            }
        };
        let pid = child.id();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(out) = child.stdout.take() {
            forward(out, spec.function_name.clone(), tail.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward(err, spec.function_name.clone(), tail.clone());
        }
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exit_tx, exit_rx) = watch::channel(None);
        let watcher = tokio::spawn(async move {
            let killed = async {
                tokio::select! {
                    _ = kill_rx => {}
                    _ = stopped(stop) => {}
                }
            };
            let status = tokio::select! {
                s = child.wait() => s,
                () = killed => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let _ = exit_tx.send(Some(Exit(describe(status))));
        });
        Ok(Sandbox {
            spec,
            access_key_id,
            api,
            queue: queue_tx,
            exit: exit_rx,
            kill: Some(kill_tx),
            server,
            watcher: Some(watcher),
            spawned_at,
            pid,
            tail,
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The access key id its AWS requests are signed with.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Whether the process has ended.
    pub fn exited(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// The last lines the process wrote (stdout and stderr).
    pub fn output_tail(&self) -> Vec<String> {
        lock(&self.tail).iter().cloned().collect()
    }

    /// Waits for the runtime's first `GET .../invocation/next` (the end of its init) and returns
    /// the time from spawning the process to it.
    pub async fn ready(&self) -> Result<Duration, TaskFailure> {
        let mut ready = self.api.ready.subscribe();
        let mut exit = self.exit.clone();
        tokio::select! {
            biased;
            _ = ready.wait_for(|r| *r) => {}
            _ = exit.wait_for(Option::is_some) => {}
        }
        match self.api.first_next.get() {
            Some(t) => Ok(t.duration_since(self.spawned_at)),
            None => Err(self.exit_failure("init")),
        }
    }

    /// The process's peak resident set (`VmHWM` of /proc/PID/status), in KiB, while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Runs one invocation at virtual time `now` and waits for its outcome.
    pub async fn invoke(&mut self, payload: &Value, now: SystemTime) -> Reply {
        let request_id = request_id();
        if self.exited().is_some() {
            return Err(self.exit_failure(&request_id));
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.api.pending).insert(request_id.clone(), tx);
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: Bytes::from(payload.to_string()),
            deadline_ms: fleetshift_clock::to_millis(now)
                + u64::try_from(self.spec.timeout.as_millis()).unwrap_or(u64::MAX),
            trace_id: trace_id(now),
            now_ms: fleetshift_clock::to_millis(now),
        };
        let mut exit = self.exit.clone();
        let reply = tokio::select! {
            biased;
            reply = async {
                if self.queue.send(invocation).await.is_err() {
                    return Err(TaskFailure::new("Lambda.ServiceException", "the sandbox's Runtime API has stopped"));
                }
                rx.await.unwrap_or_else(|_| Err(TaskFailure::new("Lambda.ServiceException", "the invocation was dropped")))
            } => reply,
            _ = exit.wait_for(Option::is_some) => Err(self.exit_failure(&request_id)),
            () = tokio::time::sleep(self.spec.timeout) => {
                self.kill();
                Err(TaskFailure::new(
                    "Sandbox.Timedout",
                    format!(
                        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                        self.spec.timeout.as_secs_f64()
                    ),
                ))
            }
        };
        lock(&self.api.pending).remove(&request_id);
        reply
    }

    /// Kills the process (the watcher reaps it).
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    /// Kills the process and waits until it is gone.
    pub async fn stop(mut self) {
        self.kill();
        if let Some(w) = self.watcher.take() {
            let _ = w.await;
        }
    }

    fn exit_failure(&self, request_id: &str) -> TaskFailure {
        if let Some(e) = lock(&self.api.init_error).clone() {
            return e;
        }
        let how = self.exited().map_or_else(|| "unknown".to_owned(), |e| e.0);
        tracing::warn!(
            function = %self.spec.function_name,
            pid = ?self.pid,
            exit = %how,
            output = ?self.output_tail(),
            "runtime exited"
        );
        TaskFailure::new(
            "Runtime.ExitError",
            format!("RequestId: {request_id} Error: Runtime exited with error: {how}"),
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

/// The variables Lambda sets for a `provided.al2023` function (the Region, static credentials
/// of its own, the Runtime API), before the function's own.
fn lambda_env(spec: &SandboxSpec, api: SocketAddr, access_key_id: &str) -> Vec<(String, String)> {
    let name = &spec.function_name;
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[$LATEST]{access_key_id}"),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("AWS_REGION", LOCAL_REGION.to_owned()),
        ("AWS_DEFAULT_REGION", LOCAL_REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", access_key_id.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("TZ", ":UTC".to_owned()),
        (fleetshift_clock::ENV_VAR, "client-context".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".to_owned(), path));
    }
    env
}

async fn stopped(stop: Option<watch::Receiver<bool>>) {
    match stop {
        // An error means the owner is gone: stop too.
        Some(mut s) => {
            let _ = s.wait_for(|s| *s).await;
        }
        None => std::future::pending().await,
    }
}

/// Keeps the last lines of a process's output and passes them on as debug events.
fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    function: String,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "lambda", function = %function, "{line}");
            let mut t = lock(&tail);
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    });
}

/// Lambda's wording: `exit status 1`, `signal: killed`.
fn describe(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Err(e) => format!("wait failed: {e}"),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(9)) => "signal: killed".to_owned(),
            (None, Some(6)) => "signal: aborted".to_owned(),
            (None, Some(11)) => "signal: segmentation fault".to_owned(),
            (None, Some(15)) => "signal: terminated".to_owned(),
            (None, Some(n)) => format!("signal: {n}"),
            (None, None) => s.to_string(),
        },
    }
}

fn request_id() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        pid,
        (n >> 24) & 0xffff,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n
    )
}

/// An X-Ray trace header (`Root=1-<epoch secs hex>-<24 hex>`), not sampled.
fn trace_id(now: SystemTime) -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    let secs = fleetshift_clock::to_millis(now) / 1000;
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("Root=1-{secs:08x}-{n:024x};Parent={n:016x};Sampled=0")
}

// ---------------------------------------------------------------------------------------------
// The Runtime API endpoint of one sandbox
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The functions of the stack as built binaries
// ---------------------------------------------------------------------------------------------

/// Why the binaries could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BinariesError {
    #[error(
        "{dir}: no binary for {missing:?} (build them with `cargo build --release -p start-migration -p check-migration -p create-standby -p poll-image-import -p push-hub-update -p start-wave`)"
    )]
    Missing { dir: PathBuf, missing: Vec<String> },
    #[error("template.yaml builds no function from the binary {0}")]
    NotInTemplate(String),
}

/// How the stack runs `function` from `program`: its name, ARN, timeout, memory and environment
/// as template.yaml gives them, SDK clients pointed at `endpoint`.
pub fn function_spec(function: &FunctionModel, program: PathBuf, endpoint: &str) -> SandboxSpec {
    let mut env: Vec<(String, String)> = function
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()));
    SandboxSpec {
        function_name: function.name.clone(),
        function_arn: function.arn.clone(),
        program,
        args: Vec::new(),
        env,
        timeout: Duration::from_secs(u64::from(function.timeout_seconds)),
        memory_mb: function.memory_mb,
    }
}

/// The access key ids the sandboxes of `binary` sign with, one per sandbox that can run at once
/// (a sandbox that ends hands its key to the next): all known before the first process starts,
/// so each can be mapped to the function's role.
pub fn sandbox_access_key_ids(binary: &str, instances: usize) -> Vec<String> {
    (0..instances.max(1))
        .map(|i| format!("{}B{i}", access_key_id(binary)))
        .collect()
}

/// The sandboxes of one function: idle ones are reused, up to `instances` run at once.
struct Pool {
    spec: Arc<SandboxSpec>,
    keys: KeyClock,
    /// Access key ids no live sandbox holds.
    free_keys: Mutex<Vec<String>>,
    idle: Mutex<Vec<Sandbox>>,
    permits: tokio::sync::Semaphore,
    stop: watch::Receiver<bool>,
    watchers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    closed: Arc<AtomicBool>,
    started: AtomicU64,
}

impl Pool {
    async fn invoke(&self, payload: Value, now: SystemTime) -> Reply {
        let _permit = self.permits.acquire().await.map_err(|_| {
            TaskFailure::new(
                "Lambda.ServiceException",
                "the local Lambda service has stopped",
            )
        })?;
        let idle = lock(&self.idle).pop();
        let mut sandbox = match idle {
            Some(s) => s,
            None => self.spawn().await?,
        };
        self.keys.set(sandbox.access_key_id(), now);
        let reply = sandbox.invoke(&payload, now).await;
        self.keys.clear(sandbox.access_key_id());
        // A dead sandbox is dropped: the next invocation starts a fresh one, as Lambda does.
        if sandbox.exited().is_none() && !self.closed.load(Ordering::SeqCst) {
            lock(&self.idle).push(sandbox);
        } else {
            lock(&self.free_keys).push(sandbox.access_key_id().to_owned());
        }
        reply
    }

    async fn spawn(&self) -> Result<Sandbox, TaskFailure> {
        // Sandboxes alive <= permits = keys: with no idle sandbox, a key is free.
        let key = lock(&self.free_keys).pop().ok_or_else(|| {
            TaskFailure::new("Lambda.ServiceException", "no free sandbox credentials")
        })?;
        let started = Sandbox::start(self.spec.clone(), key.clone(), Some(self.stop.clone())).await;
        let mut sandbox = started.map_err(|e| {
            lock(&self.free_keys).push(key);
            TaskFailure::new(
                "Runtime.InvalidEntrypoint",
                format!("{}: {e}", self.spec.program.display()),
            )
        })?;
        self.started.fetch_add(1, Ordering::Relaxed);
        if let Some(w) = sandbox.watcher.take() {
            let mut ws = lock(&self.watchers);
            ws.retain(|w| !w.is_finished());
            ws.push(w);
        }
        Ok(sandbox)
    }
}

struct PoolHandler(Arc<Pool>);

impl Handler for PoolHandler {
    fn call(&self, input: Value, ctx: TaskContext) -> HandlerFuture {
        let pool = self.0.clone();
        Box::pin(async move { pool.invoke(input, ctx.now).await })
    }
}

/// The six functions running as binaries: owns their processes, which end when this is shut
/// down or dropped.
pub struct LocalLambda {
    pools: Vec<Arc<Pool>>,
    /// (access key id, binary) of every sandbox credential.
    access_keys: Vec<(String, String)>,
    stop: watch::Sender<bool>,
    watchers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda")
            .field("functions", &self.pools.len())
            .finish()
    }
}

impl LocalLambda {
    /// Checks that `dir` holds a binary for every function and returns handlers that run them
    /// (started on first use, up to `instances` processes per function) as template.yaml
    /// configures them in `model`, with SDK clients pointed at `endpoint` and virtual time passed
    /// through `keys`.
    pub fn start(
        dir: &Path,
        endpoint: &str,
        keys: KeyClock,
        model: &StackModel,
        instances: usize,
    ) -> Result<(LocalLambda, InProcess), BinariesError> {
        let missing: Vec<String> = FUNCTIONS
            .iter()
            .filter(|f| !dir.join(f.name).is_file())
            .map(|f| f.name.to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(BinariesError::Missing {
                dir: dir.to_owned(),
                missing,
            });
        }
        let (stop, stop_rx) = watch::channel(false);
        let watchers = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let mut fns = InProcess::default();
        let mut pools = Vec::new();
        let mut access_keys = Vec::new();
        for f in FUNCTIONS {
            let function = model
                .function_by_binary(f.name)
                .ok_or_else(|| BinariesError::NotInTemplate(f.name.to_owned()))?;
            let spec = function_spec(function, dir.join(f.name), endpoint);
            let free = sandbox_access_key_ids(f.name, instances);
            access_keys.extend(free.iter().map(|k| (k.clone(), f.name.to_owned())));
            let pool = Arc::new(Pool {
                spec: Arc::new(spec),
                keys: keys.clone(),
                free_keys: Mutex::new(free),
                idle: Mutex::new(Vec::new()),
                permits: tokio::sync::Semaphore::new(instances.max(1)),
                stop: stop_rx.clone(),
                watchers: watchers.clone(),
                closed: closed.clone(),
                started: AtomicU64::new(0),
            });
            fns.add(f.name, PoolHandler(pool.clone()));
            pools.push(pool);
        }
        Ok((
            LocalLambda {
                pools,
                access_keys,
                stop,
                watchers,
                closed,
            },
            fns,
        ))
    }

    /// Every access key id a sandbox may sign with, and the function (binary) it belongs to.
    pub fn access_key_ids(&self) -> &[(String, String)] {
        &self.access_keys
    }

    /// Processes started so far for `function` (restarts included).
    pub fn processes_started(&self, function: &str) -> u64 {
        self.pools
            .iter()
            .filter(|p| p.spec.program.file_name().is_some_and(|n| n == function))
            .map(|p| p.started.load(Ordering::Relaxed))
            .sum()
    }

    /// Kills every process and waits until they are gone.
    pub async fn shutdown(self) {
        self.close();
        let watchers: Vec<_> = lock(&self.watchers).drain(..).collect();
        for w in watchers {
            let _ = w.await;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
        for p in &self.pools {
            lock(&p.idle).clear();
            p.permits.close();
        }
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str) -> Arc<SandboxSpec> {
        Arc::new(SandboxSpec {
            function_name: "crash".into(),
            function_arn: format!("arn:aws:lambda:{LOCAL_REGION}:123456789012:function:crash"),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
            timeout: Duration::from_secs(5),
            memory_mb: 128,
        })
    }

    #[tokio::test]
    async fn a_runtime_that_exits_fails_the_invocation_as_lambda_does() {
        let mut sandbox = Sandbox::start(spec("echo boom >&2; exit 3"), "AKIDTEST".into(), None)
            .await
            .unwrap();
        assert!(
            sandbox.ready().await.is_err(),
            "it never polled for an event"
        );
        let err = sandbox
            .invoke(&json!({}), SystemTime::now())
            .await
            .unwrap_err();
        assert_eq!(err.error_type, "Runtime.ExitError");
        assert!(
            err.error_message
                .ends_with("Error: Runtime exited with error: exit status 3"),
            "{}",
            err.error_message
        );
        assert_eq!(sandbox.exited(), Some(Exit("exit status 3".into())));
    }

    #[tokio::test]
    async fn stopping_kills_the_process() {
        let sandbox = Sandbox::start(spec("sleep 30"), "AKIDTEST".into(), None)
            .await
            .unwrap();
        let pid = sandbox.pid().unwrap();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        sandbox.stop().await;
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

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

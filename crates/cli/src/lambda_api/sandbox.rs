//! Process supervision: one execution environment is a process and the Runtime API endpoint it
//! polls. The sandbox starts the process with Lambda's environment, keeps the tail of its output,
//! fails an invocation as Lambda does when the process exits or overruns its timeout, and kills it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use serde_json::Value;
use sfn_local::TaskFailure;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::server::{self, Api, Endpoint, Invocation};
use super::{Reply, lock};
use crate::local_aws::LOCAL_REGION;

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
        let Endpoint {
            api,
            addr,
            queue: queue_tx,
            server,
        } = server::serve(spec.function_arn.clone()).await?;

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

    /// Hands over the task that reaps the process, for an owner that waits for it at shutdown.
    pub(super) fn take_watcher(&mut self) -> Option<JoinHandle<()>> {
        self.watcher.take()
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

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
}

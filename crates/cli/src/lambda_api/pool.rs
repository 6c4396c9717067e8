//! The functions of the stack as built binaries: each is a pool of sandboxes (idle ones reused,
//! up to a number at once, each signing with an access key id of its own) behind the
//! [`Handler`] the engine calls.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cloud_local::KeyClock;
use serde_json::Value;
use sfn_local::{Handler, HandlerFuture, TaskContext, TaskFailure};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use fleetshift_template::{FunctionModel, StackModel};

use super::sandbox::{Sandbox, SandboxSpec};
use super::{Reply, lock};
use crate::functions::{FUNCTIONS, InProcess, access_key_id};

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
        if let Some(w) = sandbox.take_watcher() {
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

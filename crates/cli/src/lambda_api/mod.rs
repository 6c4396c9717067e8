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
//!
//! In three parts: `server` is the Runtime API endpoint a process polls, `sandbox` supervises one
//! process with its endpoint (environment, output, exit, timeout, kill), and `pool` runs each
//! function of the stack as a pool of sandboxes behind a handler.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;
use sfn_local::TaskFailure;

mod pool;
mod sandbox;
mod server;

pub use pool::{BinariesError, LocalLambda, function_spec, sandbox_access_key_ids};
pub use sandbox::{Exit, Sandbox, SandboxSpec};

/// The version prefix of every Runtime API path.
pub const API_PREFIX: &str = "/2018-06-01/runtime";
/// Sandboxes (processes) per function: Lambda scales out by starting more of them.
pub const DEFAULT_INSTANCES: usize = 4;

/// The outcome of one invocation: the function's response, or how it failed.
type Reply = Result<Value, TaskFailure>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

//! Virtual time for offline runs.
//!
//! Every branch of work (an execution, a Map iteration, a Parallel branch) carries its own virtual
//! "now" in a tokio task-local. Waiting advances that branch's time instantly; a child branch starts
//! at its parent's time and the parent resumes at the latest time of its children. Independent
//! branches never wait for each other, so there is no global coordinator to deadlock, and a run is
//! deterministic whatever the thread scheduling.
//!
//! Outside a [`scope`], [`now`] is the wall clock and [`sleep`] really sleeps: the same code runs in
//! real-time mode unchanged.
//!
//! Services emulated out of the task (cloud-local) learn the caller's time from the
//! [`VIRTUAL_TIME_HEADER`] request header, which the local HTTP client adds.
//!
//! A function run as its own process behind the local Lambda Runtime API learns the invoking
//! branch's time from the invocation's client context (`CLIENT_CONTEXT_KEY`), honoured only when
//! the process was started with `ENV_VAR = client-context` (see [`invocation`]). That hook exists
//! only with the `client-context` feature, which only the offline stack's builds turn on (the
//! `fleetshift` CLI crate enables it, and the workspace's `default-members`, which `sam build`
//! builds, leave that crate out): a deployed function has no code that lets an invocation set its
//! "now", whatever its environment or the caller's client context.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Request header carrying the caller's virtual time, in milliseconds since the Unix epoch.
pub const VIRTUAL_TIME_HEADER: &str = "x-fleetshift-virtual-time";

/// Key, in the `custom` map of a Lambda invocation's client context, of the invoking branch's
/// virtual time in milliseconds since the Unix epoch.
#[cfg(feature = "client-context")]
pub const CLIENT_CONTEXT_KEY: &str = "fleetshift-virtual-time";

/// Environment variable that makes [`invocation`] honour [`CLIENT_CONTEXT_KEY`]; its one accepted
/// value is `client-context`. The local Lambda Runtime API sets it; nothing on AWS does.
#[cfg(feature = "client-context")]
pub const ENV_VAR: &str = "FLEETSHIFT_VIRTUAL_TIME";

tokio::task_local! {
    static NOW: Cell<SystemTime>;
}

/// Runs `fut` as a branch whose virtual time starts at `start`; returns its output and the branch's
/// time when it finished.
pub async fn scope<F: Future>(start: SystemTime, fut: F) -> (F::Output, SystemTime) {
    NOW.scope(Cell::new(start), async move {
        let out = fut.await;
        (out, now())
    })
    .await
}

/// Runs one Lambda invocation's work. With the `client-context` feature (the offline stack's
/// builds only): on the virtual time its client context carries (`custom[CLIENT_CONTEXT_KEY]`,
/// milliseconds) when this process honours it (`ENV_VAR`), else as it is. Without the feature
/// (every build `sam build` makes): as it is, on the wall clock; the context is not read.
pub async fn invocation<F, S>(custom: Option<&HashMap<String, String, S>>, fut: F) -> F::Output
where
    F: Future,
    S: BuildHasher,
{
    #[cfg(feature = "client-context")]
    {
        let honoured = std::env::var(ENV_VAR).is_ok_and(|v| v == "client-context");
        if let Some(t) = invocation_time(custom, honoured) {
            return scope(t, fut).await.0;
        }
    }
    #[cfg(not(feature = "client-context"))]
    let _ = custom;
    fut.await
}

/// The virtual time an invocation's client context carries, when it is `honoured`; `None` for a
/// missing or malformed value (the wall clock is used then).
#[cfg(feature = "client-context")]
pub fn invocation_time<S: BuildHasher>(
    custom: Option<&HashMap<String, String, S>>,
    honoured: bool,
) -> Option<SystemTime> {
    custom
        .filter(|_| honoured)
        .and_then(|c| c.get(CLIENT_CONTEXT_KEY))
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(from_millis)
}

/// Whether the current task runs on virtual time.
pub fn is_virtual() -> bool {
    NOW.try_with(|_| ()).is_ok()
}

/// The current branch's time (the wall clock outside a [`scope`]).
pub fn now() -> SystemTime {
    NOW.try_with(Cell::get)
        .unwrap_or_else(|_| SystemTime::now())
}

/// Milliseconds since the Unix epoch of [`now`].
pub fn now_millis() -> u64 {
    to_millis(now())
}

/// Moves the current branch's time forward to `t` (never backwards). No effect outside a scope.
pub fn advance_to(t: SystemTime) {
    let _ = NOW.try_with(|c| {
        if t > c.get() {
            c.set(t);
        }
    });
}

/// Waits `d`: instantly on virtual time (the branch's time moves on), really on the wall clock.
pub async fn sleep(d: Duration) {
    if is_virtual() {
        advance_to(now() + d);
        // Let other tasks run, as a real wait would.
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(d).await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "client-context")]
    #[test]
    fn an_invocation_time_is_read_only_when_honoured() {
        let custom: HashMap<String, String> =
            [(CLIENT_CONTEXT_KEY.to_owned(), "1700000000000".to_owned())].into();
        assert_eq!(
            invocation_time(Some(&custom), true),
            Some(from_millis(1_700_000_000_000))
        );
        assert_eq!(invocation_time(Some(&custom), false), None, "not on AWS");
        assert_eq!(invocation_time::<std::hash::RandomState>(None, true), None);
        let bad: HashMap<String, String> =
            [(CLIENT_CONTEXT_KEY.to_owned(), "yesterday".to_owned())].into();
        assert_eq!(invocation_time(Some(&bad), true), None);
    }

    #[tokio::test]
    async fn an_invocation_without_the_variable_runs_on_the_wall_clock() {
        // The test process never sets FLEETSHIFT_VIRTUAL_TIME: the context is ignored (and without
        // the client-context feature it is never read at all).
        let custom: HashMap<String, String> =
            [("fleetshift-virtual-time".to_owned(), "1000".to_owned())].into();
        let (virtual_, at) = invocation(Some(&custom), async { (is_virtual(), now()) }).await;
        assert!(!virtual_);
        assert!(at > from_millis(1000));
    }

    #[tokio::test]
    async fn sleep_advances_only_the_branch() {
        let start = from_millis(1_000_000);
        let ((), end) = scope(start, async {
            sleep(Duration::from_secs(3600)).await;
            assert_eq!(now_millis(), 1_000_000 + 3_600_000);
        })
        .await;
        assert_eq!(to_millis(end), 1_000_000 + 3_600_000);
        assert!(!is_virtual());
    }

    #[tokio::test]
    async fn branches_are_independent() {
        let start = from_millis(0);
        let a = scope(start, async { sleep(Duration::from_secs(10)).await });
        let b = scope(start, async { sleep(Duration::from_secs(20)).await });
        let ((_, ta), (_, tb)) = tokio::join!(a, b);
        assert_eq!(to_millis(ta), 10_000);
        assert_eq!(to_millis(tb), 20_000);
    }

    #[tokio::test]
    async fn advance_never_goes_back() {
        let (_, end) = scope(from_millis(5_000), async { advance_to(from_millis(1_000)) }).await;
        assert_eq!(to_millis(end), 5_000);
    }
}

//! End-to-end runs with each function as its built binary behind the local Lambda Runtime API
//! (`fleetshift local run --binaries`): the real ASL on sfn-local, the real `lambda_runtime`
//! processes, cloud-local ageing resources on each branch's virtual clock.
//!
//! The binaries are the debug builds of the six function crates in this target directory; this
//! test builds nothing. Build them first with `scripts/build-bins` (scripts/test does). Every test
//! fails, naming the binary and the reason, when one is missing, older than a source file it is
//! built from, or built without the offline stack's clock hook.
//!
//! Every run checks the invariants of e2e.rs (tests/tests/invariants).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use cloud_local::{Outcome, Scenario};
use fleetshift::functions::FUNCTIONS;
use fleetshift::{LocalStack, StackOptions, WaveReport, fleet_for_plan};
use fleetshift_core::Plan;
use serde_json::{Value, json};

mod invariants;
use invariants::check_invariants;

/// target/debug (or the profile directory this test was built in): the test runs from its deps/.
/// Checked once per test process: every binary there and fresh (see [`stale`]).
fn binaries_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>")
            .to_owned();
        let missing: Vec<&str> = FUNCTIONS
            .iter()
            .map(|f| f.name)
            .filter(|n| !dir.join(n).is_file())
            .collect();
        assert!(
            missing.is_empty(),
            "{} has no binary for {missing:?}: run `scripts/build-bins` first",
            dir.display()
        );
        let stale: Vec<String> = FUNCTIONS.iter().filter_map(|f| stale(&dir, f.name)).collect();
        assert!(
            stale.is_empty(),
            "{} holds binaries that are not what `scripts/build-bins` builds from these sources:\n  {}\nrun `scripts/build-bins` first",
            dir.display(),
            stale.join("\n  ")
        );
        dir
    })
    .clone()
}

/// Why the binary `name` in `dir` is not what the sources build, if it is not.
///
/// Older than a source: cargo's dep-info beside the binary (`<name>.d`) lists every file of the
/// workspace it was built from (the function crate and its path dependencies), which are the
/// files cargo's own freshness check compares; a binary built on another commit is older than
/// the files a checkout changed. Cargo.lock and the manifests are left out: a change there that
/// leaves a function's dependencies as they are does not relink it, so comparing them would fail
/// forever after `scripts/build-bins`.
///
/// Without the clock hook: a plain `cargo build` builds the functions without crates/cli, so
/// without fleetshift-clock's `client-context` feature, into the same files; such a binary ignores
/// the virtual time its invocations carry. Checked for the functions whose main.rs runs each
/// invocation through `fleetshift_clock::invocation` (the others never read the time), by the
/// hook's variable name, as scripts/sam-build checks the converse.
fn stale(dir: &Path, name: &str) -> Option<String> {
    let binary = dir.join(name);
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .expect("the binary exists");
    let dep_info = dir.join(format!("{name}.d"));
    let Ok(text) = std::fs::read_to_string(&dep_info) else {
        return Some(format!(
            "{name}: no {} to tell which sources it is built from",
            dep_info.display()
        ));
    };
    let sources = dep_info_sources(&text);
    if sources.is_empty() {
        return Some(format!("{name}: {} names no sources", dep_info.display()));
    }
    for source in sources {
        match std::fs::metadata(&source).and_then(|m| m.modified()) {
            Ok(changed) if changed > built => {
                let by = changed.duration_since(built).unwrap_or_default();
                return Some(format!(
                    "{name}: {source} changed {}s after the binary was built",
                    by.as_secs()
                ));
            }
            Ok(_) => {}
            Err(_) => return Some(format!("{name}: built from {source}, which is gone")),
        }
    }
    let main_rs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../functions/{name}/src/main.rs"));
    let reads_the_clock = std::fs::read_to_string(&main_rs)
        .expect("the function's main.rs")
        .contains("fleetshift_clock::invocation");
    let hook = b"FLEETSHIFT_VIRTUAL_TIME";
    let bytes = || std::fs::read(&binary).expect("the binary is readable");
    if reads_the_clock && !bytes().windows(hook.len()).any(|w| w == hook) {
        return Some(format!(
            "{name}: built without the offline stack's clock hook (fleetshift-clock feature \
             client-context), e.g. by a plain `cargo build`"
        ));
    }
    None
}

/// The prerequisites of the one rule of a dep-info file (`target: a.rs b\ c.rs`), spaces in a
/// path escaped with a backslash as make has them.
fn dep_info_sources(text: &str) -> Vec<String> {
    let rule = text.lines().next().unwrap_or_default();
    let Some((_, prerequisites)) = rule.split_once(": ") else {
        return Vec::new();
    };
    let mut sources = Vec::new();
    let mut current = String::new();
    let mut chars = prerequisites.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    sources.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(current);
    }
    sources
}

#[test]
fn dep_info_prerequisites_are_split_on_unescaped_spaces() {
    let text =
        "/t/debug/f: /w/crates/core/src/lib.rs /w/my\\ dir/main.rs\n\n/w/crates/core/src/lib.rs:\n";
    assert_eq!(
        dep_info_sources(text),
        ["/w/crates/core/src/lib.rs", "/w/my dir/main.rs"]
    );
}

fn ws_id(i: usize) -> String {
    format!("ws-bin{i:05}")
}

fn plan(n: usize) -> Value {
    json!({
        "waveId": "binaries-wave",
        "bundleId": "wsb-target0001",
        "standby": {"region": "us-west-2", "directoryId": "d-2000000002", "dataReplication": "PRIMARY_AS_SOURCE"},
        "workspaces": (0..n).map(|i| json!({"workspaceId": ws_id(i)})).collect::<Vec<_>>(),
    })
}

async fn stack_in(dir: PathBuf, plan: &Value, scenario: Value) -> LocalStack {
    let parsed = Plan::parse(plan).expect("test plans are valid");
    let scenario: Scenario = serde_json::from_value(scenario).expect("scenario");
    LocalStack::start(StackOptions {
        fleet: fleet_for_plan(&parsed),
        // The stack deployed as this plan needs it (Lex, a standby key): register refuses what
        // the stack's roles may not do.
        parameters: fleetshift::parameters_for_plan(&parsed),
        scenario,
        binaries: Some(dir),
        ..StackOptions::default()
    })
    .await
    .expect("stack starts")
}

async fn run(plan: &Value, scenario: Value) -> (LocalStack, WaveReport) {
    let stack = stack_in(binaries_dir(), plan, scenario).await;
    // As an operator starts a wave: Wave Requested on the stack's bus, delivered to start-wave.
    let report = stack.request_wave(plan).await.expect("the wave starts");
    check_invariants(&stack, plan, &report);
    (stack, report)
}

fn migrate_calls(stack: &LocalStack, id: &str) -> Vec<Outcome> {
    stack
        .cloud
        .calls()
        .into_iter()
        .filter(|c| c.operation == "MigrateWorkspace" && c.target.as_deref() == Some(id))
        .map(|c| c.outcome)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_wave_runs_green_through_the_binaries_on_virtual_time() {
    let p = plan(3);
    let (stack, report) = run(&p, json!({})).await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed(), "{}", report.render());
    assert_eq!(report.workspaces.len(), 3);
    for w in &report.workspaces {
        assert_eq!(w.status, "COMPLETED", "{w:?}");
        assert_eq!(migrate_calls(&stack, &w.source_workspace_id).len(), 1);
    }
    assert_eq!(stack.cloud.standbys().len(), 3);

    // The processes served it, not in-process handlers.
    let lambdas = stack.lambdas.as_ref().expect("binaries mode");
    for f in ["start-migration", "check-migration", "create-standby"] {
        assert!(lambdas.processes_started(f) >= 1, "{f} never started");
    }
    // cloud-local saw the binaries' calls on the branches' virtual clock: the new WorkSpaces were
    // checked after the state machine's wait, virtual minutes after the migrations started and
    // well past the wall clock, although the run took about a second.
    let at = |op: &str| -> Vec<SystemTime> {
        stack
            .cloud
            .calls()
            .into_iter()
            .filter(|c| c.operation == op)
            .map(|c| c.at)
            .collect()
    };
    let migrated = *at("MigrateWorkspace").iter().max().expect("migrated");
    let checked = *at("DescribeWorkspaces").iter().min().expect("checked");
    assert!(
        checked >= migrated + Duration::from_secs(10 * 60),
        "checked {:?} after the last migration",
        checked.duration_since(migrated)
    );
    assert!(checked > SystemTime::now() + Duration::from_secs(10 * 60));
    assert!(report.virtual_seconds >= 10 * 60, "{}", report.render());
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_in_progress_from_a_binary_is_retried_and_migrates_once() {
    let p = plan(2);
    let target = ws_id(1);
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "MigrateWorkspace", "id": target,
                          "fail": {"error": "OperationInProgressException", "times": 2}}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    // The binary's error type reached the state machine's retrier: two refusals, then one migration.
    let calls = migrate_calls(&stack, &target);
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|o| matches!(o, Outcome::Error { code, .. } if code == "OperationInProgressException"))
            .count(),
        2
    );
    assert_eq!(stack.cloud.migrations().len(), 2);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_failure_in_a_binary_is_failed_at_the_virtual_deadline() {
    // The binaries read the invoking branch's virtual time from the invocation's client context,
    // so check-migration's deadline fires on virtual time as it does in process: a migration that
    // never finishes is FAILED about 90 virtual minutes in, in a run of a second or two.
    let p = plan(2);
    let stuck = ws_id(1);
    let (stack, report) = run(&p, json!({"neverFinishMigrations": [stuck]})).await;
    assert_eq!(report.status, "FAILED", "{}", report.render());
    let row = report
        .workspaces
        .iter()
        .find(|w| w.source_workspace_id == stuck)
        .expect("the stuck WorkSpace is reported");
    assert_eq!(row.status, "FAILED", "{row:?}");
    let cause = row.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains("not AVAILABLE 90 minutes after the migration started"),
        "{cause}"
    );
    let other = report
        .workspaces
        .iter()
        .find(|w| w.source_workspace_id == ws_id(0))
        .unwrap();
    assert_eq!(other.status, "COMPLETED", "{other:?}");
    assert!(report.virtual_seconds >= 90 * 60, "{}", report.render());
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_events_through_the_start_wave_binary_start_one_execution() {
    let p = plan(1);
    let stack = stack_in(binaries_dir(), &p, json!({})).await;
    let first = stack.deliver_wave_event(&p).await.expect("first delivery");
    let second = stack.deliver_wave_event(&p).await.expect("second delivery");
    assert_eq!(first["executionArn"], second["executionArn"]);
    let done = stack
        .engine
        .wait(first["executionArn"].as_str().expect("an ARN"))
        .await
        .expect("execution exists");
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    assert_eq!(stack.engine.list(&stack.state_machine_arn).len(), 1);
    let report = stack.report(&p, &done, Duration::ZERO);
    check_invariants(&stack, &p, &report);
    assert!(report.all_completed(), "{}", report.render());
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_binary_is_a_runtime_exit_error_and_is_restarted() {
    // The real binaries, except start-wave, which dies at init.
    let real = binaries_dir();
    let dir = std::env::temp_dir().join(format!("fleetshift-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in FUNCTIONS {
        let link = dir.join(f.name);
        let _ = std::fs::remove_file(&link);
        if f.name == "start-wave" {
            std::fs::write(&link, "#!/bin/sh\necho 'init failed' >&2\nexit 7\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::os::unix::fs::symlink(real.join(f.name), &link).unwrap();
        }
    }
    let p = plan(1);
    let stack = stack_in(dir.clone(), &p, json!({})).await;
    for attempt in 1..=2 {
        let err = stack.deliver_wave_event(&p).await.unwrap_err();
        assert_eq!(err.error_type, "Runtime.ExitError", "{err:?}");
        assert!(
            err.error_message
                .ends_with("Runtime exited with error: exit status 7"),
            "{err:?}"
        );
        let lambdas = stack.lambdas.as_ref().unwrap();
        assert_eq!(lambdas.processes_started("start-wave"), attempt);
    }
    assert!(stack.engine.list(&stack.state_machine_arn).is_empty());
    // A wave started from the console does not need start-wave: it runs green on the other
    // binaries.
    let report = stack.run_wave(&p).await.expect("execution starts");
    check_invariants(&stack, &p, &report);
    assert!(report.all_completed(), "{}", report.render());
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! Cold start benchmark: each function's release binary against a local Lambda
//! Runtime API and cloud-local, side by side with a boto3 handler that creates the same clients.
//!
//! ```text
//! cargo run --release -p fleetshift --example cold_start      # BENCH_RUNS=N (default 7)
//! ```
//!
//! For every run and function, a fresh process of each kind: the Rust binary
//! (target/release/<function>, built first with `cargo build --release`) and
//! `.venv/bin/python bench/python/bootstrap.py` (bench/python/handler.py, boto3). Measured:
//! - init: from spawning the process to its first `GET /2018-06-01/runtime/invocation/next`;
//! - first invocation: from handing out the event to the runtime's response (one representative
//!   input per function, against cloud-local over loopback);
//! - peak RSS: `VmHWM` of /proc/PID/status after that invocation.
//!
//! Medians over the runs; the Rust/boto3 ratio is taken per function from the medians of the same
//! run. Writes `target/bench/cold-start.json` (merged by scripts/bench) and prints a table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use fleetshift::functions::FUNCTIONS;
use fleetshift::lambda_api::{Sandbox, SandboxSpec, function_spec};
use fleetshift::{LocalStack, StackOptions, fleet_for_plan};
use fleetshift_core::Plan;
use serde_json::{Value, json};

const GOAL_INIT_MS: f64 = 20.0;
const GOAL_RSS_MB: f64 = 30.0;
const GOAL_INIT_RATIO: f64 = 10.0;

fn plan() -> Value {
    json!({
        "waveId": "cold-start",
        "bundleId": "wsb-target0001",
        "image": {"imageId": "wsi-cold00001"},
        "standby": {"region": "us-west-2", "directoryId": "d-2000000002", "dataReplication": "PRIMARY_AS_SOURCE"},
        "workspaces": (1..=3).map(|i| json!({"workspaceId": format!("ws-cold{i:05}")})).collect::<Vec<_>>(),
    })
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One representative first event per function, naming what the fleet holds.
fn event(function: &str, plan: &Value) -> Value {
    let now = rfc3339(SystemTime::now());
    match function {
        "start-migration" => {
            json!({"kind": "workspace", "workspaceId": "ws-cold00001", "bundleId": "wsb-target0001"})
        }
        "check-migration" => json!({"kind": "workspace", "sourceWorkspaceId": "ws-cold00002",
            "targetWorkspaceId": "ws-cold00002", "startedAt": now, "deadlineMinutes": 60}),
        "create-standby" => json!({"primaryRegion": "us-east-1",
            "standby": plan["standby"], "workspaceIds": ["ws-cold00003"]}),
        "poll-image-import" => {
            json!({"imageId": "wsi-cold00001", "waitingSince": now, "deadlineMinutes": 240})
        }
        "push-hub-update" => json!({"action": "update", "waveId": "cold-start",
            "hub": {"enabled": false, "progressUpdateStream": "fleetshift", "nextUpdateSeconds": 16500},
            "task": {"kind": "workspace", "id": "ws-cold00001"}, "status": "IN_PROGRESS",
            "statusDetail": "MigrateWorkspace started", "progressPercent": 10}),
        "start-wave" => json!({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": fleetshift_core::events::WAVE_REQUESTED,
            "source": fleetshift_core::events::SOURCE, "account": "123456789012",
            "time": now, "region": "us-east-1", "resources": [], "detail": plan}),
        other => panic!("no event for {other}"),
    }
}

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    invoke_ms: Vec<f64>,
    rss_mb: Vec<f64>,
    errors: Vec<String>,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn round(v: Option<f64>, digits: i32) -> Value {
    let p = 10f64.powi(digits);
    v.map_or(Value::Null, |v| json!((v * p).round() / p))
}

/// One cold start: spawn, wait for the first poll, one invocation, peak RSS, stop.
async fn measure(spec: SandboxSpec, event: &Value, key: String, into: &mut Samples) {
    let mut sandbox = match Sandbox::start(Arc::new(spec), key, None).await {
        Ok(s) => s,
        Err(e) => {
            into.errors.push(format!("spawn: {e}"));
            return;
        }
    };
    match sandbox.ready().await {
        Ok(d) => into.init_ms.push(d.as_secs_f64() * 1000.0),
        Err(e) => {
            into.errors
                .push(format!("init: {}: {}", e.error_type, e.error_message));
            eprintln!("{}", sandbox.output_tail().join("\n"));
            return;
        }
    }
    let t = Instant::now();
    let reply = sandbox.invoke(event, SystemTime::now()).await;
    into.invoke_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    if let Err(e) = reply {
        into.errors
            .push(format!("{}: {}", e.error_type, e.error_message));
    }
    if let Some(kib) = sandbox.peak_rss_kib() {
        into.rss_mb.push(kib as f64 * 1024.0 / 1e6);
    }
    sandbox.stop().await;
}

fn cargo_build_release(root: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(["build", "--release", "-q"]);
    for f in FUNCTIONS {
        cmd.args(["-p", f.name]);
    }
    let status = cmd.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build --release of the functions failed"
    );
}

#[tokio::main]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("workspace root");
    // target/release/examples/cold_start -> target/release
    let exe = std::env::current_exe().expect("own path");
    let release = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/release/examples")
        .to_owned();
    let target = release.parent().expect("target").to_owned();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);

    eprintln!("cold start: building the release binaries of the functions");
    cargo_build_release(&root);
    let python = root.join(".venv/bin/python");
    let bootstrap = root.join("bench/python/bootstrap.py");
    let have_python = python.is_file()
        && Command::new(&python)
            .args(["-c", "import boto3"])
            .status()
            .is_ok_and(|s| s.success());
    if !have_python {
        eprintln!("cold start: .venv has no boto3 (run scripts/install-tools); boto3 side skipped");
    }

    let plan = plan();
    let parsed = Plan::parse(&plan).expect("the benchmark plan is valid");
    let mut rust: Vec<Samples> = FUNCTIONS.iter().map(|_| Samples::default()).collect();
    let mut py: Vec<Samples> = FUNCTIONS.iter().map(|_| Samples::default()).collect();
    for run in 0..runs {
        eprintln!("cold start: run {}/{runs}", run + 1);
        for (i, f) in FUNCTIONS.iter().enumerate() {
            // A fresh account per measurement, so every first invocation takes the same path.
            for lang in ["rust", "python"] {
                if lang == "python" && !have_python {
                    continue;
                }
                let stack = LocalStack::start(StackOptions {
                    fleet: fleet_for_plan(&parsed),
                    ..StackOptions::default()
                })
                .await
                .expect("stack starts");
                let function = stack
                    .model
                    .function_by_binary(f.name)
                    .expect("template.yaml builds every function")
                    .clone();
                let endpoint = stack.cloud.endpoint_url();
                let ev = event(f.name, &plan);
                let key = format!("AKIDCOLD{run:03}{i}{}", &lang[..2].to_uppercase());
                if lang == "rust" {
                    let spec = function_spec(&function, release.join(f.name), &endpoint);
                    measure(spec, &ev, key, &mut rust[i]).await;
                } else {
                    let mut spec = function_spec(&function, python.clone(), &endpoint);
                    spec.args = vec![bootstrap.display().to_string()];
                    measure(spec, &ev, key, &mut py[i]).await;
                }
                stack.shutdown().await;
            }
        }
    }

    let mut rows = Vec::new();
    let mut table = vec![format!(
        "{:<18} {:>9} {:>11} {:>8} | {:>9} {:>11} {:>8} | {:>7}",
        "function", "init ms", "invoke ms", "RSS MB", "py init", "py invoke", "py RSS", "ratio"
    )];
    let (mut worst_init, mut worst_rss, mut worst_ratio) = (0f64, 0f64, f64::INFINITY);
    let mut all_ok = true;
    for (i, f) in FUNCTIONS.iter().enumerate() {
        let (r, p) = (&rust[i], &py[i]);
        let (ri, rv, rr) = (median(&r.init_ms), median(&r.invoke_ms), median(&r.rss_mb));
        let (pi, pv, pr) = (median(&p.init_ms), median(&p.invoke_ms), median(&p.rss_mb));
        let ratio = ri.zip(pi).map(|(r, p)| p / r);
        worst_init = worst_init.max(ri.unwrap_or(f64::INFINITY));
        worst_rss = worst_rss.max(rr.unwrap_or(f64::INFINITY));
        worst_ratio = worst_ratio.min(ratio.unwrap_or(0.0));
        all_ok &= r.errors.is_empty() && r.init_ms.len() == runs;
        for e in r.errors.iter().chain(&p.errors) {
            eprintln!("cold start: {}: {e}", f.name);
        }
        let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
        table.push(format!(
            "{:<18} {:>9} {:>11} {:>8} | {:>9} {:>11} {:>8} | {:>7}",
            f.name,
            cell(ri),
            cell(rv),
            cell(rr),
            cell(pi),
            cell(pv),
            cell(pr),
            ratio.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}x")),
        ));
        rows.push(json!({
            "function": f.name,
            "init_ms": round(ri, 2),
            "first_invoke_ms": round(rv, 2),
            "peak_rss_mb": round(rr, 1),
            "boto3_init_ms": round(pi, 1),
            "boto3_first_invoke_ms": round(pv, 1),
            "boto3_peak_rss_mb": round(pr, 1),
            "init_speedup": round(ratio, 1),
            "rust_errors": r.errors.len(),
            "boto3_errors": p.errors.len(),
        }));
    }
    let have_ratio = have_python && worst_ratio.is_finite() && worst_ratio > 0.0;
    let doc = json!({
        "what": "spawn -> first GET /runtime/invocation/next (init), first invocation against cloud-local, VmHWM after it; release binaries vs bench/python (boto3) under a stdlib Runtime API loop",
        "runs": runs,
        "statistic": "median per function; summary figures are the worst function",
        "rss_unit": "MB = 10^6 bytes",
        "goal_init_ms": GOAL_INIT_MS,
        "goal_peak_rss_mb": GOAL_RSS_MB,
        "goal_init_speedup": GOAL_INIT_RATIO,
        "worst_init_ms": round(Some(worst_init), 2),
        "worst_peak_rss_mb": round(Some(worst_rss), 1),
        "worst_init_speedup": if have_ratio { round(Some(worst_ratio), 1) } else { Value::Null },
        "init_goal_met": worst_init <= GOAL_INIT_MS,
        "rss_goal_met": worst_rss <= GOAL_RSS_MB,
        "speedup_goal_met": if have_ratio { json!(worst_ratio >= GOAL_INIT_RATIO) } else { Value::Null },
        "rust_invocations_succeeded": all_ok,
        "functions": rows,
    });
    let out = target.join("bench/cold-start.json");
    std::fs::create_dir_all(out.parent().expect("target/bench")).expect("creating target/bench");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&doc).expect("JSON") + "\n",
    )
    .expect("writing the results");
    eprintln!("{}", table.join("\n"));
    eprintln!("cold start: wrote {}", out.display());
}

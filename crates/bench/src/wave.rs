//! Wave throughput: generated fleets of 100, 1,000 and 10,000 WorkSpaces migrated by the real
//! state machine on the virtual clock, with the six handlers in-process against cloud-local (what
//! `fleetshift local run --generate N` does).
//!
//! Each (size, run) is a fresh child process, so its peak RSS is its own. A fleet larger than a
//! wave may be (`MAX_WORKSPACES_PER_WAVE`, which `Plan::parse` enforces so that the plan and the
//! item results fit Step Functions' 256 KiB limits) is split into waves of at most that size, run
//! back to back on one stack, as an operator would split it; 25 at a time stays AWS's advice.
//!
//! `cargo run --release -p fleetshift-bench -- wave [--sizes 100,1000,10000] [--runs 3]`
//! writes `target/bench/wave-throughput.json`.

use std::process::Command;
use std::time::Instant;

use cloud_local::Fleet;
use fleetshift::{LocalStack, StackOptions};
use fleetshift_bench::{median, peak_rss_kib, runs, write_result};
use fleetshift_core::Plan;
use fleetshift_core::plan::MAX_WORKSPACES_PER_WAVE;
use serde_json::{Value, json};

/// WorkSpaces per wave: the most a plan may hold (its item results must fit the 256 KiB state
/// limit).
const DEFAULT_WAVE_SIZE: usize = MAX_WORKSPACES_PER_WAVE;

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    wave_size: usize,
    one: Option<usize>,
}

fn parse(args: &[String]) -> Args {
    let mut a = Args {
        sizes: vec![100, 1_000, 10_000],
        runs: runs(3),
        wave_size: DEFAULT_WAVE_SIZE,
        one: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--sizes" => {
                a.sizes = value
                    .split(',')
                    .map(|s| s.trim().parse().expect("--sizes: numbers"))
                    .collect();
            }
            "--runs" => a.runs = value.parse().expect("--runs: a number"),
            "--wave-size" => a.wave_size = value.parse().expect("--wave-size: a number"),
            "--one" => a.one = Some(value.parse().expect("--one: a number")),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The plans migrating `n` generated WorkSpaces in waves of at most `wave_size`.
fn plans(n: usize, wave_size: usize) -> Vec<Value> {
    let ids: Vec<String> = Fleet::generate(n)
        .workspaces
        .into_iter()
        .map(|w| w.workspace_id)
        .collect();
    ids.chunks(wave_size.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let plan = json!({
                "waveId": format!("bench-{n}-{i:03}"),
                "bundleId": "wsb-target0001",
                "workspaces": chunk.iter().map(|id| json!({"workspaceId": id})).collect::<Vec<_>>(),
            });
            if let Err(v) = Plan::parse(&plan) {
                panic!("wave {i} of {n} is not a valid plan: {v:?}");
            }
            plan
        })
        .collect()
}

/// One measured run in this process; prints one JSON line.
fn one(n: usize, wave_size: usize) {
    let plans = plans(n, wave_size);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let started = Instant::now();
    let (completed, virtual_seconds, statuses) = rt.block_on(async {
        let stack = LocalStack::start(StackOptions {
            fleet: Fleet::generate(n),
            ..StackOptions::default()
        })
        .await
        .expect("stack starts");
        let mut completed = 0usize;
        let mut virtual_seconds = 0u64;
        let mut statuses = Vec::new();
        for plan in &plans {
            let report = stack.run_wave(plan).await.expect("wave runs");
            completed += report
                .workspaces
                .iter()
                .filter(|w| w.status == "COMPLETED")
                .count();
            virtual_seconds += report.virtual_seconds;
            statuses.push(report.status);
        }
        stack.shutdown().await;
        (completed, virtual_seconds, statuses)
    });
    let wall = started.elapsed().as_secs_f64();
    let line = json!({
        "workspaces": n,
        "waves": plans.len(),
        "completed": completed,
        "statuses": statuses,
        "wall_seconds": wall,
        "virtual_seconds": virtual_seconds,
        "peak_rss_kib": peak_rss_kib(),
    });
    println!("{line}");
}

pub(crate) fn main(args: &[String]) {
    let a = parse(args);
    if let Some(n) = a.one {
        one(n, a.wave_size);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let mut sizes = Vec::new();
    for &n in &a.sizes {
        let mut samples = Vec::new();
        for run in 0..a.runs {
            let out = Command::new(&exe)
                .args([
                    "wave",
                    "--one",
                    &n.to_string(),
                    "--wave-size",
                    &a.wave_size.to_string(),
                ])
                .output()
                .expect("child runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(v) = text
                .lines()
                .last()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
            else {
                panic!(
                    "{n} WorkSpaces, run {run}: no result ({})\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            eprintln!(
                "{n:>6} WorkSpaces, run {run}: {:.2} s wall, {} MiB peak, {} completed",
                v["wall_seconds"].as_f64().unwrap_or(0.0),
                v["peak_rss_kib"].as_u64().unwrap_or(0) / 1024,
                v["completed"]
            );
            samples.push(v);
        }
        let walls: Vec<f64> = samples
            .iter()
            .filter_map(|s| s["wall_seconds"].as_f64())
            .collect();
        let rss: Vec<f64> = samples
            .iter()
            .filter_map(|s| s["peak_rss_kib"].as_f64())
            .collect();
        let wall = median(&walls);
        sizes.push(json!({
            "workspaces": n,
            "waves": samples[0]["waves"],
            "completed": samples[0]["completed"],
            "runs": samples.len(),
            "wall_seconds_median": wall,
            "wall_seconds_runs": walls,
            "ms_per_workspace": wall * 1000.0 / n as f64,
            "peak_rss_mib_median": median(&rss) / 1024.0,
            "virtual_hours": samples[0]["virtual_seconds"].as_f64().unwrap_or(0.0) / 3600.0,
        }));
    }
    // Linear cost means a constant time per WorkSpace: the ratio of each size's per-WorkSpace
    // time to the smallest size's.
    let base = sizes
        .first()
        .and_then(|s| s["ms_per_workspace"].as_f64())
        .unwrap_or(0.0);
    for s in &mut sizes {
        let per = s["ms_per_workspace"].as_f64().unwrap_or(0.0);
        s["per_workspace_vs_smallest"] = json!(if base > 0.0 { per / base } else { 0.0 });
    }
    let result = json!({
        "what": "fleetshift local run of generated fleets on the virtual clock, in-process handlers, release build",
        "wave_size": a.wave_size,
        "split": format!("fleets larger than {} WorkSpaces (the most a plan may hold, so that it and its item results fit Step Functions' 256 KiB limits) run as waves of {} back to back on one stack, each with the default maxConcurrency of 25", a.wave_size, a.wave_size),
        "goal": "10,000 WorkSpaces in under 30 s",
        "sizes": sizes,
    });
    write_result("wave-throughput", &result).expect("result written");
}

//! Wave throughput: `fleetshift local run --generate N` (the release binary, as an operator runs
//! it) for generated fleets of 100, 1,000 and 10,000 WorkSpaces: the real state machine on the
//! virtual clock, the six handlers in-process against cloud-local. A fleet larger than a plan may
//! hold (`MAX_WORKSPACES_PER_WAVE`, so that the plan and its item results fit Step Functions'
//! 256 KiB limits) runs as ceil(N / 400) waves started together on one stack.
//!
//! Each (size, run) is a fresh process, timed from spawn to exit; its peak RSS is the kernel's
//! maximum resident set of that process (GNU time's `%M`, from wait4).
//!
//! `cargo run --release -p fleetshift-bench -- wave [--sizes 100,1000,10000] [--runs 3]
//! [--fleetshift target/release/fleetshift]` writes `target/bench/wave-throughput.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fleetshift_bench::{median, out_dir, runs, write_result};
use fleetshift_core::plan::MAX_WORKSPACES_PER_WAVE;
use serde_json::{Value, json};

/// Where GNU time is: it reports the peak RSS of the process it runs.
const GNU_TIME: &str = "/usr/bin/time";

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    fleetshift: PathBuf,
}

fn parse(args: &[String]) -> Args {
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut a = Args {
        sizes: vec![100, 1_000, 10_000],
        runs: runs(3),
        // The release build next to this one.
        fleetshift: own_dir.join("fleetshift"),
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
            "--fleetshift" => a.fleetshift = PathBuf::from(value),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// One run of `fleetshift local run --generate n`: wall seconds, peak RSS KiB, and what its JSON
/// report says.
fn one(fleetshift: &Path, n: usize, run: usize) -> Value {
    let dir = out_dir();
    std::fs::create_dir_all(&dir).expect("target/bench");
    let report_path = dir.join(format!("wave-{n}-{run}.report.json"));
    let rss_path = dir.join(format!("wave-{n}-{run}.rss"));
    let started = Instant::now();
    let out = Command::new(GNU_TIME)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_path)
        .arg(fleetshift)
        .args(["local", "run", "--generate", &n.to_string(), "--json"])
        .arg(&report_path)
        .output()
        .unwrap_or_else(|e| panic!("{GNU_TIME} {}: {e}", fleetshift.display()));
    let wall = started.elapsed().as_secs_f64();
    let report: Value = std::fs::read_to_string(&report_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            panic!(
                "{n} WorkSpaces, run {run}: no report ({})\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // GNU time writes "Command exited with non-zero status N" first when it does.
    let peak_rss_kib: Option<u64> = std::fs::read_to_string(&rss_path)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    let _ = std::fs::remove_file(&report_path);
    let _ = std::fs::remove_file(&rss_path);
    let waves = report["waves"].as_array().cloned().unwrap_or_default();
    json!({
        "exit_status": out.status.code(),
        "workspaces": report["workspaces"],
        "completed": report["completed"],
        "waves": waves.len(),
        "statuses": waves.iter().map(|w| w["status"].clone()).collect::<Vec<_>>(),
        "wall_seconds": wall,
        "reported_wall_ms": report["wallMillis"],
        "virtual_seconds": report["virtualSeconds"],
        "peak_rss_kib": peak_rss_kib,
    })
}

pub(crate) fn main(args: &[String]) {
    let a = parse(args);
    assert!(
        a.fleetshift.exists(),
        "{} is not built: cargo build --release -p fleetshift",
        a.fleetshift.display()
    );
    assert!(
        Path::new(GNU_TIME).exists(),
        "{GNU_TIME} (GNU time) is needed for the peak RSS of each run"
    );
    let mut sizes = Vec::new();
    for &n in &a.sizes {
        let mut samples = Vec::new();
        for run in 0..a.runs {
            let v = one(&a.fleetshift, n, run);
            eprintln!(
                "{n:>6} WorkSpaces, run {run}: {:.2} s wall, {} MiB peak, {} completed, exit {}",
                v["wall_seconds"].as_f64().unwrap_or(0.0),
                v["peak_rss_kib"].as_u64().unwrap_or(0) / 1024,
                v["completed"],
                v["exit_status"]
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
        let completed_min = samples
            .iter()
            .filter_map(|s| s["completed"].as_u64())
            .min()
            .unwrap_or(0);
        sizes.push(json!({
            "workspaces": n,
            "waves": samples[0]["waves"],
            "completed": completed_min,
            "all_runs_exit_0": samples.iter().all(|s| s["exit_status"] == 0),
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
    let w = MAX_WORKSPACES_PER_WAVE;
    let result = json!({
        "what": "`fleetshift local run --generate N` (release binary, in-process handlers, virtual clock), timed from spawn to exit",
        "command": "target/release/fleetshift local run --generate N --json FILE",
        "wave_size": w,
        "split": format!("N WorkSpaces run as ceil(N / {w}) waves (sizes differing by at most one), started together on one stack, each with the default maxConcurrency of 25; {w} is the most a plan may hold, so that it and its item results fit Step Functions' 256 KiB limits"),
        "peak_rss": "maximum resident set of the fleetshift process (GNU time %M)",
        "goal": "10,000 WorkSpaces in under 30 s",
        "sizes": sizes,
    });
    write_result("wave-throughput", &result).expect("result written");
}

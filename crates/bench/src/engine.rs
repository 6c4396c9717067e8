//! Engine speed: the definition in bench/engine/map-5-tasks.asl.json (a 1,000-item inline Map of
//! five trivial Lambda Tasks, the same as sfn-local's bench example) on sfn-local, several runs.
//! scripts/bench runs the same file on aws-local-stepfunctions right after, for the ratio.
//!
//! `cargo run --release -p fleetshift-bench -- engine` writes `target/bench/engine-sfn-local.json`.

use std::sync::Arc;
use std::time::Instant;

use fleetshift_bench::{median, peak_rss_kib, runs, write_result};
use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionStatus, TaskFailure};

const ITEMS: usize = 1_000;
const ASL: &str = include_str!("../../../bench/engine/map-5-tasks.asl.json");

pub(crate) fn main(_args: &[String]) {
    let definition = Arc::new(Definition::parse(ASL).expect("valid definition"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = Engine::builder()
        .handler("step", |v: Value| async move { Ok::<_, TaskFailure>(v) })
        .build();
    let sm = engine.state_machine_arn("bench");
    let input = json!({"items": (0..ITEMS).map(|id| json!({"id": id})).collect::<Vec<_>>()});
    let mut seconds = Vec::new();
    let mut transitions = 0;
    for run in 0..runs(7) {
        let started = Instant::now();
        let done = rt
            .block_on(engine.run(
                definition.clone(),
                &sm,
                Some(&format!("run-{run}")),
                input.clone(),
            ))
            .expect("started");
        seconds.push(started.elapsed().as_secs_f64());
        assert_eq!(done.status, ExecutionStatus::Succeeded, "run {run}");
        transitions = engine
            .history(&done.execution_arn)
            .expect("history")
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .count();
    }
    let med = median(&seconds);
    eprintln!(
        "sfn-local: {transitions} transitions in {:.1} ms (median of {})",
        med * 1000.0,
        seconds.len()
    );
    let result = json!({
        "engine": "sfn-local",
        "items": ITEMS,
        "transitions": transitions,
        "seconds": seconds,
        "seconds_median": med,
        "transitions_per_second": transitions as f64 / med,
        "peak_rss_kib": peak_rss_kib(),
    });
    write_result("engine-sfn-local", &result).expect("result written");
}

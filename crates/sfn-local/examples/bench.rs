//! Throughput benchmark: a 1,000-item inline Map whose iterations run five trivial Lambda Tasks.
//!
//! Run with `cargo run --release -p sfn-local --example bench`. Prints state transitions per
//! second and peak RSS, and writes them to `target/sfn-local-bench.json`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionStatus, TaskFailure};

const ITEMS: usize = 1_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let task = |name: &str, next: Option<&str>| {
        let mut s = json!({"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")});
        match next {
            Some(n) => s["Next"] = json!(n),
            None => s["End"] = json!(true),
        }
        s
    };
    let definition = json!({
        "StartAt": "Fleet",
        "States": {"Fleet": {"Type": "Map", "ItemsPath": "$.items", "End": true, "ItemProcessor": {
            "StartAt": "T1",
            "States": {
                "T1": task("step", Some("T2")),
                "T2": task("step", Some("T3")),
                "T3": task("step", Some("T4")),
                "T4": task("step", Some("T5")),
                "T5": task("step", None)
            }
        }}}
    });
    let definition = Arc::new(Definition::from_value(definition).expect("valid definition"));
    let items: Vec<Value> = (0..ITEMS).map(|i| json!({"id": i})).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = Engine::builder()
        .handler("step", |v: Value| async move { Ok::<_, TaskFailure>(v) })
        .build();
    let sm = engine.state_machine_arn("bench");
    let mut best = f64::MAX;
    let mut transitions = 0usize;
    for round in 0..3 {
        let input = json!({"items": items});
        let started = Instant::now();
        let done = rt
            .block_on(engine.run(
                definition.clone(),
                &sm,
                Some(&format!("round-{round}")),
                input,
            ))
            .expect("started");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        let history = engine.history(&done.execution_arn).expect("history");
        transitions = history
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .count();
        best = best.min(secs);
    }
    let rate = transitions as f64 / best;
    let rss = peak_rss_kib().unwrap_or(0);
    println!(
        "{ITEMS}-item Map x 5 Tasks: {transitions} state transitions in {:.1} ms",
        best * 1000.0
    );
    println!("transitions/s: {rate:.0}");
    println!("peak RSS: {:.1} MiB", rss as f64 / 1024.0);
    let out = json!({"items": ITEMS, "transitions": transitions, "seconds": best, "transitions_per_second": rate, "peak_rss_kib": rss});
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
    let path = format!("{dir}/sfn-local-bench.json");
    if std::fs::write(
        &path,
        serde_json::to_string_pretty(&out).unwrap_or_default(),
    )
    .is_ok()
    {
        println!("written to {path}");
    }
}

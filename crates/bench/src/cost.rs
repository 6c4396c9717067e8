//! Cost per WorkSpace on AWS, from the engine's history of a happy-path wave with the default plan
//! (default polling) and a typical 60-minute migration: state transitions (the parent's share plus
//! each Distributed Map child), Lambda invocations and AWS API calls per migrated WorkSpace,
//! priced per 1,000 WorkSpaces.
//!
//! `cargo run --release -p fleetshift-bench -- cost` writes `target/bench/cost.json`.

use std::collections::BTreeMap;

use cloud_local::Fleet;
use fleetshift::{LocalStack, StackOptions};
use fleetshift_bench::write_result;
use serde_json::{Value, json};

/// WorkSpaces in the measured wave: enough that the parent's fixed states are a small share.
const WORKSPACES: usize = 100;
/// A typical migration takes about an hour.
const MIGRATION_SECS: u64 = 3600;

/// Published prices, US East (N. Virginia); the sources are cited in bench/RESULTS.md.
const USD_PER_TRANSITION: f64 = 0.025 / 1000.0;
const USD_PER_LAMBDA_REQUEST: f64 = 0.20 / 1_000_000.0;
const USD_PER_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// Assumed billed duration of one invocation: one or two AWS API calls of some tens of ms each.
const ASSUMED_INVOCATION_MS: f64 = 100.0;

/// The functions' MemorySize in template.yaml (Globals).
fn memory_mb() -> f64 {
    let template = include_str!("../../../template.yaml");
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(128.0)
}

struct Variant {
    name: &'static str,
    standby: bool,
    hub: bool,
}

async fn measure(v: &Variant) -> Value {
    let mut fleet = Fleet::generate(WORKSPACES);
    fleet.migration_duration_secs = MIGRATION_SECS;
    if v.hub {
        fleet.hub_home_region = Some("us-west-2".into());
    }
    let ids: Vec<String> = fleet
        .workspaces
        .iter()
        .map(|w| w.workspace_id.clone())
        .collect();
    let mut plan = json!({
        "waveId": format!("cost-{}", v.name),
        "bundleId": "wsb-target0001",
        "workspaces": ids.iter().map(|id| json!({"workspaceId": id})).collect::<Vec<_>>(),
    });
    if v.standby {
        plan["standby"] = json!({"region": "us-west-2", "directoryId": "d-2000000002"});
    }
    if v.hub {
        plan["hub"] = json!({"enabled": true, "homeRegion": "us-west-2"});
    }
    let stack = LocalStack::start(StackOptions {
        fleet,
        ..StackOptions::default()
    })
    .await
    .expect("stack starts");
    let report = stack.run_wave(&plan).await.expect("wave runs");
    let completed = report
        .workspaces
        .iter()
        .filter(|w| w.status == "COMPLETED")
        .count();
    assert_eq!(
        completed,
        WORKSPACES,
        "the happy path completes every WorkSpace: wave {} {:?}, first {:?}",
        report.status,
        report.cause,
        report.workspaces.first()
    );

    let mut parent = Counts::default();
    parent.add(
        &stack
            .engine
            .history(&report.execution_arn)
            .expect("parent history"),
    );
    let mut children = Counts::default();
    let child_sm = format!("{}/Workspaces", stack.state_machine_arn);
    let child_runs = stack.engine.list(&child_sm);
    for c in &child_runs {
        children.add(&stack.engine.history(&c.execution_arn).expect("history"));
    }
    let mut api: BTreeMap<String, usize> = BTreeMap::new();
    for call in stack.cloud.calls() {
        *api.entry(format!("{:?} {}", call.service, call.operation))
            .or_default() += 1;
    }
    stack.shutdown().await;

    let n = WORKSPACES as f64;
    let transitions = (parent.transitions + children.transitions) as f64 / n;
    let invocations = (parent.invocations + children.invocations) as f64 / n;
    let api_calls = api.values().sum::<usize>() as f64 / n;
    let gb = memory_mb() / 1024.0;
    let sfn_usd = transitions * USD_PER_TRANSITION * 1000.0;
    let lambda_req_usd = invocations * USD_PER_LAMBDA_REQUEST * 1000.0;
    let lambda_gbs_usd =
        invocations * gb * ASSUMED_INVOCATION_MS / 1000.0 * USD_PER_ARM_GB_SECOND * 1000.0;
    json!({
        "variant": v.name,
        "standby": v.standby,
        "migration_hub": v.hub,
        "workspaces": WORKSPACES,
        "child_executions": child_runs.len(),
        "transitions_per_workspace": transitions,
        "transitions_parent_share": parent.transitions as f64 / n,
        "transitions_child": children.transitions as f64 / n,
        "child_states": children.by_state,
        "lambda_invocations_per_workspace": invocations,
        "api_calls_per_workspace": api_calls,
        "api_calls": api.iter().map(|(k, c)| (k.clone(), json!(*c as f64 / n))).collect::<serde_json::Map<_, _>>(),
        "usd_per_1000_workspaces": {
            "step_functions": sfn_usd,
            "lambda_requests": lambda_req_usd,
            "lambda_duration": lambda_gbs_usd,
            "total": sfn_usd + lambda_req_usd + lambda_gbs_usd,
        },
        "virtual_hours": report.virtual_seconds as f64 / 3600.0,
    })
}

#[derive(Default)]
struct Counts {
    transitions: usize,
    invocations: usize,
    by_state: BTreeMap<String, usize>,
}

impl Counts {
    fn add(&mut self, history: &[sfn_local::HistoryEvent]) {
        for e in history {
            if e.event_type.ends_with("StateEntered") {
                self.transitions += 1;
                let name = e
                    .details
                    .as_ref()
                    .and_then(|(_, d)| d.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                *self.by_state.entry(name.to_owned()).or_default() += 1;
            }
            if e.event_type == "LambdaFunctionScheduled" {
                self.invocations += 1;
            }
        }
    }
}

pub(crate) fn main(_args: &[String]) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let variants = [
        Variant {
            name: "default",
            standby: false,
            hub: false,
        },
        Variant {
            name: "standby-hub",
            standby: true,
            hub: true,
        },
    ];
    let measured: Vec<Value> = variants.iter().map(|v| rt.block_on(measure(v))).collect();
    let result = json!({
        "what": "happy path of the default plan (default polling), 60-minute migrations, counted from the engine's history and cloud-local's call log",
        "migration_secs": MIGRATION_SECS,
        "prices": {
            "region": "us-east-1",
            "step_functions_standard_usd_per_1000_transitions": USD_PER_TRANSITION * 1000.0,
            "lambda_usd_per_1m_requests": USD_PER_LAMBDA_REQUEST * 1_000_000.0,
            "lambda_arm64_usd_per_gb_second": USD_PER_ARM_GB_SECOND,
            "memory_mb": memory_mb(),
            "assumed_billed_ms_per_invocation": ASSUMED_INVOCATION_MS,
        },
        "goal": "<= 25 transitions and <= $0.60 per 1,000 WorkSpaces",
        "variants": measured,
    });
    write_result("cost", &result).expect("result written");
}

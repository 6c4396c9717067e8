//! `local run --generate N` without a plan: a generated fleet of N WorkSpaces migrated as several
//! waves started together, as an operator would send several `Wave Requested` events for a fleet
//! larger than one plan may hold ([`MAX_WORKSPACES_PER_WAVE`], so that a plan and its item results
//! fit Step Functions' 256 KiB limits).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_local::Fleet;
use fleetshift_core::plan::MAX_WORKSPACES_PER_WAVE;
use serde::Serialize;
use serde_json::{Value, json};
use sfn_local::ExecutionDescription;

use crate::report::{WaveReport, human};
use crate::stack::{LocalStack, StackError};

/// The bundle the generated plans migrate to (one [`Fleet::generate`] seeds).
pub const TARGET_BUNDLE: &str = "wsb-target0001";

/// How many waves `n` WorkSpaces take: ceil(n / [`MAX_WORKSPACES_PER_WAVE`]), at least one.
pub fn wave_count(n: usize) -> usize {
    n.div_ceil(MAX_WORKSPACES_PER_WAVE).max(1)
}

/// The plans migrating the WorkSpaces of `fleet`: [`wave_count`] waves whose sizes differ by at
/// most one (450 WorkSpaces: 225 + 225), each with the stack's default concurrency, named
/// `gen-<n>-<i>` (i from 1, zero-padded to the same width).
pub fn plans(fleet: &Fleet) -> Vec<Value> {
    let ids: Vec<&str> = fleet
        .workspaces
        .iter()
        .map(|w| w.workspace_id.as_str())
        .collect();
    let n = ids.len();
    let waves = wave_count(n);
    let width = waves.to_string().len();
    let mut rest = ids.as_slice();
    (0..waves)
        .map(|i| {
            // Balanced: the first n % waves waves get one more.
            let size = n / waves + usize::from(i < n % waves);
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            json!({
                "waveId": format!("gen-{n}-{:0width$}", i + 1),
                "bundleId": TARGET_BUNDLE,
                "workspaces": chunk.iter().map(|id| json!({"workspaceId": id})).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The outcome of every wave of a generated fleet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    /// WorkSpaces in the fleet (all planned).
    pub workspaces: usize,
    /// WorkSpaces that reached COMPLETED, over all waves.
    pub completed: usize,
    /// Virtual time from the start to the end of the longest wave (they start together).
    pub virtual_seconds: u64,
    /// Real time from starting the stack to the last report.
    pub wall_millis: u64,
    /// One report per wave, in wave order.
    pub waves: Vec<WaveReport>,
}

impl FleetReport {
    /// Whether every item of every wave completed (the exit status of `local run`).
    pub fn all_completed(&self) -> bool {
        !self.waves.is_empty() && self.waves.iter().all(WaveReport::all_completed)
    }

    /// Per wave status and counts, then the totals, for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Generated fleet: {} WorkSpaces in {} waves started together (at most {} per wave)",
            self.workspaces,
            self.waves.len(),
            MAX_WORKSPACES_PER_WAVE
        );
        let width = self
            .waves
            .iter()
            .map(|w| w.wave_id.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "  {:<width$}  {:<10} {:>15}  VIRTUAL TIME",
            "WAVE", "STATUS", "COMPLETED"
        );
        for w in &self.waves {
            let done = w
                .workspaces
                .iter()
                .filter(|r| r.status == "COMPLETED")
                .count();
            let _ = writeln!(
                out,
                "  {:<width$}  {:<10} {:>15}  {}",
                w.wave_id,
                w.status,
                format!("{done} of {}", w.workspaces.len()),
                human(w.virtual_seconds)
            );
        }
        let succeeded = self
            .waves
            .iter()
            .filter(|w| w.status == "SUCCEEDED")
            .count();
        let _ = writeln!(
            out,
            "\nWorkSpaces: {} of {} completed; {succeeded} of {} waves SUCCEEDED",
            self.completed,
            self.workspaces,
            self.waves.len()
        );
        let _ = writeln!(
            out,
            "Time: {} of virtual time (the longest wave), {} ms real",
            human(self.virtual_seconds),
            self.wall_millis
        );
        out
    }
}

/// Runs every plan to its end on `stack`, all started at once, and reports each from one snapshot
/// of what the sinks received. `started` is when the run began (for the wall time).
pub async fn run_waves(
    stack: Arc<LocalStack>,
    plans: &[Value],
    started: Instant,
) -> Result<FleetReport, StackError> {
    let mut running = Vec::new();
    for plan in plans {
        let stack = stack.clone();
        let plan = plan.clone();
        // Each wave is requested as an operator requests it: a Wave Requested event on the bus.
        running.push(tokio::spawn(async move {
            stack.request_execution(&stack.sdk, &plan).await
        }));
    }
    let mut done: Vec<ExecutionDescription> = Vec::new();
    for wave in running {
        done.push(wave.await.expect("a wave's task does not panic")?);
    }
    // One snapshot for every report: each wave's report reads only its own wave's events.
    let published = stack.cloud.events();
    let hub_tasks = stack.cloud.hub_tasks();
    let wall = started.elapsed();
    let waves: Vec<WaveReport> = plans
        .iter()
        .zip(&done)
        .map(|(plan, d)| {
            let history = stack.engine.history(&d.execution_arn).unwrap_or_default();
            WaveReport::build(
                plan,
                d,
                &history,
                &published,
                hub_tasks.clone(),
                Duration::ZERO,
            )
        })
        .collect();
    let workspaces = plans
        .iter()
        .map(|p| p["workspaces"].as_array().map_or(0, Vec::len))
        .sum();
    let completed = waves
        .iter()
        .flat_map(|w| &w.workspaces)
        .filter(|r| r.status == "COMPLETED")
        .count();
    let virtual_seconds = waves.iter().map(|w| w.virtual_seconds).max().unwrap_or(0);
    let mut waves = waves;
    for w in &mut waves {
        // The waves ran together: each one's real time is the whole run's.
        w.wall_millis = wall.as_millis() as u64;
    }
    Ok(FleetReport {
        workspaces,
        completed,
        virtual_seconds,
        wall_millis: started.elapsed().as_millis() as u64,
        waves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetshift_core::Plan;

    fn sizes(n: usize) -> Vec<usize> {
        plans(&Fleet::generate(n))
            .iter()
            .map(|p| p["workspaces"].as_array().unwrap().len())
            .collect()
    }

    #[test]
    fn a_fleet_splits_into_balanced_valid_waves_of_at_most_the_plan_limit() {
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(400), [400]);
        assert_eq!(sizes(401), [201, 200]);
        assert_eq!(sizes(450), [225, 225]);
        assert_eq!(sizes(1_000), [334, 333, 333]);
        let ten = sizes(10_000);
        assert_eq!(ten.len(), 25);
        assert!(ten.iter().all(|&s| s == 400));
        let fleet = Fleet::generate(1_000);
        let plans = plans(&fleet);
        // Every WorkSpace planned once, in fleet order; every plan valid; ids distinct.
        let planned: Vec<&str> = plans
            .iter()
            .flat_map(|p| p["workspaces"].as_array().unwrap())
            .map(|w| w["workspaceId"].as_str().unwrap())
            .collect();
        let seeded: Vec<&str> = fleet
            .workspaces
            .iter()
            .map(|w| w.workspace_id.as_str())
            .collect();
        assert_eq!(planned, seeded);
        for p in &plans {
            Plan::parse(p).unwrap_or_else(|v| panic!("{p}: {v:?}"));
        }
        assert_eq!(plans[0]["waveId"], "gen-1000-1");
    }
}

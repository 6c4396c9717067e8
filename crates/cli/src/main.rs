//! `fleetshift`: run a wave offline, serve the emulated AWS APIs, check a plan.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use cloud_local::{Fleet, Scenario};
use fleetshift::generate;
use fleetshift::progress::{FinishedItems, bar};
use fleetshift::{LocalStack, StackOptions, fleet_for_plan, parameters_for_plan};
use fleetshift_core::Plan;
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "fleetshift",
    version,
    about = "Move fleets of Amazon WorkSpaces, safely and observably"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The offline stack: cloud-local + the real state machine + the real handlers.
    #[command(subcommand)]
    Local(Local),
    /// Wave plans.
    #[command(subcommand)]
    Plan(PlanCmd),
}

#[derive(Subcommand)]
enum Local {
    /// Run a wave to its end on the virtual clock and print the report; without PLAN, run a
    /// generated fleet (--generate N) as waves of at most 400 WorkSpaces started together.
    Run {
        /// The wave plan (the same JSON as the Step Functions execution input).
        plan: Option<PathBuf>,
        #[command(flatten)]
        world: World,
        /// Also write the report as JSON to this file ("-" for stdout instead of the table).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Seed of the retry jitter.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Run each function as its built binary from DIR (e.g. target/release), through a
        /// local Lambda Runtime API, instead of in-process.
        #[arg(long, value_name = "DIR")]
        binaries: Option<PathBuf>,
    },
    /// Serve cloud-local (with the state machine behind Step Functions) until Ctrl-C.
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 4566)]
        port: u16,
        #[command(flatten)]
        world: World,
        /// Requests signed with keys the stack does not know (boto3, the AWS CLI) are authorized
        /// as this role of template.yaml (a function such as start-wave, a role's logical id such
        /// as StateMachineRole, or operator) instead of unrestricted.
        #[arg(long, value_name = "ROLE")]
        enforce_iam: Option<String>,
    },
}

#[derive(Args)]
struct World {
    /// Fleet file (default: everything the plan names exists and is healthy).
    #[arg(long, conflicts_with = "generate")]
    fleet: Option<PathBuf>,
    /// Generate a fleet of N WorkSpaces instead of reading one. Without a PLAN, `local run`
    /// also plans them: ceil(N / 400) waves, started together.
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// Scenario file: what goes wrong on purpose.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The stack's HubEnabled parameter (a plan's hub.enabled overrides it): the same as
    /// `--parameter HubEnabled=true`.
    #[arg(long)]
    hub_enabled: bool,
    /// A stack parameter of template.yaml, as `sam deploy --parameter-overrides` takes it
    /// (repeatable); the others take their defaults.
    #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
}

fn parse_parameter(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))
}

#[derive(Subcommand)]
enum PlanCmd {
    /// Validate a plan and print it normalised, or every violation.
    Check { plan: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("fleetshift: {msg}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Plan(PlanCmd::Check { plan: path }) => {
            // Named from the file as written (no defaults filled in), as start-wave names it.
            let sent = read_json(&path)?;
            let plan = read_plan(&path)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&plan).unwrap_or_default()
            );
            eprintln!(
                "plan {} is valid: execution name {}",
                plan.wave_id,
                plan.execution_name(&sent)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Local(Local::Run {
            plan,
            world,
            json,
            seed,
            binaries,
        }) => {
            let Some(plan) = plan else {
                return run_generated(world, json, seed, binaries).await;
            };
            let raw = read_json(&plan)?;
            let parsed = read_plan(&plan)?;
            let mut options = stack_options(&world, Some(&parsed), seed)?;
            options.binaries = binaries;
            let stack = Arc::new(
                LocalStack::start(options)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let progress = Progress::start(&stack, vec![parsed.wave_id.clone()], items(&parsed));
            // As an operator starts a wave: a Wave Requested event on the stack's bus.
            let report = stack.request_wave(&raw).await.map_err(|e| e.to_string())?;
            conclude(stack, progress, report.all_completed(), || {
                write_report(&report, json.as_deref(), || report.render())
            })
            .await
        }
        Command::Local(Local::Serve {
            port,
            world,
            enforce_iam,
        }) => {
            let mut options = stack_options(&world, None, 7)?;
            options.port = Some(port);
            options.unknown_callers_as = enforce_iam;
            let stack = LocalStack::start(options)
                .await
                .map_err(|e| e.to_string())?;
            println!("cloud-local listening on {}", stack.cloud.endpoint_url());
            println!("state machine: {}", stack.state_machine_arn);
            if let Some(alias) = &stack.state_machine_alias_arn {
                println!("start waves through its alias: {alias}");
            }
            if let Some(rule) = stack.model.rule("WaveRequestedRule") {
                println!(
                    "or put Wave Requested (source fleetshift) on the bus {}",
                    rule.event_bus_name
                );
            }
            println!(
                "point clients at it: AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
                stack.cloud.endpoint_url()
            );
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            stack.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `local run --generate N` without a plan: the fleet, its waves started together, one report.
async fn run_generated(
    world: World,
    json: Option<PathBuf>,
    seed: u64,
    binaries: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let n = match world.generate {
        Some(0) => return Err("--generate: at least 1 WorkSpace".into()),
        Some(n) => n,
        None => {
            return Err("local run needs a PLAN, or --generate N to plan a generated fleet".into());
        }
    };
    let started = Instant::now();
    let mut options = stack_options(&world, None, seed)?;
    options.binaries = binaries;
    let plans = generate::plans(&options.fleet);
    let stack = Arc::new(
        LocalStack::start(options)
            .await
            .map_err(|e| e.to_string())?,
    );
    let wave_ids: Vec<String> = plans
        .iter()
        .filter_map(|p| p["waveId"].as_str().map(str::to_owned))
        .collect();
    let progress = Progress::start(&stack, wave_ids, n);
    let report = generate::run_waves(stack.clone(), &plans, started)
        .await
        .map_err(|e| e.to_string())?;
    conclude(stack, progress, report.all_completed(), || {
        write_report(&report, json.as_deref(), || report.render())
    })
    .await
}

/// The end of every run: the progress bar's last state, the stack shut down (which ends the
/// function processes of --binaries), the report written; exit 0 only when every item completed.
async fn conclude(
    stack: Arc<LocalStack>,
    progress: Option<Progress>,
    all_completed: bool,
    write: impl FnOnce() -> Result<(), String>,
) -> Result<ExitCode, String> {
    if let Some(progress) = progress {
        progress.finish(&stack).await;
    }
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.shutdown().await;
    }
    write()?;
    Ok(if all_completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report as JSON to `json` (a file, or stdout for "-"), and as `table` on stdout unless the
/// JSON went there.
fn write_report(
    report: &impl serde::Serialize,
    json: Option<&Path>,
    table: impl FnOnce() -> String,
) -> Result<(), String> {
    let to_stdout = json == Some(Path::new("-"));
    if let Some(path) = json.filter(|_| !to_stdout) {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if to_stdout {
        println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", table());
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

fn read_plan(path: &Path) -> Result<Plan, String> {
    Plan::parse(&read_json(path)?).map_err(|v| {
        let lines: Vec<String> =
            v.0.iter()
                .map(|x| format!("  {}: {}", x.field, x.rule))
                .collect();
        format!("{}: invalid plan:\n{}", path.display(), lines.join("\n"))
    })
}

fn stack_options(world: &World, plan: Option<&Plan>, seed: u64) -> Result<StackOptions, String> {
    let fleet = match (&world.fleet, world.generate, plan) {
        (Some(path), _, _) => Fleet::load(path).map_err(|e| format!("{}: {e}", path.display()))?,
        (None, Some(n), _) => Fleet::generate(n),
        (None, None, Some(plan)) => fleet_for_plan(plan),
        (None, None, None) => Fleet::default(),
    };
    let scenario = match &world.scenario {
        Some(path) => Scenario::load(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => Scenario::default(),
    };
    // A stack deployed as the plan needs (as the fleet holds what it names), unless told.
    let mut parameters = plan.map(parameters_for_plan).unwrap_or_default();
    parameters.extend(world.parameters.iter().cloned());
    if world.hub_enabled {
        parameters.insert("HubEnabled".to_owned(), "true".to_owned());
    }
    Ok(StackOptions {
        fleet,
        scenario,
        seed,
        parameters,
        ..StackOptions::default()
    })
}

/// Cells of the progress bar.
const BAR_WIDTH: usize = 30;

fn items(plan: &Plan) -> usize {
    plan.workspaces.len() + plan.lex_bots.len()
}

/// Redraws the progress bar of these waves' `total` items on stderr (a terminal) until aborted.
/// The progress bar of a run, drawn on stderr only when it is a terminal.
struct Progress {
    task: tokio::task::JoinHandle<()>,
    wave_ids: Vec<String>,
    total: usize,
}

impl Progress {
    fn start(stack: &Arc<LocalStack>, wave_ids: Vec<String>, total: usize) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let mut finished = FinishedItems::for_waves(wave_ids.iter().map(String::as_str));
        let stack = stack.clone();
        let task = tokio::spawn(async move {
            loop {
                let done = finished.update(&stack.cloud.events());
                eprint!("\r{}", bar(done, total, BAR_WIDTH));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(Progress {
            task,
            wave_ids,
            total,
        })
    }

    /// Stops the redraws and draws the final state.
    async fn finish(self, stack: &LocalStack) {
        self.task.abort();
        let _ = self.task.await;
        let mut finished = FinishedItems::for_waves(self.wave_ids.iter().map(String::as_str));
        let done = finished.update(&stack.cloud.events());
        eprintln!("\r{}", bar(done, self.total, BAR_WIDTH));
    }
}

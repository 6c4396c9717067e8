//! An offline stack: cloud-local on loopback, the real state machine on the sfn-local engine, and
//! the six functions in-process with SDK clients pointed at cloud-local.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use cloud_local::{
    BundleSeed, CloudLocal, DirectorySeed, Fleet, ImageImportSeed, LexBotSeed, Options, Running,
    Scenario, SfnLocalBackend, WorkspaceSeed,
};
use fleetshift_core::Plan;
use serde_json::Value;
use sfn_local::{Definition, Engine, ExecutionDescription};

use crate::functions::{self, FUNCTIONS, InProcess, LOCAL_ACCOUNT, StackSettings};
use crate::lambda_api::{self, LocalLambda};
use crate::local_aws::{self, LOCAL_REGION};
use crate::report::WaveReport;

/// The state machine the stack deploys, exactly as committed (the same file `sam deploy` uploads).
pub const DEFINITION: &str = include_str!("../../../state-machines/fleet-migration.asl.json");
/// Its name in ARNs.
pub const STATE_MACHINE_NAME: &str = "fleetshift-fleet-migration";

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// What exists in the emulated account.
    pub fleet: Fleet,
    /// What goes wrong on purpose.
    pub scenario: Scenario,
    /// Seed of retry jitter.
    pub seed: u64,
    /// The stack's HubEnabled parameter.
    pub hub_enabled: bool,
    /// cloud-local's port (None: a free one).
    pub port: Option<u16>,
    /// The stack's DefaultConcurrency parameter.
    pub default_concurrency: u32,
    /// Run each function as its built binary from this directory, through a local Lambda
    /// Runtime API, instead of in-process.
    pub binaries: Option<PathBuf>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            fleet: Fleet::default(),
            scenario: Scenario::default(),
            seed: 7,
            hub_enabled: false,
            port: None,
            default_concurrency: DEFAULT_CONCURRENCY,
            binaries: None,
        }
    }
}

/// Why the stack did not start or run.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("state machine definition: {0}")]
    Definition(String),
    #[error("cloud-local: {0}")]
    Cloud(#[from] cloud_local::StartError),
    #[error("starting the execution: {0}")]
    Start(#[from] sfn_local::StartError),
    #[error("function binaries: {0}")]
    Binaries(#[from] lambda_api::BinariesError),
}

/// A running offline stack.
pub struct LocalStack {
    pub cloud: Running,
    pub engine: Engine,
    pub definition: Arc<Definition>,
    pub state_machine_arn: String,
    pub sdk: SdkConfig,
    pub functions: InProcess,
    /// The function processes, when the stack runs the built binaries.
    pub lambdas: Option<LocalLambda>,
}

/// The stack's DefaultConcurrency parameter, as template.yaml defaults it.
pub const DEFAULT_CONCURRENCY: u32 = 25;

/// The definition with every `${Key}` replaced as `sam deploy` would (function ARNs, stack
/// parameters); a key with no local value is an error.
pub fn substituted_definition(
    region: &str,
    default_concurrency: u32,
) -> Result<String, StackError> {
    let mut text = DEFINITION.to_owned();
    for f in FUNCTIONS {
        text = text.replace(
            &format!("${{{}}}", f.substitution),
            &functions::function_arn(region, f.name),
        );
    }
    text = text.replace("${DefaultConcurrency}", &default_concurrency.to_string());
    if let Some(i) = text.find("${") {
        let rest = &text[i..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        return Err(StackError::Definition(format!(
            "{} has no local substitution",
            &rest[..end]
        )));
    }
    Ok(text)
}

impl LocalStack {
    /// Boots cloud-local and the engine and registers the functions in-process.
    pub async fn start(options: StackOptions) -> Result<LocalStack, StackError> {
        let definition = Arc::new(
            Definition::parse(&substituted_definition(
                LOCAL_REGION,
                options.default_concurrency,
            )?)
            .map_err(|e| StackError::Definition(e.to_string()))?,
        );
        let engine = Engine::builder()
            .virtual_clock(SystemTime::now())
            .seed(options.seed)
            .region(LOCAL_REGION)
            .account(LOCAL_ACCOUNT)
            .build();
        let backend = SfnLocalBackend::new(engine.clone());
        let state_machine_arn = backend.register(STATE_MACHINE_NAME, definition.clone());
        let hub_home_region = options.fleet.hub_home_region.clone();
        let binaries = options.binaries.clone();
        let cloud = CloudLocal::start(Options {
            port: options.port,
            fleet: options.fleet,
            scenario: options.scenario,
            sfn: Some(Arc::new(backend)),
        })
        .await?;
        let sdk = local_aws::sdk_config(&cloud.endpoint_url());
        let settings = StackSettings {
            hub_enabled: options.hub_enabled,
            hub_home_region,
            state_machine_arn: state_machine_arn.clone(),
        };
        let (functions, lambdas) = match binaries {
            None => (functions::in_process(&sdk, &settings), None),
            Some(dir) => {
                let (lambdas, functions) = LocalLambda::start(
                    &dir,
                    &cloud.endpoint_url(),
                    cloud.key_clock(),
                    &settings,
                    lambda_api::DEFAULT_INSTANCES,
                )?;
                (functions, Some(lambdas))
            }
        };
        functions.register(&engine);
        Ok(LocalStack {
            cloud,
            engine,
            definition,
            state_machine_arn,
            sdk,
            functions,
            lambdas,
        })
    }

    /// Runs one wave to its end, as a console-started execution named like start-wave names it.
    pub async fn run_wave(&self, plan: &Value) -> Result<WaveReport, StackError> {
        let wall = Instant::now();
        let name = Plan::parse(plan).ok().map(|p| p.execution_name());
        let done = self
            .engine
            .run(
                self.definition.clone(),
                &self.state_machine_arn,
                name.as_deref(),
                plan.clone(),
            )
            .await?;
        Ok(self.report(plan, &done, wall.elapsed()))
    }

    /// Invokes start-wave as EventBridge would, with an event whose detail is `plan`.
    pub async fn deliver_wave_event(&self, plan: &Value) -> Result<Value, sfn_local::TaskFailure> {
        let event = serde_json::json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": fleetshift_core::events::WAVE_REQUESTED,
            "source": fleetshift_core::events::SOURCE,
            "account": LOCAL_ACCOUNT,
            "time": "2026-11-22T09:00:00Z",
            "region": LOCAL_REGION,
            "resources": [],
            "detail": plan,
        });
        self.invoke("start-wave", event).await
    }

    /// Invokes one function (in-process or its binary), as its Lambda would be.
    pub async fn invoke(
        &self,
        function: &str,
        payload: Value,
    ) -> Result<Value, sfn_local::TaskFailure> {
        self.functions.invoke(function, payload).await
    }

    /// Builds the report of a finished execution from its history and what the sinks received.
    pub fn report(&self, plan: &Value, done: &ExecutionDescription, wall: Duration) -> WaveReport {
        let history = self.engine.history(&done.execution_arn).unwrap_or_default();
        WaveReport::build(
            plan,
            done,
            &history,
            &self.cloud.events(),
            self.cloud.hub_tasks(),
            wall,
        )
    }

    pub async fn shutdown(self) {
        if let Some(l) = self.lambdas {
            l.shutdown().await;
        }
        self.cloud.shutdown().await;
    }
}

/// A fleet in which everything the plan names exists and is healthy: what `local run PLAN` uses
/// when no fleet file is given.
pub fn fleet_for_plan(plan: &Plan) -> Fleet {
    let mut fleet = Fleet {
        hub_home_region: plan.hub.home_region.clone(),
        ..Fleet::default()
    };
    let primary_dir = "d-1000000001".to_owned();
    fleet.directories.push(DirectorySeed {
        directory_id: primary_dir.clone(),
        region: Some(fleet.default_region.clone()),
    });
    if let Some(s) = &plan.standby {
        fleet.directories.push(DirectorySeed {
            directory_id: s.directory_id.clone(),
            region: Some(s.region.clone()),
        });
    }
    let source_bundle = "wsb-source0001".to_owned();
    fleet.bundles.push(BundleSeed {
        bundle_id: source_bundle.clone(),
        byol: false,
        name: Some("Standard with Windows 10 (source)".into()),
    });
    let mut targets: Vec<String> = plan
        .workspaces
        .iter()
        .filter_map(|w| w.bundle_id.clone())
        .collect();
    targets.sort();
    targets.dedup();
    for b in targets.into_iter().filter(|b| *b != source_bundle) {
        fleet.bundles.push(BundleSeed {
            bundle_id: b,
            byol: false,
            name: None,
        });
    }
    for (i, w) in plan.workspaces.iter().enumerate() {
        fleet.workspaces.push(WorkspaceSeed {
            workspace_id: w.workspace_id.clone(),
            directory_id: primary_dir.clone(),
            user_name: format!("user{i:05}"),
            bundle_id: source_bundle.clone(),
            state: "AVAILABLE".into(),
            region: None,
            migration_duration_secs: None,
        });
    }
    if let Some(img) = &plan.image {
        fleet.image_imports.push(ImageImportSeed {
            image_id: img.image_id.clone(),
            duration_secs: 45 * 60,
            final_state: "COMPLETED".into(),
            error_details: Vec::new(),
            started_at_millis: None,
        });
    }
    for b in &plan.lex_bots {
        match fleet.lex_bots.iter_mut().find(|s| s.name == b.v1_bot_name) {
            Some(seed) => seed.versions.push(b.v1_bot_version.clone()),
            None => fleet.lex_bots.push(LexBotSeed {
                name: b.v1_bot_name.clone(),
                versions: vec![b.v1_bot_version.clone()],
                locale: "en-US".into(),
                status: "READY".into(),
            }),
        }
    }
    fleet
}

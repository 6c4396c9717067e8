//! An offline stack: cloud-local on loopback, the real state machine on the sfn-local engine, and
//! the six functions in-process with SDK clients pointed at cloud-local.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use cloud_local::iam::{IamOptions, Policy, Principal, UnknownCallers};
use cloud_local::{
    AsyncInvokeConfig, BundleSeed, BusSpec, CloudLocal, DirectorySeed, Fleet, ImageImportSeed,
    LambdaTargets, LexBotSeed, Options, RuleSpec, Running, Scenario, SfnLocalBackend, TargetError,
    TargetFuture, TargetSpec, WorkspaceSeed,
};
use fleetshift_core::Plan;
use fleetshift_template::{FunctionModel, StackModel, StateMachineModel, TemplateError};
use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionDescription};

use crate::functions::{self, InProcess, LOCAL_ACCOUNT};
use crate::lambda_api::{self, LocalLambda};
use crate::local_aws::{self, LOCAL_REGION};
use crate::report::WaveReport;

/// The state machine the stack deploys, exactly as committed (the same file `sam deploy` uploads).
pub const DEFINITION: &str = include_str!("../../../state-machines/fleet-migration.asl.json");
/// Its name in ARNs (template.yaml's `Name: ${AWS::StackName}-fleet-migration`).
pub const STATE_MACHINE_NAME: &str = "fleetshift-fleet-migration";
/// Its logical id in template.yaml.
const STATE_MACHINE_ID: &str = "FleetMigrationStateMachine";

/// The CLI's own identity (an operator's session): what `local run` signs its calls with.
pub const OPERATOR_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/fleetshift-operator";
/// The operator's session name.
pub const OPERATOR_SESSION: &str = "local";
/// The access key id of the operator's session.
pub const OPERATOR_ACCESS_KEY_ID: &str = "AKIDFSOPERATOR";

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// What exists in the emulated account.
    pub fleet: Fleet,
    /// What goes wrong on purpose.
    pub scenario: Scenario,
    /// Seed of retry jitter.
    pub seed: u64,
    /// Stack parameters (template.yaml's Parameters) as `sam deploy --parameter-overrides` gives
    /// them; the others take their defaults. HubHomeRegion defaults to the fleet's home Region.
    pub parameters: BTreeMap<String, String>,
    /// cloud-local's port (None: a free one).
    pub port: Option<u16>,
    /// Run each function as its built binary from this directory, through a local Lambda
    /// Runtime API, instead of in-process.
    pub binaries: Option<PathBuf>,
    /// Authorize the stack's own callers (each function, the operator, the state machine's
    /// invocations of the functions) against the policies template.yaml gives them, as IAM
    /// would. Callers the stack does not know stay unrestricted. On by default: a grant AWS would
    /// refuse fails offline too.
    pub enforce_iam: bool,
    /// Another template text instead of template.yaml (tests show what a changed grant does).
    pub template: Option<Arc<str>>,
    /// Callers the stack does not know (boto3 or the AWS CLI against `local serve`) act as this
    /// role instead of unrestricted: a function's binary name (`start-wave`), a role's logical id
    /// in template.yaml (`StateMachineRole`, `StartWaveFunctionRole`), or `operator`.
    pub unknown_callers_as: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            fleet: Fleet::default(),
            scenario: Scenario::default(),
            seed: 7,
            parameters: BTreeMap::new(),
            port: None,
            binaries: None,
            enforce_iam: true,
            template: None,
            unknown_callers_as: None,
        }
    }
}

impl StackOptions {
    /// Sets the stack parameter `name` (template.yaml's Parameters).
    pub fn parameter(mut self, name: &str, value: impl Into<String>) -> Self {
        self.parameters.insert(name.to_owned(), value.into());
        self
    }
}

/// Why the stack did not start or run.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("template.yaml: {0}")]
    Template(#[from] TemplateError),
    #[error("state machine definition: {0}")]
    Definition(String),
    #[error("cloud-local: {0}")]
    Cloud(#[from] cloud_local::StartError),
    #[error("starting the execution: {0}")]
    Start(#[from] sfn_local::StartError),
    #[error("function binaries: {0}")]
    Binaries(#[from] lambda_api::BinariesError),
    #[error("in-process function {0}")]
    Function(#[from] functions::BuildError),
    #[error("IAM: {0}")]
    Iam(String),
    #[error("no wave started: {0}")]
    NotStarted(String),
}

/// The WaveRequestedRule of template.yaml (the rule that starts waves).
const WAVE_REQUESTED_RULE: &str = "WaveRequestedRule";

/// A running offline stack.
pub struct LocalStack {
    pub cloud: Running,
    pub engine: Engine,
    pub definition: Arc<Definition>,
    /// The state machine's (unqualified) ARN.
    pub state_machine_arn: String,
    /// Its alias's ARN (template.yaml's AutoPublishAlias), what start-wave starts.
    pub state_machine_alias_arn: Option<String>,
    /// template.yaml, resolved for this stack's parameters.
    pub model: Arc<StackModel>,
    /// The operator's SDK configuration (see [`OPERATOR_ROLE_ARN`]).
    pub sdk: SdkConfig,
    pub functions: InProcess,
    /// The function processes, when the stack runs the built binaries.
    pub lambdas: Option<LocalLambda>,
}

/// The stack's DefaultConcurrency parameter, as template.yaml defaults it.
pub const DEFAULT_CONCURRENCY: u32 = 25;

/// The definition with every `${Key}` replaced from the state machine's DefinitionSubstitutions,
/// as `sam deploy` does; a key the template does not substitute is an error.
pub fn substituted_definition(state_machine: &StateMachineModel) -> Result<String, StackError> {
    let mut text = DEFINITION.to_owned();
    for (key, value) in &state_machine.definition_substitutions {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    if let Some(i) = text.find("${") {
        let rest = &text[i..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        return Err(StackError::Definition(format!(
            "{} is not in the state machine's DefinitionSubstitutions",
            &rest[..end]
        )));
    }
    Ok(text)
}

/// Invokes the rules' Lambda targets with the stack's functions (set once they are built, which
/// needs cloud-local's endpoint).
struct Targets {
    model: Arc<StackModel>,
    functions: Arc<OnceLock<InProcess>>,
}

impl LambdaTargets for Targets {
    fn invoke(&self, function_arn: &str, event: Value) -> TargetFuture<'_> {
        let binary = self
            .model
            .function_by_arn(function_arn)
            .and_then(|f| f.binary.clone());
        Box::pin(async move {
            let (Some(binary), Some(functions)) = (binary, self.functions.get()) else {
                return Err(TargetError::refused(
                    "ResourceNotFoundException",
                    "Function not found",
                ));
            };
            functions
                .invoke(&binary, event)
                .await
                .map_err(|f| TargetError::function(f.error_type, f.error_message))
        })
    }

    fn executed_version(&self, function_arn: &str) -> String {
        // An alias runs the version it points to: offline, the first published one.
        match self.model.function_by_arn(function_arn) {
            Some(f) if f.alias_arn.as_deref() == Some(function_arn) => {
                fleetshift_template::VERSION_NUMBER.to_owned()
            }
            _ => "$LATEST".to_owned(),
        }
    }
}

/// The identity policies of a principal, parsed as cloud-local evaluates them.
fn parse_policies(who: &str, docs: &[Value]) -> Result<Vec<Policy>, StackError> {
    docs.iter()
        .map(|d| Policy::parse(d).map_err(|e| StackError::Iam(format!("{who}: {e}"))))
        .collect()
}

/// The session a function's credentials open: its role, named after the function.
fn function_principal(f: &FunctionModel) -> Result<Principal, StackError> {
    Principal::assumed_role(&f.role_arn, &f.name, parse_policies(&f.name, &f.policies)?)
        .map_err(|e| StackError::Iam(format!("{}: {e}", f.name)))
}

/// The principal `--enforce-iam ROLE` names: a function (by binary), a role of template.yaml (by
/// logical id), or the operator.
fn named_principal(model: &StackModel, role: &str) -> Result<Principal, StackError> {
    if role == "operator" {
        return operator_principal(model);
    }
    if let Some(f) = model.function_by_binary(role) {
        return function_principal(f);
    }
    if let Some(r) = model.roles.iter().find(|r| r.logical_id == role) {
        return Principal::assumed_role(&r.arn, "local", parse_policies(role, &r.policies)?)
            .map_err(|e| StackError::Iam(format!("{role}: {e}")));
    }
    let mut known: Vec<String> = model
        .functions
        .iter()
        .filter_map(|f| f.binary.clone())
        .chain(model.roles.iter().map(|r| r.logical_id.clone()))
        .collect();
    known.push("operator".to_owned());
    Err(StackError::Iam(format!(
        "--enforce-iam {role}: not a function or role of template.yaml (one of: {})",
        known.join(", ")
    )))
}

/// The state machine's role session, which invokes the functions.
fn state_machine_principal(sm: &StateMachineModel) -> Result<Principal, StackError> {
    let role = sm
        .role_arn
        .as_deref()
        .ok_or_else(|| StackError::Iam(format!("{} has no role", sm.name)))?;
    Principal::assumed_role(
        role,
        "StepFunctions",
        parse_policies(&sm.name, &sm.policies)?,
    )
    .map_err(|e| StackError::Iam(format!("{}: {e}", sm.name)))
}

/// The operator: may put events on the stack's buses (the buses' policies decide what) and read
/// Step Functions, as an operator watching a wave does.
fn operator_principal(model: &StackModel) -> Result<Principal, StackError> {
    let buses: Vec<&str> = model.event_buses.iter().map(|b| b.arn.as_str()).collect();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": buses},
            {"Effect": "Allow",
             "Action": ["states:Describe*", "states:List*", "states:GetExecutionHistory"],
             "Resource": "*"},
        ],
    });
    Principal::assumed_role(
        OPERATOR_ROLE_ARN,
        OPERATOR_SESSION,
        parse_policies("operator", &[policy])?,
    )
    .map_err(|e| StackError::Iam(format!("operator: {e}")))
}

/// cloud-local's buses, rules and asynchronous invocation settings, from template.yaml.
fn events_options(
    model: &StackModel,
) -> (
    Vec<BusSpec>,
    Vec<RuleSpec>,
    HashMap<String, AsyncInvokeConfig>,
) {
    let buses = model
        .event_buses
        .iter()
        .filter(|b| b.logical_id.is_some())
        .map(|b| BusSpec {
            name: b.name.clone(),
            policy: b.policy.clone(),
        })
        .collect();
    let rules = model
        .rules
        .iter()
        .map(|r| RuleSpec {
            name: r.name.clone(),
            arn: Some(r.arn.clone()),
            bus: r.event_bus_name.clone(),
            pattern: r.event_pattern.clone().unwrap_or(Value::Null),
            enabled: r.state == "ENABLED",
            targets: r
                .targets
                .iter()
                .map(|t| {
                    let mut spec = TargetSpec::lambda(t.id.clone(), t.arn.clone());
                    if let Some(p) = &t.retry_policy {
                        if let Some(n) = p.maximum_retry_attempts {
                            spec.max_retry_attempts = n;
                        }
                        if let Some(n) = p.maximum_event_age_in_seconds {
                            spec.max_event_age_secs = n;
                        }
                    }
                    spec.dead_letter_arn = t.dead_letter_arn.clone();
                    spec
                })
                .collect(),
        })
        .collect();
    // With AutoPublishAlias, SAM puts the EventInvokeConfig on the alias (its Qualifier).
    let configs = model
        .functions
        .iter()
        .filter_map(|f| {
            let c = f.event_invoke_config.as_ref()?;
            let mut config = AsyncInvokeConfig::default();
            if let Some(n) = c.maximum_retry_attempts {
                config.max_retry_attempts = n;
            }
            if let Some(n) = c.maximum_event_age_in_seconds {
                config.max_event_age_secs = n;
            }
            config.on_failure_arn = c.on_failure.as_ref().map(|d| d.arn.clone());
            Some((f.alias_arn.clone().unwrap_or_else(|| f.arn.clone()), config))
        })
        .collect();
    (buses, rules, configs)
}

impl LocalStack {
    /// Boots cloud-local and the engine and registers the functions, all as template.yaml
    /// configures them for `options.parameters`.
    pub async fn start(options: StackOptions) -> Result<LocalStack, StackError> {
        let mut parameters = options.parameters.clone();
        // The account's Migration Hub home Region, as an operator would deploy with it.
        if let Some(home) = &options.fleet.hub_home_region {
            parameters
                .entry("HubHomeRegion".to_owned())
                .or_insert_with(|| home.clone());
        }
        let model = Arc::new(match &options.template {
            Some(text) => functions::stack_model_of(text, &parameters)?,
            None => functions::stack_model(&parameters)?,
        });
        let state_machine = model.state_machine(STATE_MACHINE_ID).ok_or_else(|| {
            StackError::Definition(format!("template.yaml has no {STATE_MACHINE_ID}"))
        })?;
        let definition = Arc::new(
            Definition::parse(&substituted_definition(state_machine)?)
                .map_err(|e| StackError::Definition(e.to_string()))?,
        );
        let engine = Engine::builder()
            .virtual_clock(SystemTime::now())
            .seed(options.seed)
            .region(LOCAL_REGION)
            .account(LOCAL_ACCOUNT)
            .build();
        let backend = SfnLocalBackend::new(engine.clone());
        let state_machine_arn = backend.register(&state_machine.name, definition.clone());
        if state_machine_arn != state_machine.arn {
            return Err(StackError::Definition(format!(
                "the engine names the state machine {state_machine_arn}, template.yaml {}",
                state_machine.arn
            )));
        }
        let state_machine_alias_arn = state_machine
            .alias
            .as_ref()
            .map(|a| backend.register_alias(&state_machine_arn, a));
        let binaries = options.binaries.clone();
        let (buses, rules, async_configs) = events_options(&model);
        let mut iam = IamOptions::default();
        if let Some(role) = &options.unknown_callers_as {
            iam.unknown_callers = UnknownCallers::Enforce(named_principal(&model, role)?);
        }
        let built = Arc::new(OnceLock::new());
        let cloud = CloudLocal::start(Options {
            port: options.port,
            fleet: options.fleet,
            scenario: options.scenario,
            buses,
            rules,
            lambda_targets: Some(Arc::new(Targets {
                model: model.clone(),
                functions: built.clone(),
            })),
            async_configs,
            sfn: Some(Arc::new(backend)),
            iam,
        })
        .await?;
        let endpoint = cloud.endpoint_url();
        let sdk = local_aws::sdk_config_as(&endpoint, OPERATOR_ACCESS_KEY_ID);
        let (functions, lambdas) = match binaries {
            None => (functions::in_process(&endpoint, &model)?, None),
            Some(dir) => {
                let (lambdas, functions) = LocalLambda::start(
                    &dir,
                    &endpoint,
                    cloud.key_clock(),
                    &model,
                    lambda_api::DEFAULT_INSTANCES,
                )?;
                (functions, Some(lambdas))
            }
        };
        if options.enforce_iam {
            // Each function's credentials (in-process, or each sandbox's) open its role's
            // session; the operator has one of its own.
            let mut keys: Vec<(String, String)> = match &lambdas {
                None => functions::FUNCTIONS
                    .iter()
                    .map(|f| (functions::access_key_id(f.name), f.name.to_owned()))
                    .collect(),
                Some(l) => l.access_key_ids().to_vec(),
            };
            keys.sort();
            for (key, binary) in keys {
                let f = model.function_by_binary(&binary).ok_or_else(|| {
                    StackError::Iam(format!("template.yaml has no function {binary}"))
                })?;
                cloud.register_principal(&key, function_principal(f)?);
            }
            cloud.register_principal(OPERATOR_ACCESS_KEY_ID, operator_principal(&model)?);
        }
        let invoker = if options.enforce_iam {
            Some(Arc::new(state_machine_principal(state_machine)?))
        } else {
            None
        };
        functions.register(&engine, &model, invoker);
        let _ = built.set(functions.clone());
        Ok(LocalStack {
            cloud,
            engine,
            definition,
            state_machine_arn,
            state_machine_alias_arn,
            model,
            sdk,
            functions,
            lambdas,
        })
    }

    /// Runs one wave to its end, as a console-started execution named like start-wave names it.
    pub async fn run_wave(&self, plan: &Value) -> Result<WaveReport, StackError> {
        let wall = Instant::now();
        let name = Plan::parse(plan).ok().map(|p| p.execution_name(plan));
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

    /// Starts a wave as an operator does: puts `Wave Requested` with the plan as its detail on the
    /// bus WaveRequestedRule listens to, signed with the operator's credentials (so the bus's
    /// policy decides), lets EventBridge deliver it to start-wave (with the rule's retry policy and
    /// dead-letter queue, and start-wave's asynchronous invocation settings), then runs the
    /// execution start-wave started to its end and reports it.
    pub async fn request_wave(&self, plan: &Value) -> Result<WaveReport, StackError> {
        let wall = Instant::now();
        let done = self.request_execution(&self.sdk, plan).await?;
        Ok(self.report(plan, &done, wall.elapsed()))
    }

    /// Puts `Wave Requested` signed with `sdk` (see [`LocalStack::request_wave`]) and waits for
    /// the execution start-wave started to end.
    pub async fn request_execution(
        &self,
        sdk: &SdkConfig,
        plan: &Value,
    ) -> Result<ExecutionDescription, StackError> {
        let event_id = self.put_wave_requested(sdk, plan).await?;
        self.cloud.deliveries_idle().await;
        let mut deliveries = self
            .cloud
            .deliveries()
            .into_iter()
            .filter(|d| d.event_id == event_id);
        let Some(delivery) = deliveries.next() else {
            return Err(StackError::NotStarted(format!(
                "event {event_id} matched no rule (WaveRequestedRule matches source fleetshift, detail-type Wave Requested, the stack's account)"
            )));
        };
        let execution_arn = match &delivery.outcome {
            cloud_local::DeliveryOutcome::Succeeded { response } => response
                .get("executionArn")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    StackError::NotStarted(format!(
                        "start-wave answered {response} without an executionArn"
                    ))
                })?,
            cloud_local::DeliveryOutcome::FunctionFailed {
                error_type,
                message,
                destination,
                ..
            } => {
                return Err(StackError::NotStarted(format!(
                    "start-wave failed: {error_type}: {message} (the event went to {})",
                    destination.as_deref().unwrap_or("no queue")
                )));
            }
            other => {
                return Err(StackError::NotStarted(format!(
                    "the event did not reach start-wave: {other:?}"
                )));
            }
        };
        self.engine
            .wait(&execution_arn)
            .await
            .ok_or_else(|| StackError::NotStarted(format!("{execution_arn} does not exist")))
    }

    /// Puts `Wave Requested` (source `fleetshift`, the plan as detail) on the stack's wave bus,
    /// signed with `sdk`; returns the event id. A refused entry (the bus's policy) is an error.
    pub async fn put_wave_requested(
        &self,
        sdk: &SdkConfig,
        plan: &Value,
    ) -> Result<String, StackError> {
        let bus = self
            .model
            .rule(WAVE_REQUESTED_RULE)
            .map(|r| r.event_bus_name.clone())
            .ok_or_else(|| {
                StackError::Definition(format!("template.yaml has no {WAVE_REQUESTED_RULE}"))
            })?;
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(fleetshift_core::events::SOURCE)
            .detail_type(fleetshift_core::events::WAVE_REQUESTED)
            .detail(plan.to_string())
            .build();
        // Sent on a virtual clock starting now, so EventBridge's and Lambda's retry waits of the
        // delivery (a minute and more) pass on it, as the workflow's own waits do.
        let client = aws_sdk_eventbridge::Client::new(sdk);
        let (sent, _) = fleetshift_clock::scope(SystemTime::now(), async move {
            client.put_events().entries(entry).send().await
        })
        .await;
        let out = sent.map_err(|e| {
            use aws_sdk_eventbridge::error::ProvideErrorMetadata;
            StackError::NotStarted(format!(
                "PutEvents refused the event: {}: {}",
                e.code().unwrap_or("?"),
                e.message().map_or_else(
                    || aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                    str::to_owned
                )
            ))
        })?;
        let first = out.entries().first();
        match first.and_then(|e| e.event_id()) {
            Some(id) if out.failed_entry_count() == 0 => Ok(id.to_owned()),
            _ => Err(StackError::NotStarted(format!(
                "PutEvents refused the event: {}: {}",
                first.and_then(|e| e.error_code()).unwrap_or("?"),
                first.and_then(|e| e.error_message()).unwrap_or("?")
            ))),
        }
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

/// The stack parameters a deployment that may run `plan` needs besides the defaults: with
/// lexBots, LexMigrationEnabled and the plan's v2BotRole as LexV2BotRoleArn (register refuses
/// bots otherwise, as the deployed stack does); with an encrypted standby, its key as
/// StandbyKmsKeyArn. What `local run PLAN` deploys with when no `--parameter` names them.
pub fn parameters_for_plan(plan: &Plan) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    if let Some(bot) = plan.lex_bots.first() {
        p.insert("LexMigrationEnabled".to_owned(), "true".to_owned());
        p.insert("LexV2BotRoleArn".to_owned(), bot.v2_bot_role.clone());
    }
    if let Some(key) = plan
        .standby
        .as_ref()
        .and_then(|s| s.volume_encryption_key.clone())
    {
        p.insert("StandbyKmsKeyArn".to_owned(), key);
    }
    p
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_and_the_operator_have_their_own_principal() {
        let model = functions::stack_model(&BTreeMap::new()).unwrap();
        let f = model.function_by_binary("push-hub-update").unwrap();
        let p = function_principal(f).unwrap();
        assert_eq!(
            p.arn,
            "arn:aws:sts::123456789012:assumed-role/fleetshift-PushHubUpdateFunctionRole/fleetshift-push-hub-update"
        );
        assert_eq!(
            p.role_arn,
            "arn:aws:iam::123456789012:role/fleetshift-PushHubUpdateFunctionRole"
        );
        assert_eq!(p.policies.len(), f.policies.len());
        let o = operator_principal(&model).unwrap();
        assert_eq!(
            o.arn,
            "arn:aws:sts::123456789012:assumed-role/fleetshift-operator/local"
        );
    }

    #[test]
    fn the_definition_is_substituted_from_the_template() {
        let model = functions::stack_model(&BTreeMap::new()).unwrap();
        let text = substituted_definition(model.state_machine(STATE_MACHINE_ID).unwrap()).unwrap();
        assert!(text.contains(
            "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-migration:1"
        ));
        assert!(!text.contains("${"));
    }

    #[test]
    fn a_plan_with_bots_deploys_with_lex() {
        let plan = Plan::parse(&json!({
            "waveId": "w-1",
            "workspaces": [],
            "lexBots": [{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST",
                "v2BotName": "order-flowers", "v2BotRole": "arn:aws:iam::123456789012:role/LexV2",
                "migrationStrategy": "CREATE_NEW"}]
        }))
        .unwrap();
        assert_eq!(
            parameters_for_plan(&plan),
            BTreeMap::from([
                ("LexMigrationEnabled".to_owned(), "true".to_owned()),
                (
                    "LexV2BotRoleArn".to_owned(),
                    "arn:aws:iam::123456789012:role/LexV2".to_owned()
                ),
            ])
        );
    }
}

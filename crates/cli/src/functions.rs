//! The six Lambda functions, run in-process by the local engine: the same `handler` each Lambda
//! binary runs, with Deps built from the local SDK configuration.

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

use sfn_local::{Engine, Handler, HandlerFuture, TaskContext, TaskFailure};

/// Account and Region of the function ARNs an offline run substitutes into the definition.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// One Lambda function of the stack.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The crate, binary and (prefixed) function name.
    pub name: &'static str,
    /// The DefinitionSubstitutions key of its ARN in the state machine.
    pub substitution: &'static str,
}

/// Every function the state machine calls, plus start-wave (called by EventBridge).
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "start-migration",
        substitution: "StartMigrationFunctionArn",
    },
    Function {
        name: "check-migration",
        substitution: "CheckMigrationFunctionArn",
    },
    Function {
        name: "create-standby",
        substitution: "CreateStandbyFunctionArn",
    },
    Function {
        name: "poll-image-import",
        substitution: "PollImageImportFunctionArn",
    },
    Function {
        name: "push-hub-update",
        substitution: "PushHubUpdateFunctionArn",
    },
    Function {
        name: "start-wave",
        substitution: "StartWaveFunctionArn",
    },
];

/// The ARN an offline run gives a function.
pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:fleetshift-{name}")
}

/// Stack settings the functions read from their environment in Lambda.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// HubEnabled parameter.
    pub hub_enabled: bool,
    /// HubHomeRegion parameter.
    pub hub_home_region: Option<String>,
    /// The state machine start-wave starts.
    pub state_machine_arn: String,
}

/// Adapts a function's `handle` to the engine the way lambda_runtime reports it: the output is
/// the response payload, an error becomes the function's Diagnostic (`errorType`, `errorMessage`).
fn lambda<O, E, F, Fut>(f: F) -> impl Handler
where
    O: Serialize,
    E: Into<Diagnostic>,
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
{
    move |payload: Value| {
        let run = f(payload);
        async move {
            match run.await {
                Ok(out) => serde_json::to_value(out)
                    .map_err(|e| TaskFailure::new("Runtime.SerializationError", e.to_string())),
                Err(err) => {
                    let d: Diagnostic = err.into();
                    Err(TaskFailure::new(d.error_type, d.error_message))
                }
            }
        }
    }
}

/// The in-process functions, by name.
#[derive(Clone, Default)]
pub struct InProcess {
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
}

struct Shared(Arc<dyn Handler>);

impl Handler for Shared {
    fn call(&self, input: Value, ctx: TaskContext) -> HandlerFuture {
        self.0.call(input, ctx)
    }
}

impl InProcess {
    /// Serves `name` with `handler` (replacing any previous one).
    pub fn add(&mut self, name: &'static str, handler: impl Handler) {
        self.handlers.insert(name, Arc::new(handler));
    }

    /// Registers every function on `engine` under its local ARN.
    pub fn register(&self, engine: &Engine) {
        for (name, h) in &self.handlers {
            engine.register(&function_arn(engine.region(), name), Shared(h.clone()));
        }
    }

    /// Invokes a function directly, as EventBridge or the Lambda console would.
    pub async fn invoke(&self, name: &str, payload: Value) -> Result<Value, TaskFailure> {
        let Some(h) = self.handlers.get(name) else {
            return Err(TaskFailure::new(
                "ResourceNotFoundException",
                format!("Function not found: {name}"),
            ));
        };
        let ctx = TaskContext {
            execution_arn: Arc::from(""),
            execution_name: Arc::from(""),
            state_name: String::new(),
            function: name.to_owned(),
            now: fleetshift_clock::now(),
        };
        h.call(payload, ctx).await
    }
}

/// Registers a function crate's `handle(payload, &Deps)`, the entry point its `main.rs` runs.
macro_rules! add {
    ($fns:expr, $name:literal, $krate:ident, $deps:expr) => {{
        let deps = Arc::new($deps);
        $fns.add(
            $name,
            lambda(move |p: Value| {
                let deps = deps.clone();
                async move { $krate::handle(p, &deps).await }
            }),
        );
    }};
}

/// Builds every function with Deps built from `sdk`.
pub fn in_process(sdk: &SdkConfig, settings: &StackSettings) -> InProcess {
    let mut fns = InProcess::default();
    add!(
        fns,
        "start-migration",
        start_migration,
        start_migration::Deps::from_config(sdk)
    );
    add!(
        fns,
        "check-migration",
        check_migration,
        check_migration::Deps::from_config(sdk)
    );
    add!(
        fns,
        "create-standby",
        create_standby,
        create_standby::Deps::from_config(sdk)
    );
    add!(
        fns,
        "poll-image-import",
        poll_image_import,
        poll_image_import::Deps::from_config(sdk)
    );
    let hub = push_hub_update::Settings {
        hub_enabled: settings.hub_enabled,
        home_region: settings.hub_home_region.clone(),
        ..push_hub_update::Settings::default()
    };
    add!(
        fns,
        "push-hub-update",
        push_hub_update,
        push_hub_update::Deps::from_config(sdk, hub)
    );
    let wave = start_wave::Settings::new(settings.state_machine_arn.clone())
        .expect("the local state machine ARN is well formed");
    add!(
        fns,
        "start-wave",
        start_wave,
        start_wave::Deps::from_config(sdk, wave)
    );
    fns
}

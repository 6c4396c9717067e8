//! The six Lambda functions, run in-process by the local engine: the same `handler` each Lambda
//! binary runs, with Deps built as its `main.rs` builds them, from the environment template.yaml
//! gives the function, and an SDK configuration of its own (its own identity) pointed at
//! cloud-local.

use std::future::Future;
use std::sync::Arc;

use std::collections::{BTreeMap, HashMap};

use cloud_local::iam::Principal;
use fleetshift_template::{StackModel, Template};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;

use sfn_local::{Engine, Handler, HandlerFuture, TaskContext, TaskFailure};

use crate::local_aws;

/// The account of the offline stack (template.yaml's `AWS::AccountId` offline).
pub const LOCAL_ACCOUNT: &str = fleetshift_template::ACCOUNT_ID;

/// template.yaml, exactly as committed (the file `sam deploy` deploys): the one source of each
/// function's timeout, memory, environment, role and policies, and of the state machine's
/// DefinitionSubstitutions.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// One Lambda function of the stack (one crate and binary of the workspace).
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The crate and binary (`Metadata.BuildProperties.Binary` in template.yaml).
    pub name: &'static str,
}

/// The function crates the offline stack links in-process (and whose binaries `--binaries` runs);
/// a test checks that template.yaml builds exactly these.
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "start-migration",
    },
    Function {
        name: "check-migration",
    },
    Function {
        name: "create-standby",
    },
    Function {
        name: "poll-image-import",
    },
    Function {
        name: "push-hub-update",
    },
    Function { name: "start-wave" },
];

/// template.yaml resolved for these stack parameters (the others take their defaults, as
/// `sam deploy` gives them).
pub fn stack_model(
    parameters: &BTreeMap<String, String>,
) -> Result<StackModel, fleetshift_template::TemplateError> {
    stack_model_of(TEMPLATE, parameters)
}

/// Like [`stack_model`], of another template text (a test's variant of template.yaml).
pub fn stack_model_of(
    template: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<StackModel, fleetshift_template::TemplateError> {
    Template::parse(template)?.resolve(parameters)
}

/// The access key id the in-process function `binary` signs its requests with: cloud-local
/// knows the caller by it.
pub fn access_key_id(binary: &str) -> String {
    format!("AKIDFS{}", binary.replace('-', "").to_uppercase())
}

/// The environment template.yaml gives `binary`'s function, as a lookup for its crate's
/// `Settings::from_lookup`.
fn environment(model: &StackModel, binary: &str) -> BTreeMap<String, String> {
    model
        .function_by_binary(binary)
        .map(|f| f.environment.clone())
        .unwrap_or_default()
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

/// The in-process functions, by binary name.
#[derive(Clone, Default)]
pub struct InProcess {
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
}

/// A handler behind Lambda's authorization of the caller (the state machine's role).
struct Authorized {
    handler: Arc<dyn Handler>,
    invoker: Option<Arc<Principal>>,
}

impl Handler for Authorized {
    fn call(&self, input: Value, ctx: TaskContext) -> HandlerFuture {
        if let Some(p) = &self.invoker {
            let decision = cloud_local::iam::authorize(
                p,
                "lambda:InvokeFunction",
                std::slice::from_ref(&ctx.invoked),
                &cloud_local::iam::RequestContext::new(),
                None,
            );
            if let Some(message) = decision.message(&p.arn) {
                // How Step Functions reports a Lambda AccessDeniedException: the Lambda service
                // error, with the service's message and error code in the cause.
                return Box::pin(async move {
                    Err(TaskFailure::new(
                        "Lambda.AWSLambdaException",
                        format!(
                            "{message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Proxy: null)"
                        ),
                    ))
                });
            }
        }
        self.handler.call(input, ctx)
    }
}

impl InProcess {
    /// Serves `name` with `handler` (replacing any previous one).
    pub fn add(&mut self, name: &'static str, handler: impl Handler) {
        self.handlers.insert(name, Arc::new(handler));
    }

    /// Registers every function on `engine` under the ARNs template.yaml gives it (the engine
    /// finds a handler by function name, so the version and alias ARNs the definition names reach
    /// it too). With `invoker` (the state machine's role session), each invocation is first
    /// authorized as Lambda does: `lambda:InvokeFunction` on the ARN the Task names, qualifier
    /// included (a grant on the unqualified ARN does not cover a version or alias: Lambda
    /// Developer Guide, "Fine-tuning the Resources and Conditions sections of policies").
    pub fn register(&self, engine: &Engine, model: &StackModel, invoker: Option<Arc<Principal>>) {
        for (name, h) in &self.handlers {
            if let Some(f) = model.function_by_binary(name) {
                engine.register(
                    &f.arn,
                    Authorized {
                        handler: h.clone(),
                        invoker: invoker.clone(),
                    },
                );
            }
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
            invoked: name.to_owned(),
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

/// Why an in-process function could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{function}: {message}")]
pub struct BuildError {
    pub function: String,
    pub message: String,
}

/// Builds every function as its `main.rs` does, from the environment template.yaml gives it
/// (parsed by the crate's own `Settings::from_lookup`), each with an SDK configuration of its own
/// signed with [`access_key_id`] and pointed at `endpoint`.
pub fn in_process(endpoint: &str, model: &StackModel) -> Result<InProcess, BuildError> {
    let sdk = |binary: &str| local_aws::sdk_config_as(endpoint, &access_key_id(binary));
    let settings_error = |function: &str| {
        let function = function.to_owned();
        move |message: String| BuildError { function, message }
    };
    let mut fns = InProcess::default();
    add!(
        fns,
        "start-migration",
        start_migration,
        start_migration::Deps::from_config(&sdk("start-migration"))
    );
    add!(
        fns,
        "check-migration",
        check_migration,
        check_migration::Deps::from_config(&sdk("check-migration"))
    );
    add!(
        fns,
        "create-standby",
        create_standby,
        create_standby::Deps::from_config(&sdk("create-standby"))
    );
    add!(
        fns,
        "poll-image-import",
        poll_image_import,
        poll_image_import::Deps::from_config(&sdk("poll-image-import"))
    );
    let env = environment(model, "push-hub-update");
    let hub = push_hub_update::Settings::from_lookup(|k| env.get(k).cloned())
        .map_err(settings_error("push-hub-update"))?;
    add!(
        fns,
        "push-hub-update",
        push_hub_update,
        push_hub_update::Deps::from_config(&sdk("push-hub-update"), hub)
    );
    let env = environment(model, "start-wave");
    let wave = start_wave::Settings::from_lookup(|k| env.get(k).cloned())
        .map_err(settings_error("start-wave"))?;
    add!(
        fns,
        "start-wave",
        start_wave,
        start_wave::Deps::from_config(&sdk("start-wave"), wave)
    );
    Ok(fns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_builds_exactly_the_linked_functions() {
        let model = stack_model(&BTreeMap::new()).unwrap();
        let mut built: Vec<&str> = model
            .functions
            .iter()
            .filter_map(|f| f.binary.as_deref())
            .collect();
        built.sort_unstable();
        let mut linked: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        linked.sort_unstable();
        assert_eq!(built, linked);
    }

    #[test]
    fn access_keys_are_one_per_function() {
        assert_eq!(access_key_id("push-hub-update"), "AKIDFSPUSHHUBUPDATE");
        let mut keys: Vec<String> = FUNCTIONS.iter().map(|f| access_key_id(f.name)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), FUNCTIONS.len());
    }
}

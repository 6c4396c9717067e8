//! The typed model of a resolved stack: what the offline stack needs to run each resource as the
//! deployed one runs.

use std::collections::BTreeMap;

use serde_json::Value;

mod build;
pub(crate) use build::build;

/// Lambda's defaults when a function sets no Timeout or MemorySize (Lambda Developer Guide,
/// "Configure Lambda function timeout": 3 seconds; "Configure Lambda function memory": 128 MB).
const DEFAULT_TIMEOUT_SECONDS: u32 = 3;
const DEFAULT_MEMORY_MB: u32 = 128;

/// The stack as deployed with one set of parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct StackModel {
    /// Every parameter's value: a string, or a list of strings for list types.
    pub parameters: BTreeMap<String, Value>,
    /// Every declared condition's value.
    pub conditions: BTreeMap<String, bool>,
    /// The Lambda functions, in logical-id order.
    pub functions: Vec<FunctionModel>,
    /// The state machines.
    pub state_machines: Vec<StateMachineModel>,
    /// Every IAM role, SAM's generated ones included.
    pub roles: Vec<RoleModel>,
    /// The event buses the stack creates or puts rules or policies on (`default` included then).
    pub event_buses: Vec<EventBusModel>,
    /// The EventBridge rules.
    pub rules: Vec<RuleModel>,
    /// The SQS queues.
    pub queues: Vec<QueueModel>,
    /// Every created resource's type and resolved properties, by logical id.
    pub resources: BTreeMap<String, (String, Value)>,
    /// The resolved Outputs (`Value` of each).
    pub outputs: BTreeMap<String, Value>,
}

/// A Lambda function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionModel {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (the crate and binary that implement it).
    pub binary: Option<String>,
    /// The function name (`fleetshift-<binary>`).
    pub name: String,
    /// The unqualified function ARN.
    pub arn: String,
    /// `AutoPublishAlias`.
    pub alias: Option<String>,
    /// The alias ARN (`<arn>:<alias>`), what `!Ref <Function>.Alias` gives.
    pub alias_arn: Option<String>,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    /// The environment variables, Globals merged.
    pub environment: BTreeMap<String, String>,
    /// The execution role.
    pub role_arn: String,
    /// Who a request signed with the function's credentials comes from: Lambda names the role
    /// session after the function (`arn:aws:sts::<account>:assumed-role/<role>/<function>`).
    pub principal_arn: String,
    /// The identity policy documents of its role (inline ones in full, SAM's additions included).
    pub policies: Vec<Value>,
    /// The managed policies attached to its role (by ARN; their contents are AWS's).
    pub managed_policy_arns: Vec<String>,
    /// How Lambda handles its asynchronous invocations.
    pub event_invoke_config: Option<EventInvokeConfig>,
    /// The resolved properties (Globals merged).
    pub properties: Value,
}

/// A function's `EventInvokeConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_in_seconds: Option<u32>,
    pub on_failure: Option<Destination>,
    pub on_success: Option<Destination>,
}

/// An asynchronous invocation's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// SAM's `Type` (SQS, SNS, S3, Lambda, EventBridge), when given.
    pub kind: Option<String>,
    pub arn: String,
}

/// A Step Functions state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineModel {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    pub alias: Option<String>,
    /// `<arn>:<alias>` when it has AutoPublishAlias.
    pub alias_arn: Option<String>,
    /// `DefinitionUri` when it is a path.
    pub definition_uri: Option<String>,
    /// `DefinitionSubstitutions`, each value as the text substituted.
    pub definition_substitutions: BTreeMap<String, String>,
    pub role_arn: Option<String>,
    /// The identity policy documents of its role.
    pub policies: Vec<Value>,
    pub properties: Value,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleModel {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    /// The function or state machine SAM generated it for.
    pub generated_for: Option<String>,
    pub assume_role_policy: Option<Value>,
    /// Identity policy documents, in full.
    pub policies: Vec<Value>,
    pub managed_policy_arns: Vec<String>,
}

/// An EventBridge event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBusModel {
    /// `None` for the account's default bus.
    pub logical_id: Option<String>,
    pub name: String,
    pub arn: String,
    /// Its resource policy: the bus's `Policy` and every `AWS::Events::EventBusPolicy` on it,
    /// as one document.
    pub policy: Option<Value>,
}

/// An EventBridge rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleModel {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    pub event_bus_name: String,
    pub event_pattern: Option<Value>,
    /// ENABLED unless the template says otherwise.
    pub state: String,
    pub targets: Vec<TargetModel>,
}

/// A rule's target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetModel {
    pub id: String,
    pub arn: String,
    pub retry_policy: Option<RetryPolicy>,
    /// `DeadLetterConfig.Arn`.
    pub dead_letter_arn: Option<String>,
    pub input: Option<String>,
    pub input_path: Option<String>,
    pub role_arn: Option<String>,
}

/// A target's `RetryPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_in_seconds: Option<u32>,
}

/// An SQS queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueModel {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    pub url: String,
    /// Its resource policy (from `AWS::SQS::QueuePolicy` resources naming it).
    pub policy: Option<Value>,
}

impl StackModel {
    /// The function with this logical id.
    pub fn function(&self, logical_id: &str) -> Option<&FunctionModel> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    /// The function built from this binary.
    pub fn function_by_binary(&self, binary: &str) -> Option<&FunctionModel> {
        self.functions
            .iter()
            .find(|f| f.binary.as_deref() == Some(binary))
    }

    /// The function this ARN (unqualified, or qualified with its alias or version) names.
    pub fn function_by_arn(&self, arn: &str) -> Option<&FunctionModel> {
        self.functions.iter().find(|f| {
            arn == f.arn
                || arn
                    .strip_prefix(f.arn.as_str())
                    .is_some_and(|q| q.starts_with(':') && !q[1..].contains(':'))
        })
    }

    /// The state machine with this logical id.
    pub fn state_machine(&self, logical_id: &str) -> Option<&StateMachineModel> {
        self.state_machines
            .iter()
            .find(|s| s.logical_id == logical_id)
    }

    /// The role with this ARN.
    pub fn role_by_arn(&self, arn: &str) -> Option<&RoleModel> {
        self.roles.iter().find(|r| r.arn == arn)
    }

    /// The event bus with this name.
    pub fn event_bus(&self, name: &str) -> Option<&EventBusModel> {
        self.event_buses.iter().find(|b| b.name == name)
    }

    /// The rule with this logical id.
    pub fn rule(&self, logical_id: &str) -> Option<&RuleModel> {
        self.rules.iter().find(|r| r.logical_id == logical_id)
    }

    /// The queue with this ARN.
    pub fn queue_by_arn(&self, arn: &str) -> Option<&QueueModel> {
        self.queues.iter().find(|q| q.arn == arn)
    }
}

//! template.yaml resolved as `sam deploy` would deploy it, so the offline stack reads its
//! configuration from the one file that is deployed instead of a copy that drifts.
//!
//! [`Template::parse`] reads the SAM template (short-form tags such as `!Ref` and their long
//! forms such as `Fn::Sub` alike); [`Template::resolve`] takes stack parameter values (each
//! parameter defaults as CloudFormation defaults it, and an override is checked against the
//! parameter's AllowedValues, AllowedPattern, MinValue/MaxValue and MinLength/MaxLength) and gives a
//! typed [`StackModel`]: each function's name, ARNs, timeout, memory, environment and role with
//! its identity policies; the state machine with its DefinitionSubstitutions; the event buses with
//! their resource policies; the rules with their targets; the queues.
//!
//! The offline stack's fixed identities: account [`ACCOUNT_ID`], Region [`REGION`], stack
//! [`STACK_NAME`]; a function is called `fleetshift-<BuildProperties.Binary>`, a role SAM
//! generates `fleetshift-<FunctionLogicalId>Role`, a resource with a name property keeps that
//! name, and any other resource is `fleetshift-<LogicalId>`. (CloudFormation would append a
//! random suffix; the offline stack needs names it can know in advance.)
//!
//! An intrinsic function the resolver does not implement, or a reference to something the
//! template does not declare, is an error naming the path of the value (e.g.
//! `Resources.StartWaveFunction.Properties.Environment.Variables.STATE_MACHINE_ARN.Ref`): nothing
//! unresolved is passed on.

mod model;
mod parameters;
mod resolve;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

pub use model::{
    Destination, EventBusModel, EventInvokeConfig, FunctionModel, QueueModel, RetryPolicy,
    RoleModel, RuleModel, StackModel, StateMachineModel, TargetModel,
};

/// `AWS::AccountId` of the offline stack.
pub const ACCOUNT_ID: &str = "123456789012";
/// `AWS::Region`.
pub const REGION: &str = "us-east-1";
/// `AWS::StackName`.
pub const STACK_NAME: &str = "fleetshift";
/// `AWS::Partition`.
pub const PARTITION: &str = "aws";
/// `AWS::URLSuffix` (the commercial partition's).
pub const URL_SUFFIX: &str = "amazonaws.com";
/// `AWS::StackId`.
pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/fleetshift/00000000-0000-4000-8000-000000000000";
/// The version number every published function and state machine version has offline (the first
/// `sam deploy` publishes version 1).
pub const VERSION_NUMBER: &str = "1";

/// Why the template could not be read or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template is not YAML: {0}")]
    Yaml(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: unsupported intrinsic function {function}")]
    Unsupported { path: String, function: String },
    #[error("{path}: unknown reference: {message}")]
    UnknownReference { path: String, message: String },
    #[error("parameter {name}: {value:?} {rule}")]
    Parameter {
        name: String,
        value: String,
        rule: String,
    },
    #[error("parameter {0}: the template declares no such parameter")]
    UnknownParameter(String),
    #[error("parameter {0}: no value given and no Default")]
    MissingParameter(String),
    #[error("Rules.{rule}: {description}")]
    RuleFailed { rule: String, description: String },
}

/// A parsed template, ready to resolve for any parameter values.
#[derive(Debug, Clone)]
pub struct Template {
    doc: Value,
}

impl Template {
    /// Parses a SAM or CloudFormation template written in YAML (or JSON, which is YAML).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let doc = yaml::parse(text)?;
        if !doc.get("Resources").is_some_and(Value::is_object) {
            return Err(TemplateError::Invalid {
                path: "Resources".into(),
                message: "a template needs a Resources map".into(),
            });
        }
        Ok(Template { doc })
    }

    /// The template in CloudFormation's long form, as JSON (short-form tags expanded).
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// The declared parameters and their defaults (as text; `None` without a Default).
    pub fn parameter_defaults(&self) -> BTreeMap<String, Option<String>> {
        self.doc
            .get("Parameters")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, p)| (k.clone(), p.get("Default").and_then(resolve::scalar_text)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resolves the template for these parameter values (the rest take their defaults).
    pub fn resolve(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<StackModel, TemplateError> {
        model::build(&self.doc, overrides)
    }
}

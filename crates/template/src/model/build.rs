//! Building the [`StackModel`] from the resolved template: SAM's Globals and generated roles,
//! each resource kind's model, the identity policies SAM adds.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::*;
use crate::parameters;
use crate::resolve::{Resolver, Resource, bus_name, child, kind, scalar_text, single};
use crate::{ACCOUNT_ID, PARTITION, REGION, TemplateError};

fn invalid(path: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// SAM's Globals: a resource's own value wins over a primitive, maps merge, lists add up (SAM
/// Developer Guide, "Globals section of the AWS SAM template": "Overridable properties").
fn merge_globals(global: &Value, local: &Value) -> Value {
    let intrinsic = |v: &Value| single(v).is_some_and(|(k, _)| k == "Ref" || k.starts_with("Fn::"));
    match (global, local) {
        (Value::Object(g), Value::Object(l)) if !intrinsic(global) && !intrinsic(local) => {
            let mut out = g.clone();
            for (k, v) in l {
                let merged = match g.get(k) {
                    Some(gv) => merge_globals(gv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(g), Value::Array(l)) => Value::Array(g.iter().chain(l).cloned().collect()),
        _ => local.clone(),
    }
}

fn section<'a>(doc: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    doc.get(key).and_then(Value::as_object)
}

fn u32_of(v: Option<&Value>, path: &str) -> Result<Option<u32>, TemplateError> {
    match v {
        None => Ok(None),
        Some(v) => scalar_text(v)
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| invalid(path, format!("expected a whole number, found {v}"))),
    }
}

fn string_of(v: Option<&Value>, path: &str) -> Result<Option<String>, TemplateError> {
    match v {
        None => Ok(None),
        Some(v) => scalar_text(v)
            .map(Some)
            .ok_or_else(|| invalid(path, format!("expected a string, found {v}"))),
    }
}

/// Lists of statements or policy documents written as one or many.
fn one_or_many(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(l) => l.clone(),
        other => vec![other.clone()],
    }
}

/// A managed policy named by ARN or by the name of an AWS managed policy.
fn managed_policy_arn(name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_owned()
    } else {
        format!("arn:{PARTITION}:iam::aws:policy/{name}")
    }
}

pub(crate) fn build(
    doc: &Value,
    overrides: &BTreeMap<String, String>,
) -> Result<StackModel, TemplateError> {
    let params = parameters::values(section(doc, "Parameters"), overrides)?;
    let globals = doc.pointer("/Globals/Function").cloned();
    let mut resources = BTreeMap::new();
    for (id, r) in section(doc, "Resources").into_iter().flatten() {
        let path = format!("Resources.{id}");
        let kind = r
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&path, "a resource needs a Type"))?
            .to_owned();
        let mut properties = r.get("Properties").cloned().unwrap_or(json!({}));
        if kind == kind::SAM_FUNCTION
            && let Some(g) = &globals
        {
            properties = merge_globals(g, &properties);
        }
        let condition = string_of(r.get("Condition"), &child(&path, "Condition"))?;
        resources.insert(
            id.clone(),
            Resource {
                kind,
                properties,
                metadata: r.get("Metadata").cloned().unwrap_or(Value::Null),
                condition,
                implicit_of: None,
            },
        );
    }
    // What SAM generates that a template may refer to (SAM Developer Guide, "Generated
    // CloudFormation resources for AWS SAM"): `<LogicalId>Role` for a function or state machine
    // that names no Role; with AutoPublishAlias, `<LogicalId>Alias<alias>` (a function's
    // AWS::Lambda::Alias, a state machine's AWS::StepFunctions::StateMachineAlias) and a state
    // machine's `<LogicalId>Version`. (A function's version id carries a hash of its code:
    // `!Ref <Function>.Version` reaches it instead.)
    let mut implicit = Vec::new();
    for (id, r) in &resources {
        let function = r.kind == kind::SAM_FUNCTION;
        let machine = r.kind == kind::SAM_STATE_MACHINE;
        if !function && !machine {
            continue;
        }
        if r.properties.get("Role").is_none() {
            implicit.push((format!("{id}Role"), kind::ROLE, id.clone()));
        }
        if let Some(alias) = r.properties.get("AutoPublishAlias").and_then(Value::as_str) {
            let k = if function {
                kind::LAMBDA_ALIAS
            } else {
                kind::STATE_MACHINE_ALIAS
            };
            implicit.push((format!("{id}Alias{alias}"), k, id.clone()));
            if machine {
                implicit.push((
                    format!("{id}Version"),
                    kind::STATE_MACHINE_VERSION,
                    id.clone(),
                ));
            }
        }
    }
    for (generated, k, owner) in implicit {
        if resources.contains_key(&generated) {
            return Err(invalid(
                &format!("Resources.{generated}"),
                format!(
                    "SAM generates {generated} for {owner}; the template may not declare it too"
                ),
            ));
        }
        resources.insert(
            generated,
            Resource {
                kind: k.to_owned(),
                properties: json!({}),
                metadata: Value::Null,
                condition: None,
                implicit_of: Some(owner),
            },
        );
    }
    let r = Resolver::new(
        resources,
        section(doc, "Conditions").cloned().unwrap_or_default(),
        section(doc, "Mappings").cloned().unwrap_or_default(),
        params,
    );

    let mut conditions = BTreeMap::new();
    for name in section(doc, "Conditions")
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        conditions.insert(
            name.clone(),
            r.condition(name, &format!("Conditions.{name}"))?,
        );
    }

    // The template's Rules: CloudFormation refuses the parameters when an assertion of a rule
    // whose RuleCondition holds is false (CloudFormation User Guide, "Rules section syntax").
    for (name, rule) in section(doc, "Rules").into_iter().flatten() {
        let path = format!("Rules.{name}");
        if let Some(c) = rule.get("RuleCondition")
            && !r.eval_condition(c, &child(&path, "RuleCondition"))?
        {
            continue;
        }
        for (i, a) in rule
            .get("Assertions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let assert = a.get("Assert").ok_or_else(|| {
                invalid(
                    &format!("{path}.Assertions[{i}]"),
                    "an assertion needs Assert",
                )
            })?;
            if !r.eval_condition(assert, &format!("{path}.Assertions[{i}].Assert"))? {
                return Err(TemplateError::RuleFailed {
                    rule: name.clone(),
                    description: a
                        .get("AssertDescription")
                        .and_then(Value::as_str)
                        .unwrap_or("an assertion is false")
                        .to_owned(),
                });
            }
        }
    }

    // Every created resource resolved in full: an unsupported intrinsic anywhere is an error.
    let mut resolved = BTreeMap::new();
    for (id, res) in &r.resources {
        if res.implicit_of.is_some() || !r.exists(id)? {
            continue;
        }
        let props = r.resolve_some(&res.properties, &format!("Resources.{id}.Properties"))?;
        resolved.insert(id.clone(), (res.kind.clone(), props));
    }
    let mut outputs = BTreeMap::new();
    for (name, o) in section(doc, "Outputs").into_iter().flatten() {
        let path = format!("Outputs.{name}");
        if let Some(c) = o.get("Condition").and_then(Value::as_str)
            && !r.condition(c, &child(&path, "Condition"))?
        {
            continue;
        }
        if let Some(v) = o.get("Value") {
            outputs.insert(name.clone(), r.resolve_some(v, &child(&path, "Value"))?);
        }
    }

    let roles = roles(&r, &resolved)?;
    let functions = functions(&r, &resolved, &roles)?;
    let state_machines = state_machines(&r, &resolved, &roles)?;
    let queues = queues(&r, &resolved)?;
    let rules = rules(&r, &resolved)?;
    let event_buses = event_buses(&r, &resolved, &rules)?;
    Ok(StackModel {
        parameters: r.parameters.clone(),
        conditions,
        functions,
        state_machines,
        roles,
        event_buses,
        rules,
        queues,
        resources: resolved,
        outputs,
    })
}

type Resolved = BTreeMap<String, (String, Value)>;

fn of_kind<'a>(
    resolved: &'a Resolved,
    kinds: &'a [&str],
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    resolved
        .iter()
        .filter(move |(_, (k, _))| kinds.contains(&k.as_str()))
        .map(|(id, (_, p))| (id, p))
}

/// SAM's `Policies` of a function or state machine: inline documents, managed policy names or
/// ARNs. (SAM policy templates are not expanded offline: an error names them.)
fn sam_policies(
    policies: Option<&Value>,
    path: &str,
) -> Result<(Vec<Value>, Vec<String>), TemplateError> {
    let mut docs = Vec::new();
    let mut managed = Vec::new();
    for (i, p) in policies
        .map(one_or_many)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let p_path = format!("{path}[{i}]");
        match p {
            Value::String(name) => managed.push(managed_policy_arn(name)),
            Value::Object(m) if m.contains_key("Statement") => docs.push(p.clone()),
            Value::Object(m) if m.len() == 1 => {
                return Err(TemplateError::Unsupported {
                    path: p_path,
                    function: format!(
                        "SAM policy template {}",
                        m.keys().next().map_or("", String::as_str)
                    ),
                });
            }
            other => {
                return Err(invalid(
                    &p_path,
                    format!(
                        "a policy is a document, a managed policy or a SAM policy template, found {other}"
                    ),
                ));
            }
        }
    }
    Ok((docs, managed))
}

/// A statement-only policy document, as SAM writes the ones it adds (no Version).
fn allow(action: &str, resource: &str) -> Value {
    json!({"Statement": [{"Action": action, "Effect": "Allow", "Resource": resource}]})
}

/// What SAM adds to a function's generated role besides its `Policies` (samtranslator
/// `sam_resources.py` and `model/iam.py`): the managed AWSLambdaBasicExecutionRole, with
/// `Tracing: Active` AWSXrayWriteOnlyAccess; `sqs:SendMessage` / `sns:Publish` on its
/// DeadLetterQueue; and for each EventInvokeConfig destination the call Lambda makes on the
/// function's behalf: `sqs:SendMessage`, `sns:publish`, `lambda:InvokeFunction` or
/// `events:PutEvents` on the destination (SAM Developer Guide, OnFailure: "SAM will add any
/// necessary permissions to the auto-generated IAM Role").
fn sam_function_additions(props: &Value) -> (Vec<Value>, Vec<String>) {
    let mut docs = Vec::new();
    let mut managed = vec![format!(
        "arn:{PARTITION}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )];
    if props.pointer("/Tracing").and_then(Value::as_str) == Some("Active") {
        managed.push(format!(
            "arn:{PARTITION}:iam::aws:policy/AWSXrayWriteOnlyAccess"
        ));
    }
    if let Some(dlq) = props.get("DeadLetterQueue") {
        let action = match dlq.get("Type").and_then(Value::as_str) {
            Some("SNS") => "sns:Publish",
            _ => "sqs:SendMessage",
        };
        if let Some(arn) = dlq.get("TargetArn").and_then(Value::as_str) {
            docs.push(json!({"Version": "2012-10-17",
                "Statement": [{"Action": action, "Resource": arn, "Effect": "Allow"}]}));
        }
    }
    for which in ["OnSuccess", "OnFailure"] {
        let Some(d) = props.pointer(&format!("/EventInvokeConfig/DestinationConfig/{which}"))
        else {
            continue;
        };
        let Some(arn) = d.get("Destination").and_then(Value::as_str) else {
            continue;
        };
        let action = match d.get("Type").and_then(Value::as_str) {
            Some("SQS") => "sqs:SendMessage",
            Some("SNS") => "sns:publish",
            Some("Lambda") => "lambda:InvokeFunction",
            Some("EventBridge") => "events:PutEvents",
            _ => continue,
        };
        docs.push(allow(action, arn));
    }
    (docs, managed)
}

fn roles(r: &Resolver, resolved: &Resolved) -> Result<Vec<RoleModel>, TemplateError> {
    let mut out = Vec::new();
    for (id, res) in &r.resources {
        if res.kind != kind::ROLE || !r.exists(id)? {
            continue;
        }
        let path = format!("Resources.{id}.Properties");
        let name = r.name(id, &path)?;
        let arn = r.arn(id, &path)?;
        let (mut policies, mut managed, assume, generated_for) = match &res.implicit_of {
            Some(owner) => {
                let props = &resolved[owner].1;
                let owner_path = format!("Resources.{owner}.Properties");
                let (mut docs, mut managed) =
                    sam_policies(props.get("Policies"), &child(&owner_path, "Policies"))?;
                if r.resources[owner].kind == kind::SAM_FUNCTION {
                    let (d, m) = sam_function_additions(props);
                    docs.extend(d);
                    managed.splice(0..0, m);
                }
                (docs, managed, None, Some(owner.clone()))
            }
            None => {
                let props = &resolved[id].1;
                let mut docs = Vec::new();
                for (i, p) in props
                    .get("Policies")
                    .map(one_or_many)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let doc = p.get("PolicyDocument").cloned().ok_or_else(|| {
                        invalid(
                            &format!("{path}.Policies[{i}]"),
                            "a role policy needs a PolicyDocument",
                        )
                    })?;
                    docs.push(doc);
                }
                let managed = props
                    .get("ManagedPolicyArns")
                    .map(one_or_many)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_str)
                    .map(managed_policy_arn)
                    .collect();
                (
                    docs,
                    managed,
                    props.get("AssumeRolePolicyDocument").cloned(),
                    None,
                )
            }
        };
        // AWS::IAM::Policy and AWS::IAM::RolePolicy resources attached to the role by name.
        for (_, p) in of_kind(resolved, &[kind::IAM_POLICY, kind::IAM_ROLE_POLICY]) {
            let attached = p
                .get("Roles")
                .map(one_or_many)
                .unwrap_or_default()
                .iter()
                .chain(p.get("RoleName"))
                .any(|n| n.as_str() == Some(name.as_str()));
            if attached && let Some(d) = p.get("PolicyDocument") {
                policies.push(d.clone());
            }
        }
        managed.dedup();
        out.push(RoleModel {
            logical_id: id.clone(),
            name,
            arn,
            generated_for,
            assume_role_policy: assume,
            policies,
            managed_policy_arns: managed,
        });
    }
    Ok(out)
}

/// The role `role_arn` names, from the template's roles (an outside role has no known policies).
fn role_of<'a>(roles: &'a [RoleModel], role_arn: &str) -> Option<&'a RoleModel> {
    roles.iter().find(|r| r.arn == role_arn)
}

fn functions(
    r: &Resolver,
    resolved: &Resolved,
    roles: &[RoleModel],
) -> Result<Vec<FunctionModel>, TemplateError> {
    let mut out = Vec::new();
    for (id, props) in of_kind(resolved, &[kind::SAM_FUNCTION, kind::LAMBDA_FUNCTION]) {
        let path = format!("Resources.{id}.Properties");
        let res = &r.resources[id];
        let name = r.name(id, &path)?;
        let arn = r.arn(id, &path)?;
        let alias = if res.kind == kind::SAM_FUNCTION {
            r.auto_publish_alias(id)?
        } else {
            None
        };
        let role_arn = match props.get("Role") {
            Some(v) => string_of(Some(v), &child(&path, "Role"))?.unwrap_or_default(),
            None => r.arn(&format!("{id}Role"), &path)?,
        };
        if res.kind == kind::SAM_FUNCTION
            && props.get("Role").is_some()
            && props.get("Policies").is_some()
        {
            return Err(invalid(
                &child(&path, "Policies"),
                "a function with its own Role gets no Policies from SAM: put them on the role",
            ));
        }
        let role = role_of(roles, &role_arn);
        let role_name = role.map_or_else(
            || role_arn.rsplit('/').next().unwrap_or_default().to_owned(),
            |r| r.name.clone(),
        );
        let mut environment = BTreeMap::new();
        if let Some(vars) = props
            .pointer("/Environment/Variables")
            .and_then(Value::as_object)
        {
            for (k, v) in vars {
                let text = string_of(Some(v), &format!("{path}.Environment.Variables.{k}"))?
                    .unwrap_or_default();
                environment.insert(k.clone(), text);
            }
        }
        let eic = match props.get("EventInvokeConfig") {
            None => None,
            Some(c) => {
                let p = child(&path, "EventInvokeConfig");
                let dest = |which: &str| -> Result<Option<Destination>, TemplateError> {
                    let Some(d) = c.pointer(&format!("/DestinationConfig/{which}")) else {
                        return Ok(None);
                    };
                    let dp = format!("{p}.DestinationConfig.{which}");
                    let arn = string_of(d.get("Destination"), &child(&dp, "Destination"))?
                        .ok_or_else(|| {
                            invalid(
                                &dp,
                                "a destination SAM would create is not modelled offline",
                            )
                        })?;
                    Ok(Some(Destination {
                        kind: string_of(d.get("Type"), &child(&dp, "Type"))?,
                        arn,
                    }))
                };
                Some(EventInvokeConfig {
                    maximum_retry_attempts: u32_of(
                        c.get("MaximumRetryAttempts"),
                        &child(&p, "MaximumRetryAttempts"),
                    )?,
                    maximum_event_age_in_seconds: u32_of(
                        c.get("MaximumEventAgeInSeconds"),
                        &child(&p, "MaximumEventAgeInSeconds"),
                    )?,
                    on_failure: dest("OnFailure")?,
                    on_success: dest("OnSuccess")?,
                })
            }
        };
        out.push(FunctionModel {
            logical_id: id.clone(),
            binary: res
                .metadata
                .pointer("/BuildProperties/Binary")
                .and_then(Value::as_str)
                .map(str::to_owned),
            alias_arn: alias.as_ref().map(|a| format!("{arn}:{a}")),
            alias,
            timeout_seconds: u32_of(props.get("Timeout"), &child(&path, "Timeout"))?
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            memory_mb: u32_of(props.get("MemorySize"), &child(&path, "MemorySize"))?
                .unwrap_or(DEFAULT_MEMORY_MB),
            environment,
            principal_arn: format!(
                "arn:{PARTITION}:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{name}"
            ),
            policies: role.map(|r| r.policies.clone()).unwrap_or_default(),
            managed_policy_arns: role
                .map(|r| r.managed_policy_arns.clone())
                .unwrap_or_default(),
            role_arn,
            event_invoke_config: eic,
            properties: props.clone(),
            name,
            arn,
        });
    }
    Ok(out)
}

fn state_machines(
    r: &Resolver,
    resolved: &Resolved,
    roles: &[RoleModel],
) -> Result<Vec<StateMachineModel>, TemplateError> {
    let mut out = Vec::new();
    for (id, props) in of_kind(resolved, &[kind::SAM_STATE_MACHINE, kind::STATE_MACHINE]) {
        let path = format!("Resources.{id}.Properties");
        let res = &r.resources[id];
        let sam = res.kind == kind::SAM_STATE_MACHINE;
        let name = r.name(id, &path)?;
        let arn = r.arn(id, &path)?;
        let alias = if sam { r.auto_publish_alias(id)? } else { None };
        let role_key = if sam { "Role" } else { "RoleArn" };
        let role_arn = match props.get(role_key) {
            Some(v) => string_of(Some(v), &child(&path, role_key))?,
            None if sam => Some(r.arn(&format!("{id}Role"), &path)?),
            None => None,
        };
        let mut subs = BTreeMap::new();
        if let Some(m) = props
            .get("DefinitionSubstitutions")
            .and_then(Value::as_object)
        {
            for (k, v) in m {
                let p = format!("{path}.DefinitionSubstitutions.{k}");
                subs.insert(k.clone(), string_of(Some(v), &p)?.unwrap_or_default());
            }
        }
        let uri_key = if sam {
            "DefinitionUri"
        } else {
            "DefinitionS3Location"
        };
        out.push(StateMachineModel {
            logical_id: id.clone(),
            alias_arn: alias.as_ref().map(|a| format!("{arn}:{a}")),
            alias,
            definition_uri: props
                .get(uri_key)
                .and_then(Value::as_str)
                .map(str::to_owned),
            definition_substitutions: subs,
            policies: role_arn
                .as_deref()
                .and_then(|a| role_of(roles, a))
                .map(|r| r.policies.clone())
                .unwrap_or_default(),
            role_arn,
            properties: props.clone(),
            name,
            arn,
        });
    }
    Ok(out)
}

fn queues(r: &Resolver, resolved: &Resolved) -> Result<Vec<QueueModel>, TemplateError> {
    let mut out = Vec::new();
    for (id, _) in of_kind(resolved, &[kind::QUEUE]) {
        let path = format!("Resources.{id}.Properties");
        let url = r.queue_url(id, &path)?;
        let statements: Vec<Value> = of_kind(resolved, &[kind::QUEUE_POLICY])
            .filter(|(_, p)| {
                p.get("Queues")
                    .map(one_or_many)
                    .unwrap_or_default()
                    .iter()
                    .any(|q| q.as_str() == Some(url.as_str()))
            })
            .flat_map(|(_, p)| {
                p.pointer("/PolicyDocument/Statement")
                    .map(one_or_many)
                    .unwrap_or_default()
            })
            .collect();
        out.push(QueueModel {
            logical_id: id.clone(),
            name: r.name(id, &path)?,
            arn: r.arn(id, &path)?,
            url,
            policy: (!statements.is_empty())
                .then(|| json!({"Version": "2012-10-17", "Statement": statements})),
        });
    }
    Ok(out)
}

fn rules(r: &Resolver, resolved: &Resolved) -> Result<Vec<RuleModel>, TemplateError> {
    let mut out = Vec::new();
    for (id, props) in of_kind(resolved, &[kind::RULE]) {
        let path = format!("Resources.{id}.Properties");
        let event_pattern =
            match props.get("EventPattern") {
                None => None,
                // CloudFormation takes the pattern as a JSON object or as its text.
                Some(Value::String(s)) => Some(serde_json::from_str(s).map_err(|e| {
                    invalid(&child(&path, "EventPattern"), format!("not JSON: {e}"))
                })?),
                Some(v) => Some(v.clone()),
            };
        let mut targets = Vec::new();
        for (i, t) in props
            .get("Targets")
            .map(one_or_many)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let tp = format!("{path}.Targets[{i}]");
            let retry_policy = match t.get("RetryPolicy") {
                None => None,
                Some(rp) => Some(RetryPolicy {
                    maximum_retry_attempts: u32_of(
                        rp.get("MaximumRetryAttempts"),
                        &format!("{tp}.RetryPolicy.MaximumRetryAttempts"),
                    )?,
                    maximum_event_age_in_seconds: u32_of(
                        rp.get("MaximumEventAgeInSeconds"),
                        &format!("{tp}.RetryPolicy.MaximumEventAgeInSeconds"),
                    )?,
                }),
            };
            targets.push(TargetModel {
                id: string_of(t.get("Id"), &child(&tp, "Id"))?
                    .ok_or_else(|| invalid(&tp, "a target needs an Id"))?,
                arn: string_of(t.get("Arn"), &child(&tp, "Arn"))?
                    .ok_or_else(|| invalid(&tp, "a target needs an Arn"))?,
                retry_policy,
                dead_letter_arn: string_of(
                    t.pointer("/DeadLetterConfig/Arn"),
                    &format!("{tp}.DeadLetterConfig.Arn"),
                )?,
                input: string_of(t.get("Input"), &child(&tp, "Input"))?,
                input_path: string_of(t.get("InputPath"), &child(&tp, "InputPath"))?,
                role_arn: string_of(t.get("RoleArn"), &child(&tp, "RoleArn"))?,
            });
        }
        out.push(RuleModel {
            logical_id: id.clone(),
            name: r.name(id, &path)?,
            arn: r.arn(id, &path)?,
            event_bus_name: r.rule_bus(id)?,
            event_pattern,
            state: string_of(props.get("State"), &child(&path, "State"))?
                .unwrap_or_else(|| "ENABLED".to_owned()),
            targets,
        });
    }
    Ok(out)
}

/// A bus's resource policy: its `Policy` (a document, or its text) plus one statement per
/// `AWS::Events::EventBusPolicy` on it. An EventBusPolicy gives a whole `Statement`, or the
/// legacy `Action`/`Principal`/`Condition`, which EventBridge turns into a statement allowing the
/// principal (an account id, or `*`) that action on the bus (EventBridge API Reference,
/// PutPermission).
fn event_buses(
    r: &Resolver,
    resolved: &Resolved,
    rules: &[RuleModel],
) -> Result<Vec<EventBusModel>, TemplateError> {
    let mut buses: Vec<EventBusModel> = Vec::new();
    for (id, props) in of_kind(resolved, &[kind::EVENT_BUS]) {
        let path = format!("Resources.{id}.Properties");
        let policy = match props.get("Policy") {
            None => None,
            Some(Value::String(s)) => Some(
                serde_json::from_str(s)
                    .map_err(|e| invalid(&child(&path, "Policy"), format!("not JSON: {e}")))?,
            ),
            Some(v) => Some(v.clone()),
        };
        buses.push(EventBusModel {
            logical_id: Some(id.clone()),
            name: r.name(id, &path)?,
            arn: r.arn(id, &path)?,
            policy,
        });
    }
    let default_bus = |buses: &mut Vec<EventBusModel>, name: &str| {
        if !buses.iter().any(|b| b.name == name) {
            buses.push(EventBusModel {
                logical_id: None,
                name: name.to_owned(),
                arn: format!("arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}"),
                policy: None,
            });
        }
    };
    for rule in rules {
        default_bus(&mut buses, &rule.event_bus_name);
    }
    for (id, p) in of_kind(resolved, &[kind::EVENT_BUS_POLICY]) {
        let path = format!("Resources.{id}.Properties");
        let bus = bus_name(
            &string_of(p.get("EventBusName"), &child(&path, "EventBusName"))?
                .unwrap_or_else(|| "default".to_owned()),
        );
        default_bus(&mut buses, &bus);
        let sid = string_of(p.get("StatementId"), &child(&path, "StatementId"))?
            .ok_or_else(|| invalid(&path, "an EventBusPolicy needs a StatementId"))?;
        let b = buses
            .iter_mut()
            .find(|b| b.name == bus)
            .expect("added above");
        let mut statement = match p.get("Statement") {
            Some(Value::Object(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(
                    &child(&path, "Statement"),
                    format!("a statement is a map, found {other}"),
                ));
            }
            None => {
                let principal = string_of(p.get("Principal"), &child(&path, "Principal"))?
                    .ok_or_else(|| {
                        invalid(&path, "an EventBusPolicy needs a Statement or a Principal")
                    })?;
                let principal = if principal == "*" {
                    json!("*")
                } else {
                    json!({"AWS": format!("arn:{PARTITION}:iam::{principal}:root")})
                };
                let mut s = Map::new();
                s.insert("Effect".into(), json!("Allow"));
                s.insert("Principal".into(), principal);
                s.insert(
                    "Action".into(),
                    p.get("Action")
                        .cloned()
                        .unwrap_or(json!("events:PutEvents")),
                );
                s.insert("Resource".into(), json!(b.arn));
                if let Some(c) = p.get("Condition") {
                    // The legacy Condition is {Type, Key, Value}: an organization condition.
                    let key = c
                        .get("Key")
                        .and_then(Value::as_str)
                        .unwrap_or("aws:PrincipalOrgID");
                    let value = c.get("Value").cloned().unwrap_or(Value::Null);
                    s.insert("Condition".into(), json!({"StringEquals": {key: value}}));
                }
                s
            }
        };
        statement.insert("Sid".into(), json!(sid));
        let doc = b
            .policy
            .get_or_insert_with(|| json!({"Version": "2012-10-17", "Statement": []}));
        let list = doc
            .as_object_mut()
            .map(|d| d.entry("Statement").or_insert(json!([])))
            .ok_or_else(|| invalid(&path, "the bus's Policy is not a document"))?;
        if !list.is_array() {
            *list = Value::Array(vec![list.clone()]);
        }
        if let Some(l) = list.as_array_mut() {
            l.push(Value::Object(statement));
        }
    }
    Ok(buses)
}

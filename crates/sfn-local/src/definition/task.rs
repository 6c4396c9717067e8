//! The Task state: its Resource, checked as AWS checks it, and its timeouts.

use serde_json::{Map, Value};

use super::{DefinitionError, err, string_field};
use crate::path::Query;

#[derive(Debug)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Query),
}

#[derive(Debug)]
pub(crate) struct TaskSpec {
    pub(crate) resource: String,
    pub(crate) timeout: Option<Seconds>,
    pub(crate) heartbeat: Option<Seconds>,
}

/// The optimized service integrations (`arn:aws:states:::<service>:<api>`) and the integration
/// patterns AWS offers for each: (service, `.sync`, `.waitForTaskToken`).
const INTEGRATIONS: &[(&str, bool, bool)] = &[
    ("apigateway", false, true),
    ("athena", true, false),
    ("aws-sdk", false, true),
    ("batch", true, false),
    ("bedrock", true, true),
    ("codebuild", true, false),
    ("databrew", true, false),
    ("dynamodb", false, false),
    ("ecs", true, true),
    ("eks", true, true),
    ("elasticmapreduce", true, false),
    ("emr-containers", true, false),
    ("emr-serverless", true, false),
    ("events", false, true),
    ("glue", true, false),
    ("http", false, false),
    ("lambda", false, true),
    ("mediaconvert", true, false),
    ("sagemaker", true, false),
    ("sns", false, true),
    ("sqs", false, true),
    ("states", true, true),
];

/// A Task's Resource, checked as AWS checks it when the state machine is created, plus what
/// this engine cannot run: a Lambda function ARN, or a request-response service integration.
fn check_resource(full: &str, resource: &str) -> Result<(), DefinitionError> {
    let unrecognised = || {
        err(
            full,
            format!(
                "Resource: the resource provided {resource} is not recognized (not a Lambda function ARN, an activity or a service integration AWS offers)"
            ),
        )
    };
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(unrecognised());
    }
    match (parts[2], parts[3], parts[4]) {
        // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        ("lambda", region, account) => {
            let ok = !region.is_empty()
                && !account.is_empty()
                && parts[5] == "function"
                && parts.len() >= 7
                && parts.len() <= 8
                && parts[6..].iter().all(|p| !p.is_empty());
            if ok { Ok(()) } else { Err(unrecognised()) }
        }
        ("states", "", "") => {
            let rest = parts[5..].join(":");
            let (base, pattern) = match rest
                .find(".sync")
                .or_else(|| rest.find(".waitForTaskToken"))
            {
                Some(i) => (&rest[..i], Some(&rest[i..])),
                None => (rest.as_str(), None),
            };
            let mut it = base.splitn(2, ':');
            let service = it.next().unwrap_or_default();
            let api = it.next().unwrap_or_default();
            let Some(&(_, sync, callback)) = INTEGRATIONS.iter().find(|(s, ..)| *s == service)
            else {
                return Err(unrecognised());
            };
            let api_ok = match service {
                "lambda" => api == "invoke",
                "http" => api == "invoke",
                // aws-sdk:SERVICE:ACTION
                "aws-sdk" => api.split(':').count() == 2 && api.split(':').all(|p| !p.is_empty()),
                _ => !api.is_empty() && !api.contains(':'),
            };
            if !api_ok {
                return Err(unrecognised());
            }
            match pattern {
                None => Ok(()),
                Some(p) => {
                    let offered = match p {
                        ".sync" | ".sync:2" => sync,
                        ".waitForTaskToken" => callback,
                        _ => false,
                    };
                    if !offered {
                        return Err(unrecognised());
                    }
                    Err(err(
                        full,
                        format!(
                            "Resource {resource}: the {p} integration pattern is not supported by sfn-local (request-response only)"
                        ),
                    ))
                }
            }
        }
        ("states", region, account)
            if !region.is_empty() && !account.is_empty() && parts[5] == "activity" =>
        {
            Err(err(
                full,
                format!("Resource {resource}: activities are not supported by sfn-local"),
            ))
        }
        _ => Err(unrecognised()),
    }
}

/// A Task's Resource (checked) and its TimeoutSeconds and HeartbeatSeconds, fixed or Path.
pub(super) fn parse_task(full: &str, o: &Map<String, Value>) -> Result<TaskSpec, DefinitionError> {
    let resource =
        string_field(full, o, "Resource")?.ok_or_else(|| err(full, "Resource is required"))?;
    check_resource(full, &resource)?;
    let seconds = |k: &str, kp: &str| -> Result<Option<Seconds>, DefinitionError> {
        match (o.get(k), o.get(kp)) {
            (Some(_), Some(_)) => Err(err(full, format!("{k} and {kp} are mutually exclusive"))),
            (Some(v), None) => Ok(Some(Seconds::Fixed(
                v.as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(full, format!("{k} must be a positive integer")))?,
            ))),
            (None, Some(Value::String(p))) => Ok(Some(Seconds::Path(
                Query::parse(p, false).map_err(|e| err(full, format!("{kp}: {e}")))?,
            ))),
            (None, Some(_)) => Err(err(full, format!("{kp} must be a string"))),
            (None, None) => Ok(None),
        }
    };
    let timeout = seconds("TimeoutSeconds", "TimeoutSecondsPath")?;
    let heartbeat = seconds("HeartbeatSeconds", "HeartbeatSecondsPath")?;
    if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
        && h >= t
    {
        return Err(err(
            full,
            "HeartbeatSeconds must be smaller than TimeoutSeconds",
        ));
    }
    Ok(TaskSpec {
        resource,
        timeout,
        heartbeat,
    })
}

//! Loading and validating a state machine definition (JSONPath query language).
//!
//! This module holds the definition, its bodies and states, the fields every state shares and
//! the simple states (Pass, Wait, Succeed, Fail, Parallel); [`task`], [`choice`], [`map`] and
//! [`retry`] parse the rest.
//!
//! The document is walked by hand, not deserialized with serde derives, because the walk is the
//! validation: a field present as `null` differs from an absent one (`"Result": null` is a Pass
//! result, `"ResultPath": null` discards, `"End": null` is rejected) where serde's `Option`
//! makes them one; the first error reported follows the document's key order and the checks'
//! order; and each message names the state and the rule in this crate's words rather than
//! serde's ("invalid type: ..., expected ..."). Derives would need a custom deserializer per
//! field to keep all three.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::path::{PathSel, Query, RefPath, ResultSel, Template};

mod choice;
mod map;
mod retry;
mod task;

use choice::parse_choices;
pub(crate) use choice::{ChoiceRule, Cmp, Op, Rhs};
use map::parse_map;
pub(crate) use map::{FixedOrPath, MapSpec, MaxConcurrency};
use retry::retry_and_catch;
pub(crate) use retry::{Catcher, Retrier};
use task::parse_task;
pub(crate) use task::{Seconds, TaskSpec};

/// Why a definition was rejected: the state (a path like `MapState/Inner`, or empty for the top
/// level) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if state.is_empty() { String::new() } else { format!("state '{state}': ") })]
pub struct DefinitionError {
    /// The offending state, `/`-separated through Parallel branches and Map processors.
    pub state: String,
    /// The rule that is broken.
    pub message: String,
}

/// A validated state machine definition, ready to run.
#[derive(Debug)]
pub struct Definition {
    pub(crate) root: Arc<Body>,
    pub(crate) timeout_seconds: Option<u64>,
    raw: Value,
}

impl Definition {
    /// Parses and validates an ASL document (the JSONPath query language).
    pub fn parse(json: &str) -> Result<Definition, DefinitionError> {
        let raw: Value = serde_json::from_str(json).map_err(|e| DefinitionError {
            state: String::new(),
            message: format!("the definition is not valid JSON: {e}"),
        })?;
        Self::from_value(raw)
    }

    /// Validates an already-parsed ASL document.
    pub fn from_value(raw: Value) -> Result<Definition, DefinitionError> {
        let top = raw.as_object().ok_or_else(|| DefinitionError {
            state: String::new(),
            message: "the definition must be a JSON object".into(),
        })?;
        if let Some(ql) = top.get("QueryLanguage")
            && ql != "JSONPath"
        {
            return Err(DefinitionError {
                state: String::new(),
                message: format!("QueryLanguage {ql} is not supported (only JSONPath)"),
            });
        }
        let timeout_seconds = match top.get("TimeoutSeconds") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| DefinitionError {
                        state: String::new(),
                        message: "TimeoutSeconds must be a positive integer".into(),
                    })?,
            ),
        };
        check_fields(
            "",
            top,
            &[
                "StartAt",
                "States",
                "Comment",
                "Version",
                "TimeoutSeconds",
                "QueryLanguage",
            ],
        )?;
        let root = parse_body(top, "")?;
        Ok(Definition {
            root: Arc::new(root),
            timeout_seconds,
            raw,
        })
    }

    /// The definition as loaded.
    pub fn as_json(&self) -> &Value {
        &self.raw
    }

    /// A Distributed Map's item processor, run as a state machine of its own.
    pub(crate) fn from_body(root: Arc<Body>) -> Definition {
        Definition {
            root,
            timeout_seconds: None,
            raw: Value::Null,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Body {
    pub(crate) start_at: String,
    pub(crate) states: HashMap<String, Arc<State>>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) input_path: PathSel,
    pub(crate) output_path: PathSel,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultSel,
    pub(crate) next: Option<String>,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
    /// Whether the state reads the context object (`$$`): building it costs a copy of the input.
    pub(crate) uses_context: bool,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task(Box<TaskSpec>),
    Choice {
        choices: Vec<ChoiceRule>,
        default: Option<String>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<StrOrQuery>,
        cause: Option<StrOrQuery>,
    },
    Parallel {
        branches: Vec<Arc<Body>>,
    },
    Map(Box<MapSpec>),
}

#[derive(Debug)]
pub(crate) enum StrOrQuery {
    Str(String),
    Query(Query),
}

#[derive(Debug)]
pub(crate) enum WaitSpec {
    Seconds(u64),
    SecondsPath(Query),
    Timestamp(String),
    TimestampPath(Query),
}

fn err(state: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        state: state.to_string(),
        message: message.into(),
    }
}

fn check_fields(
    state: &str,
    obj: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), DefinitionError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = match k.as_str() {
                "Assign" | "Arguments" | "Output" => {
                    " (variables and JSONata are not supported yet)"
                }
                _ => "",
            };
            return Err(err(state, format!("field '{k}' is not allowed here{hint}")));
        }
    }
    Ok(())
}

fn parse_body(obj: &Map<String, Value>, prefix: &str) -> Result<Body, DefinitionError> {
    let start_at = obj
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| err(prefix, "StartAt is required and must be a string"))?
        .to_string();
    let states_obj = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| err(prefix, "States is required and must be an object"))?;
    if states_obj.is_empty() {
        return Err(err(prefix, "States must not be empty"));
    }
    let mut states = HashMap::with_capacity(states_obj.len());
    for (name, v) in states_obj {
        let full = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if name.is_empty() || name.chars().count() > 80 {
            return Err(err(&full, "state names must be 1-80 characters"));
        }
        let o = v
            .as_object()
            .ok_or_else(|| err(&full, "a state must be a JSON object"))?;
        states.insert(name.clone(), Arc::new(parse_state(name, &full, o)?));
    }
    if !states.contains_key(&start_at) {
        return Err(err(prefix, format!("StartAt '{start_at}' names no state")));
    }
    for s in states.values() {
        let full = if prefix.is_empty() {
            s.name.clone()
        } else {
            format!("{prefix}/{}", s.name)
        };
        let mut targets: Vec<&str> = Vec::new();
        if let Some(n) = &s.next {
            targets.push(n);
        }
        for c in &s.catch {
            targets.push(&c.next);
        }
        if let Kind::Choice { choices, default } = &s.kind {
            targets.extend(choices.iter().filter_map(ChoiceRule::next));
            if let Some(d) = default {
                targets.push(d);
            }
        }
        for t in targets {
            if !states.contains_key(t) {
                return Err(err(
                    &full,
                    format!("transition to '{t}', which is not a state here"),
                ));
            }
        }
    }
    Ok(Body { start_at, states })
}

fn path_sel(
    state: &str,
    o: &Map<String, Value>,
    key: &str,
    intrinsic: bool,
) -> Result<PathSel, DefinitionError> {
    match o.get(key) {
        None => Ok(PathSel::Default),
        Some(Value::Null) => Ok(PathSel::Null),
        Some(Value::String(s)) => Query::parse(s, intrinsic)
            .map(PathSel::Path)
            .map_err(|e| err(state, format!("{key}: {e}"))),
        Some(_) => Err(err(state, format!("{key} must be a string or null"))),
    }
}

fn result_sel(state: &str, o: &Map<String, Value>) -> Result<ResultSel, DefinitionError> {
    match o.get("ResultPath") {
        None => Ok(ResultSel::Default),
        Some(Value::Null) => Ok(ResultSel::Discard),
        Some(Value::String(s)) => RefPath::parse(s)
            .map(|p| ResultSel::Path(p, s.clone()))
            .map_err(|e| err(state, format!("ResultPath: {e}"))),
        Some(_) => Err(err(state, "ResultPath must be a string or null")),
    }
}

fn template(
    state: &str,
    o: &Map<String, Value>,
    key: &str,
) -> Result<Option<Template>, DefinitionError> {
    match o.get(key) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Template::compile(v)
            .map(Some)
            .map_err(|e| err(state, format!("{key}: {e}"))),
        Some(v) if key == "Parameters" || key == "ItemSelector" => Template::compile(v)
            .map(Some)
            .map_err(|e| err(state, format!("{key}: {e}"))),
        Some(_) => Err(err(state, format!("{key} must be an object"))),
    }
}

fn string_field(
    state: &str,
    o: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, DefinitionError> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(state, format!("{key} must be a string"))),
    }
}

const COMMON: &[&str] = &["Type", "Comment", "Next", "End", "InputPath", "OutputPath"];

/// The fields a state of type `ty` may have besides [`COMMON`].
fn type_fields(full: &str, ty: &str) -> Result<&'static [&'static str], DefinitionError> {
    Ok(match ty {
        "Pass" => &["Result", "ResultPath", "Parameters"],
        "Task" => &[
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        "Choice" => &["Choices", "Default"],
        "Wait" => &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        "Succeed" => &[],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Branches",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
        ],
        "Map" => &[
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
        ],
        other => return Err(err(full, format!("unknown state Type '{other}'"))),
    })
}

/// The state's Next: a Choice, Succeed or Fail state has neither Next nor End, any other state
/// exactly one of them.
fn transition(
    full: &str,
    ty: &str,
    o: &Map<String, Value>,
) -> Result<Option<String>, DefinitionError> {
    let next = string_field(full, o, "Next")?;
    let end = match o.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(full, "End must be a boolean")),
    };
    let terminal = matches!(ty, "Choice" | "Succeed" | "Fail");
    if terminal {
        if next.is_some() || o.contains_key("End") {
            return Err(err(full, format!("a {ty} state cannot have Next or End")));
        }
    } else {
        match (next.is_some(), end) {
            (true, true) => return Err(err(full, "Next and End cannot both be set")),
            (false, false) => return Err(err(full, "either Next or End: true is required")),
            _ => {}
        }
    }
    if matches!(ty, "Fail") && (o.contains_key("InputPath") || o.contains_key("OutputPath")) {
        return Err(err(
            full,
            "a Fail state cannot have InputPath or OutputPath",
        ));
    }
    Ok(next)
}

fn parse_state(name: &str, full: &str, o: &Map<String, Value>) -> Result<State, DefinitionError> {
    let ty = o
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| err(full, "Type is required"))?;
    let mut allowed: Vec<&str> = COMMON.to_vec();
    allowed.extend_from_slice(type_fields(full, ty)?);
    check_fields(full, o, &allowed)?;
    let next = transition(full, ty, o)?;
    let (retry, catch) = retry_and_catch(full, o)?;
    let kind = match ty {
        "Pass" => Kind::Pass {
            result: o.get("Result").cloned(),
        },
        "Task" => Kind::Task(Box::new(parse_task(full, o)?)),
        "Choice" => {
            let (choices, default) = parse_choices(full, o)?;
            Kind::Choice { choices, default }
        }
        "Wait" => Kind::Wait(parse_wait(full, o)?),
        "Succeed" => Kind::Succeed,
        "Fail" => parse_fail(full, o)?,
        "Parallel" => Kind::Parallel {
            branches: parse_branches(full, o)?,
        },
        "Map" => Kind::Map(Box::new(parse_map(full, o)?)),
        _ => unreachable!("checked above"),
    };
    if matches!(kind, Kind::Map(_))
        && o.contains_key("Parameters")
        && o.contains_key("ItemSelector")
    {
        return Err(err(
            full,
            "Parameters and ItemSelector are mutually exclusive",
        ));
    }
    let parameters = if matches!(kind, Kind::Map(_)) {
        None
    } else {
        template(full, o, "Parameters")?
    };
    let uses_context = o
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Branches" | "ItemProcessor" | "Iterator"))
        .any(|(_, v)| v.to_string().contains("$$"));
    Ok(State {
        uses_context,
        name: name.to_string(),
        kind,
        input_path: path_sel(full, o, "InputPath", false)?,
        output_path: path_sel(full, o, "OutputPath", false)?,
        parameters,
        result_selector: template(full, o, "ResultSelector")?,
        result_path: result_sel(full, o)?,
        next,
        retry,
        catch,
    })
}

fn parse_wait(full: &str, o: &Map<String, Value>) -> Result<WaitSpec, DefinitionError> {
    let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        .into_iter()
        .filter(|k| o.contains_key(*k))
        .collect();
    if present.len() != 1 {
        return Err(err(
            full,
            "exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required",
        ));
    }
    let q = |k: &str| -> Result<Query, DefinitionError> {
        let s = o[k]
            .as_str()
            .ok_or_else(|| err(full, format!("{k} must be a string")))?;
        Query::parse(s, false).map_err(|e| err(full, format!("{k}: {e}")))
    };
    Ok(match present[0] {
        "Seconds" => WaitSpec::Seconds(
            o["Seconds"]
                .as_u64()
                .ok_or_else(|| err(full, "Seconds must be a non-negative integer"))?,
        ),
        "SecondsPath" => WaitSpec::SecondsPath(q("SecondsPath")?),
        "Timestamp" => {
            let t = o["Timestamp"]
                .as_str()
                .ok_or_else(|| err(full, "Timestamp must be a string"))?;
            if crate::time::parse_timestamp(t).is_none() {
                return Err(err(
                    full,
                    format!("Timestamp '{t}' is not an ISO-8601 date-time"),
                ));
            }
            WaitSpec::Timestamp(t.to_string())
        }
        _ => WaitSpec::TimestampPath(q("TimestampPath")?),
    })
}

fn parse_fail(full: &str, o: &Map<String, Value>) -> Result<Kind, DefinitionError> {
    let pick = |k: &str, kp: &str| -> Result<Option<StrOrQuery>, DefinitionError> {
        match (o.get(k), o.get(kp)) {
            (Some(_), Some(_)) => Err(err(full, format!("{k} and {kp} are mutually exclusive"))),
            (Some(Value::String(s)), None) => Ok(Some(StrOrQuery::Str(s.clone()))),
            (Some(_), None) => Err(err(full, format!("{k} must be a string"))),
            (None, Some(Value::String(p))) => Ok(Some(StrOrQuery::Query(
                Query::parse(p, true).map_err(|e| err(full, format!("{kp}: {e}")))?,
            ))),
            (None, Some(_)) => Err(err(full, format!("{kp} must be a string"))),
            (None, None) => Ok(None),
        }
    };
    Ok(Kind::Fail {
        error: pick("Error", "ErrorPath")?,
        cause: pick("Cause", "CausePath")?,
    })
}

fn parse_branches(full: &str, o: &Map<String, Value>) -> Result<Vec<Arc<Body>>, DefinitionError> {
    let arr = o
        .get("Branches")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err(full, "Branches is required and must be a non-empty array"))?;
    let mut branches = Vec::with_capacity(arr.len());
    for (i, b) in arr.iter().enumerate() {
        let bo = b
            .as_object()
            .ok_or_else(|| err(full, "a branch must be an object"))?;
        let p = format!("{full}/Branches[{i}]");
        check_fields(&p, bo, &["StartAt", "States", "Comment"])?;
        branches.push(Arc::new(parse_body(bo, &p)?));
    }
    Ok(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_with_state_and_rule() {
        let e = Definition::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#)
            .unwrap_err();
        assert_eq!(e.state, "A");
        assert!(e.message.contains("'B'"), "{e}");
        let e = Definition::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true,"Retry":[{"ErrorEquals":["States.ALL"],"BackoffRate":0.5}]}}}"#).unwrap_err();
        assert!(e.to_string().contains("BackoffRate"), "{e}");
    }

    fn task_with(field: &str) -> String {
        format!(
            r#"{{"StartAt":"A","States":{{"A":{{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true,{field}}},"B":{{"Type":"Pass","End":true}}}}}}"#
        )
    }

    #[test]
    fn states_all_only_in_the_last_retrier_or_catcher() {
        let e = Definition::parse(&task_with(
            r#""Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}]"#,
        ))
        .unwrap_err();
        assert_eq!(e.state, "A");
        assert!(e.message.starts_with("Retry[0]: States.ALL"), "{e}");
        let e = Definition::parse(&task_with(
            r#""Catch":[{"ErrorEquals":["States.ALL"],"Next":"B"},{"ErrorEquals":["X"],"Next":"B"}]"#,
        ))
        .unwrap_err();
        assert!(e.message.starts_with("Catch[0]: States.ALL"), "{e}");
        Definition::parse(&task_with(
            r#""Retry":[{"ErrorEquals":["X"]},{"ErrorEquals":["States.ALL"]}],
               "Catch":[{"ErrorEquals":["X"],"Next":"B"},{"ErrorEquals":["States.ALL"],"Next":"B"}]"#,
        ))
        .unwrap();
    }

    #[test]
    fn error_equals_must_not_be_empty() {
        for field in [
            r#""Retry":[{"ErrorEquals":[]}]"#,
            r#""Catch":[{"ErrorEquals":[],"Next":"B"}]"#,
        ] {
            let e = Definition::parse(&task_with(field)).unwrap_err();
            assert!(e.message.contains("at least one error"), "{e}");
        }
    }
}

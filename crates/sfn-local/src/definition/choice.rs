//! The Choice state's rules: And, Or, Not and the comparison operators.

use serde_json::{Map, Value};

use super::{DefinitionError, err, string_field};
use crate::path::Query;

#[derive(Debug)]
pub(crate) enum ChoiceRule {
    And(Vec<ChoiceRule>, Option<String>),
    Or(Vec<ChoiceRule>, Option<String>),
    Not(Box<ChoiceRule>, Option<String>),
    Cmp {
        variable: Query,
        op: Op,
        rhs: Rhs,
        next: Option<String>,
    },
}

impl ChoiceRule {
    pub(crate) fn next(&self) -> Option<&str> {
        match self {
            ChoiceRule::And(_, n) | ChoiceRule::Or(_, n) | ChoiceRule::Not(_, n) => n.as_deref(),
            ChoiceRule::Cmp { next, .. } => next.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    String(Cmp),
    Numeric(Cmp),
    Timestamp(Cmp),
    BooleanEquals,
    StringMatches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug)]
pub(crate) enum Rhs {
    Literal(Value),
    Path(Query),
}

/// A Choice state's rules and its Default.
pub(super) fn parse_choices(
    full: &str,
    o: &Map<String, Value>,
) -> Result<(Vec<ChoiceRule>, Option<String>), DefinitionError> {
    let arr = o
        .get("Choices")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err(full, "Choices is required and must be a non-empty array"))?;
    let choices = arr
        .iter()
        .enumerate()
        .map(|(i, c)| parse_choice(full, &format!("Choices[{i}]"), c, true))
        .collect::<Result<_, _>>()?;
    Ok((choices, string_field(full, o, "Default")?))
}

fn parse_choice(
    full: &str,
    what: &str,
    v: &Value,
    top: bool,
) -> Result<ChoiceRule, DefinitionError> {
    let o = v
        .as_object()
        .ok_or_else(|| err(full, format!("{what} must be an object")))?;
    let next = if top {
        Some(
            string_field(full, o, "Next")?
                .ok_or_else(|| err(full, format!("{what}: a top-level choice rule needs Next")))?,
        )
    } else {
        if o.contains_key("Next") {
            return Err(err(
                full,
                format!("{what}: Next is only allowed on a top-level choice rule"),
            ));
        }
        None
    };
    let list = |k: &str| -> Result<Vec<ChoiceRule>, DefinitionError> {
        let arr = o[k]
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err(full, format!("{what}: {k} must be a non-empty array")))?;
        arr.iter()
            .enumerate()
            .map(|(i, c)| parse_choice(full, &format!("{what}.{k}[{i}]"), c, false))
            .collect()
    };
    if o.contains_key("And") {
        return Ok(ChoiceRule::And(list("And")?, next));
    }
    if o.contains_key("Or") {
        return Ok(ChoiceRule::Or(list("Or")?, next));
    }
    if let Some(n) = o.get("Not") {
        return Ok(ChoiceRule::Not(
            Box::new(parse_choice(full, &format!("{what}.Not"), n, false)?),
            next,
        ));
    }
    let variable = o
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| err(full, format!("{what}: Variable is required")))?;
    let variable =
        Query::parse(variable, false).map_err(|e| err(full, format!("{what}: Variable: {e}")))?;
    let ops: Vec<(&String, &Value)> = o
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
        .collect();
    if ops.len() != 1 {
        return Err(err(
            full,
            format!("{what}: exactly one comparison operator is required"),
        ));
    }
    let (k, val) = ops[0];
    let (base, is_path) = match k.strip_suffix("Path") {
        Some(b) if b != "Is" && !k.starts_with("IsPresent") => (b, true),
        _ => (k.as_str(), false),
    };
    let cmp = |s: &str| match s {
        "Equals" => Some(Cmp::Eq),
        "LessThan" => Some(Cmp::Lt),
        "GreaterThan" => Some(Cmp::Gt),
        "LessThanEquals" => Some(Cmp::Le),
        "GreaterThanEquals" => Some(Cmp::Ge),
        _ => None,
    };
    let op = if let Some(c) = base.strip_prefix("String").and_then(cmp) {
        Op::String(c)
    } else if let Some(c) = base.strip_prefix("Numeric").and_then(cmp) {
        Op::Numeric(c)
    } else if let Some(c) = base.strip_prefix("Timestamp").and_then(cmp) {
        Op::Timestamp(c)
    } else {
        match base {
            "BooleanEquals" => Op::BooleanEquals,
            "StringMatches" if !is_path => Op::StringMatches,
            "IsNull" => Op::IsNull,
            "IsPresent" => Op::IsPresent,
            "IsNumeric" => Op::IsNumeric,
            "IsString" => Op::IsString,
            "IsBoolean" => Op::IsBoolean,
            "IsTimestamp" => Op::IsTimestamp,
            _ => {
                return Err(err(
                    full,
                    format!("{what}: unknown comparison operator '{k}'"),
                ));
            }
        }
    };
    let rhs = if is_path {
        let s = val
            .as_str()
            .ok_or_else(|| err(full, format!("{what}: {k} must be a path string")))?;
        Rhs::Path(Query::parse(s, false).map_err(|e| err(full, format!("{what}: {k}: {e}")))?)
    } else {
        let ok = match op {
            Op::String(_) | Op::StringMatches | Op::Timestamp(_) => val.is_string(),
            Op::Numeric(_) => val.is_number(),
            _ => val.is_boolean(),
        };
        if !ok {
            return Err(err(
                full,
                format!("{what}: {k} has a value of the wrong type: {val}"),
            ));
        }
        Rhs::Literal(val.clone())
    };
    Ok(ChoiceRule::Cmp {
        variable,
        op,
        rhs,
        next,
    })
}

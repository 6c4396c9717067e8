//! Stack parameters: each takes its override or its Default, and the value must keep the
//! parameter's constraints, as CloudFormation checks them before it creates anything
//! (CloudFormation User Guide, "Parameters section syntax": AllowedPattern must match the whole
//! value, AllowedValues, MinLength/MaxLength for strings, MinValue/MaxValue for numbers; a
//! CommaDelimitedList or `List<...>` parameter is a list, and `Ref` to any other parameter,
//! Number included, returns a string).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::TemplateError;
use crate::resolve::scalar_text;

/// The value of every declared parameter: a string, or a list of strings for list types.
pub(crate) fn values(
    declared: Option<&Map<String, Value>>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let empty = Map::new();
    let declared = declared.unwrap_or(&empty);
    if let Some(name) = overrides.keys().find(|k| !declared.contains_key(*k)) {
        return Err(TemplateError::UnknownParameter(name.clone()));
    }
    let mut out = BTreeMap::new();
    for (name, decl) in declared {
        let text = match overrides.get(name) {
            Some(v) => v.clone(),
            None => match decl.get("Default") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(","),
                Some(v) => scalar_text(v).ok_or_else(|| TemplateError::Invalid {
                    path: format!("Parameters.{name}.Default"),
                    message: "a Default is a string, number or list".into(),
                })?,
                None => return Err(TemplateError::MissingParameter(name.clone())),
            },
        };
        out.insert(name.clone(), checked(name, decl, text)?);
    }
    Ok(out)
}

fn checked(name: &str, decl: &Value, text: String) -> Result<Value, TemplateError> {
    let fail = |value: &str, rule: String| TemplateError::Parameter {
        name: name.to_owned(),
        value: value.to_owned(),
        rule,
    };
    let ty = decl.get("Type").and_then(Value::as_str).unwrap_or("String");
    if ty.starts_with("AWS::SSM::Parameter") {
        return Err(fail(
            &text,
            format!("has Type {ty}, which the offline stack cannot look up"),
        ));
    }
    let is_list = ty == "CommaDelimitedList" || ty.starts_with("List<");
    let is_number = ty == "Number" || ty == "List<Number>";
    // A list parameter's constraints hold for each of its items.
    let items: Vec<String> = if is_list {
        if text.is_empty() {
            Vec::new()
        } else {
            text.split(',').map(str::to_owned).collect()
        }
    } else {
        vec![text.clone()]
    };
    let allowed: Option<Vec<String>> = decl
        .get("AllowedValues")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(scalar_text).collect());
    let pattern = match decl.get("AllowedPattern").and_then(Value::as_str) {
        Some(p) => Some((
            p,
            // AllowedPattern matches the whole value (Java's Pattern.matches semantics).
            regex_lite::Regex::new(&format!("^(?:{p})$")).map_err(|e| TemplateError::Invalid {
                path: format!("Parameters.{name}.AllowedPattern"),
                message: e.to_string(),
            })?,
        )),
        None => None,
    };
    let number = |key: &str| {
        decl.get(key)
            .and_then(scalar_text)
            .and_then(|s| s.parse::<f64>().ok())
    };
    for v in &items {
        if let Some(allowed) = &allowed
            && !allowed.contains(v)
        {
            return Err(fail(v, format!("is not one of AllowedValues {allowed:?}")));
        }
        if let Some((p, re)) = &pattern
            && !re.is_match(v)
        {
            return Err(fail(v, format!("does not match AllowedPattern {p}")));
        }
        if is_number {
            let Ok(n) = v.trim().parse::<f64>() else {
                return Err(fail(v, format!("is not a number (Type {ty})")));
            };
            if let Some(min) = number("MinValue")
                && n < min
            {
                return Err(fail(v, format!("is below MinValue {min}")));
            }
            if let Some(max) = number("MaxValue")
                && n > max
            {
                return Err(fail(v, format!("is above MaxValue {max}")));
            }
        } else {
            let len = v.chars().count() as f64;
            if let Some(min) = number("MinLength")
                && len < min
            {
                return Err(fail(v, format!("is shorter than MinLength {min}")));
            }
            if let Some(max) = number("MaxLength")
                && len > max
            {
                return Err(fail(v, format!("is longer than MaxLength {max}")));
            }
        }
    }
    Ok(if is_list {
        Value::Array(items.into_iter().map(Value::String).collect())
    } else {
        Value::String(text)
    })
}

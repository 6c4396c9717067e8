//! Constraint checks from the official service models (botocore service-2.json), with messages in
//! the form AWS uses: `Value 'x' at 'field' failed to satisfy constraint: ...`.
//!
//! The constraints (`min`, `max`, `pattern`, `enum`, `required`) are the models'. The message form
//! is AWS's validation message as the services send it (the Coral "1 validation error detected"
//! text seen in ValidationException and InvalidParameterValuesException answers); it is not
//! documented in any API Reference, and no handler depends on its text, only on the error code.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex_lite::Regex;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A string member's constraints.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Str {
    pub(crate) min: Option<usize>,
    pub(crate) max: Option<usize>,
    /// Matched against the whole value (the model's patterns, anchored where the model means the
    /// whole value, e.g. `[^:|]+` for a task name).
    pub(crate) pattern: Option<&'static str>,
    pub(crate) enumeration: Option<&'static [&'static str]>,
}

impl Str {
    pub(crate) const fn any() -> Self {
        Self {
            min: None,
            max: None,
            pattern: None,
            enumeration: None,
        }
    }
    pub(crate) const fn pattern(p: &'static str) -> Self {
        Self {
            min: None,
            max: None,
            pattern: Some(p),
            enumeration: None,
        }
    }
    pub(crate) const fn len(min: usize, max: usize) -> Self {
        Self {
            min: Some(min),
            max: Some(max),
            pattern: None,
            enumeration: None,
        }
    }
    pub(crate) const fn len_pattern(min: usize, max: usize, p: &'static str) -> Self {
        Self {
            min: Some(min),
            max: Some(max),
            pattern: Some(p),
            enumeration: None,
        }
    }
    pub(crate) const fn one_of(values: &'static [&'static str]) -> Self {
        Self {
            min: None,
            max: None,
            pattern: None,
            enumeration: Some(values),
        }
    }
}

static REGEXES: LazyLock<Mutex<HashMap<&'static str, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn matches(pattern: &'static str, value: &str) -> bool {
    let mut cache = REGEXES.lock().unwrap_or_else(|e| e.into_inner());
    let re = cache.entry(pattern).or_insert_with(|| {
        Regex::new(&format!("^(?:{pattern})$")).expect("model pattern compiles")
    });
    re.is_match(value)
}

fn quote(v: &str) -> String {
    let short: String = v.chars().take(100).collect();
    short
}

/// Reads and checks the members of a JSON request object. `err` builds the service's validation
/// error from a message.
pub(crate) struct Input<'a> {
    obj: &'a Map<String, Value>,
    err: fn(String) -> ApiError,
    prefix: String,
}

impl<'a> Input<'a> {
    pub(crate) fn new(value: &'a Value, err: fn(String) -> ApiError) -> Result<Self, ApiError> {
        match value {
            Value::Object(obj) => Ok(Self {
                obj,
                err,
                prefix: String::new(),
            }),
            _ => Err(err("The request body must be a JSON object".into())),
        }
    }

    /// A nested structure member, reported as `parent.member` in messages.
    pub(crate) fn nested(&self, value: &'a Value, path: &str) -> Result<Input<'a>, ApiError> {
        match value {
            Value::Object(obj) => Ok(Input {
                obj,
                err: self.err,
                prefix: format!("{path}."),
            }),
            _ => Err((self.err)(format!(
                "Value at '{path}' failed to satisfy constraint: Member must be a structure"
            ))),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub(crate) fn fail(&self, message: String) -> ApiError {
        (self.err)(message)
    }

    fn constraint(&self, value: &str, name: &str, rule: &str) -> ApiError {
        self.fail(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {rule}",
            quote(value),
            self.path(name)
        ))
    }

    fn missing(&self, name: &str) -> ApiError {
        self.fail(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            self.path(name)
        ))
    }

    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn check_str(&self, name: &str, s: &str, c: Str) -> Result<(), ApiError> {
        let n = s.chars().count();
        if let Some(min) = c.min
            && n < min
        {
            return Err(self.constraint(
                s,
                name,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if let Some(max) = c.max
            && n > max
        {
            return Err(self.constraint(
                s,
                name,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        if let Some(p) = c.pattern
            && !matches(p, s)
        {
            return Err(self.constraint(
                s,
                name,
                &format!("Member must satisfy regular expression pattern: {p}"),
            ));
        }
        if let Some(values) = c.enumeration
            && !values.contains(&s)
        {
            return Err(self.constraint(
                s,
                name,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn opt_str(&self, name: &str, c: Str) -> Result<Option<&'a str>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                self.check_str(name, s, c)?;
                Ok(Some(s.as_str()))
            }
            Some(_) => Err(self.fail(format!(
                "Value at '{}' failed to satisfy constraint: Member must be a string",
                self.path(name)
            ))),
        }
    }

    pub(crate) fn req_str(&self, name: &str, c: Str) -> Result<&'a str, ApiError> {
        self.opt_str(name, c)?.ok_or_else(|| self.missing(name))
    }

    pub(crate) fn opt_int(
        &self,
        name: &str,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let Some(n) = v.as_i64() else {
            return Err(self.fail(format!(
                "Value at '{}' failed to satisfy constraint: Member must be an integer",
                self.path(name)
            )));
        };
        if let Some(min) = min
            && n < min
        {
            return Err(self.constraint(
                &n.to_string(),
                name,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if let Some(max) = max
            && n > max
        {
            return Err(self.constraint(
                &n.to_string(),
                name,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(Some(n))
    }

    pub(crate) fn req_int(
        &self,
        name: &str,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Result<i64, ApiError> {
        self.opt_int(name, min, max)?
            .ok_or_else(|| self.missing(name))
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.fail(format!(
                "Value at '{}' failed to satisfy constraint: Member must be a boolean",
                self.path(name)
            ))),
        }
    }

    /// A timestamp member: epoch seconds as a JSON number (what the SDKs send for JSON protocols).
    pub(crate) fn opt_timestamp(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                self.fail(format!(
                    "Value at '{}' failed to satisfy constraint: Member must be a timestamp in epoch seconds",
                    self.path(name)
                ))
            }),
        }
    }

    pub(crate) fn req_timestamp(&self, name: &str) -> Result<f64, ApiError> {
        self.opt_timestamp(name)?.ok_or_else(|| self.missing(name))
    }

    pub(crate) fn opt_list(
        &self,
        name: &str,
        min: Option<usize>,
        max: Option<usize>,
    ) -> Result<Option<&'a Vec<Value>>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let Value::Array(items) = v else {
            return Err(self.fail(format!(
                "Value at '{}' failed to satisfy constraint: Member must be a list",
                self.path(name)
            )));
        };
        if let Some(min) = min
            && items.len() < min
        {
            return Err(self.fail(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
                self.path(name)
            )));
        }
        if let Some(max) = max
            && items.len() > max
        {
            return Err(self.fail(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                self.path(name)
            )));
        }
        Ok(Some(items))
    }

    pub(crate) fn req_list(
        &self,
        name: &str,
        min: Option<usize>,
        max: Option<usize>,
    ) -> Result<&'a Vec<Value>, ApiError> {
        self.opt_list(name, min, max)?
            .ok_or_else(|| self.missing(name))
    }

    /// Checks each string of a list member.
    pub(crate) fn str_items(
        &self,
        name: &str,
        items: &'a [Value],
        c: Str,
    ) -> Result<Vec<&'a str>, ApiError> {
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => {
                    self.check_str(&format!("{name}.{}", i + 1), s, c)?;
                    Ok(s.as_str())
                }
                _ => Err(self.fail(format!(
                    "Value at '{}.{}' failed to satisfy constraint: Member must be a string",
                    self.path(name),
                    i + 1
                ))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_whole_value() {
        assert!(matches("ws-[0-9a-z]{8,63}", "ws-abcdefgh1"));
        assert!(!matches("ws-[0-9a-z]{8,63}", "xws-abcdefgh1"));
        assert!(!matches("[^:|]+", "a:b"));
        assert!(matches("\\$LATEST|[0-9]+", "$LATEST"));
        assert!(!matches("\\$LATEST|[0-9]+", "1a"));
    }

    #[test]
    fn messages_name_the_field_and_rule() {
        let v = serde_json::json!({"BundleId": "nope"});
        let input =
            Input::new(&v, |m| ApiError::bad("InvalidParameterValuesException", m)).unwrap();
        let e = input
            .req_str("BundleId", Str::pattern("wsb-[0-9a-z]{8,63}"))
            .unwrap_err();
        assert!(e.message.contains("'BundleId'"), "{}", e.message);
        assert!(
            e.message.contains("regular expression pattern"),
            "{}",
            e.message
        );
        let e = input.req_str("SourceWorkspaceId", Str::any()).unwrap_err();
        assert!(e.message.contains("must not be null"), "{}", e.message);
    }
}

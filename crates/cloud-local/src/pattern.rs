//! EventBridge event patterns: parsed once (refused as EventBridge refuses them at PutRule), then
//! matched against events as EventBridge matches them.
//!
//! Why our own matcher: no maintained Rust crate implements EventBridge's pattern language. The
//! one maintained candidate, `quamina` (a Rust port of Tim Bray's Go library), implements Quamina's
//! dialect: it has no `$or`, no `anything-but` with `prefix`/`suffix`/`wildcard`/
//! `equals-ignore-case`, no `prefix`/`suffix` with `equals-ignore-case`, and compares numbers by
//! value where EventBridge compares their text. AWS's own engine, Event Ruler, is Java.
//!
//! Sources (the rules below cite them by these names):
//! - [patterns]: EventBridge User Guide, "Amazon EventBridge event patterns"
//!   (eb-event-patterns.html): fields are ANDed, the values of a field's array ORed; strings match
//!   character by character; numbers by their string representation (300, 300.0 and 3.0e2 differ).
//! - [arrays]: "Arrays in Amazon EventBridge event patterns": an event array matches when its
//!   intersection with the pattern's array is non-empty.
//! - [null]: "Matching null values and empty strings": `null` and `""` are distinct values.
//! - [filtering]: "Content filtering in Amazon EventBridge event patterns" and "Comparison operators
//!   for use in event patterns" (eb-create-pattern-operators.html): `prefix`, `suffix` (each also
//!   with `equals-ignore-case`), `equals-ignore-case`, `wildcard`, `anything-but` (a value, a list of
//!   strings or of numbers, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`), `numeric`,
//!   `cidr`, `exists` (leaf nodes only: an object is not a leaf), `$or`.
//! - [ruler]: the README of aws/event-ruler, the engine EventBridge runs: wildcard escapes (`\*`,
//!   `\\`, no `**`), `$or` only with an array of at least two objects (otherwise an ordinary field
//!   name), objects inside event arrays matched element by element (`rulesForJSONEvent`: two fields
//!   of one pattern object never match in different elements of the same array).
//!
//! Known difference: serde_json keeps `300` apart from `300.0` but reads `300.0` and `3.0e2` as the
//! same number, which [patterns] says differ.

use std::net::IpAddr;

use serde_json::{Map, Number, Value};

/// Why a pattern was refused; the message follows EventBridge's `InvalidEventPatternException`
/// ("Event pattern is not valid. Reason: ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {reason}")]
pub struct PatternError {
    /// What is wrong, naming the field.
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> PatternError {
    PatternError {
        reason: reason.into(),
    }
}

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

/// The fields of one pattern object: every field and every `$or` group must match (AND).
#[derive(Debug, Clone, PartialEq)]
struct Node {
    fields: Vec<(String, Field)>,
    /// `$or` groups: one of the alternatives of each must match.
    ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// A nested object of the pattern.
    Object(Node),
    /// A leaf: one of the matchers must match one of the event's values.
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix(String),
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Vec<Glob>),
    Numeric(Vec<(Cmp, f64)>),
    Cidr(IpAddr, u8),
    Exists(bool),
    AnythingBut(AnythingBut),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Vec<Glob>>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One piece of a wildcard: a literal run or `*`.
#[derive(Debug, Clone, PartialEq)]
enum Glob {
    Lit(String),
    Star,
}

/// The words a pattern object uses for its comparisons ([ruler]'s reserved names: an object using
/// one is a matcher, not a nested field).
const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
];

impl EventPattern {
    /// Parses a pattern given as JSON text (as PutRule's `EventPattern` and CloudFormation's
    /// `EventPattern` carry it).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("Filter is not valid JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Parses a pattern given as a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        let Value::Object(map) = value else {
            return Err(invalid("Filter is not an object"));
        };
        if map.is_empty() {
            return Err(invalid("Empty objects are not allowed"));
        }
        Ok(Self {
            root: node(map, "")?,
        })
    }

    /// Whether `event` (the whole event: `source`, `detail-type`, `account`, `detail`, ...)
    /// matches.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(Some(event))
    }
}

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn node(map: &Map<String, Value>, at: &str) -> Result<Node, PatternError> {
    let mut out = Node {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (key, value) in map {
        let here = path(at, key);
        // [ruler]: "$or" is an OR only with an array of two or more objects none of which uses a
        // comparison word as a field name; otherwise it is an ordinary field name.
        if key == "$or"
            && let Value::Array(items) = value
            && items.len() >= 2
            && items.iter().all(|i| {
                i.as_object()
                    .is_some_and(|m| !m.keys().any(|k| OPERATORS.contains(&k.as_str())))
            })
        {
            let mut alternatives = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(m) = item else {
                    continue;
                };
                if m.is_empty() {
                    return Err(invalid(format!("Empty objects are not allowed in {here}")));
                }
                alternatives.push(node(m, at)?);
            }
            out.ors.push(alternatives);
            continue;
        }
        let field = match value {
            Value::Object(m) if m.is_empty() => {
                return Err(invalid(format!("Empty objects are not allowed in {here}")));
            }
            Value::Object(m) => Field::Object(node(m, &here)?),
            Value::Array(items) if items.is_empty() => {
                return Err(invalid(format!("Empty arrays are not allowed in {here}")));
            }
            Value::Array(items) => Field::Leaf(
                items
                    .iter()
                    .map(|i| matcher(i, &here))
                    .collect::<Result<_, _>>()?,
            ),
            _ => {
                return Err(invalid(format!(
                    "Match value must be String, number, true, false, or null at {here}"
                )));
            }
        };
        out.fields.push((key.clone(), field));
    }
    Ok(out)
}

fn one_op<'a>(m: &'a Map<String, Value>, at: &str) -> Result<(&'a str, &'a Value), PatternError> {
    let mut it = m.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => Err(invalid(format!(
            "An object in a match array must have exactly one key at {at}"
        ))),
    }
}

fn string<'a>(v: &'a Value, what: &str, at: &str) -> Result<&'a str, PatternError> {
    v.as_str()
        .ok_or_else(|| invalid(format!("{what} match pattern must be a string at {at}")))
}

/// A string, or `{"equals-ignore-case": string}` (`prefix` and `suffix` take either).
fn maybe_ignore_case(v: &Value, what: &str, at: &str) -> Result<(String, bool), PatternError> {
    match v {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(m) => match one_op(m, at)? {
            ("equals-ignore-case", Value::String(s)) => Ok((s.clone(), true)),
            _ => Err(invalid(format!(
                "Unsupported {what} pattern: only a string or equals-ignore-case at {at}"
            ))),
        },
        _ => Err(invalid(format!(
            "{what} match pattern must be a string at {at}"
        ))),
    }
}

fn strings(v: &Value, what: &str, at: &str) -> Result<Vec<String>, PatternError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| string(i, what, at).map(str::to_owned))
            .collect(),
        _ => Err(invalid(format!(
            "{what} must be a string or a non-empty list of strings at {at}"
        ))),
    }
}

fn matcher(item: &Value, at: &str) -> Result<Matcher, PatternError> {
    let Value::Object(m) = item else {
        if item.is_array() {
            return Err(invalid(format!(
                "Match value must be String, number, true, false, or null at {at}"
            )));
        }
        return Ok(Matcher::Exact(item.clone()));
    };
    let (op, arg) = one_op(m, at)?;
    Ok(match op {
        "prefix" => match maybe_ignore_case(arg, "prefix", at)? {
            (s, false) => Matcher::Prefix(s),
            (s, true) => Matcher::PrefixIgnoreCase(s.to_lowercase()),
        },
        "suffix" => match maybe_ignore_case(arg, "suffix", at)? {
            (s, false) => Matcher::Suffix(s),
            (s, true) => Matcher::SuffixIgnoreCase(s.to_lowercase()),
        },
        "equals-ignore-case" => {
            Matcher::EqualsIgnoreCase(string(arg, "equals-ignore-case", at)?.to_lowercase())
        }
        "wildcard" => Matcher::Wildcard(glob(string(arg, "wildcard", at)?, at)?),
        "numeric" => Matcher::Numeric(numeric(arg, at)?),
        "cidr" => {
            let (ip, bits) = cidr(string(arg, "cidr", at)?)
                .ok_or_else(|| invalid(format!("Malformed CIDR at {at}")))?;
            Matcher::Cidr(ip, bits)
        }
        "exists" => Matcher::Exists(arg.as_bool().ok_or_else(|| {
            invalid(format!(
                "exists match pattern must be either true or false at {at}"
            ))
        })?),
        "anything-but" => Matcher::AnythingBut(anything_but(arg, at)?),
        other => {
            return Err(invalid(format!("Unrecognized match type {other} at {at}")));
        }
    })
}

fn anything_but(arg: &Value, at: &str) -> Result<AnythingBut, PatternError> {
    Ok(match arg {
        Value::String(_) | Value::Number(_) => AnythingBut::Values(vec![arg.clone()]),
        // [filtering]: lists "that contain only strings, or only numbers".
        Value::Array(items)
            if !items.is_empty()
                && (items.iter().all(Value::is_string) || items.iter().all(Value::is_number)) =>
        {
            AnythingBut::Values(items.clone())
        }
        Value::Object(m) => match one_op(m, at)? {
            ("prefix", v) => AnythingBut::Prefixes(strings(v, "prefix", at)?),
            ("suffix", v) => AnythingBut::Suffixes(strings(v, "suffix", at)?),
            ("equals-ignore-case", v) => AnythingBut::IgnoreCase(
                strings(v, "equals-ignore-case", at)?
                    .into_iter()
                    .map(|s| s.to_lowercase())
                    .collect(),
            ),
            ("wildcard", v) => AnythingBut::Wildcards(
                strings(v, "wildcard", at)?
                    .iter()
                    .map(|s| glob(s, at))
                    .collect::<Result<_, _>>()?,
            ),
            (other, _) => {
                return Err(invalid(format!(
                    "Unsupported anything-but pattern: {other} at {at}"
                )));
            }
        },
        _ => {
            return Err(invalid(format!(
                "Value of anything-but must be an array or single string/number value, or an object with prefix, suffix, equals-ignore-case or wildcard at {at}"
            )));
        }
    })
}

/// [ruler]: `*` matches any run of characters, `\*` a star, `\\` a backslash; `**` and any other
/// escape are refused.
fn glob(text: &str, at: &str) -> Result<Vec<Glob>, PatternError> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => lit.push(e),
                _ => {
                    return Err(invalid(format!(
                        "Invalid escape character in wildcard pattern at {at}"
                    )));
                }
            },
            '*' => {
                if lit.is_empty() && matches!(out.last(), Some(Glob::Star)) {
                    return Err(invalid(format!(
                        "Consecutive wildcard characters at pos {} at {at}",
                        text.find("**").unwrap_or(0) + 1
                    )));
                }
                if !lit.is_empty() {
                    out.push(Glob::Lit(std::mem::take(&mut lit)));
                }
                out.push(Glob::Star);
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Glob::Lit(lit));
    }
    Ok(out)
}

fn glob_matches(parts: &[Glob], s: &str) -> bool {
    match parts.split_first() {
        None => s.is_empty(),
        Some((Glob::Lit(l), rest)) => s
            .strip_prefix(l.as_str())
            .is_some_and(|r| glob_matches(rest, r)),
        Some((Glob::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            s.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .any(|i| glob_matches(rest, &s[i..]))
        }
    }
}

/// [filtering]: `["=", x]`, or a lower bound (`>`, `>=`) and/or an upper bound (`<`, `<=`), each
/// followed by a number.
fn numeric(arg: &Value, at: &str) -> Result<Vec<(Cmp, f64)>, PatternError> {
    let bad = || invalid(format!("Invalid numeric range at {at}"));
    let Value::Array(items) = arg else {
        return Err(invalid(format!(
            "Value of numeric must be an array at {at}"
        )));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => Cmp::Eq,
            Some("<") => Cmp::Lt,
            Some("<=") => Cmp::Le,
            Some(">") => Cmp::Gt,
            Some(">=") => Cmp::Ge,
            _ => return Err(bad()),
        };
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| invalid(format!("Value of {} must be a number at {at}", pair[0])))?;
        out.push((op, n));
    }
    let lower = out
        .iter()
        .filter(|(c, _)| matches!(c, Cmp::Gt | Cmp::Ge))
        .count();
    let upper = out
        .iter()
        .filter(|(c, _)| matches!(c, Cmp::Lt | Cmp::Le))
        .count();
    let eq = out.iter().filter(|(c, _)| *c == Cmp::Eq).count();
    let shape_ok = if eq > 0 {
        out.len() == 1
    } else {
        lower <= 1 && upper <= 1
    };
    if !shape_ok {
        return Err(bad());
    }
    Ok(out)
}

fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(net: IpAddr, bits: u8, value: &str) -> bool {
    let Ok(ip) = value.parse::<IpAddr>() else {
        return false;
    };
    let (a, b, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (a >> shift) == (b >> shift)
}

/// The leaf values of an event field: an array stands for each of its elements ([arrays]), nested
/// arrays flattened; objects are not leaves ([filtering]: exists works on leaf nodes only).
fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        Value::Object(_) => {}
        other => out.push(other),
    }
}

fn number_eq(a: &Number, b: &Number) -> bool {
    // [patterns]: numbers compare by their representation, so 300 and 300.0 differ.
    a == b
}

fn exact(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => number_eq(a, b),
        _ => want == got,
    }
}

impl Matcher {
    fn matches_value(&self, v: &Value) -> bool {
        let s = v.as_str();
        match self {
            Matcher::Exact(want) => exact(want, v),
            Matcher::Prefix(p) => s.is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => {
                s.is_some_and(|s| s.to_lowercase().starts_with(p.as_str()))
            }
            Matcher::Suffix(p) => s.is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::SuffixIgnoreCase(p) => {
                s.is_some_and(|s| s.to_lowercase().ends_with(p.as_str()))
            }
            Matcher::EqualsIgnoreCase(p) => s.is_some_and(|s| s.to_lowercase() == *p),
            Matcher::Wildcard(g) => s.is_some_and(|s| glob_matches(g, s)),
            Matcher::Numeric(conds) => v.as_f64().is_some_and(|n| {
                conds.iter().all(|(c, x)| match c {
                    Cmp::Eq => n == *x,
                    Cmp::Lt => n < *x,
                    Cmp::Le => n <= *x,
                    Cmp::Gt => n > *x,
                    Cmp::Ge => n >= *x,
                })
            }),
            Matcher::Cidr(net, bits) => s.is_some_and(|s| in_cidr(*net, *bits, s)),
            // A present leaf exists; handled with absence in `Field::matches`.
            Matcher::Exists(want) => *want,
            Matcher::AnythingBut(but) => match but {
                AnythingBut::Values(list) => !list.iter().any(|w| exact(w, v)),
                AnythingBut::Prefixes(ps) => {
                    s.is_some_and(|s| !ps.iter().any(|p| s.starts_with(p.as_str())))
                }
                AnythingBut::Suffixes(ps) => {
                    s.is_some_and(|s| !ps.iter().any(|p| s.ends_with(p.as_str())))
                }
                AnythingBut::IgnoreCase(ps) => s.is_some_and(|s| {
                    let l = s.to_lowercase();
                    !ps.contains(&l)
                }),
                AnythingBut::Wildcards(gs) => {
                    s.is_some_and(|s| !gs.iter().any(|g| glob_matches(g, s)))
                }
            },
        }
    }
}

impl Field {
    fn matches(&self, v: Option<&Value>) -> bool {
        match self {
            Field::Object(node) => node.matches(v),
            Field::Leaf(matchers) => {
                let mut values = Vec::new();
                if let Some(v) = v {
                    leaves(v, &mut values);
                }
                matchers.iter().any(|m| match m {
                    // [filtering]: absent, or not a leaf (an object), counts as not existing.
                    Matcher::Exists(want) => *want != values.is_empty(),
                    m => values.iter().any(|v| m.matches_value(v)),
                })
            }
        }
    }
}

impl Node {
    /// `v` is the event object at this level (`None`: absent, so only `exists: false` can match
    /// below it).
    fn matches(&self, v: Option<&Value>) -> bool {
        match v {
            // [ruler]: the objects of an event array are matched one element at a time, so all
            // the fields of this node must match within the same element.
            Some(Value::Array(items)) => {
                let mut objects = Vec::new();
                flatten_objects(items, &mut objects);
                if objects.is_empty() {
                    return self.matches_object(None);
                }
                objects.into_iter().any(|o| self.matches_object(Some(o)))
            }
            Some(Value::Object(m)) => self.matches_object(Some(m)),
            _ => self.matches_object(None),
        }
    }

    fn matches_object(&self, m: Option<&Map<String, Value>>) -> bool {
        self.fields
            .iter()
            .all(|(k, f)| f.matches(m.and_then(|m| m.get(k))))
            && self.ors.iter().all(|alts| {
                alts.iter().any(|n| match m {
                    Some(m) => n.matches_object(Some(m)),
                    None => n.matches_object(None),
                })
            })
    }
}

fn flatten_objects<'a>(items: &'a [Value], out: &mut Vec<&'a Map<String, Value>>) {
    for i in items {
        match i {
            Value::Object(m) => out.push(m),
            Value::Array(inner) => flatten_objects(inner, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    //! The examples of the EventBridge User Guide ([patterns], [arrays], [null], [filtering]) and of
    //! Event Ruler's README ([ruler]), with the outcome each documents.

    use serde_json::json;

    use super::*;

    fn pattern(v: Value) -> EventPattern {
        EventPattern::from_value(&v).unwrap()
    }

    fn matches(p: Value, event: &Value) -> bool {
        pattern(p).matches(event)
    }

    /// [patterns]: the Amazon EC2 state-change event.
    fn ec2_terminated() -> Value {
        json!({
          "version": "0",
          "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
          "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2",
          "account": "111122223333",
          "time": "2017-12-22T18:43:48Z",
          "region": "us-west-1",
          "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
          "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
        })
    }

    /// [ruler]: the sample event of "Ruler by Example".
    fn ruler_event() -> Value {
        json!({
          "version": "0",
          "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
          "detail-type": "EC2 Instance State-change Notification",
          "source": "aws.ec2",
          "account": "012345679012",
          "time": "2017-10-02T16:24:49Z",
          "region": "us-east-1",
          "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
          "detail": {
            "c-count": 5,
            "d-count": 3,
            "x-limit": 301.8,
            "source-ip": "10.0.0.33",
            "instance-id": "i-000000aaaaaa00000",
            "state": "running"
          }
        })
    }

    /// [null]: the Auto Scaling event with an empty string and a null.
    fn autoscaling() -> Value {
        json!({
          "version": "0",
          "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
          "detail-type": "EC2 Instance Launch Successful",
          "source": "aws.autoscaling",
          "account": "123456789012",
          "time": "2015-11-11T21:31:47Z",
          "region": "us-east-1",
          "resources": [],
          "detail": {"eventVersion": "", "responseElements": null}
        })
    }

    #[test]
    fn the_ec2_termination_pattern_matches_only_terminations() {
        let p = json!({
          "source": ["aws.ec2"],
          "detail-type": ["EC2 Instance State-change Notification"],
          "detail": {"state": ["terminated"]}
        });
        assert!(matches(p.clone(), &ec2_terminated()));
        let mut running = ec2_terminated();
        running["detail"]["state"] = json!("running");
        assert!(!matches(p, &running));
        // [patterns]: values in an array are ORed.
        assert!(matches(
            json!({"source": ["aws.ec2", "aws.fargate"]}),
            &ec2_terminated()
        ));
        // [patterns]: strings match character by character, without case-folding.
        assert!(!matches(json!({"source": ["AWS.EC2"]}), &ec2_terminated()));
        // [patterns]: every field the pattern names must be in the event.
        assert!(!matches(
            json!({"detail": {"reason": ["terminated"]}}),
            &ec2_terminated()
        ));
    }

    #[test]
    fn null_and_empty_string_match_themselves_only() {
        let event = autoscaling();
        assert!(matches(
            json!({
              "source": ["aws.autoscaling"],
              "detail-type": ["EC2 Instance Launch Successful"],
              "detail": {"responseElements": [null]}
            }),
            &event
        ));
        assert!(matches(json!({"detail": {"eventVersion": [""]}}), &event));
        // [null]: "Null values and empty strings are not interchangeable".
        assert!(!matches(
            json!({"detail": {"eventVersion": [null]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"responseElements": [""]}}),
            &event
        ));
    }

    #[test]
    fn the_macie_value_pattern_matches_nested_numbers() {
        let event = json!({
          "source": "aws.macie",
          "detail-type": "Macie Alert",
          "detail": {
            "notification-type": "ALERT_CREATED",
            "tags": ["Custom_Alert", "Insider"],
            "risk-score": 80,
            "trigger": {"alert-type": "basic", "risk": 8}
          }
        });
        let p = |risk: i64| {
            json!({
              "source": ["aws.macie"],
              "detail-type": ["Macie Alert"],
              "detail": {"risk-score": [80], "trigger": {"risk": [risk]}}
            })
        };
        assert!(matches(p(8), &event));
        assert!(!matches(p(9), &event));
        // [arrays]: a pattern value matches one element of an event array.
        assert!(matches(json!({"detail": {"tags": ["Insider"]}}), &event));
    }

    #[test]
    fn an_array_matches_when_the_intersection_is_not_empty() {
        let p = json!({"resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"
        ]});
        let event = json!({"resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
        ]});
        assert!(matches(p.clone(), &event));
        let other =
            json!({"resources": ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"]});
        assert!(!matches(p, &other));
    }

    #[test]
    fn numbers_match_by_representation() {
        // [patterns]: "300, 300.0, and 3.0e2 are not considered equal".
        assert!(matches(json!({"n": [300]}), &json!({"n": 300})));
        assert!(!matches(json!({"n": [300]}), &json!({"n": 300.0})));
        assert!(!matches(json!({"n": ["300"]}), &json!({"n": 300})));
        assert!(!matches(json!({"b": ["true"]}), &json!({"b": true})));
        assert!(matches(json!({"b": [true]}), &json!({"b": true})));
    }

    #[test]
    fn the_ruler_examples_match_the_sample_event() {
        let e = ruler_event();
        assert!(matches(
            json!({
              "detail-type": ["EC2 Instance State-change Notification"],
              "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
              "detail": {"state": ["initializing", "running"]}
            }),
            &e
        ));
        assert!(matches(json!({"time": [{"prefix": "2017-10-02"}]}), &e));
        assert!(!matches(json!({"time": [{"prefix": "2017-10-03"}]}), &e));
        assert!(matches(
            json!({"source": [{"prefix": {"equals-ignore-case": "EC2"}}]}),
            &json!({"source": "ec2.example"})
        ));
        assert!(matches(json!({"source": [{"suffix": "ec2"}]}), &e));
        assert!(matches(
            json!({"source": [{"suffix": {"equals-ignore-case": "EC2"}}]}),
            &e
        ));
        assert!(!matches(json!({"source": [{"suffix": "EC2"}]}), &e));
        assert!(matches(
            json!({"source": [{"equals-ignore-case": "AWS.EC2"}]}),
            &e
        ));
        assert!(matches(
            json!({"detail": {
              "c-count": [{"numeric": [">", 0, "<=", 5]}],
              "d-count": [{"numeric": ["<", 10]}],
              "x-limit": [{"numeric": ["=", 3.018e2]}]
            }}),
            &e
        ));
        assert!(!matches(
            json!({"detail": {"c-count": [{"numeric": [">", 5]}]}}),
            &e
        ));
        // Numeric matching works only on JSON numbers.
        assert!(!matches(
            json!({"detail": {"state": [{"numeric": [">", 0]}]}}),
            &e
        ));
        assert!(matches(
            json!({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}),
            &e
        ));
        assert!(!matches(
            json!({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}),
            &e
        ));
        assert!(matches(
            json!({"ip": [{"cidr": "2001:db8::/32"}]}),
            &json!({"ip": "2001:db8:1::7"})
        ));
        // [filtering]'s complex example.
        assert!(matches(
            json!({
              "time": [{"prefix": "2017-10-02"}],
              "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
                "source-ip": [{"cidr": "10.0.0.0/8"}]
              }
            }),
            &e
        ));
    }

    #[test]
    fn anything_but_matches_everything_else() {
        let state =
            |s: &str| json!({"detail": {"state": s, "x-limit": 123, "FileName": "a/lib/b.jar"}});
        let p = |but: Value| json!({"detail": {"state": [{"anything-but": but}]}});
        assert!(!matches(p(json!("initializing")), &state("initializing")));
        assert!(matches(p(json!("initializing")), &state("running")));
        assert!(!matches(
            p(json!(["stopped", "overloaded"])),
            &state("stopped")
        ));
        assert!(matches(
            p(json!(["stopped", "overloaded"])),
            &state("running")
        ));
        assert!(!matches(
            p(json!({"prefix": "init"})),
            &state("initializing")
        ));
        assert!(matches(p(json!({"prefix": "init"})), &state("running")));
        assert!(!matches(
            p(json!({"prefix": ["init", "error"]})),
            &state("error-x")
        ));
        assert!(!matches(p(json!({"suffix": "ing"})), &state("running")));
        assert!(matches(p(json!({"suffix": "ing"})), &state("stopped")));
        assert!(!matches(
            p(json!({"equals-ignore-case": "Stopped"})),
            &state("STOPPED")
        ));
        assert!(matches(
            p(json!({"equals-ignore-case": ["Stopped", "OverLoaded"]})),
            &state("running")
        ));
        assert!(!matches(
            json!({"detail": {"FileName": [{"anything-but": {"wildcard": "*/lib/*"}}]}}),
            &state("x")
        ));
        assert!(!matches(
            json!({"detail": {"x-limit": [{"anything-but": 123}]}}),
            &state("x")
        ));
        assert!(matches(
            json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}),
            &state("x")
        ));
        // Anything-but needs a value: an absent field does not match.
        assert!(!matches(
            json!({"detail": {"missing": [{"anything-but": "x"}]}}),
            &state("x")
        ));
    }

    #[test]
    fn wildcards_match_runs_of_characters() {
        // [filtering]: "Any file with a .png extension, located within the folder dir".
        let p = json!({"FileName": [{"wildcard": "dir/*.png"}]});
        assert!(matches(p.clone(), &json!({"FileName": "dir/pic.png"})));
        assert!(matches(p.clone(), &json!({"FileName": "dir/a/b.png"})));
        assert!(!matches(p.clone(), &json!({"FileName": "other/pic.png"})));
        assert!(!matches(p, &json!({"FileName": "dir/pic.png.bak"})));
        assert!(matches(
            json!({"source": [{"wildcard": "Simple*Service"}]}),
            &json!({"source": "SimpleQueueService"})
        ));
        assert!(matches(
            json!({"s": [{"wildcard": "a\\*b"}]}),
            &json!({"s": "a*b"})
        ));
        assert!(!matches(
            json!({"s": [{"wildcard": "a\\*b"}]}),
            &json!({"s": "axb"})
        ));
        assert!(matches(
            json!({"s": [{"wildcard": "*"}]}),
            &json!({"s": ""})
        ));
    }

    #[test]
    fn exists_looks_at_leaves_only() {
        let p = json!({"detail": {"c-count": [{"exists": false}]}});
        // [filtering]: the two events the guide lists as matching `exists: false`.
        assert!(matches(
            p.clone(),
            &json!({
              "detail-type": ["EC2 Instance State-change Notification"],
              "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
              "detail": {"state": ["initializing", "running"]}
            })
        ));
        assert!(matches(
            p.clone(),
            &json!({
              "detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}
            })
        ));
        assert!(!matches(p, &ruler_event()));
        assert!(matches(
            json!({"detail": {"c-count": [{"exists": true}]}}),
            &ruler_event()
        ));
        assert!(!matches(
            json!({"detail": {"nope": [{"exists": true}]}}),
            &ruler_event()
        ));
        // A field whose parent object is absent does not exist either.
        assert!(matches(
            json!({"nothing": {"here": [{"exists": false}]}}),
            &ruler_event()
        ));
    }

    #[test]
    fn or_groups_match_any_alternative() {
        // [ruler]: "source" && ("metricName" || "namespace").
        let p = json!({
          "source": ["aws.cloudwatch"],
          "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]}
          ]
        });
        assert!(matches(
            p.clone(),
            &json!({"source": "aws.cloudwatch", "metricName": "ReadLatency"})
        ));
        assert!(matches(
            p.clone(),
            &json!({"source": "aws.cloudwatch", "namespace": "AWS/ES"})
        ));
        assert!(!matches(
            p.clone(),
            &json!({"source": "aws.cloudwatch", "namespace": "AWS/S3"})
        ));
        assert!(!matches(
            p,
            &json!({"source": "aws.ec2", "metricName": "ReadLatency"})
        ));
        // [ruler]: nested "Or" and "And".
        let nested = json!({
          "source": ["aws.cloudwatch"],
          "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {
              "metricType": ["MetricType"],
              "namespace": ["AWS/EC2", "AWS/ES"],
              "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]
            },
            {"scope": ["Service"]}
          ]
        });
        let e = json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000});
        assert!(matches(nested.clone(), &e));
        let e = json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1});
        assert!(!matches(nested, &e));
        // [ruler]: "$or" with an object is an ordinary field name.
        assert!(matches(
            json!({"$or": {"namespace": ["AWS/EC2"]}}),
            &json!({"$or": {"namespace": "AWS/EC2"}})
        ));
    }

    #[test]
    fn objects_in_an_event_array_match_one_element_at_a_time() {
        // [ruler], "JSON Array Matching".
        let e = json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}
        ]});
        assert!(matches(json!({"employees": {"firstName": ["Anna"]}}), &e));
        assert!(matches(
            json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}),
            &e
        ));
        assert!(!matches(
            json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
            &e
        ));
    }

    #[test]
    fn the_wave_requested_rule_matches_its_account_only() {
        let p = json!({"source": ["fleetshift"], "detail-type": ["Wave Requested"], "account": ["123456789012"]});
        let e = |account: &str| json!({"source": "fleetshift", "detail-type": "Wave Requested", "account": account, "detail": {}});
        assert!(matches(p.clone(), &e("123456789012")));
        assert!(!matches(p, &e("111122223333")));
    }

    #[test]
    fn invalid_patterns_are_refused_with_a_reason() {
        let err = |v: Value| EventPattern::from_value(&v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"source": []})),
            "Event pattern is not valid. Reason: Empty arrays are not allowed in source"
        );
        assert_eq!(
            err(json!({"source": "aws.ec2"})),
            "Event pattern is not valid. Reason: Match value must be String, number, true, false, or null at source"
        );
        assert_eq!(
            err(json!({"s": [{"wildcard": "a**b"}]})),
            "Event pattern is not valid. Reason: Consecutive wildcard characters at pos 2 at s"
        );
        assert_eq!(
            err(json!({"s": [{"wildcard": "a\\b"}]})),
            "Event pattern is not valid. Reason: Invalid escape character in wildcard pattern at s"
        );
        assert_eq!(
            err(json!({"n": [{"numeric": [">", 1, ">", 2]}]})),
            "Event pattern is not valid. Reason: Invalid numeric range at n"
        );
        assert_eq!(
            err(json!({"n": [{"regex": "a"}]})),
            "Event pattern is not valid. Reason: Unrecognized match type regex at n"
        );
        assert_eq!(
            err(json!({"n": [{"anything-but": [1, "a"]}]})),
            "Event pattern is not valid. Reason: Value of anything-but must be an array or single string/number value, or an object with prefix, suffix, equals-ignore-case or wildcard at n"
        );
        assert_eq!(
            err(json!({})),
            "Event pattern is not valid. Reason: Empty objects are not allowed"
        );
        assert_eq!(
            EventPattern::parse("{").unwrap_err().reason,
            "Filter is not valid JSON: EOF while parsing an object at line 1 column 1"
        );
    }
}

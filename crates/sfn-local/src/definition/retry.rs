//! Retry and Catch: the retriers and catchers of a Task, Parallel or Map state.

use serde_json::{Map, Value};

use super::{DefinitionError, check_fields, err, result_sel, string_field};
use crate::path::ResultSel;

#[derive(Debug)]
pub(crate) struct Retrier {
    pub(crate) error_equals: Vec<String>,
    pub(crate) interval_seconds: f64,
    pub(crate) max_attempts: u64,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<f64>,
    pub(crate) jitter_full: bool,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub(crate) error_equals: Vec<String>,
    pub(crate) next: String,
    pub(crate) result_path: ResultSel,
}

fn error_equals(
    state: &str,
    o: &Map<String, Value>,
    what: &str,
) -> Result<Vec<String>, DefinitionError> {
    let arr = o
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            err(
                state,
                format!("{what}: ErrorEquals is required and must be an array"),
            )
        })?;
    let names: Vec<String> = arr
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| err(state, format!("{what}: ErrorEquals must hold strings")))?;
    if names.is_empty() {
        return Err(err(
            state,
            format!("{what}: ErrorEquals must name at least one error"),
        ));
    }
    if names.iter().any(|n| n == "States.ALL") && names.len() > 1 {
        return Err(err(
            state,
            format!("{what}: States.ALL must appear alone in ErrorEquals"),
        ));
    }
    Ok(names)
}

fn parse_retrier(full: &str, i: usize, v: &Value) -> Result<Retrier, DefinitionError> {
    let what = format!("Retry[{i}]");
    let o = v
        .as_object()
        .ok_or_else(|| err(full, format!("{what} must be an object")))?;
    check_fields(
        full,
        o,
        &[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ],
    )?;
    let num = |k: &str| {
        o.get(k).map(|v| {
            v.as_f64()
                .ok_or_else(|| err(full, format!("{what}: {k} must be a number")))
        })
    };
    let interval_seconds = num("IntervalSeconds").transpose()?.unwrap_or(1.0);
    if interval_seconds < 1.0 || interval_seconds.fract() != 0.0 {
        return Err(err(
            full,
            format!("{what}: IntervalSeconds must be a positive integer"),
        ));
    }
    let max_attempts = match o.get("MaxAttempts") {
        None => 3,
        Some(v) => v.as_u64().ok_or_else(|| {
            err(
                full,
                format!("{what}: MaxAttempts must be a non-negative integer"),
            )
        })?,
    };
    let backoff_rate = num("BackoffRate").transpose()?.unwrap_or(2.0);
    if backoff_rate < 1.0 {
        return Err(err(
            full,
            format!("{what}: BackoffRate must be at least 1.0"),
        ));
    }
    let max_delay_seconds = num("MaxDelaySeconds").transpose()?;
    if let Some(d) = max_delay_seconds
        && d < 1.0
    {
        return Err(err(
            full,
            format!("{what}: MaxDelaySeconds must be a positive integer"),
        ));
    }
    let jitter_full = match o.get("JitterStrategy").map(|v| v.as_str()) {
        None | Some(Some("NONE")) => false,
        Some(Some("FULL")) => true,
        _ => {
            return Err(err(
                full,
                format!("{what}: JitterStrategy must be FULL or NONE"),
            ));
        }
    };
    Ok(Retrier {
        error_equals: error_equals(full, o, &what)?,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        jitter_full,
    })
}

fn parse_catcher(full: &str, i: usize, v: &Value) -> Result<Catcher, DefinitionError> {
    let what = format!("Catch[{i}]");
    let o = v
        .as_object()
        .ok_or_else(|| err(full, format!("{what} must be an object")))?;
    check_fields(full, o, &["ErrorEquals", "Next", "ResultPath", "Comment"])?;
    Ok(Catcher {
        error_equals: error_equals(full, o, &what)?,
        next: string_field(full, o, "Next")?
            .ok_or_else(|| err(full, format!("{what}: Next is required")))?,
        result_path: result_sel(full, o)?,
    })
}

/// A state's Retry and Catch lists.
pub(super) fn retry_and_catch(
    full: &str,
    o: &Map<String, Value>,
) -> Result<(Vec<Retrier>, Vec<Catcher>), DefinitionError> {
    let retry = match o.get("Retry") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| parse_retrier(full, i, r))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(full, "Retry must be an array")),
    };
    let catch = match o.get("Catch") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, c)| parse_catcher(full, i, c))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(full, "Catch must be an array")),
    };
    // States.ALL matches everything: a retrier or catcher after it could never apply.
    let all_at = |lists: Vec<&Vec<String>>| {
        lists
            .iter()
            .position(|l| l.iter().any(|n| n == "States.ALL"))
            .filter(|i| i + 1 < lists.len())
    };
    if let Some(i) = all_at(retry.iter().map(|r: &Retrier| &r.error_equals).collect()) {
        return Err(err(
            full,
            format!("Retry[{i}]: States.ALL must appear only in the last retrier"),
        ));
    }
    if let Some(i) = all_at(catch.iter().map(|c: &Catcher| &c.error_equals).collect()) {
        return Err(err(
            full,
            format!("Catch[{i}]: States.ALL must appear only in the last catcher"),
        ));
    }
    Ok((retry, catch))
}

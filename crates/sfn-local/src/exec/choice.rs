//! The Choice state: its rules evaluated against the state's effective input.

use std::time::SystemTime;

use serde_json::Value;

use super::{Branch, Failure, Run, Step};
use crate::definition::{ChoiceRule, Cmp, Op, Rhs, State};
use crate::path::Scope;
use crate::time::parse_timestamp;

impl Run {
    /// The first rule that matches names the next state, else the Default.
    pub(super) fn choice_state(
        &self,
        st: &State,
        (choices, default): (&[ChoiceRule], &Option<String>),
        raw: Value,
        br: &Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let ctx = self.context(st, entered_time, 0, br);
        let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
        let scope = Scope {
            input: &eff,
            context: &ctx,
            rng: br.draws.as_ref(),
        };
        let mut next = None;
        for c in choices {
            if eval_rule(c, &scope).map_err(rt)? {
                next = c.next().map(str::to_string);
                break;
            }
        }
        let next = match next.or_else(|| default.clone()) {
            Some(n) => n,
            None => {
                return Err(Failure::new(
                    "States.NoChoiceMatched",
                    Some(format!(
                        "An error occurred while executing the state '{}' (entered at the event id #{entered}). No Choice Rule matched and no Default is given.",
                        st.name
                    )),
                ));
            }
        };
        let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
        Ok(Step::Next(self.limit_output(st, out)?, Some(next)))
    }
}

fn num_cmp(a: f64, b: f64, c: Cmp) -> bool {
    match c {
        Cmp::Eq => a == b,
        Cmp::Lt => a < b,
        Cmp::Gt => a > b,
        Cmp::Le => a <= b,
        Cmp::Ge => a >= b,
    }
}

fn ord_cmp<T: Ord>(a: T, b: T, c: Cmp) -> bool {
    match c {
        Cmp::Eq => a == b,
        Cmp::Lt => a < b,
        Cmp::Gt => a > b,
        Cmp::Le => a <= b,
        Cmp::Ge => a >= b,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn glob(pattern: &str, s: &str) -> bool {
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                if let Some(n) = it.next() {
                    toks.push(Tok::Ch(n));
                }
            }
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while i < s.len() {
        if p < toks.len() {
            match toks[p] {
                Tok::Ch(c) if c == s[i] => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Tok::Star => {
                    star = Some(p);
                    mark = i;
                    p += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some(sp) => {
                p = sp + 1;
                mark += 1;
                i = mark;
            }
            None => return false,
        }
    }
    while p < toks.len() && matches!(toks[p], Tok::Star) {
        p += 1;
    }
    p == toks.len()
}

fn eval_rule(rule: &ChoiceRule, s: &Scope<'_>) -> Result<bool, String> {
    match rule {
        ChoiceRule::And(rs, _) => {
            for r in rs {
                if !eval_rule(r, s)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        ChoiceRule::Or(rs, _) => {
            for r in rs {
                if eval_rule(r, s)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        ChoiceRule::Not(r, _) => Ok(!eval_rule(r, s)?),
        ChoiceRule::Cmp {
            variable, op, rhs, ..
        } => {
            let var = variable.eval(s);
            if let Op::IsPresent = op {
                let want = matches!(rhs, Rhs::Literal(Value::Bool(true)));
                return Ok(var.is_ok() == want);
            }
            let var = var.map_err(|_| {
                format!(
                    "Invalid path '{}': The choice state's condition path references an invalid value.",
                    variable.text()
                )
            })?;
            let rhs = match rhs {
                Rhs::Literal(v) => v.clone(),
                Rhs::Path(q) => q.eval(s).map_err(|_| {
                    format!("Invalid path '{}': The choice state's condition path references an invalid value.", q.text())
                })?,
            };
            let flag = || rhs.as_bool().unwrap_or(false);
            Ok(match op {
                Op::IsNull => var.is_null() == flag(),
                Op::IsNumeric => var.is_number() == flag(),
                Op::IsString => var.is_string() == flag(),
                Op::IsBoolean => var.is_boolean() == flag(),
                Op::IsTimestamp => var.as_str().and_then(parse_timestamp).is_some() == flag(),
                Op::IsPresent => unreachable!("handled above"),
                Op::BooleanEquals => match (var.as_bool(), rhs.as_bool()) {
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                },
                Op::StringMatches => match (var.as_str(), rhs.as_str()) {
                    (Some(a), Some(p)) => glob(p, a),
                    _ => false,
                },
                Op::String(c) => match (var.as_str(), rhs.as_str()) {
                    (Some(a), Some(b)) => ord_cmp(a, b, *c),
                    _ => false,
                },
                Op::Numeric(c) => match (&var, &rhs) {
                    (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
                        (Some(x), Some(y)) => ord_cmp(x, y, *c),
                        _ => num_cmp(
                            a.as_f64().unwrap_or(f64::NAN),
                            b.as_f64().unwrap_or(f64::NAN),
                            *c,
                        ),
                    },
                    _ => false,
                },
                Op::Timestamp(c) => match (
                    var.as_str().and_then(parse_timestamp),
                    rhs.as_str().and_then(parse_timestamp),
                ) {
                    (Some(a), Some(b)) => ord_cmp(a, b, *c),
                    _ => false,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*.log", "a.log"));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(!glob("a*b", "ac"));
        assert!(glob("a\\*", "a*"));
        assert!(!glob("a\\*", "ab"));
    }
}

//! The intrinsic functions (`States.Format(...)` and the rest), parsed once when the definition
//! is loaded and evaluated on each use.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::path::{Query, Scope};

/// A parsed intrinsic call.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    name: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    Path(Query),
    Call(Expr),
}

const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

pub(crate) fn parse(text: &str) -> Result<Expr, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut p = Parser {
        c: &chars,
        i: 0,
        text,
    };
    let e = p.call()?;
    p.ws();
    if p.i != chars.len() {
        return Err(format!(
            "unexpected text after the intrinsic function in '{text}'"
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    c: &'a [char],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!(
            "invalid intrinsic function '{}': {what} at position {}",
            self.text, self.i
        )
    }
    fn ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }
    fn call(&mut self) -> Result<Expr, String> {
        self.ws();
        let start = self.i;
        while self.i < self.c.len() && (self.c[self.i].is_alphanumeric() || self.c[self.i] == '.') {
            self.i += 1;
        }
        let name: String = self.c[start..self.i].iter().collect();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(format!(
                "unknown intrinsic function '{name}' in '{}'",
                self.text
            ));
        }
        self.ws();
        if self.c.get(self.i) != Some(&'(') {
            return Err(self.err("expected '('"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.c.get(self.i) == Some(&')') {
            self.i += 1;
            return Ok(Expr { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.ws();
            match self.c.get(self.i) {
                Some(',') => self.i += 1,
                Some(')') => {
                    self.i += 1;
                    return Ok(Expr { name, args });
                }
                _ => return Err(self.err("expected ',' or ')'")),
            }
        }
    }
    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        match self.c.get(self.i) {
            Some('\'') => {
                self.i += 1;
                let mut s = String::new();
                loop {
                    match self.c.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        Some('\\') => {
                            let n = self
                                .c
                                .get(self.i + 1)
                                .copied()
                                .ok_or_else(|| self.err("bad escape"))?;
                            // Keep `\{` and `\}` escaped for States.Format; unescape the rest.
                            if n == '{' || n == '}' {
                                s.push('\\');
                            }
                            s.push(n);
                            self.i += 2;
                        }
                        Some('\'') => {
                            self.i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            self.i += 1;
                        }
                    }
                }
                Ok(Arg::Literal(Value::String(s)))
            }
            Some('$') => {
                let start = self.i;
                let mut depth = 0i32;
                let mut quote: Option<char> = None;
                while self.i < self.c.len() {
                    let ch = self.c[self.i];
                    if let Some(q) = quote {
                        if ch == '\\' {
                            self.i += 1;
                        } else if ch == q {
                            quote = None;
                        }
                    } else {
                        match ch {
                            '\'' | '"' if depth > 0 => quote = Some(ch),
                            '[' | '(' => depth += 1,
                            ']' => depth -= 1,
                            ')' if depth == 0 => break,
                            ')' => depth -= 1,
                            ',' if depth == 0 => break,
                            _ => {}
                        }
                    }
                    self.i += 1;
                }
                let text: String = self.c[start..self.i].iter().collect();
                Ok(Arg::Path(Query::parse(text.trim(), false)?))
            }
            Some(c) if c.is_ascii_digit() || *c == '-' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.c.len()
                    && (self.c[self.i].is_ascii_digit()
                        || matches!(self.c[self.i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    self.i += 1;
                }
                let text: String = self.c[start..self.i].iter().collect();
                let v: Value = serde_json::from_str(&text).map_err(|_| self.err("bad number"))?;
                Ok(Arg::Literal(v))
            }
            Some(_) => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let w: Vec<char> = word.chars().collect();
                    if self.c[self.i..].starts_with(&w) {
                        self.i += w.len();
                        return Ok(Arg::Literal(v));
                    }
                }
                Ok(Arg::Call(self.call()?))
            }
            None => Err(self.err("expected an argument")),
        }
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

fn num_i64(v: &Value, f: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|x| x.round() as i64))
            .ok_or_else(|| format!("{f}: expected an integer")),
        _ => Err(format!("{f}: expected a number, got {v}")),
    }
}

fn string<'a>(v: &'a Value, f: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{f}: expected a string, got {v}"))
}

fn array<'a>(v: &'a Value, f: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{f}: expected an array, got {v}"))
}

fn arity(f: &str, args: &[Value], n: std::ops::RangeInclusive<usize>) -> Result<(), String> {
    if n.contains(&args.len()) {
        Ok(())
    } else {
        Err(format!("{f}: wrong number of arguments ({})", args.len()))
    }
}

pub(crate) fn eval(e: &Expr, s: &Scope<'_>) -> Result<Value, String> {
    let mut args = Vec::with_capacity(e.args.len());
    for a in &e.args {
        args.push(match a {
            Arg::Literal(v) => v.clone(),
            Arg::Path(q) => q.eval(s)?,
            Arg::Call(c) => eval(c, s)?,
        });
    }
    let f = e.name.as_str();
    match f {
        "States.Format"
        | "States.StringToJson"
        | "States.JsonToString"
        | "States.StringSplit"
        | "States.JsonMerge" => strings(f, args),
        "States.Array"
        | "States.ArrayPartition"
        | "States.ArrayContains"
        | "States.ArrayRange"
        | "States.ArrayGetItem"
        | "States.ArrayLength"
        | "States.ArrayUnique" => arrays(f, args),
        "States.Base64Encode" | "States.Base64Decode" | "States.Hash" => encodings(f, args),
        "States.MathRandom" | "States.MathAdd" | "States.UUID" => math(f, args, s),
        other => Err(format!("unknown intrinsic function '{other}'")),
    }
}

/// The string and JSON functions.
fn strings(f: &str, args: Vec<Value>) -> Result<Value, String> {
    match f {
        "States.Format" => {
            if args.is_empty() {
                return Err(format!("{f}: needs a template"));
            }
            let tpl = string(&args[0], f)?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let mut chars = tpl.chars().peekable();
            while let Some(ch) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let v = rest
                            .next()
                            .ok_or_else(|| format!("{f}: not enough arguments"))?;
                        out.push_str(&java_string(v));
                    }
                    c => out.push(c),
                }
            }
            if rest.next().is_some() {
                return Err(format!("{f}: more arguments than placeholders"));
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            arity(f, &args, 1..=1)?;
            let s = string(&args[0], f)?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            let v: Value = serde_json::from_str(s).map_err(|e| format!("{f}: {e}"))?;
            Ok(fix_negative_zero(v))
        }
        "States.JsonToString" => {
            arity(f, &args, 1..=1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.JsonMerge" => {
            arity(f, &args, 3..=3)?;
            if args[2] != Value::Bool(false) {
                return Err(format!("{f}: only shallow merges (false) are supported"));
            }
            let a = args[0]
                .as_object()
                .ok_or_else(|| format!("{f}: expected an object"))?;
            let b = args[1]
                .as_object()
                .ok_or_else(|| format!("{f}: expected an object"))?;
            let mut m: Map<String, Value> = a.clone();
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(m))
        }
        "States.StringSplit" => {
            arity(f, &args, 2..=2)?;
            let s = string(&args[0], f)?;
            let d = string(&args[1], f)?;
            let delims: Vec<char> = d.chars().collect();
            Ok(Value::Array(
                s.split(|c| delims.contains(&c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ))
        }
        _ => unreachable!("eval dispatches by name"),
    }
}

/// The array functions.
fn arrays(f: &str, args: Vec<Value>) -> Result<Value, String> {
    match f {
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(f, &args, 2..=2)?;
            let a = array(&args[0], f)?;
            let n = num_i64(&args[1], f)?;
            if n <= 0 {
                return Err(format!("{f}: chunk size must be positive"));
            }
            Ok(Value::Array(
                a.chunks(n as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(f, &args, 2..=2)?;
            Ok(Value::Bool(array(&args[0], f)?.contains(&args[1])))
        }
        "States.ArrayRange" => {
            arity(f, &args, 3..=3)?;
            let (a, b, step) = (
                num_i64(&args[0], f)?,
                num_i64(&args[1], f)?,
                num_i64(&args[2], f)?,
            );
            if step == 0 {
                return Err(format!("{f}: step must not be 0"));
            }
            let mut out = Vec::new();
            let mut x = a;
            while (step > 0 && x <= b) || (step < 0 && x >= b) {
                out.push(Value::from(x));
                if out.len() > 1000 {
                    return Err(format!("{f}: the range holds more than 1000 items"));
                }
                x += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(f, &args, 2..=2)?;
            let a = array(&args[0], f)?;
            let i = num_i64(&args[1], f)?;
            a.get(usize::try_from(i).map_err(|_| format!("{f}: negative index"))?)
                .cloned()
                .ok_or_else(|| format!("{f}: index {i} out of bounds"))
        }
        "States.ArrayLength" => {
            arity(f, &args, 1..=1)?;
            Ok(Value::from(array(&args[0], f)?.len()))
        }
        "States.ArrayUnique" => {
            arity(f, &args, 1..=1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in array(&args[0], f)? {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        _ => unreachable!("eval dispatches by name"),
    }
}

/// Base64 and hashing.
fn encodings(f: &str, args: Vec<Value>) -> Result<Value, String> {
    match f {
        "States.Base64Encode" => {
            arity(f, &args, 1..=1)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(string(&args[0], f)?),
            ))
        }
        "States.Base64Decode" => {
            arity(f, &args, 1..=1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(string(&args[0], f)?)
                .map_err(|e| format!("{f}: {e}"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "States.Hash" => {
            arity(f, &args, 2..=2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let algo = string(&args[1], f)?;
            use sha2::Digest;
            let hex = match algo {
                "MD5" => hex::encode(md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                other => return Err(format!("{f}: unsupported algorithm '{other}'")),
            };
            Ok(Value::String(hex))
        }
        _ => unreachable!("eval dispatches by name"),
    }
}

/// The math functions and `States.UUID` (the ones that may draw from the seed).
fn math(f: &str, args: Vec<Value>, s: &Scope<'_>) -> Result<Value, String> {
    match f {
        "States.MathRandom" => {
            arity(f, &args, 2..=3)?;
            let (a, b) = (num_i64(&args[0], f)?, num_i64(&args[1], f)?);
            if b <= a {
                return Err(format!("{f}: end must be greater than start"));
            }
            use rand::{Rng, SeedableRng};
            let x = match args.get(2) {
                Some(seed) => {
                    rand::rngs::StdRng::seed_from_u64(num_i64(seed, f)? as u64).random_range(a..b)
                }
                None => match s.rng {
                    Some(d) => d.next().random_range(a..b),
                    None => rand::rng().random_range(a..b),
                },
            };
            Ok(Value::from(x))
        }
        "States.MathAdd" => {
            arity(f, &args, 2..=2)?;
            // Each operand is rounded as Java's Math.round does (half up), then added.
            let round = |v: &Value| -> Result<i64, String> {
                match as_i64(v) {
                    Some(n) => Ok(n),
                    None => Ok((num_f64(v, f)? + 0.5).floor() as i64),
                }
            };
            Ok(Value::from(round(&args[0])? + round(&args[1])?))
        }
        "States.UUID" => {
            arity(f, &args, 0..=0)?;
            Ok(Value::String(match s.rng {
                Some(d) => {
                    use rand::Rng;
                    uuid_from(d.next().random())
                }
                None => uuid_v4(),
            }))
        }
        _ => unreachable!("eval dispatches by name"),
    }
}

/// How the service (Java) prints a value inside States.Format: maps as `{k=v, ...}`.
fn java_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn fix_negative_zero(v: Value) -> Value {
    match v {
        Value::Number(n)
            if n.as_f64() == Some(0.0) && n.is_f64() && n.to_string().starts_with('-') =>
        {
            Value::from(0)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(fix_negative_zero).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, fix_negative_zero(v)))
                .collect(),
        ),
        other => other,
    }
}

fn num_f64(v: &Value, f: &str) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("{f}: expected a number, got {v}"))
}

/// A random (version 4) UUID.
pub(crate) fn uuid_v4() -> String {
    uuid_from(rand::random())
}

/// A version 4 UUID from 16 random bytes.
fn uuid_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, input: Value) -> Value {
        let ctx = json!({});
        eval(
            &parse(expr).unwrap(),
            &Scope {
                input: &input,
                context: &ctx,
                rng: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn functions() {
        assert_eq!(
            run("States.Format('a {} b \\{\\}', $.x)", json!({"x": 1})),
            json!("a 1 b {}")
        );
        assert_eq!(
            run("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            run("States.ArrayPartition(States.Array(1,2,3), 2)", json!({})),
            json!([[1, 2], [3]])
        );
        assert_eq!(run("States.MathAdd($.a, -1)", json!({"a": 5})), json!(4));
        assert_eq!(
            run("States.Hash('x', 'MD5')", json!({})),
            json!("9dd4e461268c8034f5c8564e155c67a6")
        );
        assert_eq!(
            run("States.StringSplit('a,b, c', ', ')", json!({})),
            json!(["a", "b", "c"])
        );
    }
}

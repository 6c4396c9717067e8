//! JSONPath queries (through serde_json_path), reference paths for `ResultPath`, and payload
//! templates (`Parameters`, `ResultSelector`, `ItemSelector`).

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::intrinsics::{self, Expr};

/// What a query is evaluated against.
pub(crate) struct Scope<'a> {
    pub(crate) input: &'a Value,
    pub(crate) context: &'a Value,
    /// Where `States.UUID` and `States.MathRandom` draw from when the engine has a seed.
    pub(crate) rng: Option<&'a Draws>,
}

/// Repeatable random draws of one branch of an execution: the n-th draw is seeded from the
/// branch's key and n, so concurrent branches never disturb each other's sequence.
#[derive(Debug)]
pub(crate) struct Draws {
    key: u64,
    n: std::sync::atomic::AtomicU64,
}

impl Draws {
    pub(crate) fn new(key: u64) -> Self {
        Self {
            key,
            n: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A generator for the next draw.
    pub(crate) fn next(&self) -> rand::rngs::StdRng {
        use rand::SeedableRng;
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rand::rngs::StdRng::seed_from_u64(crate::exec::hash64(&[self.key, n]))
    }
}

/// A compiled query: `$...` on the input, `$$...` on the context object, or an intrinsic function.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    /// `$`: the whole input.
    Root,
    /// `$$`: the whole context object.
    ContextRoot,
    Input(Compiled),
    Context(Compiled),
    Intrinsic(Box<Expr>),
}

#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) text: String,
    path: JsonPath,
    singular: bool,
}

/// AWS accepts member names JSONPath (RFC 9535) does not, e.g. `$.some-key`: quote them.
fn to_rfc9535(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len() + 8);
    let mut i = 0;
    let mut in_bracket = 0usize;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && i + 1 < bytes.len() {
                // AWS (Jayway) keeps the backslash before the other quote character as part
                // of the name (recorded: `$['a\"b']` selects the member `a\"b`); RFC 9535
                // forbids that escape, so spell the backslash out.
                if (bytes[i + 1] == b'"' || bytes[i + 1] == b'\'') && bytes[i + 1] != q {
                    out.push_str("\\\\");
                    out.push(bytes[i + 1] as char);
                } else {
                    out.push('\\');
                    out.push(bytes[i + 1] as char);
                }
                i += 2;
                continue;
            }
            let ch = path[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            b'\'' | b'"' if in_bracket > 0 => {
                quote = Some(c);
                out.push(c as char);
                i += 1;
            }
            b'[' => {
                in_bracket += 1;
                out.push('[');
                i += 1;
            }
            b']' => {
                in_bracket = in_bracket.saturating_sub(1);
                out.push(']');
                i += 1;
            }
            b'.' if in_bracket == 0
                && i + 1 < bytes.len()
                && bytes[i + 1] != b'.'
                && bytes[i + 1] != b'*' =>
            {
                // a member name: read up to the next '.' or '['
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'.' && bytes[j] != b'[' {
                    j += 1;
                }
                let name = &path[start..j];
                let plain = name.chars().enumerate().all(|(k, ch)| {
                    ch == '_'
                        || ch.is_alphabetic()
                        || (k > 0 && ch.is_ascii_digit())
                        || !ch.is_ascii()
                });
                if plain && !name.is_empty() {
                    out.push('.');
                    out.push_str(name);
                } else {
                    out.push_str("['");
                    for ch in name.chars() {
                        if ch == '\'' || ch == '\\' {
                            out.push('\\');
                        }
                        out.push(ch);
                    }
                    out.push_str("']");
                }
                i = j;
            }
            _ => {
                // copy one UTF-8 character
                let ch = path[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

fn is_singular(path: &str) -> bool {
    !(path.contains('*')
        || path.contains("..")
        || path.contains("[?")
        || path.contains(':')
        || path.contains(','))
}

impl Compiled {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let rfc = to_rfc9535(text);
        let path = JsonPath::parse(&rfc).map_err(|e| format!("invalid JSONPath '{text}': {e}"))?;
        Ok(Self {
            text: text.to_string(),
            path,
            singular: is_singular(text),
        })
    }

    pub(crate) fn eval(&self, v: &Value) -> Result<Value, String> {
        let nodes = self.path.query(v);
        if self.singular {
            match nodes.first() {
                Some(n) => Ok(n.clone()),
                None => Err(missing_message(&self.text, v)),
            }
        } else {
            Ok(Value::Array(nodes.all().into_iter().cloned().collect()))
        }
    }
}

/// AWS's message for a path that selects nothing, naming the first missing member.
fn missing_message(text: &str, v: &Value) -> String {
    if let Ok(segs) = RefPath::parse(text) {
        let mut cur = v;
        let mut shown = String::from("$");
        for seg in &segs.0 {
            match seg {
                Seg::Key(k) => {
                    shown.push_str(&format!("['{k}']"));
                    match cur.get(k.as_str()) {
                        Some(n) => cur = n,
                        None => {
                            return format!(
                                "Invalid path '{text}' : Missing property in path {shown}"
                            );
                        }
                    }
                }
                Seg::Index(i) => {
                    shown.push_str(&format!("[{i}]"));
                    match cur.get(*i) {
                        Some(n) => cur = n,
                        None => {
                            return format!(
                                "Invalid path '{text}' : Index out of bounds in path {shown}"
                            );
                        }
                    }
                }
            }
        }
    }
    format!("Invalid path '{text}' : No results for path: {text}")
}

impl Query {
    /// Parses a path string (`$...`, `$$...`) or, when `allow_intrinsic`, an intrinsic call.
    pub(crate) fn parse(text: &str, allow_intrinsic: bool) -> Result<Self, String> {
        let t = text.trim();
        if t == "$" {
            return Ok(Query::Root);
        }
        if t == "$$" {
            return Ok(Query::ContextRoot);
        }
        if let Some(rest) = t.strip_prefix("$$") {
            return Ok(Query::Context(Compiled::parse(&format!("${rest}"))?));
        }
        if t.starts_with('$') {
            return Ok(Query::Input(Compiled::parse(t)?));
        }
        if allow_intrinsic && t.starts_with("States.") {
            return Ok(Query::Intrinsic(Box::new(intrinsics::parse(t)?)));
        }
        Err(format!("'{text}' is not a valid JSONPath"))
    }

    pub(crate) fn eval(&self, s: &Scope<'_>) -> Result<Value, String> {
        match self {
            Query::Root => Ok(s.input.clone()),
            Query::ContextRoot => Ok(s.context.clone()),
            Query::Input(c) => c.eval(s.input),
            Query::Context(c) => c.eval(s.context).map_err(|e| e.replacen("'$", "'$$", 1)),
            Query::Intrinsic(e) => intrinsics::eval(e, s),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Query::Root => "$".into(),
            Query::ContextRoot => "$$".into(),
            Query::Input(c) => c.text.clone(),
            Query::Context(c) => format!("${}", c.text),
            Query::Intrinsic(_) => "<intrinsic>".into(),
        }
    }
}

/// `InputPath`/`OutputPath`: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone)]
pub(crate) enum PathSel {
    Default,
    Null,
    Path(Query),
}

impl PathSel {
    pub(crate) fn apply(&self, input: &Value, context: &Value) -> Result<Value, String> {
        match self {
            PathSel::Default => Ok(input.clone()),
            PathSel::Null => Ok(Value::Object(Map::new())),
            PathSel::Path(q) => q.eval(&Scope {
                input,
                context,
                rng: None,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A reference path (`$.a.b[0]`), the only kind `ResultPath` accepts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefPath(pub(crate) Vec<Seg>);

impl RefPath {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let err = || format!("'{text}' is not a valid reference path");
        let b = text.trim();
        let rest = b.strip_prefix('$').ok_or_else(err)?;
        let mut segs = Vec::new();
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                        j += 1;
                    }
                    if j == start {
                        return Err(err());
                    }
                    let name: String = chars[start..j].iter().collect();
                    if name.contains('*') {
                        return Err(err());
                    }
                    segs.push(Seg::Key(name));
                    i = j;
                }
                '[' => {
                    let close = chars[i..].iter().position(|&c| c == ']').ok_or_else(err)? + i;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if (inner.starts_with('\'') && inner.ends_with('\'') && inner.len() >= 2)
                        || (inner.starts_with('"') && inner.ends_with('"') && inner.len() >= 2)
                    {
                        segs.push(Seg::Key(inner[1..inner.len() - 1].to_string()));
                    } else {
                        segs.push(Seg::Index(inner.parse().map_err(|_| err())?));
                    }
                    i = close + 1;
                }
                _ => return Err(err()),
            }
        }
        Ok(RefPath(segs))
    }

    /// Writes `value` at this path inside `target`, creating objects on the way.
    pub(crate) fn set(&self, target: Value, value: Value, text: &str) -> Result<Value, String> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let mut root = target;
        {
            let mut cur = &mut root;
            for (n, seg) in self.0.iter().enumerate() {
                let last = n + 1 == self.0.len();
                match seg {
                    Seg::Key(k) => {
                        if cur.is_null() && n > 0 {
                            *cur = Value::Object(Map::new());
                        }
                        let obj = cur.as_object_mut().ok_or_else(|| {
                            format!("Invalid path '{text}': The path references a non-object value")
                        })?;
                        if last {
                            obj.insert(k.clone(), value);
                            break;
                        }
                        cur = obj
                            .entry(k.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                    }
                    Seg::Index(i) => {
                        let arr = cur.as_array_mut().ok_or_else(|| {
                            format!("Invalid path '{text}': The path references a non-array value")
                        })?;
                        let slot = arr
                            .get_mut(*i)
                            .ok_or_else(|| format!("Invalid path '{text}': Index out of bounds"))?;
                        if last {
                            *slot = value;
                            break;
                        }
                        cur = slot;
                    }
                }
            }
        }
        Ok(root)
    }
}

/// `ResultPath`: absent means `$` (the result replaces the input), `null` discards the result.
#[derive(Debug, Clone)]
pub(crate) enum ResultSel {
    Default,
    Discard,
    Path(RefPath, String),
}

impl ResultSel {
    pub(crate) fn apply(&self, input: &Value, result: Value) -> Result<Value, String> {
        match self {
            ResultSel::Default => Ok(result),
            ResultSel::Discard => Ok(input.clone()),
            ResultSel::Path(p, text) => {
                if p.0.is_empty() {
                    return Ok(result);
                }
                p.set(input.clone(), result, text)
            }
        }
    }
}

/// A payload template: keys ending in `.$` are evaluated.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Query(Query),
}

impl Template {
    pub(crate) fn compile(v: &Value) -> Result<Self, String> {
        if !has_dynamic(v) {
            return Ok(Template::Literal(v.clone()));
        }
        match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                for (k, val) in m {
                    if let Some(name) = k.strip_suffix(".$") {
                        let s = val.as_str().ok_or_else(|| {
                            format!("the value of field '{k}' must be a path string")
                        })?;
                        fields.push((name.to_string(), Template::Query(Query::parse(s, true)?)));
                    } else {
                        fields.push((k.clone(), Template::compile(val)?));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(a) => Ok(Template::Array(
                a.iter().map(Template::compile).collect::<Result<_, _>>()?,
            )),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    pub(crate) fn eval(&self, s: &Scope<'_>) -> Result<Value, String> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Query(q) => q.eval(s),
            Template::Array(a) => Ok(Value::Array(
                a.iter().map(|t| t.eval(s)).collect::<Result<_, _>>()?,
            )),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval(s)?);
                }
                Ok(Value::Object(m))
            }
        }
    }
}

fn has_dynamic(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k.ends_with(".$") || has_dynamic(v)),
        Value::Array(a) => a.iter().any(has_dynamic),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_and_reference_paths() {
        let v = json!({"a": {"b-c": [1, 2]}, "x": 1});
        let ctx = json!({});
        let s = Scope {
            input: &v,
            context: &ctx,
            rng: None,
        };
        assert_eq!(
            Query::parse("$.a.b-c[1]", false).unwrap().eval(&s).unwrap(),
            json!(2)
        );
        assert_eq!(
            Query::parse("$.a.b-c[*]", false).unwrap().eval(&s).unwrap(),
            json!([1, 2])
        );
        assert!(Query::parse("$.nope", false).unwrap().eval(&s).is_err());
        let p = RefPath::parse("$.r.s").unwrap();
        assert_eq!(
            p.set(v.clone(), json!(3), "$.r.s").unwrap()["r"]["s"],
            json!(3)
        );
    }
}

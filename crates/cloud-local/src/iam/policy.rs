//! IAM policy documents, parsed once and evaluated per request.
//!
//! Semantics follow the IAM User Guide's policy reference (each rule cites its page):
//! - Action/NotAction: "Action names are not case sensitive" (IAM JSON policy elements: Action);
//!   `*` and `?` wildcards.
//! - Resource/NotResource: ARNs match case-sensitively; `*` and `?` are wildcards within an ARN
//!   segment, and "if the `*` wildcard is the last character of a resource ARN segment, it can
//!   expand to match beyond the colon boundaries" (IAM JSON policy elements: Resource). A request
//!   for an action without resource-level permissions names the resource `*`, which only a `*`
//!   pattern matches ("you must specify all resources (`*`)", Service Authorization Reference).
//! - Principal (resource-based policies): `*`, account ids and root ARNs, role ARNs (which also
//!   match the role's sessions), assumed-role session ARNs, `Service` principals
//!   (IAM JSON policy elements: Principal).
//! - Condition: operators within a block are ANDed, keys within an operator are ANDed, the values
//!   of one key are ORed; condition key names are case-insensitive; `...IfExists` is true when the
//!   key is absent; negated operators (`StringNotEquals`, `StringNotLike`, `ArnNotEquals`,
//!   `ArnNotLike`) are true when the key is absent and otherwise true only if no value matches;
//!   `ForAllValues:` is true when every request value matches one policy value (and when the key
//!   is absent), `ForAnyValue:` when at least one does (false when absent); `Null` tests presence
//!   (IAM JSON policy elements: Condition operators; Set operators for multivalued context keys).
//!   A plain operator applied to a multivalued key matches when any request value matches.
//!
//! Not supported (a document using them is refused at parse time, so nothing passes silently):
//! Numeric*, Date*, IpAddress, Binary operators and policy variables (`${...}` in a Resource or a
//! condition value is compared literally, which matches nothing the stack uses).

use std::collections::HashMap;

use serde_json::Value;

/// Why a policy document was refused (IAM answers `MalformedPolicyDocument` for these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document or a statement is not the shape the policy grammar allows.
    #[error("malformed policy document: {0}")]
    Malformed(String),
    /// A condition operator outside the supported set.
    #[error("condition operator {0} is not supported by cloud-local's evaluator")]
    UnsupportedOperator(String),
}

fn malformed(m: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(m.into())
}

/// A wildcard pattern (`*`, `?`), compiled once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    /// For ARN patterns, a `*` crosses `:` only when it ends its segment.
    arn: bool,
}

impl Pattern {
    fn new(text: &str, arn: bool) -> Self {
        Self {
            text: text.to_owned(),
            arn,
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        if self.text == "*" {
            return true;
        }
        if !self.text.contains(['*', '?']) {
            return self.text == s;
        }
        glob(self.text.as_bytes(), s.as_bytes(), self.arn)
    }
}

/// Backtracking glob over bytes. In ARN mode `?` and a mid-segment `*` do not match `:`.
fn glob(p: &[u8], s: &[u8], arn: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize, bool)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            let crosses = !arn || pi + 1 == p.len() || p[pi + 1] == b':';
            star = Some((pi, si, crosses));
            pi += 1;
        } else if pi < p.len() && (p[pi] == s[si] || (p[pi] == b'?' && !(arn && s[si] == b':'))) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss, crosses)) = star {
            if !crosses && s[ss] == b':' {
                return false;
            }
            star = Some((sp, ss + 1, crosses));
            pi = sp + 1;
            si = ss + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, overriding every Allow.
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalEntry {
    Any,
    /// Every principal of the account (`123456789012` or `arn:aws:iam::123456789012:root`).
    Account(String),
    /// A role (matches its sessions), a session, a user: an ARN pattern.
    Arn(Pattern),
    Service(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    None,
    ForAll,
    ForAny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    set: SetOp,
    op: Op,
    negated: bool,
    if_exists: bool,
    null: bool,
    /// Lower-case key.
    key: String,
    values: Vec<String>,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    /// `None`: no Principal element (identity-based policies).
    principals: Option<Vec<PrincipalEntry>>,
    not_principal: bool,
    actions: Vec<Pattern>,
    not_action: bool,
    resources: Vec<Pattern>,
    not_resource: bool,
    conditions: Vec<Condition>,
}

/// A parsed IAM policy document (identity-based or resource-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(malformed(format!(
            "{what} must be a string or a list of strings"
        ))),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_principal(v: &Value) -> Result<Vec<PrincipalEntry>, PolicyError> {
    if v.as_str() == Some("*") {
        return Ok(vec![PrincipalEntry::Any]);
    }
    let map = v
        .as_object()
        .ok_or_else(|| malformed("Principal must be \"*\" or an object"))?;
    let mut out = Vec::new();
    for (kind, ids) in map {
        for id in strings(ids, "Principal")? {
            out.push(match kind.as_str() {
                "AWS" if id == "*" => PrincipalEntry::Any,
                "AWS" if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    PrincipalEntry::Account(id)
                }
                "AWS" => match root_account(&id) {
                    Some(account) => PrincipalEntry::Account(account.to_owned()),
                    None => PrincipalEntry::Arn(Pattern::new(&id, true)),
                },
                "Service" => PrincipalEntry::Service(id),
                // Federated and CanonicalUser principals never sign cloud-local's requests.
                "Federated" | "CanonicalUser" => continue,
                other => return Err(malformed(format!("unknown principal type {other}"))),
            });
        }
    }
    Ok(out)
}

/// `arn:aws:iam::123456789012:root` -> the account.
fn root_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "root")
        .then_some(parts[4])
}

fn parse_conditions(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let block = v
        .as_object()
        .ok_or_else(|| malformed("Condition must be an object"))?;
    let mut out = Vec::new();
    for (name, keys) in block {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAll, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAny, r)
        } else {
            (SetOp::None, name.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let (op, negated, null) = match base {
            "StringEquals" => (Op::StringEquals, false, false),
            "StringNotEquals" => (Op::StringEquals, true, false),
            "StringEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, false, false),
            "StringNotEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, true, false),
            "StringLike" => (Op::StringLike, false, false),
            "StringNotLike" => (Op::StringLike, true, false),
            // "ArnEquals and ArnLike ... behave identically" (Condition operators: ARN).
            "ArnEquals" | "ArnLike" => (Op::ArnLike, false, false),
            "ArnNotEquals" | "ArnNotLike" => (Op::ArnLike, true, false),
            "Bool" => (Op::Bool, false, false),
            "Null" if !if_exists && set == SetOp::None => (Op::Bool, false, true),
            _ => return Err(PolicyError::UnsupportedOperator(name.clone())),
        };
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(format!("{name} must map keys to values")))?;
        for (key, values) in keys {
            let values = strings(values, key)?;
            let patterns = values
                .iter()
                .map(|v| Pattern::new(v, op == Op::ArnLike))
                .collect();
            out.push(Condition {
                set,
                op,
                negated,
                if_exists,
                null,
                key: key.to_ascii_lowercase(),
                values,
                patterns,
            });
        }
    }
    Ok(out)
}

fn parse_statement(s: &Value) -> Result<Statement, PolicyError> {
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Effect must be Allow or Deny")),
    };
    let pick = |a: &str, b: &str| -> Result<(&Value, bool), PolicyError> {
        match (s.get(a), s.get(b)) {
            (Some(v), None) => Ok((v, false)),
            (None, Some(v)) => Ok((v, true)),
            _ => Err(malformed(format!(
                "a statement needs exactly one of {a} or {b}"
            ))),
        }
    };
    let (actions, not_action) = pick("Action", "NotAction")?;
    let actions = strings(actions, "Action")?
        .iter()
        .map(|a| Pattern::new(&a.to_ascii_lowercase(), false))
        .collect();
    let (resources, not_resource) = pick("Resource", "NotResource")?;
    let resources = strings(resources, "Resource")?
        .iter()
        .map(|r| Pattern::new(r, true))
        .collect();
    let (principals, not_principal) = match (s.get("Principal"), s.get("NotPrincipal")) {
        (None, None) => (None, false),
        (Some(p), None) => (Some(parse_principal(p)?), false),
        (None, Some(p)) => (Some(parse_principal(p)?), true),
        _ => return Err(malformed("Principal and NotPrincipal together")),
    };
    let conditions = match s.get("Condition") {
        Some(c) => parse_conditions(c)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principals,
        not_principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

impl Policy {
    /// Parses a policy document (`{"Version": ..., "Statement": [...] | {...}}`).
    pub fn parse(document: &Value) -> Result<Self, PolicyError> {
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.iter().map(parse_statement).collect(),
            Some(one @ Value::Object(_)) => Ok(vec![parse_statement(one)?]),
            _ => Err(malformed("the document has no Statement")),
        }?;
        Ok(Self { statements })
    }

    /// Parses a policy document from JSON text.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let v: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        Self::parse(&v)
    }
}

/// A context key's value(s) (single-valued keys hold one).
pub type ContextValues = Vec<String>;

/// The request context: condition keys (matched case-insensitively) and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    keys: HashMap<String, ContextValues>,
}

impl RequestContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.keys
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets a multivalued key (e.g. `aws:TagKeys`, `events:source`).
    pub fn set_values(&mut self, key: &str, values: Vec<String>) {
        self.keys.insert(key.to_ascii_lowercase(), values);
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_ascii_lowercase());
    }

    /// The values of a key.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

impl Condition {
    fn value_matches(&self, v: &str) -> bool {
        match self.op {
            Op::StringEquals => self.values.iter().any(|p| p == v),
            Op::StringEqualsIgnoreCase => self.values.iter().any(|p| p.eq_ignore_ascii_case(v)),
            Op::StringLike | Op::ArnLike => self.patterns.iter().any(|p| p.matches(v)),
            Op::Bool => self.values.iter().any(|p| p.eq_ignore_ascii_case(v)),
        }
    }

    fn holds(&self, ctx: &RequestContext) -> bool {
        let present = ctx.keys.get(&self.key).filter(|v| !v.is_empty());
        if self.null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none() == want_absent;
        }
        let Some(values) = present else {
            return match self.set {
                SetOp::ForAll => true,
                SetOp::ForAny => false,
                SetOp::None => self.if_exists || self.negated,
            };
        };
        // A negated operator holds for a value that matches none of the policy's values.
        let one = |v: &String| self.value_matches(v) != self.negated;
        match self.set {
            SetOp::ForAll => values.iter().all(one),
            SetOp::ForAny => values.iter().any(one),
            SetOp::None if self.negated => values.iter().all(one),
            SetOp::None => values.iter().any(one),
        }
    }
}

/// Who is asking, as a resource-based policy's Principal element sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    /// The session ARN (or the user/role ARN, or a service name for service principals).
    pub(crate) arn: &'a str,
    /// The role ARN behind a session (equal to `arn` otherwise).
    pub(crate) role_arn: &'a str,
    pub(crate) account: &'a str,
}

/// How a resource-based policy's Allow named the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The caller itself (its role, its session, or `*`): enough on its own in the same account.
    Direct,
    /// The caller's account: the account must also allow it through an identity-based policy.
    Account,
}

/// What one policy says about one (action, resource) request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) deny: bool,
    pub(crate) allow: Option<Grant>,
    /// Keys of conditions that failed in Allow statements whose principal, action and resource
    /// matched (lower-case): tells "not allowed for this source" from "not allowed at all".
    pub(crate) failed_keys: Vec<String>,
}

impl PrincipalEntry {
    fn grant_for(&self, caller: &Caller<'_>) -> Option<Grant> {
        match self {
            PrincipalEntry::Any => Some(Grant::Direct),
            PrincipalEntry::Account(a) => (a == caller.account).then_some(Grant::Account),
            PrincipalEntry::Arn(p) => {
                (p.matches(caller.arn) || p.matches(caller.role_arn)).then_some(Grant::Direct)
            }
            PrincipalEntry::Service(s) => (s == caller.arn).then_some(Grant::Direct),
        }
    }
}

impl Policy {
    /// Evaluates this policy for one action (lower-case) on one resource. `caller` is `None` for
    /// identity-based policies (their statements have no Principal).
    pub(crate) fn evaluate(
        &self,
        caller: Option<&Caller<'_>>,
        action_lower: &str,
        resource: &str,
        ctx: &RequestContext,
    ) -> Verdict {
        let mut v = Verdict::default();
        for s in &self.statements {
            let grant = match (&s.principals, caller) {
                (None, _) => Some(Grant::Direct),
                (Some(_), None) => Some(Grant::Direct),
                (Some(entries), Some(c)) => {
                    let best = entries
                        .iter()
                        .filter_map(|e| e.grant_for(c))
                        .min_by_key(|g| {
                            // Prefer the stronger grant when several entries name the caller.
                            *g != Grant::Direct
                        });
                    if s.not_principal {
                        best.is_none().then_some(Grant::Direct)
                    } else {
                        best
                    }
                }
            };
            let Some(grant) = grant else { continue };
            if s.actions.iter().any(|p| p.matches(action_lower)) == s.not_action {
                continue;
            }
            if s.resources.iter().any(|p| p.matches(resource)) == s.not_resource {
                continue;
            }
            let failed: Vec<&Condition> = s.conditions.iter().filter(|c| !c.holds(ctx)).collect();
            if !failed.is_empty() {
                if s.effect == Effect::Allow {
                    v.failed_keys.extend(failed.iter().map(|c| c.key.clone()));
                }
                continue;
            }
            match s.effect {
                Effect::Deny => v.deny = true,
                Effect::Allow => {
                    if v.allow != Some(Grant::Direct) {
                        v.allow = Some(grant);
                    }
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> Pattern {
        Pattern::new(text, true)
    }

    #[test]
    fn arn_wildcards_stay_in_their_segment_unless_they_end_it() {
        // IAM JSON policy elements: Resource, "Using wildcards in resource ARNs".
        let s3 = "arn:aws:s3:::amzn-s3-demo-bucket/accounting/2024/report.csv";
        assert!(p("arn:aws:s3:::amzn-s3-demo-bucket/*").matches(s3));
        assert!(p("arn:aws:s3:::amzn-s3-demo-bucket/*/2024/*").matches(s3));
        assert!(p("arn:aws:lambda:*").matches("arn:aws:lambda:us-east-1:123456789012:function:f"));
        assert!(
            p("arn:aws:lambda:us-east-?:*:function:f")
                .matches("arn:aws:lambda:us-east-1:123456789012:function:f")
        );
        assert!(
            !p("arn:aws:lambda:us-*1:123456789012:function:f")
                .matches("arn:aws:lambda:us-east:x1:123456789012:function:f")
        );
        // Case-sensitive ("In the Resource element, the IAM user name is case sensitive").
        assert!(
            !p("arn:aws:iam::123456789012:user/Bob").matches("arn:aws:iam::123456789012:user/bob")
        );
        // A request on `*` is matched only by `*`.
        assert!(!p("arn:aws:workspaces:us-east-1:123456789012:workspaceimage/*").matches("*"));
        assert!(p("*").matches("*"));
    }

    fn allow_identity(policy: Value, action: &str, resource: &str, ctx: &RequestContext) -> bool {
        let v = Policy::parse(&policy).unwrap().evaluate(
            None,
            &action.to_ascii_lowercase(),
            resource,
            ctx,
        );
        v.allow.is_some() && !v.deny
    }

    #[test]
    fn conditions_follow_the_user_guide_examples() {
        // Condition operators: "StringEquals ... aws:PrincipalTag/job-category": "iamuser-admin",
        // and multiple values of one key are ORed.
        let policy = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
            "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}}}});
        let ctx = RequestContext::new().with("aws:RequestedRegion", "eu-west-1");
        assert!(allow_identity(
            policy.clone(),
            "ec2:RunInstances",
            "*",
            &ctx
        ));
        let ctx = RequestContext::new().with("AWS:requestedregion", "us-east-1");
        assert!(!allow_identity(
            policy.clone(),
            "ec2:RunInstances",
            "*",
            &ctx
        ));
        assert!(!allow_identity(
            policy,
            "ec2:RunInstances",
            "*",
            &RequestContext::new()
        ));

        // StringNotEquals is true when the key is absent; ...IfExists likewise for any operator.
        let not_eq = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}]});
        assert!(allow_identity(
            not_eq.clone(),
            "s3:PutObject",
            "*",
            &RequestContext::new()
        ));
        let ctx = RequestContext::new().with("s3:x-amz-server-side-encryption", "AES256");
        assert!(!allow_identity(not_eq, "s3:PutObject", "*", &ctx));
        let if_exists = json!({"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
            "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}}]});
        assert!(allow_identity(
            if_exists.clone(),
            "ec2:RunInstances",
            "*",
            &RequestContext::new()
        ));
        let ctx = RequestContext::new().with("ec2:InstanceType", "t2.micro");
        assert!(allow_identity(
            if_exists.clone(),
            "ec2:RunInstances",
            "*",
            &ctx
        ));
        let ctx = RequestContext::new().with("ec2:InstanceType", "m5.large");
        assert!(!allow_identity(if_exists, "ec2:RunInstances", "*", &ctx));

        // Bool and Null: "aws:MultiFactorAuthPresent": "true"; "Null": {"aws:TokenIssueTime": "true"}.
        let mfa = json!({"Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}});
        let ctx = RequestContext::new().with("aws:MultiFactorAuthPresent", "true");
        assert!(allow_identity(mfa.clone(), "iam:ListUsers", "*", &ctx));
        assert!(!allow_identity(
            mfa,
            "iam:ListUsers",
            "*",
            &RequestContext::new()
        ));
        let null = json!({"Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*",
            "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}});
        assert!(allow_identity(
            null.clone(),
            "iam:ListUsers",
            "*",
            &RequestContext::new()
        ));
        let ctx = RequestContext::new().with("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
        assert!(!allow_identity(null, "iam:ListUsers", "*", &ctx));
    }

    #[test]
    fn set_operators_follow_the_user_guide_examples() {
        // "ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}: every
        // request value must be listed; an absent key passes.
        let all = json!({"Statement": {"Effect": "Allow", "Action": "ec2:CreateTags",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}}});
        let mut ctx = RequestContext::new();
        ctx.set_values("aws:TagKeys", vec!["environment".into()]);
        assert!(allow_identity(all.clone(), "ec2:CreateTags", "*", &ctx));
        ctx.set_values("aws:TagKeys", vec!["environment".into(), "owner".into()]);
        assert!(!allow_identity(all.clone(), "ec2:CreateTags", "*", &ctx));
        assert!(allow_identity(
            all,
            "ec2:CreateTags",
            "*",
            &RequestContext::new()
        ));
        // "ForAnyValue:StringEquals": at least one; an absent key fails.
        let any = json!({"Statement": {"Effect": "Allow", "Action": "ec2:CreateTags",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}}});
        ctx.set_values("aws:TagKeys", vec!["environment".into(), "owner".into()]);
        assert!(allow_identity(any.clone(), "ec2:CreateTags", "*", &ctx));
        assert!(!allow_identity(
            any,
            "ec2:CreateTags",
            "*",
            &RequestContext::new()
        ));
    }

    #[test]
    fn not_action_and_not_resource_exclude() {
        // NotAction example: allow everything except IAM.
        let policy =
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        assert!(allow_identity(
            policy.clone(),
            "s3:GetObject",
            "*",
            &RequestContext::new()
        ));
        assert!(!allow_identity(
            policy,
            "IAM:ListUsers",
            "*",
            &RequestContext::new()
        ));
        let policy = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*",
            "NotResource": "arn:aws:s3:::HRBucket/Payroll*"}]});
        assert!(!allow_identity(
            policy.clone(),
            "s3:GetObject",
            "arn:aws:s3:::HRBucket/Payroll/a",
            &RequestContext::new()
        ));
        assert!(allow_identity(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::HRBucket/Other",
            &RequestContext::new()
        ));
    }

    #[test]
    fn unsupported_operators_are_refused() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}});
        assert_eq!(
            Policy::parse(&policy),
            Err(PolicyError::UnsupportedOperator("NumericLessThan".into()))
        );
    }
}

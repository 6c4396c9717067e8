//! Validation results: every violation, each with the field path and the rule it breaks.

use std::fmt;
use std::sync::LazyLock;

use regex_lite::Regex;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Path of the field, e.g. `workspaces[3].workspaceId`.
    pub field: String,
    /// The rule, e.g. `must match ^ws-[0-9a-z]{8,63}$`.
    pub rule: String,
}

/// Every violation found; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    pub fn push(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            rule: rule.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Checks `value` against a pattern of the official service model.
    pub fn pattern(&mut self, field: &str, value: &str, pattern: &Pattern) {
        if !pattern.regex.is_match(value) {
            self.push(field, format!("must match {}", pattern.source));
        }
    }

    /// Checks a length in characters, inclusive bounds.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min || n > max {
            self.push(
                field,
                format!("length must be {min}-{max} characters (is {n})"),
            );
        }
    }

    /// Checks an integer range, inclusive bounds.
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.push(
                field,
                format!("must be between {min} and {max} (is {value})"),
            );
        }
    }

    /// Checks membership of an enum of the service model.
    pub fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.push(field, format!("must be one of {}", allowed.join(", ")));
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.rule)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// Reads a function's input from JSON, naming the field of a missing, unknown or mistyped value
/// (`standby.directoryId: missing field ...`), so a malformed payload is reported as invalid input
/// with its path rather than as the runtime's untyped deserialization error.
pub fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, Violations> {
    from_json_tagged(value, "input", None)
}

/// [`from_json`] for a document whose top level an operator knows by another name (`plan`,
/// `event`). Internally tagged enums lose the path: a missing field is then named from serde's
/// message, and an unknown variant is reported on `tag` (`kind`, `action`) when given.
pub fn from_json_tagged<'de, T: serde::Deserialize<'de>, D>(
    value: D,
    root: &str,
    tag: Option<&str>,
) -> Result<T, Violations>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path != "." {
            path
        } else if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            missing.to_owned()
        } else if let Some(tag) = tag.filter(|_| message.contains("variant")) {
            tag.to_owned()
        } else {
            root.to_owned()
        };
        let mut v = Violations::default();
        v.push(field, message);
        v
    })
}

/// A pattern from the official service model, with its source text for error messages.
pub struct Pattern {
    pub source: &'static str,
    regex: Regex,
}

impl Pattern {
    fn new(source: &'static str) -> Self {
        // Model patterns are unanchored unless they say otherwise; anchor them all: a value must
        // match whole.
        let anchored = format!(
            "^(?:{})$",
            source.trim_start_matches('^').trim_end_matches('$')
        );
        Pattern {
            source,
            regex: Regex::new(&anchored).expect("service model patterns compile"),
        }
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

macro_rules! patterns {
    ($($(#[$doc:meta])* $name:ident = $src:literal;)*) => {
        $( $(#[$doc])* pub static $name: LazyLock<Pattern> = LazyLock::new(|| Pattern::new($src)); )*
    };
}

patterns! {
    /// WorkSpaces `WorkspaceId`.
    WORKSPACE_ID = r"^ws-[0-9a-z]{8,63}$";
    /// WorkSpaces `BundleId`.
    BUNDLE_ID = r"^wsb-[0-9a-z]{8,63}$";
    /// WorkSpaces `DirectoryId`.
    DIRECTORY_ID = r"^(d-[0-9a-f]{8,63})|(wsd-[0-9a-z]{8,63})$";
    /// WorkSpaces `WorkspaceImageId`.
    IMAGE_ID = r"wsi-[0-9a-z]{9,63}$";
    /// WorkSpaces `Region` (a Region name such as `us-west-2`).
    REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$";
    /// Lex V1 `BotName`.
    LEX_BOT_NAME = r"^([A-Za-z]_?)+$";
    /// Lex V1 `Version`.
    LEX_BOT_VERSION = r"\$LATEST|[0-9]+";
    /// Lex `V2BotName`.
    LEX_V2_BOT_NAME = r"^([0-9a-zA-Z][_-]?)+$";
    /// Lex `IamRoleArn`.
    IAM_ROLE_ARN = r"^arn:[\w\-]+:iam::[\d]{12}:role/.+$";
    /// Migration Hub `ProgressUpdateStream`.
    PROGRESS_UPDATE_STREAM = r"[^/:|\x00-\x1f]+";
    /// A wave id: it becomes part of execution and task names.
    WAVE_ID = r"[A-Za-z0-9_-]+";
    /// A KMS key id, alias or ARN for a volume encryption key.
    KMS_KEY = r"[A-Za-z0-9:/_+=,.@-]+";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_values() {
        assert!(WORKSPACE_ID.is_match("ws-abcd1234"));
        assert!(!WORKSPACE_ID.is_match("ws-ABCD1234"));
        assert!(!WORKSPACE_ID.is_match("xws-abcd1234"));
        assert!(IMAGE_ID.is_match("wsi-abcd12345"));
        assert!(!IMAGE_ID.is_match("foo-wsi-abcd12345"));
        assert!(DIRECTORY_ID.is_match("d-1234567890"));
        assert!(DIRECTORY_ID.is_match("wsd-abcd1234"));
        assert!(LEX_BOT_VERSION.is_match("$LATEST"));
        assert!(LEX_BOT_VERSION.is_match("12"));
        assert!(!LEX_BOT_VERSION.is_match("v12"));
        assert!(REGION.is_match("us-west-2"));
        assert!(REGION.is_match("us-gov-west-1"));
        assert!(!REGION.is_match("uswest"));
        assert!(PROGRESS_UPDATE_STREAM.is_match("fleetshift"));
        assert!(!PROGRESS_UPDATE_STREAM.is_match("a/b"));
    }

    #[test]
    fn violations_display_field_and_rule() {
        let mut v = Violations::default();
        v.pattern("workspaces[0].workspaceId", "nope", &WORKSPACE_ID);
        assert_eq!(
            v.to_string(),
            "workspaces[0].workspaceId: must match ^ws-[0-9a-z]{8,63}$"
        );
    }
}

//! The scenario file: misbehaviour on purpose, so every retry and failure path can be exercised.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fleet::ImportErrorDetail;

/// What goes wrong, and when. JSON, camelCase; every field has a default (an empty scenario is a
/// well-behaved cloud).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Scenario {
    /// Seed of the deterministic throttling draws.
    pub seed: u64,
    /// Per-call rules, checked in order for every request.
    pub rules: Vec<Rule>,
    /// Source WorkSpace ids whose migration never finishes (the new WorkSpace stays PENDING and
    /// no error is ever returned: AWS's silent failure). `"*"` means every migration.
    pub never_finish_migrations: Vec<String>,
    /// Image imports that end in ERROR, by image id.
    pub fail_image_imports: Vec<ImageImportFailure>,
    /// Standby requests that fail (reported in `FailedStandbyRequests`), by primary WorkSpace id
    /// or by the id of the WorkSpace the primary was migrated from.
    pub fail_standbys: Vec<StandbyFailure>,
    /// Lex V1 bots whose migration ends FAILED (with an ERROR alert), by V1 bot name.
    pub fail_lex_migrations: Vec<String>,
    /// Whether Migration Hub answers.
    pub migration_hub: HubAvailability,
    /// Whether the Lex V1 endpoints answer.
    pub lex_v1: LexAvailability,
}

/// One per-call rule. A request matches when its operation is `operation` (or `"*"`) and, if `id`
/// is given, the id it names is `id`. The first matching rule with an action that applies decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Operation name as on the wire (`MigrateWorkspace`, `PutEvents`, ...), or `"*"`.
    pub operation: String,
    /// The id the request names: SourceWorkspaceId, the first of WorkspaceIds, ImageId,
    /// PrimaryWorkspaceId of the first standby, MigrationTaskName, ProgressUpdateStreamName, v1BotName,
    /// migrationId, stateMachineArn / executionArn.
    #[serde(default)]
    pub id: Option<String>,
    /// Fail with this error.
    #[serde(default)]
    pub fail: Option<FailAction>,
    /// Throttle this fraction (0.0-1.0) of the matching calls (deterministic, from `seed`).
    #[serde(default)]
    pub throttle: Option<f64>,
    /// Answer this many milliseconds later (wall clock: latency is about concurrency, not time).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Carry out this many matching calls, then answer each with HTTP 500 `InternalFailure`, as
    /// when the answer is lost on its way back: the work is done, the caller does not know it, and
    /// the SDK tries again.
    #[serde(default)]
    pub lose_answer: Option<u32>,
}

/// Fail with a given error, a number of times, then behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailAction {
    /// Error code (shape name), e.g. `OperationInProgressException`.
    pub error: String,
    /// How many matching calls fail (default: all of them).
    #[serde(default)]
    pub times: Option<u32>,
    /// How many matching calls (per id) go through before the failures start (default 0).
    #[serde(default)]
    pub after: Option<u32>,
    /// HTTP status (default 400; Lex errors default to their modeled status).
    #[serde(default)]
    pub status: Option<u16>,
    /// Message (default: a message naming the scenario).
    #[serde(default)]
    pub message: Option<String>,
}

/// An image import that ends in ERROR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageImportFailure {
    /// `wsi-…`.
    pub image_id: String,
    /// Progress at which it fails (default 50).
    #[serde(default = "fifty")]
    pub at_percent: u8,
    /// Reported error details (default: one generic detail).
    #[serde(default)]
    pub error_details: Vec<ImportErrorDetail>,
}

fn fifty() -> u8 {
    50
}

/// A standby request that fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StandbyFailure {
    /// The primary WorkSpace id.
    pub primary_workspace_id: String,
    /// Reported ErrorCode (default `ResourceLimitExceeded.CoresCount`... any string).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Reported ErrorMessage.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// Migration Hub availability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HubAvailability {
    /// Answers normally.
    #[default]
    Available,
    /// Every call: `HomeRegionNotSetException`.
    HomeRegionNotSet,
    /// Every call: `AccessDeniedException` (e.g. an account closed to new customers).
    AccessDenied,
}

/// Lex V1 availability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LexAvailability {
    /// Answers normally.
    #[default]
    Available,
    /// The endpoints are gone (as since 2025-09-15): every Lex call gets HTTP 410 with
    /// `x-amzn-ErrorType: EndpointGone`, an error the SDK does not retry.
    Gone,
}

/// A scenario file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON does not match the format.
    #[error("parsing the scenario: {0}")]
    Parse(#[from] serde_json::Error),
    /// A value is out of range.
    #[error("invalid scenario: {0}")]
    Invalid(String),
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses scenario JSON.
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        let s: Self = serde_json::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(t) = r.throttle
                && !(0.0..=1.0).contains(&t)
            {
                return Err(ScenarioError::Invalid(format!(
                    "rules[{i}].throttle must be within 0.0-1.0"
                )));
            }
            if r.lose_answer == Some(0) {
                return Err(ScenarioError::Invalid(format!(
                    "rules[{i}].loseAnswer must be at least 1"
                )));
            }
            if r.fail.is_none()
                && r.throttle.is_none()
                && r.latency_ms.is_none()
                && r.lose_answer.is_none()
            {
                return Err(ScenarioError::Invalid(format!(
                    "rules[{i}] has no action (fail, throttle, latencyMs or loseAnswer)"
                )));
            }
        }
        for f in &self.fail_image_imports {
            if f.at_percent > 99 {
                return Err(ScenarioError::Invalid(format!(
                    "failImageImports {}: atPercent must be 0-99",
                    f.image_id
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn never_finishes(&self, source_id: &str) -> bool {
        self.never_finish_migrations
            .iter()
            .any(|s| s == "*" || s == source_id)
    }
}

/// A deterministic draw in [0, 1) from the seed, the rule, the id and the how-manieth call it is.
pub(crate) fn draw(seed: u64, rule: usize, key: &str, n: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in key
        .bytes()
        .chain((rule as u64).to_le_bytes())
        .chain(n.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (splitmix(h) >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_spread() {
        let hits = (0..10_000)
            .filter(|n| draw(7, 0, "PutEvents", *n) < 0.3)
            .count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert_eq!(draw(7, 0, "x", 3), draw(7, 0, "x", 3));
        assert_ne!(draw(7, 0, "x", 3), draw(8, 0, "x", 3));
    }

    #[test]
    fn parses_a_full_scenario() {
        let s = Scenario::from_json(
            r#"{"seed": 3, "rules": [{"operation": "MigrateWorkspace", "id": "ws-gen0000001",
                "fail": {"error": "OperationInProgressException", "times": 2}},
                {"operation": "*", "throttle": 0.3}],
                "neverFinishMigrations": ["ws-gen0000002"], "migrationHub": "homeRegionNotSet",
                "lexV1": "gone"}"#,
        )
        .unwrap();
        assert_eq!(s.migration_hub, HubAvailability::HomeRegionNotSet);
        assert_eq!(s.lex_v1, LexAvailability::Gone);
        assert!(s.never_finishes("ws-gen0000002"));
        assert!(Scenario::from_json(r#"{"rules": [{"operation": "*"}]}"#).is_err());
    }
}

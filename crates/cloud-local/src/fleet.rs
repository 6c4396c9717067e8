//! The fleet file: what exists in the emulated accounts before the first request.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::validate::matches;

/// Patterns from the WorkSpaces and Lex models, checked when a fleet is loaded: botocore
/// `workspaces/2015-04-08` shapes `WorkspaceId`, `BundleId`, `DirectoryId`, `WorkspaceImageId`
/// and `Region`; `lex-models/2017-04-19` shape `BotName`.
pub(crate) const WORKSPACE_ID: &str = "^ws-[0-9a-z]{8,63}$";
pub(crate) const BUNDLE_ID: &str = "^wsb-[0-9a-z]{8,63}$";
pub(crate) const DIRECTORY_ID: &str = "^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)";
pub(crate) const IMAGE_ID: &str = "wsi-[0-9a-z]{9,63}$";
pub(crate) const REGION: &str = "^[-0-9a-z]{1,31}$";
pub(crate) const BOT_NAME: &str = "^([A-Za-z]_?)+$";

/// WorkSpace states of the model: botocore `workspaces/2015-04-08`, `WorkspaceState`.
pub const WORKSPACE_STATES: &[&str] = &[
    "PENDING",
    "AVAILABLE",
    "IMPAIRED",
    "UNHEALTHY",
    "REBOOTING",
    "STARTING",
    "REBUILDING",
    "RESTORING",
    "MAINTENANCE",
    "ADMIN_MAINTENANCE",
    "TERMINATING",
    "TERMINATED",
    "SUSPENDED",
    "UPDATING",
    "STOPPING",
    "STOPPED",
    "ERROR",
];

/// Everything that exists before the first request. JSON, camelCase; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Fleet {
    /// Region of requests that carry no SigV4 credential scope, and of seeds that name none.
    pub default_region: String,
    /// Account id used in ARNs.
    pub account_id: String,
    /// Home Region of Migration Hub (defaults to `default_region`).
    pub hub_home_region: Option<String>,
    /// How long a migrated WorkSpace stays PENDING before it is AVAILABLE (virtual seconds).
    pub migration_duration_secs: u64,
    /// How long a standby WorkSpace stays PENDING.
    pub standby_duration_secs: u64,
    /// How long a Lex V1 -> V2 migration stays IN_PROGRESS.
    pub lex_migration_duration_secs: u64,
    /// WorkSpaces directories.
    pub directories: Vec<DirectorySeed>,
    /// WorkSpaces bundles.
    pub bundles: Vec<BundleSeed>,
    /// WorkSpaces.
    pub workspaces: Vec<WorkspaceSeed>,
    /// Custom image imports under way.
    pub image_imports: Vec<ImageImportSeed>,
    /// Lex V1 bots.
    pub lex_bots: Vec<LexBotSeed>,
}

impl Default for Fleet {
    fn default() -> Self {
        Self {
            default_region: "us-east-1".into(),
            account_id: "123456789012".into(),
            hub_home_region: None,
            migration_duration_secs: 40 * 60,
            standby_duration_secs: 20 * 60,
            lex_migration_duration_secs: 5 * 60,
            directories: Vec::new(),
            bundles: Vec::new(),
            workspaces: Vec::new(),
            image_imports: Vec::new(),
            lex_bots: Vec::new(),
        }
    }
}

/// A WorkSpaces directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectorySeed {
    /// `d-…` or `wsd-…`.
    pub directory_id: String,
    /// Region the directory lives in (default: the fleet's default Region).
    #[serde(default)]
    pub region: Option<String>,
}

/// A WorkSpaces bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleSeed {
    /// `wsb-…`.
    pub bundle_id: String,
    /// Bring-your-own-license bundle: BYOL WorkSpaces migrate only to BYOL bundles, and others
    /// never to a BYOL bundle (Administration Guide, "Migrate a WorkSpace", Migration Limits).
    #[serde(default)]
    pub byol: bool,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A WorkSpace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceSeed {
    /// `ws-…`.
    pub workspace_id: String,
    /// Its directory (must be in `directories`).
    pub directory_id: String,
    /// Its user.
    pub user_name: String,
    /// Its bundle (must be in `bundles`).
    pub bundle_id: String,
    /// One of the model's WorkspaceState values (default AVAILABLE).
    #[serde(default = "available")]
    pub state: String,
    /// Region (default: the fleet's default Region).
    #[serde(default)]
    pub region: Option<String>,
    /// Overrides the fleet's migration duration for this WorkSpace.
    #[serde(default)]
    pub migration_duration_secs: Option<u64>,
}

fn available() -> String {
    "AVAILABLE".into()
}

/// A custom WorkSpace image import that advances through its states over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageImportSeed {
    /// `wsi-…`.
    pub image_id: String,
    /// Time from PENDING to the final state (virtual seconds).
    #[serde(default = "import_duration")]
    pub duration_secs: u64,
    /// COMPLETED (default) or ERROR.
    #[serde(default = "completed")]
    pub final_state: String,
    /// Error details reported when the final state is ERROR.
    #[serde(default)]
    pub error_details: Vec<ImportErrorDetail>,
    /// When the import started (epoch millis); default: the time of the first request about it.
    #[serde(default)]
    pub started_at_millis: Option<u64>,
}

fn import_duration() -> u64 {
    60 * 60
}

fn completed() -> String {
    "COMPLETED".into()
}

/// One entry of an image import's `ErrorDetails`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportErrorDetail {
    /// 1-256 chars.
    pub error_code: String,
    /// 1-2048 chars.
    pub error_message: String,
}

/// A Lex V1 bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LexBotSeed {
    /// Bot name (2-50 chars, `^([A-Za-z]_?)+$`).
    pub name: String,
    /// Versions that exist (default `["$LATEST"]`).
    #[serde(default = "latest")]
    pub versions: Vec<String>,
    /// Locale (default en-US).
    #[serde(default = "en_us")]
    pub locale: String,
    /// Bot status (default READY).
    #[serde(default = "ready")]
    pub status: String,
}

fn latest() -> Vec<String> {
    vec!["$LATEST".into()]
}
fn en_us() -> String {
    "en-US".into()
}
fn ready() -> String {
    "READY".into()
}

/// A fleet file that could not be read or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON does not match the format.
    #[error("parsing the fleet: {0}")]
    Parse(#[from] serde_json::Error),
    /// The content breaks a rule (an id pattern, a dangling reference, a duplicate).
    #[error("invalid fleet: {0}")]
    Invalid(String),
}

impl Fleet {
    /// Reads and validates a fleet file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, FleetError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses and validates fleet JSON.
    pub fn from_json(text: &str) -> Result<Self, FleetError> {
        let fleet: Self = serde_json::from_str(text)?;
        fleet.validate()?;
        Ok(fleet)
    }

    /// The Home Region of Migration Hub.
    pub fn hub_home_region(&self) -> &str {
        self.hub_home_region
            .as_deref()
            .unwrap_or(&self.default_region)
    }

    /// Checks ids against the model's patterns and every reference.
    pub fn validate(&self) -> Result<(), FleetError> {
        let bad = |m: String| Err(FleetError::Invalid(m));
        if !matches(REGION, &self.default_region) {
            return bad(format!(
                "defaultRegion {:?} is not a Region",
                self.default_region
            ));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!("accountId {:?} must be 12 digits", self.account_id));
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.directories {
            if !matches(DIRECTORY_ID, &d.directory_id) {
                return bad(format!(
                    "directoryId {:?} does not match {DIRECTORY_ID}",
                    d.directory_id
                ));
            }
            if !seen.insert(d.directory_id.clone()) {
                return bad(format!("directory {} is listed twice", d.directory_id));
            }
        }
        for b in &self.bundles {
            if !matches(BUNDLE_ID, &b.bundle_id) {
                return bad(format!(
                    "bundleId {:?} does not match {BUNDLE_ID}",
                    b.bundle_id
                ));
            }
            if !seen.insert(b.bundle_id.clone()) {
                return bad(format!("bundle {} is listed twice", b.bundle_id));
            }
        }
        for w in &self.workspaces {
            if !matches(WORKSPACE_ID, &w.workspace_id) {
                return bad(format!(
                    "workspaceId {:?} does not match {WORKSPACE_ID}",
                    w.workspace_id
                ));
            }
            if !seen.insert(w.workspace_id.clone()) {
                return bad(format!("workspace {} is listed twice", w.workspace_id));
            }
            if !self
                .directories
                .iter()
                .any(|d| d.directory_id == w.directory_id)
            {
                return bad(format!(
                    "workspace {} names unknown directory {}",
                    w.workspace_id, w.directory_id
                ));
            }
            if !self.bundles.iter().any(|b| b.bundle_id == w.bundle_id) {
                return bad(format!(
                    "workspace {} names unknown bundle {}",
                    w.workspace_id, w.bundle_id
                ));
            }
            if w.user_name.is_empty() || w.user_name.chars().count() > 63 {
                return bad(format!(
                    "workspace {}: userName must be 1-63 chars",
                    w.workspace_id
                ));
            }
            if !WORKSPACE_STATES.contains(&w.state.as_str()) {
                return bad(format!(
                    "workspace {}: unknown state {}",
                    w.workspace_id, w.state
                ));
            }
            if let Some(r) = &w.region
                && !matches(REGION, r)
            {
                return bad(format!(
                    "workspace {}: region {r:?} is not a Region",
                    w.workspace_id
                ));
            }
        }
        for i in &self.image_imports {
            if !matches(IMAGE_ID, &i.image_id) || !i.image_id.starts_with("wsi-") {
                return bad(format!(
                    "imageId {:?} does not match wsi-[0-9a-z]{{9,63}}",
                    i.image_id
                ));
            }
            if i.final_state != "COMPLETED" && i.final_state != "ERROR" {
                return bad(format!(
                    "image {}: finalState must be COMPLETED or ERROR",
                    i.image_id
                ));
            }
            if !seen.insert(i.image_id.clone()) {
                return bad(format!("image {} is listed twice", i.image_id));
            }
        }
        for b in &self.lex_bots {
            if b.name.len() < 2 || b.name.len() > 50 || !matches(BOT_NAME, &b.name) {
                return bad(format!(
                    "Lex bot name {:?} must be 2-50 chars matching {BOT_NAME}",
                    b.name
                ));
            }
            if b.versions.iter().any(|v| !matches("\\$LATEST|[0-9]+", v)) {
                return bad(format!(
                    "Lex bot {}: versions must be $LATEST or digits",
                    b.name
                ));
            }
        }
        Ok(())
    }

    /// A valid fleet of `n` AVAILABLE WorkSpaces in `us-east-1`: one directory there and one in
    /// `us-west-2` (for standbys), a source and a target bundle (plus a BYOL pair), one image import
    /// that completes after an hour, and two Lex V1 bots.
    pub fn generate(n: usize) -> Self {
        let workspaces = (0..n)
            .map(|i| WorkspaceSeed {
                workspace_id: format!("ws-gen{i:07}"),
                directory_id: "d-1000000001".into(),
                user_name: format!("user{i:05}"),
                bundle_id: "wsb-source0001".into(),
                state: available(),
                region: None,
                migration_duration_secs: None,
            })
            .collect();
        Self {
            directories: vec![
                DirectorySeed {
                    directory_id: "d-1000000001".into(),
                    region: Some("us-east-1".into()),
                },
                DirectorySeed {
                    directory_id: "d-2000000002".into(),
                    region: Some("us-west-2".into()),
                },
            ],
            bundles: vec![
                BundleSeed {
                    bundle_id: "wsb-source0001".into(),
                    byol: false,
                    name: Some("Standard with Windows 10".into()),
                },
                BundleSeed {
                    bundle_id: "wsb-target0001".into(),
                    byol: false,
                    name: Some("Standard with Windows Server 2022".into()),
                },
                BundleSeed {
                    bundle_id: "wsb-byolsrc001".into(),
                    byol: true,
                    name: Some("BYOL Windows 10".into()),
                },
                BundleSeed {
                    bundle_id: "wsb-byoltgt001".into(),
                    byol: true,
                    name: Some("BYOL Windows 11".into()),
                },
            ],
            workspaces,
            image_imports: vec![ImageImportSeed {
                image_id: "wsi-gen000001".into(),
                duration_secs: import_duration(),
                final_state: completed(),
                error_details: Vec::new(),
                started_at_millis: None,
            }],
            lex_bots: vec![
                LexBotSeed {
                    name: "OrderFlowers".into(),
                    versions: vec!["$LATEST".into(), "1".into()],
                    locale: en_us(),
                    status: ready(),
                },
                LexBotSeed {
                    name: "BookTrip".into(),
                    versions: latest(),
                    locale: en_us(),
                    status: ready(),
                },
            ],
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleets_are_valid() {
        let f = Fleet::generate(250);
        f.validate().unwrap();
        assert_eq!(f.workspaces.len(), 250);
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(Fleet::from_json(&text).unwrap(), f);
    }

    #[test]
    fn dangling_references_are_rejected() {
        let mut f = Fleet::generate(1);
        f.workspaces[0].bundle_id = "wsb-missing001".into();
        assert!(
            matches!(f.validate(), Err(FleetError::Invalid(m)) if m.contains("unknown bundle"))
        );
        let mut f = Fleet::generate(1);
        f.workspaces[0].workspace_id = "ws-BAD".into();
        assert!(f.validate().is_err());
    }
}

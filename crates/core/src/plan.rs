//! The wave plan: what an operator asks Fleetshift to move, and how.
//!
//! A plan arrives as the Step Functions execution input (console) or as the detail of a
//! `Wave Requested` EventBridge event. [`Plan::parse`] reads it and checks every field against the
//! rules of the AWS service models, returning every violation with its field path; the normalised
//! plan (defaults filled in, each WorkSpace's target bundle resolved) is what the state machine
//! works from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::lex_v1;
use crate::validate::{self, Violations};

/// Step Functions' limit on an execution's input, in bytes.
pub const MAX_EXECUTION_INPUT_BYTES: usize = 256 * 1024;
/// Most WorkSpaces in one wave. The Distributed Map returns one result per WorkSpace (about 300
/// bytes, 500 with a failure cause) into the execution's state, which Step Functions caps at
/// 256 KiB like every state's data: past this the wave would end in `States.DataLimitExceeded`
/// after migrating, with no summary. Larger fleets run as several waves.
pub const MAX_WORKSPACES_PER_WAVE: usize = 400;
/// AWS advises at most this many concurrent WorkSpaces migrations.
pub const MAX_CONCURRENT_MIGRATIONS: u32 = 25;
/// Longest wave id, so that `<waveId>-<hash>` fits Step Functions' 80-character execution names.
pub const MAX_WAVE_ID_LEN: usize = 63;
/// Step Functions keeps at most 25,000 events in an execution's history; past that the execution
/// fails. A poll (Wait, Task, Choice) writes 9 events when its Task answers, but a poll whose Task
/// is throttled through every retry writes about 35 (9 attempts of 3 events each, the Wait, the
/// Choice and the unanswered-check bookkeeping), and nothing bounds how many polls in a row go
/// unanswered. So each poll is budgeted at [`WORST_EVENTS_PER_POLL`], with 1,000 events left for
/// the other states: one execution may poll at most this many times:
/// - a WorkSpace's child execution polls its migration;
/// - the wave's own execution polls the image import and every Lex bot migration.
pub const MAX_POLLS_PER_EXECUTION: u64 = (25_000 - 1_000) / WORST_EVENTS_PER_POLL;
/// The most history events one poll may write (see [`MAX_POLLS_PER_EXECUTION`]), with a margin.
pub const WORST_EVENTS_PER_POLL: u64 = 40;
/// Migration Hub's progress update stream used when the plan names none.
pub const DEFAULT_PROGRESS_UPDATE_STREAM: &str = "fleetshift";

/// A wave: WorkSpaces to migrate to new bundles, Lex V1 bots to migrate to V2, and the settings
/// shared by all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// Names the wave in execution names, Migration Hub task names and events.
    pub wave_id: String,
    /// Target bundle for every WorkSpace that does not name its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// The WorkSpaces to migrate.
    #[serde(default)]
    pub workspaces: Vec<WorkspaceItem>,
    /// A BYOL image import that must be COMPLETED before any WorkSpace is touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageGate>,
    /// Create a standby WorkSpace in another Region for each migrated WorkSpace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<Standby>,
    /// Lex V1 bots to migrate to Lex V2.
    #[serde(default)]
    pub lex_bots: Vec<LexBot>,
    /// Migration Hub reporting.
    #[serde(default)]
    pub hub: Hub,
    /// How many WorkSpaces migrate at once (1-25; AWS advises at most 25).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    /// Poll intervals and deadlines.
    #[serde(default)]
    pub polling: Polling,
}

/// One WorkSpace to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceItem {
    pub workspace_id: String,
    /// Target bundle; defaults to the plan's `bundleId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Whether to create a standby for this WorkSpace; defaults to true when the plan has a
    /// `standby` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<bool>,
}

/// The BYOL image import to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageGate {
    pub image_id: String,
}

/// Standby WorkSpaces settings (CreateStandbyWorkspaces in the standby Region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Standby {
    /// The standby (secondary) Region.
    pub region: String,
    /// The directory the standby WorkSpaces join, in the standby Region.
    pub directory_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_encryption_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// `NO_REPLICATION` or `PRIMARY_AS_SOURCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_replication: Option<String>,
}

impl Standby {
    /// Checks the standby Region against where it will be used: never the `primary` Region (the
    /// WorkSpaces' own), and `only` when the stack allows just one (its StandbyRegion).
    pub fn check_region(
        &self,
        field: &str,
        primary: Option<&str>,
        only: Option<&str>,
        v: &mut Violations,
    ) {
        let field = format!("{field}.region");
        if let Some(primary) = primary.filter(|p| *p == self.region) {
            v.push(
                &field,
                format!(
                    "must differ from the primary Region {primary} where the WorkSpaces are migrated: a standby WorkSpace lives in another Region"
                ),
            );
        }
        if let Some(only) = only.filter(|o| *o != self.region) {
            v.push(
                &field,
                format!(
                    "must be {only}, the stack's StandbyRegion: its create-standby function may create standby WorkSpaces only there (is {})",
                    self.region
                ),
            );
        }
    }

    /// Checks the settings against the CreateStandbyWorkspaces model; `field` is this section's
    /// path (`standby`), prefixed to every violation.
    pub fn check(&self, field: &str, v: &mut Violations) {
        v.pattern(&format!("{field}.region"), &self.region, &validate::REGION);
        v.length(&format!("{field}.region"), &self.region, 1, 31);
        v.length(&format!("{field}.directoryId"), &self.directory_id, 10, 65);
        v.pattern(
            &format!("{field}.directoryId"),
            &self.directory_id,
            &validate::DIRECTORY_ID,
        );
        if let Some(k) = &self.volume_encryption_key {
            v.length(&format!("{field}.volumeEncryptionKey"), k, 1, 2048);
            v.pattern(
                &format!("{field}.volumeEncryptionKey"),
                k,
                &validate::KMS_KEY,
            );
        }
        if let Some(d) = &self.data_replication {
            v.one_of(
                &format!("{field}.dataReplication"),
                d,
                &["NO_REPLICATION", "PRIMARY_AS_SOURCE"],
            );
        }
        if self.tags.len() > 50 {
            v.push(format!("{field}.tags"), "at most 50 tags");
        }
        for (i, t) in self.tags.iter().enumerate() {
            v.length(&format!("{field}.tags[{i}].key"), &t.key, 1, 127);
            v.length(&format!("{field}.tags[{i}].value"), &t.value, 0, 255);
            if t.key.starts_with("aws:") {
                v.push(format!("{field}.tags[{i}].key"), "must not start with aws:");
            }
        }
    }
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// One Lex V1 bot to migrate (Lex StartMigration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LexBot {
    pub v1_bot_name: String,
    pub v1_bot_version: String,
    pub v2_bot_name: String,
    pub v2_bot_role: String,
    /// `CREATE_NEW` or `UPDATE_EXISTING`.
    pub migration_strategy: String,
}

/// Migration Hub settings. Migration Hub is closed to new customers: it is off unless enabled
/// here or by the stack; EventBridge events and the final report are always produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hub {
    /// Overrides the stack's setting when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The account's Migration Hub home Region; overrides the stack's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    #[serde(default = "default_stream")]
    pub progress_update_stream: String,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            enabled: None,
            home_region: None,
            progress_update_stream: default_stream(),
        }
    }
}

/// Poll intervals and deadlines. Every poll is a paid state transition: the first migration check
/// waits long enough that a typical migration needs only one or two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Polling {
    /// Wait before the first check of a started migration (seconds).
    #[serde(default = "d_first_check")]
    pub migration_first_check_seconds: u32,
    /// Wait between later checks (seconds).
    #[serde(default = "d_interval")]
    pub migration_interval_seconds: u32,
    /// A migration whose new WorkSpace is not AVAILABLE this long after it started has failed.
    #[serde(default = "d_deadline")]
    pub migration_deadline_minutes: u32,
    /// Wait between checks of the BYOL image import (seconds).
    #[serde(default = "d_image_interval")]
    pub image_poll_seconds: u32,
    /// The wave fails if the image import is not COMPLETED this long after the wave started.
    #[serde(default = "d_image_deadline")]
    pub image_deadline_minutes: u32,
    /// Wait between checks of a Lex bot migration (seconds).
    #[serde(default = "d_bot_interval")]
    pub bot_poll_seconds: u32,
    /// A bot migration not finished this long after it started has failed.
    #[serde(default = "d_bot_deadline")]
    pub bot_deadline_minutes: u32,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            migration_first_check_seconds: d_first_check(),
            migration_interval_seconds: d_interval(),
            migration_deadline_minutes: d_deadline(),
            image_poll_seconds: d_image_interval(),
            image_deadline_minutes: d_image_deadline(),
            bot_poll_seconds: d_bot_interval(),
            bot_deadline_minutes: d_bot_deadline(),
        }
    }
}

fn default_max_concurrency() -> u32 {
    MAX_CONCURRENT_MIGRATIONS
}
fn default_stream() -> String {
    DEFAULT_PROGRESS_UPDATE_STREAM.to_owned()
}
fn d_first_check() -> u32 {
    3600
}
fn d_interval() -> u32 {
    600
}
fn d_deadline() -> u32 {
    90
}
fn d_image_interval() -> u32 {
    300
}
fn d_image_deadline() -> u32 {
    240
}
fn d_bot_interval() -> u32 {
    60
}
fn d_bot_deadline() -> u32 {
    60
}

impl Plan {
    /// Reads and validates a plan, returning every violation with its field path. The result is
    /// normalised: each WorkSpace names its target bundle and whether it gets a standby.
    pub fn parse(value: &serde_json::Value) -> Result<Plan, Violations> {
        let size = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0);
        let mut plan: Plan = validate::from_json_tagged(value, "plan", None)?;
        let mut v = Violations::default();
        if size > MAX_EXECUTION_INPUT_BYTES {
            v.push(
                "plan",
                format!(
                    "must be at most 256 KiB of JSON (the Step Functions input limit; is {size} bytes): split the wave"
                ),
            );
        }
        plan.check(&mut v);
        v.into_result()?;
        plan.normalise();
        Ok(plan)
    }

    fn check(&self, v: &mut Violations) {
        v.length("waveId", &self.wave_id, 1, MAX_WAVE_ID_LEN);
        v.pattern("waveId", &self.wave_id, &validate::WAVE_ID);
        if let Some(b) = &self.bundle_id {
            v.pattern("bundleId", b, &validate::BUNDLE_ID);
        }
        if self.workspaces.is_empty() && self.lex_bots.is_empty() {
            v.push(
                "workspaces",
                "the plan must name at least one WorkSpace or Lex bot",
            );
        }
        if self.workspaces.len() > MAX_WORKSPACES_PER_WAVE {
            v.push(
                "workspaces",
                format!(
                    "at most {MAX_WORKSPACES_PER_WAVE} WorkSpaces per wave (is {}): the results must fit Step Functions' 256 KiB state limit; split the fleet into several waves",
                    self.workspaces.len()
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, w) in self.workspaces.iter().enumerate() {
            let f = format!("workspaces[{i}]");
            v.pattern(
                &format!("{f}.workspaceId"),
                &w.workspace_id,
                &validate::WORKSPACE_ID,
            );
            if !seen.insert(w.workspace_id.as_str()) {
                v.push(
                    format!("{f}.workspaceId"),
                    format!(
                        "must be unique in the plan ({} appears twice)",
                        w.workspace_id
                    ),
                );
            }
            match (&w.bundle_id, &self.bundle_id) {
                (Some(b), _) => v.pattern(&format!("{f}.bundleId"), b, &validate::BUNDLE_ID),
                (None, Some(_)) => {}
                (None, None) => v.push(
                    format!("{f}.bundleId"),
                    "is required when the plan has no bundleId",
                ),
            }
            if w.standby == Some(true) && self.standby.is_none() {
                v.push(
                    format!("{f}.standby"),
                    "can be true only when the plan has a standby section",
                );
            }
        }
        if let Some(img) = &self.image {
            v.pattern("image.imageId", &img.image_id, &validate::IMAGE_ID);
        }
        if let Some(s) = &self.standby {
            s.check("standby", v);
        }
        let mut bots = std::collections::HashSet::new();
        for (i, b) in self.lex_bots.iter().enumerate() {
            let f = format!("lexBots[{i}]");
            lex_v1::MigrationRequest::from(b).check(&f, v);
            if !bots.insert((&b.v1_bot_name, &b.v1_bot_version)) {
                v.push(
                    format!("{f}.v1BotName"),
                    "each bot version may appear once in the plan",
                );
            }
        }
        if let Some(r) = &self.hub.home_region {
            v.pattern("hub.homeRegion", r, &validate::REGION);
        }
        v.length(
            "hub.progressUpdateStream",
            &self.hub.progress_update_stream,
            1,
            50,
        );
        v.pattern(
            "hub.progressUpdateStream",
            &self.hub.progress_update_stream,
            &validate::PROGRESS_UPDATE_STREAM,
        );
        v.range(
            "maxConcurrency",
            i64::from(self.max_concurrency),
            1,
            i64::from(MAX_CONCURRENT_MIGRATIONS),
        );
        let p = &self.polling;
        v.range(
            "polling.migrationFirstCheckSeconds",
            p.migration_first_check_seconds.into(),
            60,
            86_400,
        );
        v.range(
            "polling.migrationIntervalSeconds",
            p.migration_interval_seconds.into(),
            30,
            86_400,
        );
        v.range(
            "polling.migrationDeadlineMinutes",
            p.migration_deadline_minutes.into(),
            5,
            24 * 60,
        );
        if u64::from(p.migration_first_check_seconds) > u64::from(p.migration_deadline_minutes) * 60
        {
            v.push(
                "polling.migrationFirstCheckSeconds",
                "must not be later than polling.migrationDeadlineMinutes",
            );
        }
        v.range(
            "polling.imagePollSeconds",
            p.image_poll_seconds.into(),
            30,
            86_400,
        );
        v.range(
            "polling.imageDeadlineMinutes",
            p.image_deadline_minutes.into(),
            5,
            7 * 24 * 60,
        );
        v.range(
            "polling.botPollSeconds",
            p.bot_poll_seconds.into(),
            5,
            86_400,
        );
        v.range(
            "polling.botDeadlineMinutes",
            p.bot_deadline_minutes.into(),
            1,
            24 * 60,
        );
        self.check_history_budget(v);
    }

    /// Polls a loop makes at most: the first after `first` seconds, then every `every` seconds
    /// until `deadline_minutes`.
    fn polls(first: u32, every: u32, deadline_minutes: u32) -> u64 {
        let span = (u64::from(deadline_minutes) * 60).saturating_sub(u64::from(first));
        1 + span.div_ceil(u64::from(every.max(1)))
    }

    /// Rejects polling that would overflow an execution's 25,000-event history (the execution
    /// would fail mid-wave, leaving its WorkSpaces unreported).
    fn check_history_budget(&self, v: &mut Violations) {
        let p = &self.polling;
        let migration = Self::polls(
            p.migration_first_check_seconds,
            p.migration_interval_seconds,
            p.migration_deadline_minutes,
        );
        if migration > MAX_POLLS_PER_EXECUTION {
            v.push(
                "polling.migrationIntervalSeconds",
                format!(
                    "with polling.migrationDeadlineMinutes {} a migration is checked up to {migration} times, and a WorkSpace's execution has room for at most {MAX_POLLS_PER_EXECUTION} checks (Step Functions' 25,000-event history): raise the interval or shorten the deadline",
                    p.migration_deadline_minutes
                ),
            );
        }
        let image = if self.image.is_some() {
            Self::polls(
                p.image_poll_seconds,
                p.image_poll_seconds,
                p.image_deadline_minutes,
            )
        } else {
            0
        };
        let per_bot = Self::polls(
            p.bot_poll_seconds,
            p.bot_poll_seconds,
            p.bot_deadline_minutes,
        );
        let bots = per_bot * self.lex_bots.len() as u64;
        if image + bots > MAX_POLLS_PER_EXECUTION {
            let field = if bots >= image {
                "polling.botPollSeconds"
            } else {
                "polling.imagePollSeconds"
            };
            v.push(
                field,
                format!(
                    "the wave's own execution would poll up to {} times ({image} for the image import, {per_bot} for each of {} Lex bots), and it has room for at most {MAX_POLLS_PER_EXECUTION} (Step Functions' 25,000-event history): poll less often, shorten the deadlines, or move bots to another wave",
                    image + bots,
                    self.lex_bots.len()
                ),
            );
        }
    }

    fn normalise(&mut self) {
        let has_standby = self.standby.is_some();
        for w in &mut self.workspaces {
            if w.bundle_id.is_none() {
                w.bundle_id = self.bundle_id.clone();
            }
            w.standby = Some(w.standby.unwrap_or(has_standby));
        }
    }

    /// The Step Functions execution name of this plan: the wave id, `-`, and the first 16 hex
    /// digits of the SHA-256 of `sent` in [`canonical`](crate::canonical) form. `sent` is the JSON
    /// this plan was parsed from, exactly as it arrived (the `Wave Requested` event's detail, the
    /// console's input): no defaults filled in. So a duplicate delivery of the same plan names the
    /// same execution (StartExecution is idempotent by name), a release that changes a default or
    /// adds a field renames no plan, and plans that say different things (no `maxConcurrency` vs
    /// `25`, which run differently under another stack DefaultConcurrency) get different names.
    /// Key order and whitespace do not count.
    ///
    /// At most 63 + 1 + 16 = 80 characters of `[A-Za-z0-9_-]` (the wave id's rules), within
    /// StartExecution's name rules.
    pub fn execution_name(&self, sent: &serde_json::Value) -> String {
        debug_assert!(
            Plan::parse(sent).ok().as_ref() == Some(self),
            "execution_name: `sent` is not the JSON this plan was parsed from"
        );
        let digest = Sha256::digest(canonical::to_string(sent).as_bytes());
        format!("{}-{}", self.wave_id, &hex::encode(digest)[..16])
    }

    /// Whether Migration Hub reporting is on, given the stack's default.
    pub fn hub_enabled(&self, stack_default: bool) -> bool {
        self.hub.enabled.unwrap_or(stack_default)
    }
}

/// The Migration Hub task name of a WorkSpace migration (ids only, never user names).
pub fn workspace_task_name(wave_id: &str, workspace_id: &str) -> String {
    format!("{wave_id}-{workspace_id}")
}

/// The Migration Hub task name of a Lex bot migration.
pub fn bot_task_name(wave_id: &str, bot_name: &str, version: &str) -> String {
    format!("{wave_id}-lex-{bot_name}-{}", version.replace('$', ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> serde_json::Value {
        json!({
            "waveId": "wave-1",
            "bundleId": "wsb-abcd12345",
            "workspaces": [{"workspaceId": "ws-abcd12345"}, {"workspaceId": "ws-abcd12346", "bundleId": "wsb-zzzz99999", "standby": false}],
            "standby": {"region": "us-west-2", "directoryId": "d-1234567890", "dataReplication": "PRIMARY_AS_SOURCE"},
            "lexBots": [{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST", "v2BotName": "order-flowers", "v2BotRole": "arn:aws:iam::123456789012:role/LexV2", "migrationStrategy": "CREATE_NEW"}]
        })
    }

    #[test]
    fn valid_plan_is_normalised() {
        let p = Plan::parse(&valid()).unwrap();
        assert_eq!(p.workspaces[0].bundle_id.as_deref(), Some("wsb-abcd12345"));
        assert_eq!(p.workspaces[0].standby, Some(true));
        assert_eq!(p.workspaces[1].bundle_id.as_deref(), Some("wsb-zzzz99999"));
        assert_eq!(p.workspaces[1].standby, Some(false));
        assert_eq!(p.max_concurrency, 25);
        assert_eq!(p.polling.migration_deadline_minutes, 90);
        assert_eq!(p.hub.progress_update_stream, "fleetshift");
        // Normalising twice changes nothing.
        let again = Plan::parse(&serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn every_violation_is_reported_with_its_field() {
        let mut bad = valid();
        bad["workspaces"][0]["workspaceId"] = json!("WS-1");
        bad["standby"]["region"] = json!("moon");
        bad["lexBots"][0]["migrationStrategy"] = json!("MERGE");
        bad["maxConcurrency"] = json!(100);
        let v = Plan::parse(&bad).unwrap_err();
        let fields: Vec<_> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"workspaces[0].workspaceId"), "{v}");
        assert!(fields.contains(&"standby.region"), "{v}");
        assert!(fields.contains(&"lexBots[0].migrationStrategy"), "{v}");
        assert!(fields.contains(&"maxConcurrency"), "{v}");
    }

    #[test]
    fn unknown_and_missing_fields_name_the_path() {
        let v =
            Plan::parse(&json!({"waveId": "w", "workspaces": [{"workspaceID": "ws-abcd12345"}]}))
                .unwrap_err();
        assert_eq!(v.0[0].field, "workspaces[0].workspaceID");
        assert!(v.0[0].rule.contains("unknown field"), "{v}");
        let v = Plan::parse(&json!({"workspaces": []})).unwrap_err();
        assert!(v.0[0].rule.contains("waveId"), "{v}");
    }

    #[test]
    fn empty_plan_duplicate_ids_and_missing_bundle_are_rejected() {
        let v = Plan::parse(&json!({"waveId": "w"})).unwrap_err();
        assert_eq!(v.0[0].field, "workspaces");
        let v = Plan::parse(&json!({"waveId": "w", "workspaces": [
            {"workspaceId": "ws-abcd12345", "bundleId": "wsb-abcd12345"},
            {"workspaceId": "ws-abcd12345"}]}))
        .unwrap_err();
        let rules: Vec<_> = v.0.iter().map(|x| x.to_owned()).collect();
        assert!(
            rules
                .iter()
                .any(|r| r.field == "workspaces[1].workspaceId" && r.rule.contains("unique"))
        );
        assert!(
            rules
                .iter()
                .any(|r| r.field == "workspaces[1].bundleId" && r.rule.contains("required"))
        );
    }

    #[test]
    fn a_wave_is_at_most_max_workspaces() {
        let items = |n: usize| -> Vec<serde_json::Value> {
            (0..n)
                .map(|i| json!({"workspaceId": format!("ws-{i:010}")}))
                .collect()
        };
        let plan = |n| json!({"waveId": "w", "bundleId": "wsb-abcd12345", "workspaces": items(n)});
        assert!(Plan::parse(&plan(MAX_WORKSPACES_PER_WAVE)).is_ok());
        let v = Plan::parse(&plan(MAX_WORKSPACES_PER_WAVE + 1)).unwrap_err();
        assert!(
            v.0.iter()
                .any(|x| x.field == "workspaces" && x.rule.contains("at most 400")),
            "{v}"
        );
    }

    #[test]
    fn polling_that_would_overflow_the_execution_history_is_rejected() {
        // Defaults are far inside the budget: 1 + (90 min - 60 min) / 10 min = 4 checks.
        assert_eq!(Plan::polls(3600, 600, 90), 4);
        assert!(Plan::parse(&valid()).is_ok());

        // A day of checks every 30 s: 2,761 checks in one WorkSpace's execution.
        let mut p = valid();
        p["polling"] = json!({"migrationIntervalSeconds": 30, "migrationDeadlineMinutes": 1440});
        let v = Plan::parse(&p).unwrap_err();
        assert!(
            v.0.iter()
                .any(|x| x.field == "polling.migrationIntervalSeconds"
                    && x.rule.contains("2761 times")
                    && x.rule.contains("25,000-event")),
            "{v}"
        );

        // A week of image polls every 30 s: 20,160 polls in the wave's execution.
        let mut p = valid();
        p["image"] = json!({"imageId": "wsi-abcd12345"});
        p["polling"] = json!({"imagePollSeconds": 30, "imageDeadlineMinutes": 10080});
        let v = Plan::parse(&p).unwrap_err();
        assert!(
            v.0.iter()
                .any(|x| x.field == "polling.imagePollSeconds" && x.rule.contains("20160")),
            "{v}"
        );
        // Without an image, those settings poll nothing.
        p.as_object_mut().unwrap().remove("image");
        assert!(Plan::parse(&p).is_ok());

        // Each poll is budgeted at its worst case (throttled through every retry): 600 polls.
        assert_eq!(MAX_POLLS_PER_EXECUTION, 600);
        // Bots add up: 60 polls each by default (every 60 s for 60 min), so 10 bots fit
        // (600 polls) and 11 do not (660).
        assert_eq!(Plan::polls(60, 60, 60), 60);
        let bot = |i: usize| json!({"v1BotName": format!("Bot{}", "x".repeat(i % 5 + 1)), "v1BotVersion": i.to_string(), "v2BotName": format!("bot-{i}"), "v2BotRole": "arn:aws:iam::123456789012:role/LexV2", "migrationStrategy": "CREATE_NEW"});
        let mut p = valid();
        p["lexBots"] = json!((0..11).map(bot).collect::<Vec<_>>());
        let v = Plan::parse(&p).unwrap_err();
        assert!(
            v.0.iter().any(|x| x.field == "polling.botPollSeconds"
                && x.rule.contains("660 times")
                && x.rule.contains("11 Lex bots")
                && x.rule.contains("at most 600")),
            "{v}"
        );
        p["lexBots"] = json!((0..10).map(bot).collect::<Vec<_>>());
        assert!(Plan::parse(&p).is_ok(), "10 bots fit");
        // With the default image gate (48 polls) one bot fewer fits.
        p["image"] = json!({"imageId": "wsi-abcd12345"});
        assert!(Plan::parse(&p).is_err(), "10 bots and an image do not fit");
        p["lexBots"] = json!((0..9).map(bot).collect::<Vec<_>>());
        assert!(Plan::parse(&p).is_ok(), "9 bots and an image fit");
    }

    #[test]
    fn oversized_plan_is_rejected() {
        let items: Vec<_> = (0..9000)
            .map(|i| json!({"workspaceId": format!("ws-{i:010}"), "bundleId": "wsb-abcd12345"}))
            .collect();
        let v = Plan::parse(&json!({"waveId": "big", "workspaces": items})).unwrap_err();
        assert!(
            v.0.iter()
                .any(|x| x.field == "plan" && x.rule.contains("256")),
            "{v}"
        );
    }

    /// Golden names, computed outside this code from the plan as written, in Python:
    /// `c = json.dumps(plan, sort_keys=True, separators=(',', ':'), ensure_ascii=False)`, then
    /// `plan['waveId'] + '-' + hashlib.sha256(c.encode()).hexdigest()[:16]` (for a file:
    /// `json.load` it, dump it that way to a file, `sha256sum` the file).
    #[test]
    fn execution_name_hashes_the_plan_as_sent() {
        let sent = valid();
        let p = Plan::parse(&sent).unwrap();
        assert_eq!(
            canonical::to_string(&sent),
            r#"{"bundleId":"wsb-abcd12345","lexBots":[{"migrationStrategy":"CREATE_NEW","v1BotName":"OrderFlowers","v1BotVersion":"$LATEST","v2BotName":"order-flowers","v2BotRole":"arn:aws:iam::123456789012:role/LexV2"}],"standby":{"dataReplication":"PRIMARY_AS_SOURCE","directoryId":"d-1234567890","region":"us-west-2"},"waveId":"wave-1","workspaces":[{"workspaceId":"ws-abcd12345"},{"bundleId":"wsb-zzzz99999","standby":false,"workspaceId":"ws-abcd12346"}]}"#
        );
        assert_eq!(p.execution_name(&sent), "wave-1-70ba2b8db55eaf02");

        // Key order and whitespace are not part of what a plan says.
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{ "workspaces": [ {"workspaceId": "ws-abcd12345"},
                 {"standby": false, "bundleId": "wsb-zzzz99999", "workspaceId": "ws-abcd12346"} ],
               "lexBots": [{"migrationStrategy": "CREATE_NEW", "v2BotRole": "arn:aws:iam::123456789012:role/LexV2", "v2BotName": "order-flowers", "v1BotVersion": "$LATEST", "v1BotName": "OrderFlowers"}],
               "standby": {"region": "us-west-2", "dataReplication": "PRIMARY_AS_SOURCE", "directoryId": "d-1234567890"},
               "waveId": "wave-1", "bundleId": "wsb-abcd12345" }"#,
        )
        .unwrap();
        assert_eq!(
            Plan::parse(&reordered).unwrap().execution_name(&reordered),
            "wave-1-70ba2b8db55eaf02"
        );

        // Spelling a default out says something else: no maxConcurrency runs at the stack's
        // DefaultConcurrency, 25 at 25. The normalised plans are equal; the names are not.
        let named = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut sent = valid();
            edit(&mut sent);
            let plan = Plan::parse(&sent).unwrap();
            (plan.execution_name(&sent), plan)
        };
        let (n25, p25) = named(&|s| s["maxConcurrency"] = json!(25));
        assert_eq!(p25, p);
        assert_eq!(n25, "wave-1-5e0e4554c348cd88");
        let (n5, _) = named(&|s| s["maxConcurrency"] = json!(5));
        assert_eq!(n5, "wave-1-ba82df8eabbed558");
        let (hub, p_hub) = named(&|s| s["hub"] = json!({"progressUpdateStream": "fleetshift"}));
        assert_eq!(p_hub, p);
        assert_eq!(hub, "wave-1-51475ee59291f3d4");
    }

    #[test]
    fn execution_names_of_the_example_plans() {
        // Golden values computed as above from the files as committed; a changed example gets a
        // new name, which is the point: update the value with the example.
        let read = |path: &str| -> serde_json::Value {
            let path = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
        };
        let name = |sent: &serde_json::Value| Plan::parse(sent).unwrap().execution_name(sent);
        assert_eq!(
            name(&read("examples/wave.json")),
            "wave-2026-11-finance-d5d041b1e0fe8602"
        );
        // The same plan sent as an event's detail is the same wave.
        assert_eq!(
            name(&read("examples/wave-requested.json")["detail"]),
            "wave-2026-11-finance-d5d041b1e0fe8602"
        );
        assert_eq!(
            name(&read("examples/wave-small.json")),
            "wave-console-demo-92674f89d1edcb1d"
        );
        assert_eq!(
            name(&read("examples/wave-generated.json")),
            "wave-generated-fleet-75f54e1e86533e6d"
        );
        assert_eq!(
            name(&read("functions/start-wave/tests/fixtures/wave-requested.json")["detail"]),
            "wave-2025-11-a-92aad2934de668a7"
        );
    }

    #[test]
    fn non_ascii_is_hashed_as_written() {
        // Python: standby with tags [{"key": "Équipe", "value": "Finance 財務"}] added to valid().
        let mut sent = valid();
        sent["standby"]["tags"] = json!([{"key": "Équipe", "value": "Finance 財務"}]);
        let p = Plan::parse(&sent).unwrap();
        assert_eq!(p.execution_name(&sent), "wave-1-0c197ca9cf494aad");
    }

    #[test]
    fn a_named_plan_holds_only_integers() {
        // The canonical form equals JCS only for integers (see crate::canonical): fractions,
        // exponents and negatives never pass validation, so never get a name.
        for bad in [
            json!(25.0),
            json!(2.5e1),
            json!(-1),
            json!(4_294_967_296u64),
        ] {
            let mut sent = valid();
            sent["maxConcurrency"] = bad.clone();
            assert!(Plan::parse(&sent).is_err(), "{bad}");
        }
        // 1e2 is 100 to JSON, but a float to serde_json: refused like 25.0.
        let text = format!(
            r#"{{"polling":{{"botPollSeconds":1e2}},{}"#,
            &valid().to_string()[1..]
        );
        let sent: serde_json::Value = serde_json::from_str(&text).unwrap();
        let v = Plan::parse(&sent).unwrap_err();
        assert_eq!(v.0[0].field, "polling.botPollSeconds", "{v}");
    }

    #[test]
    fn execution_name_fits_step_functions() {
        let mut sent = valid();
        sent["waveId"] = json!("w".repeat(MAX_WAVE_ID_LEN));
        let name = Plan::parse(&sent).unwrap().execution_name(&sent);
        assert_eq!(name.len(), 80);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{name}"
        );
    }
}

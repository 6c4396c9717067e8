//! The emulated accounts' state, and the snapshots tests read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::fleet::{Fleet, ImageImportSeed, LexBotSeed};
use crate::scenario::{Scenario, splitmix};

/// The request context: the caller's now and the Region it signed for.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) now: SystemTime,
    pub(crate) region: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Ws {
    pub(crate) id: String,
    pub(crate) directory_id: String,
    pub(crate) user_name: String,
    pub(crate) bundle_id: String,
    pub(crate) region: String,
    pub(crate) base_state: String,
    pub(crate) computer_name: String,
    pub(crate) ip: String,
    /// Created by a migration or as a standby: PENDING until then (forever when `None` and stuck).
    /// PENDING and AVAILABLE are the model's `WorkspaceState` values (botocore
    /// `workspaces/2015-04-08`); how long a real migration stays PENDING is "up to one hour per
    /// WorkSpace" (Administration Guide, "Migrate a WorkSpace"), here the fleet's duration.
    pub(crate) pending: Option<Pending>,
    /// Set on a source when it is migrated.
    pub(crate) migrated_to: Option<(String, Option<SystemTime>)>,
    pub(crate) migrated_from: Option<String>,
    pub(crate) standbys: Vec<String>,
    pub(crate) primary: Option<String>,
    pub(crate) migration_duration: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    /// When it becomes AVAILABLE; `None`: never (silent migration failure).
    pub(crate) until: Option<SystemTime>,
}

impl Ws {
    pub(crate) fn state(&self, t: SystemTime) -> &str {
        match self.pending {
            Some(Pending { until: Some(u) }) if t >= u => &self.base_state,
            Some(_) => "PENDING",
            None => &self.base_state,
        }
    }

    /// A migrated source disappears once its replacement is AVAILABLE. The guide ("Migrate a
    /// WorkSpace") says migration recreates the WorkSpace under a new id (API Reference,
    /// MigrateWorkspace: TargetWorkspaceId) and, on failure, that the original is recovered and
    /// the new one terminated; when the original id stops being answered after a success is not
    /// documented. Chosen: at the moment the target is AVAILABLE, so no instant shows both (or
    /// neither) as the user's WorkSpace.
    pub(crate) fn visible(&self, t: SystemTime) -> bool {
        match &self.migrated_to {
            Some((_, Some(done))) => t < *done,
            _ => true,
        }
    }

    /// A migration target or standby still PENDING: a second MigrateWorkspace on it answers
    /// OperationInProgressException (see `workspaces::migrate`; not documented, chosen there).
    pub(crate) fn being_created(&self, t: SystemTime) -> bool {
        self.pending.is_some() && self.state(t) == "PENDING"
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Import {
    pub(crate) seed: ImageImportSeed,
    pub(crate) started: Option<SystemTime>,
}

#[derive(Debug, Clone)]
pub(crate) struct LexMigration {
    pub(crate) id: String,
    pub(crate) v1_bot_name: String,
    pub(crate) v1_bot_version: String,
    pub(crate) v1_bot_locale: String,
    pub(crate) v2_bot_name: String,
    pub(crate) v2_bot_id: String,
    pub(crate) v2_bot_role: String,
    pub(crate) strategy: String,
    pub(crate) started: SystemTime,
    pub(crate) done: SystemTime,
    pub(crate) fails: bool,
}

impl LexMigration {
    /// Botocore model `lex-models/2017-04-19`, `MigrationStatus`: IN_PROGRESS, COMPLETED, FAILED
    /// (GetMigration's `migrationStatus`). How long a migration takes is not documented: the
    /// fleet's `lexMigrationDurationSecs`.
    pub(crate) fn status(&self, t: SystemTime) -> &'static str {
        if t < self.done {
            "IN_PROGRESS"
        } else if self.fails {
            "FAILED"
        } else {
            "COMPLETED"
        }
    }
}

/// A Migration Hub task's last NotifyMigrationTaskState (botocore `mgh/2017-05-31`: `Task` has
/// Status, StatusDetail, ProgressPercent; the request carries UpdateDateTime and
/// NextUpdateSeconds).
#[derive(Debug, Clone, Default)]
pub(crate) struct HubTask {
    pub(crate) status: Option<String>,
    pub(crate) status_detail: Option<String>,
    pub(crate) progress_percent: Option<i64>,
    pub(crate) update_date_time: Option<f64>,
    pub(crate) next_update_seconds: Option<i64>,
    pub(crate) notifications: u32,
}

/// A WorkSpace as a test sees it at a given time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSnapshot {
    /// `ws-…`.
    pub workspace_id: String,
    /// Directory.
    pub directory_id: String,
    /// User.
    pub user_name: String,
    /// Bundle.
    pub bundle_id: String,
    /// Region.
    pub region: String,
    /// State at the snapshot's time.
    pub state: String,
    /// The source it was migrated from.
    pub migrated_from: Option<String>,
    /// The primary it is a standby of.
    pub standby_of: Option<String>,
}

/// One accepted MigrateWorkspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationRecord {
    /// The WorkSpace migrated.
    pub source_workspace_id: String,
    /// The new WorkSpace.
    pub target_workspace_id: String,
    /// The bundle migrated to.
    pub bundle_id: String,
    /// When it was accepted (the caller's time).
    pub started_at: SystemTime,
    /// When the new WorkSpace is AVAILABLE; `None`: never (silent failure).
    pub completes_at: Option<SystemTime>,
}

/// One standby WorkSpace created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StandbyRecord {
    /// The primary.
    pub primary_workspace_id: String,
    /// The primary's Region.
    pub primary_region: String,
    /// The standby.
    pub standby_workspace_id: String,
    /// The standby's Region.
    pub region: String,
    /// The standby's directory.
    pub directory_id: String,
}

/// A Migration Hub task and its last reported status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubTaskSnapshot {
    /// Progress update stream.
    pub progress_update_stream: String,
    /// Task name.
    pub migration_task_name: String,
    /// Last status (`None` until the first NotifyMigrationTaskState).
    pub status: Option<String>,
    /// Last status detail.
    pub status_detail: Option<String>,
    /// Last progress percent.
    pub progress_percent: Option<i64>,
    /// Last UpdateDateTime (epoch seconds).
    pub update_date_time: Option<f64>,
    /// Last NextUpdateSeconds.
    pub next_update_seconds: Option<i64>,
    /// How many NotifyMigrationTaskState calls it received.
    pub notifications: u32,
}

/// An event accepted by PutEvents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedEvent {
    /// Assigned id.
    pub event_id: String,
    /// Source.
    pub source: String,
    /// DetailType.
    pub detail_type: String,
    /// Detail (a JSON object, as sent).
    pub detail: String,
    /// Resources.
    pub resources: Vec<String>,
    /// Bus name or ARN (default `default`).
    pub event_bus_name: String,
    /// Time member, if sent (epoch seconds).
    pub time: Option<f64>,
    /// The caller's time when it arrived.
    pub received_at: SystemTime,
}

/// A Lex V1 -> V2 migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LexMigrationSnapshot {
    /// Migration id.
    pub migration_id: String,
    /// V1 bot.
    pub v1_bot_name: String,
    /// V1 version.
    pub v1_bot_version: String,
    /// V2 bot name.
    pub v2_bot_name: String,
    /// Status at the snapshot's time.
    pub status: String,
}

/// Which emulated service a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Service {
    /// Amazon WorkSpaces.
    WorkSpaces,
    /// Lex model building (V1).
    Lex,
    /// Migration Hub.
    MigrationHub,
    /// EventBridge.
    EventBridge,
    /// Step Functions.
    StepFunctions,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Answered with an error.
    Error {
        /// The error code (`__type`).
        code: String,
        /// HTTP status.
        status: u16,
    },
}

impl Outcome {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// The error code, if it failed.
    pub fn code(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Error { code, .. } => Some(code),
        }
    }
}

/// One request, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// Order of arrival (0-based).
    pub seq: u64,
    /// Service.
    pub service: Service,
    /// Operation name as on the wire.
    pub operation: String,
    /// The id the request names (see [`crate::Rule::id`]).
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether the operation changes state (whatever its outcome).
    pub mutating: bool,
    /// The caller's time.
    pub at: SystemTime,
    /// The Region it was signed for.
    pub region: String,
}

/// Operations that change state. A classification for the call log (tests use it to check that
/// nothing was changed twice), not an AWS notion: each is a create/start/notify/put in its API
/// Reference.
pub(crate) const MUTATING: &[&str] = &[
    "MigrateWorkspace",
    "CreateStandbyWorkspaces",
    "StartMigration",
    "CreateProgressUpdateStream",
    "ImportMigrationTask",
    "NotifyMigrationTaskState",
    "PutEvents",
    "StartExecution",
];

pub(crate) struct World {
    pub(crate) fleet: Fleet,
    pub(crate) scenario: Scenario,
    pub(crate) workspaces: BTreeMap<String, Ws>,
    pub(crate) imports: BTreeMap<String, Import>,
    pub(crate) bots: BTreeMap<String, LexBotSeed>,
    pub(crate) lex_migrations: BTreeMap<String, LexMigration>,
    pub(crate) hub_streams: BTreeSet<String>,
    pub(crate) hub_tasks: BTreeMap<(String, String), HubTask>,
    pub(crate) events: Vec<RecordedEvent>,
    pub(crate) migrations: Vec<MigrationRecord>,
    pub(crate) standbys: Vec<StandbyRecord>,
    pub(crate) calls: Vec<CallRecord>,
    pub(crate) rule_hits: HashMap<(usize, String), u64>,
    pub(crate) rule_fails: HashMap<(usize, String), u32>,
    pub(crate) rule_lost: HashMap<(usize, String), u32>,
    /// Matching calls each `fail` rule has let through before failing (`after`).
    pub(crate) rule_passed: HashMap<(usize, String), u32>,
    id_counter: u64,
    pub(crate) last_now: SystemTime,
}

impl World {
    pub(crate) fn new(fleet: Fleet, scenario: Scenario) -> Self {
        let mut world = Self {
            workspaces: BTreeMap::new(),
            imports: fleet
                .image_imports
                .iter()
                .map(|i| {
                    (
                        i.image_id.clone(),
                        Import {
                            seed: i.clone(),
                            started: i.started_at_millis.map(fleetshift_clock::from_millis),
                        },
                    )
                })
                .collect(),
            bots: fleet
                .lex_bots
                .iter()
                .map(|b| (b.name.clone(), b.clone()))
                .collect(),
            lex_migrations: BTreeMap::new(),
            hub_streams: BTreeSet::new(),
            hub_tasks: BTreeMap::new(),
            events: Vec::new(),
            migrations: Vec::new(),
            standbys: Vec::new(),
            calls: Vec::new(),
            rule_hits: HashMap::new(),
            rule_fails: HashMap::new(),
            rule_lost: HashMap::new(),
            rule_passed: HashMap::new(),
            id_counter: scenario.seed,
            last_now: SystemTime::UNIX_EPOCH,
            fleet,
            scenario,
        };
        let seeds = world.fleet.workspaces.clone();
        for (i, w) in seeds.iter().enumerate() {
            let region = w
                .region
                .clone()
                .unwrap_or_else(|| world.fleet.default_region.clone());
            world.workspaces.insert(
                w.workspace_id.clone(),
                Ws {
                    id: w.workspace_id.clone(),
                    directory_id: w.directory_id.clone(),
                    user_name: w.user_name.clone(),
                    bundle_id: w.bundle_id.clone(),
                    region,
                    base_state: w.state.clone(),
                    computer_name: format!("WSAMZN-{:08}", i + 1),
                    ip: ip_for(i as u64),
                    pending: None,
                    migrated_to: None,
                    migrated_from: None,
                    standbys: Vec::new(),
                    primary: None,
                    migration_duration: w.migration_duration_secs.map(Duration::from_secs),
                },
            );
        }
        world
    }

    /// A fresh random-looking id of `len` chars from `alphabet`, deterministic per run order.
    pub(crate) fn fresh(&mut self, alphabet: &[u8], len: usize) -> String {
        self.id_counter += 1;
        let mut x = splitmix(self.id_counter ^ 0x5eed);
        (0..len)
            .map(|_| {
                let c = alphabet[(x % alphabet.len() as u64) as usize] as char;
                x = splitmix(x);
                c
            })
            .collect()
    }

    /// A new `ws-` id of 9 lowercase letters and digits, within the model's `WorkspaceId` pattern
    /// `^ws-[0-9a-z]{8,63}$` (real ids are `ws-` and 9 such characters).
    pub(crate) fn fresh_workspace_id(&mut self) -> String {
        loop {
            let id = format!(
                "ws-{}",
                self.fresh(b"0123456789abcdefghijklmnopqrstuvwxyz", 9)
            );
            if !self.workspaces.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn next_ip(&mut self) -> String {
        self.id_counter += 1;
        ip_for(10_000 + self.id_counter)
    }

    pub(crate) fn directory_region(&self, directory_id: &str) -> Option<String> {
        self.fleet
            .directories
            .iter()
            .find(|d| d.directory_id == directory_id)
            .map(|d| {
                d.region
                    .clone()
                    .unwrap_or_else(|| self.fleet.default_region.clone())
            })
    }

    pub(crate) fn workspace_snapshots(&self, t: SystemTime) -> Vec<WorkspaceSnapshot> {
        self.workspaces
            .values()
            .filter(|w| w.visible(t))
            .map(|w| WorkspaceSnapshot {
                workspace_id: w.id.clone(),
                directory_id: w.directory_id.clone(),
                user_name: w.user_name.clone(),
                bundle_id: w.bundle_id.clone(),
                region: w.region.clone(),
                state: w.state(t).to_owned(),
                migrated_from: w.migrated_from.clone(),
                standby_of: w.primary.clone(),
            })
            .collect()
    }

    pub(crate) fn hub_snapshots(&self) -> Vec<HubTaskSnapshot> {
        self.hub_tasks
            .iter()
            .map(|((stream, name), t)| HubTaskSnapshot {
                progress_update_stream: stream.clone(),
                migration_task_name: name.clone(),
                status: t.status.clone(),
                status_detail: t.status_detail.clone(),
                progress_percent: t.progress_percent,
                update_date_time: t.update_date_time,
                next_update_seconds: t.next_update_seconds,
                notifications: t.notifications,
            })
            .collect()
    }

    pub(crate) fn lex_snapshots(&self, t: SystemTime) -> Vec<LexMigrationSnapshot> {
        self.lex_migrations
            .values()
            .map(|m| LexMigrationSnapshot {
                migration_id: m.id.clone(),
                v1_bot_name: m.v1_bot_name.clone(),
                v1_bot_version: m.v1_bot_version.clone(),
                v2_bot_name: m.v2_bot_name.clone(),
                status: m.status(t).to_owned(),
            })
            .collect()
    }
}

fn ip_for(i: u64) -> String {
    format!(
        "10.{}.{}.{}",
        1 + (i / 65_536) % 250,
        (i / 256) % 256,
        10 + i % 240
    )
}

/// Epoch seconds as a JSON number: the default `timestampFormat` of the awsJson1_0/1_1 and
/// restJson1 protocols for body members (Smithy, "Timestamp formats": `epoch-seconds`).
pub(crate) fn epoch_secs(t: SystemTime) -> serde_json::Value {
    let ms = fleetshift_clock::to_millis(t);
    if ms.is_multiple_of(1000) {
        serde_json::Value::from(ms / 1000)
    } else {
        serde_json::Value::from(ms as f64 / 1000.0)
    }
}

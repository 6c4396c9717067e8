//! The invariants every end-to-end run keeps (e2e.rs in process, binaries.rs through the built
//! binaries): each plan item ends in exactly one final row, nothing is migrated twice, an item
//! reported NOT_STARTED was not touched, and the sinks agree with the report.

use std::collections::{HashMap, HashSet};

use fleetshift::{LocalStack, WaveReport};
use fleetshift_core::contract::{HubStatus, MigrationProgress, Status, TaskRef, WaveFinished};
use fleetshift_core::{events, plan};
use push_hub_update::{PlannedBot, PlannedWorkspace};
use serde_json::Value;

/// The states a report row can end in.
const ROW_STATES: [&str; 4] = ["COMPLETED", "FAILED", "NOT_STARTED", "IN_PROGRESS"];

/// A plan item as the contract names it.
type Item = TaskRef;

fn workspace(id: &str) -> Item {
    TaskRef::Workspace { id: id.to_owned() }
}

fn bot(name: &str, version: &str) -> Item {
    TaskRef::LexBot {
        id: name.to_owned(),
        version: version.to_owned(),
    }
}

/// Checks the invariants of one finished run of `plan` whose report is `report`.
pub(crate) fn check_invariants(stack: &LocalStack, plan: &Value, report: &WaveReport) {
    // IAM is enforced as template.yaml grants it: no request the stack makes is refused.
    assert_eq!(
        stack.cloud.denials(),
        vec![],
        "a request of the stack was denied by IAM"
    );
    let wave_id = plan["waveId"].as_str().unwrap_or_default();
    // The plan's items, read as push-hub-update's `finish` reads them.
    let workspaces: Vec<PlannedWorkspace> =
        serde_json::from_value(plan["workspaces"].clone()).unwrap_or_default();
    let bots: Vec<PlannedBot> = serde_json::from_value(plan["lexBots"].clone()).unwrap_or_default();
    let planned: Vec<&str> = workspaces.iter().map(|w| w.workspace_id.as_str()).collect();
    let planned_bots: Vec<(&str, &str)> = bots
        .iter()
        .map(|b| (b.v1_bot_name.as_str(), b.v1_bot_version.as_str()))
        .collect();

    // Each plan item ends in exactly one final row, and a row that did not complete says why.
    let mut rows: HashMap<&str, usize> = HashMap::new();
    for w in &report.workspaces {
        *rows.entry(w.source_workspace_id.as_str()).or_default() += 1;
        assert!(ROW_STATES.contains(&w.status.as_str()), "{w:?}");
        if w.status != "COMPLETED" {
            assert!(
                w.cause.is_some(),
                "a WorkSpace that did not complete says why: {w:?}"
            );
        }
    }
    assert_eq!(rows.len(), planned.len(), "{report:#?}");
    for id in &planned {
        assert_eq!(rows.get(id), Some(&1), "{id} appears once in the report");
    }
    let mut bot_rows: HashMap<(&str, &str), usize> = HashMap::new();
    for b in &report.bots {
        *bot_rows
            .entry((b.v1_bot_name.as_str(), b.v1_bot_version.as_str()))
            .or_default() += 1;
        assert!(ROW_STATES.contains(&b.status.as_str()), "{b:?}");
        if b.status != "COMPLETED" {
            assert!(
                b.cause.is_some(),
                "a bot that did not complete says why: {b:?}"
            );
        } else {
            assert!(
                b.v2_bot_id.is_some(),
                "a completed bot names its V2 bot: {b:?}"
            );
        }
    }
    assert_eq!(bot_rows.len(), planned_bots.len(), "{:#?}", report.bots);
    for bot in &planned_bots {
        assert_eq!(
            bot_rows.get(bot),
            Some(&1),
            "{bot:?} appears once in the report"
        );
    }

    // When the wave reached its summary, the summary itself (not the report's filling-in) names
    // every planned item exactly once.
    let finished: Vec<WaveFinished> = stack
        .cloud
        .events()
        .iter()
        .filter(|e| e.detail_type == events::WAVE_FINISHED)
        .map(|e| serde_json::from_str(&e.detail).expect("a Wave Finished event is the contract's"))
        .filter(|d: &WaveFinished| d.counts.wave_id == wave_id)
        .collect();
    if !finished.is_empty() {
        let mut named: HashMap<Item, usize> = HashMap::new();
        for d in &finished {
            for m in &d.mapping {
                *named.entry(workspace(&m.source_workspace_id)).or_default() += 1;
            }
            for b in &d.bots {
                *named
                    .entry(bot(&b.v1_bot_name, &b.v1_bot_version))
                    .or_default() += 1;
            }
        }
        for id in &planned {
            let item = workspace(id);
            assert_eq!(
                named.get(&item),
                Some(&1),
                "{id} in the Wave Finished summary"
            );
        }
        for (name, version) in &planned_bots {
            let item = bot(name, version);
            assert_eq!(
                named.get(&item),
                Some(&1),
                "{item:?} in the Wave Finished summary"
            );
        }
        assert_eq!(named.len(), planned.len() + planned_bots.len());
    }

    // No WorkSpace is migrated twice, and none reported NOT_STARTED was migrated at all.
    let migrations = stack.cloud.migrations();
    let mut sources = HashSet::new();
    for m in &migrations {
        assert!(
            sources.insert(m.source_workspace_id.clone()),
            "{} was migrated twice",
            m.source_workspace_id
        );
    }
    for w in report
        .workspaces
        .iter()
        .filter(|w| w.status == "NOT_STARTED")
    {
        assert!(
            !sources.contains(&w.source_workspace_id),
            "{} is reported NOT_STARTED but was migrated: {w:?}",
            w.source_workspace_id
        );
    }
    // A completed item's new id is the one WorkSpaces created for it.
    for w in report.workspaces.iter().filter(|w| w.status == "COMPLETED") {
        let m = migrations
            .iter()
            .find(|m| m.source_workspace_id == w.source_workspace_id)
            .expect("a completed item was migrated");
        assert_eq!(
            w.target_workspace_id.as_deref(),
            Some(m.target_workspace_id.as_str())
        );
    }
    // The same for bots: no bot version migrated twice, none reported NOT_STARTED migrated, and a
    // completed bot's migration completed.
    let lex = stack.cloud.lex_migrations();
    let mut bots_migrated = HashSet::new();
    for m in &lex {
        assert!(
            bots_migrated.insert((m.v1_bot_name.clone(), m.v1_bot_version.clone())),
            "{}:{} was migrated twice",
            m.v1_bot_name,
            m.v1_bot_version
        );
    }
    for b in &report.bots {
        let migration = lex
            .iter()
            .find(|m| m.v1_bot_name == b.v1_bot_name && m.v1_bot_version == b.v1_bot_version);
        match b.status.as_str() {
            "NOT_STARTED" => assert!(migration.is_none(), "{b:?} was migrated: {migration:?}"),
            "COMPLETED" => assert_eq!(
                migration.map(|m| m.status.as_str()),
                Some("COMPLETED"),
                "{b:?}"
            ),
            _ => {}
        }
    }

    // The sinks agree with the report: the last progress event of each started item carries
    // its reported state, and so does its Migration Hub task when that event says the Hub was
    // updated (a Hub failure degrades to events only, and the event says so).
    let mut last: HashMap<Item, Status> = HashMap::new();
    let mut hub_lags: HashSet<String> = HashSet::new();
    for e in stack.cloud.events() {
        if e.detail_type != events::ITEM_PROGRESS {
            continue;
        }
        let d: MigrationProgress =
            serde_json::from_str(&e.detail).expect("a Migration Progress event is the contract's");
        if d.wave_id != wave_id {
            continue;
        }
        if d.hub_status == HubStatus::Unavailable {
            hub_lags.insert(d.task_name.clone());
        } else {
            hub_lags.remove(&d.task_name);
        }
        last.insert(d.task, d.status);
    }
    let reported = report
        .workspaces
        .iter()
        .map(|w| (workspace(&w.source_workspace_id), &w.status))
        .chain(
            report
                .bots
                .iter()
                .map(|b| (bot(&b.v1_bot_name, &b.v1_bot_version), &b.status)),
        );
    for (item, status) in reported {
        match status.as_str() {
            "NOT_STARTED" => assert!(
                last.get(&item).is_none_or(|s| *s == Status::NotStarted),
                "{item:?} is NOT_STARTED but its progress events say {:?}",
                last.get(&item)
            ),
            status => assert_eq!(
                last.get(&item).map(|s| s.as_str()),
                Some(status),
                "progress events for {item:?}"
            ),
        }
    }
    let hub: HashMap<&str, Option<&str>> = report
        .hub_tasks
        .iter()
        .map(|t| (t.task.as_str(), t.status.as_deref()))
        .collect();
    let hub_rows = report
        .workspaces
        .iter()
        .map(|w| {
            (
                plan::workspace_task_name(wave_id, &w.source_workspace_id),
                &w.status,
            )
        })
        .chain(report.bots.iter().map(|b| {
            (
                plan::bot_task_name(wave_id, &b.v1_bot_name, &b.v1_bot_version),
                &b.status,
            )
        }));
    // Where the wave used Migration Hub, every started item has its task and it agrees.
    if !hub.is_empty() {
        for (task, status) in hub_rows.filter(|(t, s)| *s != "NOT_STARTED" && !hub_lags.contains(t))
        {
            let hub_status = hub
                .get(task.as_str())
                .unwrap_or_else(|| panic!("no Migration Hub task {task} for a started item"));
            assert_eq!(*hub_status, Some(status.as_str()), "hub task {task}");
        }
    }
}

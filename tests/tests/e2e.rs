//! End-to-end runs of the real state machine (state-machines/fleet-migration.asl.json) on sfn-local,
//! with the real handlers and real SDK clients against cloud-local, failures included.
//!
//! Every test checks the invariants an operator relies on (tests/tests/invariants): each plan
//! item, WorkSpace or bot, ends in exactly one final row, nothing is migrated twice, an item
//! reported NOT_STARTED was not touched, and the sinks agree with the report.

use cloud_local::{Outcome, Scenario, Service};
use fleetshift::{LocalStack, ReadFrom, StackOptions, WaveReport, fleet_for_plan};
use fleetshift_core::Plan;
use fleetshift_core::contract::{
    Adoption, AdoptionEvidence, HubStatus, MigrationProgress, Reason, Status, TaskRef,
    WaveFinished, WaveRegistered,
};
use fleetshift_core::plan::MAX_WORKSPACES_PER_WAVE;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

mod invariants;
use invariants::check_invariants;

fn ws_id(i: usize) -> String {
    format!("ws-e2e{i:05}")
}

/// A plan of `n` WorkSpaces with the given extra sections.
fn plan(n: usize, extra: Value) -> Value {
    let mut p = json!({
        "waveId": "e2e-wave",
        "bundleId": "wsb-target0001",
        "workspaces": (0..n).map(|i| json!({"workspaceId": ws_id(i)})).collect::<Vec<_>>(),
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    p
}

fn bots() -> Value {
    json!([
        {"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST", "v2BotName": "OrderFlowersV2",
         "v2BotRole": "arn:aws:iam::123456789012:role/LexV2", "migrationStrategy": "CREATE_NEW"},
        {"v1BotName": "BookTrip", "v1BotVersion": "3", "v2BotName": "BookTripV2",
         "v2BotRole": "arn:aws:iam::123456789012:role/LexV2", "migrationStrategy": "CREATE_NEW"}
    ])
}

fn standby() -> Value {
    json!({"region": "us-west-2", "directoryId": "d-2000000002", "dataReplication": "PRIMARY_AS_SOURCE"})
}

async fn stack(plan: &Value, scenario: Value) -> LocalStack {
    let parsed = Plan::parse(plan).expect("test plans are valid");
    let scenario: Scenario = serde_json::from_value(scenario).expect("scenario");
    LocalStack::start(StackOptions {
        fleet: fleet_for_plan(&parsed),
        // The stack deployed as this plan needs it (Lex, a standby key): register refuses what
        // the stack's roles may not do.
        parameters: fleetshift::parameters_for_plan(&parsed),
        scenario,
        ..StackOptions::default()
    })
    .await
    .expect("stack starts")
}

async fn run(plan: &Value, scenario: Value) -> (LocalStack, WaveReport) {
    let stack = stack(plan, scenario).await;
    // As an operator starts a wave: Wave Requested on the stack's bus, delivered to start-wave.
    let report = stack.request_wave(plan).await.expect("the wave starts");
    check_invariants(&stack, plan, &report);
    (stack, report)
}

fn calls(stack: &LocalStack, op: &str, id: &str) -> usize {
    stack
        .cloud
        .calls()
        .iter()
        .filter(|c| c.operation == op && c.target.as_deref() == Some(id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_image_gate_fifty_workspaces_standbys_bots_and_hub() {
    let p = plan(
        50,
        json!({
            "image": {"imageId": "wsi-e2eimage01"},
            "standby": standby(),
            "lexBots": bots(),
            "hub": {"enabled": true, "homeRegion": "us-west-2"},
        }),
    );
    let (stack, report) = run(&p, json!({})).await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    assert_eq!(report.workspaces.len(), 50);
    for w in &report.workspaces {
        assert_eq!(w.status, "COMPLETED");
        assert!(
            w.standby.as_deref().is_some_and(|s| s.starts_with("ws-")),
            "{w:?}"
        );
    }
    assert_eq!(stack.cloud.standbys().len(), 50);
    assert!(
        report
            .bots
            .iter()
            .all(|b| b.status == "COMPLETED" && b.v2_bot_id.is_some())
    );
    // Every item is a Migration Hub task that ended COMPLETED.
    assert_eq!(report.hub_tasks.len(), 52, "{:#?}", report.hub_tasks);
    assert!(
        report
            .hub_tasks
            .iter()
            .all(|t| t.status.as_deref() == Some("COMPLETED"))
    );
    // The image was polled before any WorkSpace was touched.
    let log = stack.cloud.calls();
    let first_migrate = log
        .iter()
        .position(|c| c.operation == "MigrateWorkspace")
        .unwrap();
    let image_done = log
        .iter()
        .rposition(|c| c.operation == "DescribeCustomWorkspaceImageImport")
        .unwrap();
    assert!(image_done < first_migrate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_in_progress_twice_is_retried_and_migrates_once() {
    let p = plan(3, json!({}));
    let target = ws_id(1);
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "MigrateWorkspace", "id": target,
                          "fail": {"error": "OperationInProgressException", "times": 2}}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    assert_eq!(calls(&stack, "MigrateWorkspace", &target), 3);
    let failed: Vec<_> = stack
        .cloud
        .calls()
        .into_iter()
        .filter(|c| c.operation == "MigrateWorkspace" && c.target.as_deref() == Some(&target))
        .filter(|c| matches!(c.outcome, Outcome::Error { .. }))
        .collect();
    assert_eq!(failed.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_migrate_answer_is_followed_to_the_migration_under_way() {
    // MigrateWorkspace is not idempotent: the first call migrates, its answer is lost (HTTP 500),
    // the SDK's retry is refused as in progress. The item must still end COMPLETED with the new
    // WorkSpace WorkSpaces created, migrated once, not FAILED while the migration runs on.
    let p = plan(3, json!({}));
    let target = ws_id(1);
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "MigrateWorkspace", "id": target, "loseAnswer": 1}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    let outcomes: Vec<Outcome> = stack
        .cloud
        .calls()
        .into_iter()
        .filter(|c| c.operation == "MigrateWorkspace" && c.target.as_deref() == Some(&target))
        .map(|c| c.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Error {
                code: "InternalFailure".into(),
                status: 500
            },
            Outcome::Error {
                code: "OperationInProgressException".into(),
                status: 400
            },
        ]
    );
    let migrations: Vec<_> = stack
        .cloud
        .migrations()
        .into_iter()
        .filter(|m| m.source_workspace_id == target)
        .collect();
    assert_eq!(migrations.len(), 1);
    let row = report
        .workspaces
        .iter()
        .find(|w| w.source_workspace_id == target)
        .unwrap();
    assert_eq!(
        row.target_workspace_id.as_deref(),
        Some(migrations[0].target_workspace_id.as_str())
    );
    // Adopted on evidence (the new WorkSpace's RelatedWorkspaces name the source), and marked so
    // in the item result, the summary and the report; the other items were answered.
    let adopted = Adoption {
        adopted: true,
        evidence: AdoptionEvidence::RelatedWorkspacesNameSource,
    };
    assert_eq!(row.adoption, Some(adopted));
    assert_eq!(row.read_from, ReadFrom::Summary);
    assert!(
        report
            .render()
            .contains("[adopted: relatedWorkspacesNameSource]"),
        "{}",
        report.render()
    );
    assert_eq!(
        report
            .workspaces
            .iter()
            .filter(|w| w.adoption.is_some())
            .count(),
        1
    );
    let mapping: Vec<_> = stack
        .cloud
        .events()
        .iter()
        .filter_map(|e| serde_json::from_str::<WaveFinished>(&e.detail).ok())
        .flat_map(|d| d.mapping)
        .filter(|r| r.adoption.is_some())
        .map(|r| (r.source_workspace_id, r.adoption))
        .collect();
    assert_eq!(mapping, [(target.clone(), Some(adopted))]);
    // ... and in the item's COMPLETED Migration Progress event, only that item's.
    let progress: Vec<_> = stack
        .cloud
        .events()
        .iter()
        .filter_map(|e| serde_json::from_str::<MigrationProgress>(&e.detail).ok())
        .filter(|e| e.status == Status::Completed)
        .map(|e| (e.task, e.adoption))
        .filter(|(_, a)| a.is_some())
        .collect();
    assert_eq!(
        progress,
        [(TaskRef::Workspace { id: target.clone() }, Some(adopted))]
    );
    // The deadline counts from the first attempt: the startedAt check-migration is given is no
    // later than the accepted (first) MigrateWorkspace call.
    // Each WorkSpace runs as a child execution of the Distributed Map labelled "Workspaces".
    let history: Vec<_> = stack
        .engine
        .list(&format!("{}/Workspaces", stack.state_machine_arn))
        .iter()
        .flat_map(|c| stack.engine.history(&c.execution_arn).unwrap_or_default())
        .collect();
    let started_at: Vec<SystemTime> = history
        .iter()
        .filter_map(|e| e.details.as_ref())
        .flat_map(|(_, d)| ["input", "parameters"].map(|k| d.get(k).and_then(Value::as_str)))
        .flatten()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter(|p| p["targetWorkspaceId"] == json!(migrations[0].target_workspace_id))
        .filter_map(|p| {
            p["startedAt"]
                .as_str()
                .and_then(fleetshift_core::rfc3339::parse)
        })
        .collect();
    assert!(
        !started_at.is_empty(),
        "CheckMigration was scheduled with a startedAt"
    );
    // ... because it is StartMigration's $$.State.EnteredTime (firstAttemptAt), kept across retries.
    let entered: Vec<SystemTime> = history
        .iter()
        .filter(|e| e.event_type == "TaskStateEntered")
        .filter(|e| {
            e.details.as_ref().is_some_and(|(_, d)| {
                d["name"] == json!("StartMigration")
                    && d["input"].as_str().is_some_and(|i| i.contains(&target))
            })
        })
        .map(|e| e.timestamp)
        .collect();
    assert_eq!(
        entered.len(),
        1,
        "StartMigration is entered once for the item"
    );
    for t in &started_at {
        let lag = entered[0]
            .duration_since(*t)
            .unwrap_or_else(|e| e.duration());
        assert!(lag < Duration::from_secs(1), "{t:?} vs entered {entered:?}");
    }
    assert!(
        started_at.iter().all(|t| *t <= migrations[0].started_at),
        "{started_at:?} vs {:?}",
        migrations[0].started_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_unavailable_past_max_attempts_fails_only_that_item() {
    let p = plan(4, json!({}));
    let target = ws_id(2);
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "MigrateWorkspace", "id": target,
                          "fail": {"error": "ResourceUnavailableException"}}]}),
    )
    .await;
    assert_eq!(report.status, "FAILED");
    let row = report
        .workspaces
        .iter()
        .find(|w| w.source_workspace_id == target)
        .unwrap();
    assert_eq!(row.status, "FAILED");
    assert!(
        row.cause
            .as_deref()
            .unwrap()
            .contains("ResourceUnavailable"),
        "{row:?}"
    );
    assert_eq!(
        report
            .workspaces
            .iter()
            .filter(|w| w.status == "COMPLETED")
            .count(),
        3
    );
    // Retried by the state machine (each attempt is one SDK call plus the SDK's own retry).
    assert!(calls(&stack, "MigrateWorkspace", &target) > 2);
    assert!(
        report.cause.as_deref().unwrap_or("").contains(&target),
        "{:?}",
        report.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_migration_failure_is_failed_at_the_deadline() {
    let p = plan(3, json!({}));
    let target = ws_id(0);
    let (_stack, report) = run(&p, json!({"neverFinishMigrations": [target]})).await;
    let row = report
        .workspaces
        .iter()
        .find(|w| w.source_workspace_id == target)
        .unwrap();
    assert_eq!(row.status, "FAILED");
    assert!(
        row.cause.as_deref().unwrap().contains("not AVAILABLE"),
        "{row:?}"
    );
    assert_eq!(
        report
            .workspaces
            .iter()
            .filter(|w| w.status == "COMPLETED")
            .count(),
        2
    );
    // The deadline (90 minutes by default) was reached on the virtual clock, not the wall clock.
    assert!(
        report.virtual_seconds >= 90 * 60,
        "{}",
        report.virtual_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_import_error_fails_the_wave_before_any_migration() {
    let p = plan(
        5,
        json!({"image": {"imageId": "wsi-e2eimage02"}, "lexBots": bots()}),
    );
    let (stack, report) = run(
        &p,
        json!({"failImageImports": [{"imageId": "wsi-e2eimage02", "atPercent": 40}]}),
    )
    .await;
    assert_eq!(report.status, "FAILED");
    assert!(stack.cloud.migrations().is_empty());
    assert!(
        stack
            .cloud
            .calls()
            .iter()
            .all(|c| c.operation != "MigrateWorkspace")
    );
    assert!(
        stack
            .cloud
            .calls()
            .iter()
            .all(|c| c.operation != "StartMigration")
    );
    for w in &report.workspaces {
        assert_ne!(w.status, "COMPLETED");
    }
    assert!(
        format!("{:?} {:?}", report.error, report.cause).contains("wsi-e2eimage02"),
        "{:?} {:?}",
        report.error,
        report.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_standby_failure_is_reported_per_item() {
    let p = plan(3, json!({"standby": standby()}));
    let bad = ws_id(1);
    let (stack, report) = run(
        &p,
        json!({"failStandbys": [{"primaryWorkspaceId": bad, "errorCode": "ResourceLimitExceeded.CoresCount"}]}),
    )
    .await;
    // Every WorkSpace migrated, but the operator asked for standbys: the wave fails and its cause
    // names the WorkSpace whose standby failed; the item itself stays COMPLETED.
    assert_eq!(report.status, "FAILED", "{}", report.render());
    assert_eq!(report.error.as_deref(), Some("WaveFailed"));
    let cause = report.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains("1 standby failed") && cause.contains(&bad),
        "{cause}"
    );
    assert!(
        cause.contains("ResourceLimitExceeded.CoresCount"),
        "{cause}"
    );
    assert!(
        report.workspaces.iter().all(|w| w.status == "COMPLETED"),
        "{}",
        report.render()
    );
    for ok in [ws_id(0), ws_id(2)] {
        assert!(!cause.contains(&ok), "{ok} had its standby: {cause}");
    }
    for w in &report.workspaces {
        let standby = w.standby.as_deref().unwrap_or_default();
        if w.source_workspace_id == bad {
            assert!(standby.starts_with("FAILED StandbyFailed"), "{w:?}");
            assert!(
                standby.contains("ResourceLimitExceeded.CoresCount"),
                "{w:?}"
            );
        } else {
            assert!(standby.starts_with("ws-"), "{w:?}");
        }
    }
    assert_eq!(stack.cloud.standbys().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_throttling_still_completes() {
    let p = plan(
        20,
        json!({"standby": standby(), "lexBots": bots(), "hub": {"enabled": true}}),
    );
    let (stack, report) = run(
        &p,
        json!({"seed": 11, "rules": [{"operation": "*", "throttle": 0.3}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    let throttled = stack
        .cloud
        .calls()
        .iter()
        .filter(|c| c.outcome.code() == Some("ThrottlingException"))
        .count();
    assert!(throttled > 10, "the scenario throttled {throttled} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_hub_unavailable_still_reports_through_events() {
    let p = plan(4, json!({"hub": {"enabled": true}}));
    let (stack, report) = run(&p, json!({"migrationHub": "homeRegionNotSet"})).await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    assert!(report.hub_tasks.is_empty());
    assert!(
        stack
            .cloud
            .events()
            .iter()
            .any(|e| e.detail_type == fleetshift_core::events::WAVE_FINISHED)
    );
    assert!(
        stack
            .cloud
            .calls()
            .iter()
            .any(|c| c.service == Service::MigrationHub
                && c.outcome.code() == Some("HomeRegionNotSetException"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpublished_summary_still_reports_each_item_with_its_real_state_and_new_id() {
    // EventBridge refuses the summary (the `Wave Finished` event) every time, and only it: Finish
    // fails after its retries and the wave fails with SummaryNotPublished. The items were migrated
    // (one failed) and the report says so, read from the execution history, never NOT_STARTED.
    let p = plan(4, json!({"standby": standby(), "lexBots": bots()}));
    let broken = ws_id(2);
    let (stack, report) = run(
        &p,
        json!({"rules": [
            {"operation": "PutEvents", "id": fleetshift_core::events::WAVE_FINISHED,
             "fail": {"error": "InternalException", "status": 500}},
            {"operation": "MigrateWorkspace", "id": broken,
             "fail": {"error": "ResourceUnavailableException"}}
        ]}),
    )
    .await;
    assert_eq!(report.status, "FAILED", "{}", report.render());
    assert_eq!(report.error.as_deref(), Some("SummaryNotPublished"));
    let summary_calls = stack
        .cloud
        .calls()
        .iter()
        .filter(|c| {
            c.operation == "PutEvents"
                && c.target.as_deref() == Some(fleetshift_core::events::WAVE_FINISHED)
        })
        .count();
    assert!(
        summary_calls > 1,
        "the summary was retried: {summary_calls}"
    );
    assert!(
        stack
            .cloud
            .events()
            .iter()
            .all(|e| e.detail_type != fleetshift_core::events::WAVE_FINISHED)
    );
    let migrations = stack.cloud.migrations();
    assert_eq!(migrations.len(), 3);
    for w in &report.workspaces {
        assert_eq!(w.read_from, ReadFrom::ExecutionHistory, "{w:?}");
        if w.source_workspace_id == broken {
            assert_eq!(w.status, "FAILED", "{w:?}");
            assert!(
                w.cause
                    .as_deref()
                    .is_some_and(|c| c.contains("ResourceUnavailable")),
                "{w:?}"
            );
            continue;
        }
        let m = migrations
            .iter()
            .find(|m| m.source_workspace_id == w.source_workspace_id)
            .expect("migrated");
        assert_eq!(w.status, "COMPLETED", "{w:?}");
        assert_eq!(
            w.target_workspace_id.as_deref(),
            Some(m.target_workspace_id.as_str())
        );
        assert!(
            w.standby.as_deref().is_some_and(|s| s.starts_with("ws-")),
            "{w:?}"
        );
    }
    for b in &report.bots {
        assert_eq!(b.read_from, ReadFrom::ExecutionHistory, "{b:?}");
        assert_eq!(b.status, "COMPLETED", "{b:?}");
        assert!(b.v2_bot_id.is_some(), "{b:?}");
    }
    let table = report.render();
    assert!(!table.contains("NOT_STARTED"), "{table}");
    assert!(table.contains("SummaryNotPublished"), "{table}");
    assert!(!report.all_completed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_hub_throttling_every_update_never_stops_a_migration() {
    // Registration goes through (its NOT_STARTED report, the first Notify of each task), then
    // every NotifyMigrationTaskState is throttled past the SDK's retries. The Hub is an optional
    // mirror: no item may fail or stop for it, and each update still reaches EventBridge, saying
    // the Hub was not updated and why.
    let p = plan(
        4,
        json!({"hub": {"enabled": true, "homeRegion": "us-west-2"}}),
    );
    let registered_tasks = 4;
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "NotifyMigrationTaskState",
                          "fail": {"error": "ThrottlingException", "after": 1}}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed(), "{}", report.render());
    assert_eq!(stack.cloud.migrations().len(), 4);
    let updates: Vec<MigrationProgress> = stack
        .cloud
        .events()
        .iter()
        .filter(|e| e.detail_type == fleetshift_core::events::ITEM_PROGRESS)
        .map(|e| serde_json::from_str(&e.detail).expect("a Migration Progress detail"))
        .collect();
    // IN_PROGRESS and a final state for each WorkSpace.
    assert_eq!(updates.len(), 2 * 4, "{updates:#?}");
    for u in &updates {
        assert_eq!(u.hub_status, HubStatus::Unavailable, "{u:?}");
        assert_eq!(
            u.hub_error_type.as_deref(),
            Some("ThrottlingException"),
            "{u:?}"
        );
    }
    // The Hub shows the tasks as registered (their NotifyMigrationTaskState never got through).
    assert_eq!(report.hub_tasks.len(), registered_tasks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_migration_hub_throttling_at_400_workspaces_never_stops_the_wave() {
    // A busy account: 60% of ImportMigrationTask and NotifyMigrationTaskState attempts are
    // throttled, throughout the wave. Registration resumes the throttled tasks in rounds and
    // reports per item which are in the Hub; whatever is left goes to events only (or is
    // imported by its first update). Migration Hub is optional: every WorkSpace migrates.
    let p = plan(
        400,
        json!({"hub": {"enabled": true, "homeRegion": "us-west-2"}}),
    );
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "ImportMigrationTask", "throttle": 0.6},
                         {"operation": "NotifyMigrationTaskState", "throttle": 0.6}]}),
    )
    .await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed(), "{}", report.render());
    assert_eq!(report.workspaces.len(), 400);
    assert_eq!(stack.cloud.migrations().len(), 400);
    let throttled = stack
        .cloud
        .calls()
        .iter()
        .filter(|c| {
            c.service == Service::MigrationHub && c.outcome.code() == Some("ThrottlingException")
        })
        .count();
    assert!(
        throttled > 400,
        "the Hub throttled heavily ({throttled} calls)"
    );
    // The Wave Registered event says, item by item, whether the Hub has its task.
    let registered: Vec<WaveRegistered> = stack
        .cloud
        .events()
        .iter()
        .filter(|e| e.detail_type == fleetshift_core::events::WAVE_REGISTERED)
        .map(|e| serde_json::from_str(&e.detail).expect("a Wave Registered detail"))
        .collect();
    let items: Vec<_> = registered.iter().flat_map(|r| &r.workspaces).collect();
    assert_eq!(items.len(), 400);
    for r in &registered {
        assert_eq!(r.hub_status, HubStatus::Registered, "{:?}", r.hub_error);
        assert!(r.hub.enabled);
    }
    let in_hub: Vec<&str> = items
        .iter()
        .filter(|i| i.hub_registered == Some(true))
        .map(|i| i.task_name.as_str())
        .collect();
    for i in &items {
        match i.hub_registered {
            Some(true) => assert_eq!(i.hub_error_type, None, "{i:?}"),
            Some(false) => assert_eq!(
                i.hub_error_type.as_deref(),
                Some("ThrottlingException"),
                "{i:?}"
            ),
            None => panic!("{i:?} does not say whether it is in the Hub"),
        }
    }
    assert!(in_hub.len() >= 390, "{} of 400 registered", in_hub.len());
    // Every item registered is a Migration Hub task.
    let tasks: Vec<&str> = report.hub_tasks.iter().map(|t| t.task.as_str()).collect();
    for t in &in_hub {
        assert!(tasks.contains(t), "{t} registered but not in the Hub");
    }
}

/// The published `Wave Finished` summary (every part, in order).
fn wave_finished(stack: &LocalStack) -> Vec<WaveFinished> {
    stack
        .cloud
        .events()
        .iter()
        .filter(|e| e.detail_type == fleetshift_core::events::WAVE_FINISHED)
        .map(|e| serde_json::from_str(&e.detail).expect("a Wave Finished detail"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_error_messages_no_longer_overflow_the_workspaces_map() {
    // Ten of twelve WorkSpaces fail with a 28,000-character error message each. Before item
    // results were bounded, their results together passed Step Functions' 256 KiB state limit and
    // the WorkSpaces Map failed (every result lost). Each result now keeps the caught Error and a
    // fixed Cause, so the Map returns every result; the full message is in the progress events.
    let p = plan(12, json!({}));
    let long = "x".repeat(28_000);
    let rules: Vec<Value> = (0..10)
        .map(|i| {
            json!({"operation": "MigrateWorkspace", "id": ws_id(i),
                   "fail": {"error": "AccessDeniedException", "message": long}})
        })
        .collect();
    let (stack, report) = run(&p, json!({"rules": rules})).await;
    assert_eq!(report.status, "FAILED", "{}", report.render());
    assert_eq!(
        report.error.as_deref(),
        Some("WaveFailed"),
        "{}",
        report.render()
    );
    let summary = &wave_finished(&stack)[0];
    assert_eq!(summary.mapping.len(), 12);
    let migrations = stack.cloud.migrations();
    assert_eq!(migrations.len(), 2);
    for m in &summary.mapping {
        assert_eq!(m.reason, None, "{m:?}");
        if migrations
            .iter()
            .any(|g| g.source_workspace_id == m.source_workspace_id)
        {
            assert_eq!(m.status, Status::Completed, "{m:?}");
        } else {
            assert_eq!(m.status, Status::Failed, "{m:?}");
            assert_eq!(
                m.cause.as_deref(),
                Some(
                    "AccessDenied: the full cause is in this item's FAILED Migration Progress \
                     event and in the execution history"
                )
            );
        }
    }
    for w in &report.workspaces {
        let migrated = migrations
            .iter()
            .find(|m| m.source_workspace_id == w.source_workspace_id);
        match migrated {
            Some(m) => {
                assert_eq!(w.status, "COMPLETED", "{w:?}");
                assert_eq!(
                    w.target_workspace_id.as_deref(),
                    Some(m.target_workspace_id.as_str())
                );
            }
            None => assert_eq!(w.status, "FAILED", "{w:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_workspaces_failing_with_long_messages_keep_their_own_results() {
    // A plan's maximum (400 WorkSpaces), each refused by MigrateWorkspace with a 2,048-character
    // message: before item results were bounded, 400 copies of the cause passed the 256 KiB state
    // limit and the WorkSpaces Map failed (every result lost). Each result now keeps the caught
    // Error and a fixed Cause; the full message is in the item's FAILED progress event.
    let p = plan(MAX_WORKSPACES_PER_WAVE, json!({}));
    let long = "m".repeat(2_048);
    let rules: Vec<Value> = (0..MAX_WORKSPACES_PER_WAVE)
        .map(|i| {
            json!({"operation": "MigrateWorkspace", "id": ws_id(i),
                   "fail": {"error": "AccessDeniedException", "message": long}})
        })
        .collect();
    let (stack, report) = run(&p, json!({"rules": rules})).await;
    assert_eq!(report.status, "FAILED", "{}", report.render());
    assert_eq!(report.error.as_deref(), Some("WaveFailed"));
    assert!(stack.cloud.migrations().is_empty());
    let summaries = wave_finished(&stack);
    assert!(!summaries.is_empty(), "the summary was published");
    let mapping: Vec<_> = summaries.iter().flat_map(|s| &s.mapping).collect();
    assert_eq!(mapping.len(), 400);
    for i in 0..MAX_WORKSPACES_PER_WAVE {
        let m = mapping
            .iter()
            .find(|m| m.source_workspace_id == ws_id(i))
            .unwrap_or_else(|| panic!("{} not in the summary", ws_id(i)));
        assert_eq!(m.status, Status::Failed, "{m:?}");
        assert_eq!(m.reason, None, "{m:?}");
        assert_eq!(
            m.cause.as_deref(),
            Some(
                "AccessDenied: the full cause is in this item's FAILED Migration Progress event \
                 and in the execution history"
            )
        );
    }
    assert_eq!(summaries[0].counts.failed, 400);
    // The full message is in each item's own FAILED progress event (cut to the Hub's 2,500).
    for w in &report.workspaces {
        assert_eq!(w.status, "FAILED", "{w:?}");
    }
    let failed_events = stack
        .cloud
        .events()
        .iter()
        .filter(|e| e.detail_type == fleetshift_core::events::ITEM_PROGRESS)
        .filter(|e| e.detail.contains("\"FAILED\"") && e.detail.contains(&long))
        .count();
    assert_eq!(failed_events, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_gate_closed_by_a_long_error_names_four_hundred_workspaces_not_started() {
    // The image check fails with a 2,048-character message: before the gate's cause was stored
    // once per wave, WorkspacesNotStarted copied it into each of 400 items, passed 256 KiB and
    // (with no Catch) killed the execution with no summary.
    let p = plan(
        MAX_WORKSPACES_PER_WAVE,
        json!({"image": {"imageId": "wsi-e2eimage03"}}),
    );
    let long = "g".repeat(2_048);
    let (stack, report) = run(
        &p,
        json!({"rules": [{"operation": "DescribeCustomWorkspaceImageImport",
                          "fail": {"error": "AccessDeniedException", "message": long}}]}),
    )
    .await;
    assert_eq!(report.status, "FAILED", "{}", report.render());
    assert_eq!(report.error.as_deref(), Some("ImageImportNotReady"));
    assert!(stack.cloud.migrations().is_empty());
    let summaries = wave_finished(&stack);
    assert!(!summaries.is_empty(), "the summary was published");
    // The gate's cause once, for the wave.
    assert!(
        summaries[0]
            .counts
            .cause
            .starts_with("the image gate closed: checking BYOL image import wsi-e2eimage03 failed"),
        "{}",
        summaries[0].counts.cause
    );
    let mapping: Vec<_> = summaries.iter().flat_map(|s| &s.mapping).collect();
    assert_eq!(mapping.len(), 400);
    for i in 0..MAX_WORKSPACES_PER_WAVE {
        let m = mapping
            .iter()
            .find(|m| m.source_workspace_id == ws_id(i))
            .unwrap_or_else(|| panic!("{} not in the summary", ws_id(i)));
        assert_eq!(m.status, Status::NotStarted, "{m:?}");
        assert_eq!(m.reason, Some(Reason::GateClosed), "{m:?}");
        assert_eq!(
            m.cause.as_deref(),
            Some("not started: the image gate closed (the wave's cause says why)")
        );
    }
    for w in &report.workspaces {
        assert_eq!(w.status, "NOT_STARTED", "{w:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_hub_access_denied_degrades_to_events_only() {
    // An account closed to Migration Hub (AccessDeniedException on every call): the wave registers,
    // finds the Hub unusable, says so in the Wave Registered event, and reports every item through
    // EventBridge alone, without calling the Hub again for each item.
    let p = plan(
        4,
        json!({"hub": {"enabled": true, "homeRegion": "us-west-2"}, "lexBots": bots()}),
    );
    let (stack, report) = run(&p, json!({"migrationHub": "accessDenied"})).await;
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert!(report.all_completed());
    assert!(report.hub_tasks.is_empty());
    assert!(stack.cloud.hub_streams().is_empty());
    let log = stack.cloud.calls();
    let hub_calls: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, c)| c.service == Service::MigrationHub)
        .map(|(i, _)| i)
        .collect();
    assert!(!hub_calls.is_empty(), "the Hub was tried");
    for i in &hub_calls {
        assert_eq!(
            log[*i].outcome.code(),
            Some("AccessDeniedException"),
            "{:?}",
            log[*i]
        );
    }
    let first_migrate = log
        .iter()
        .position(|c| c.operation == "MigrateWorkspace")
        .expect("migrated");
    assert!(
        hub_calls.iter().all(|i| *i < first_migrate),
        "the Hub was called again after registering found it unusable"
    );
    let events = stack.cloud.events();
    let registered: WaveRegistered = events
        .iter()
        .find(|e| e.detail_type == fleetshift_core::events::WAVE_REGISTERED)
        .map(|e| serde_json::from_str(&e.detail).expect("a Wave Registered detail"))
        .expect("a Wave Registered event");
    assert_eq!(
        registered.hub_status,
        HubStatus::Unavailable,
        "{registered:?}"
    );
    assert!(
        registered
            .hub_error
            .as_deref()
            .is_some_and(|e| e.contains("AccessDenied")),
        "{registered:?}"
    );
    // Every item, bots included, reported its end through events.
    let completed: Vec<MigrationProgress> = events
        .iter()
        .filter(|e| e.detail_type == fleetshift_core::events::ITEM_PROGRESS)
        .map(|e| serde_json::from_str::<MigrationProgress>(&e.detail).expect("a progress detail"))
        .filter(|d| d.status == Status::Completed)
        .collect();
    assert_eq!(completed.len(), 4 + 2, "{completed:#?}");
    assert!(
        completed.iter().all(|d| d.hub_status != HubStatus::Updated),
        "{completed:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.detail_type == fleetshift_core::events::WAVE_FINISHED)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lex_v1_gone_fails_bots_with_a_clear_cause_and_spares_workspaces() {
    let p = plan(3, json!({"lexBots": bots()}));
    let (_stack, report) = run(&p, json!({"lexV1": "gone"})).await;
    assert_eq!(report.status, "FAILED");
    assert!(report.workspaces.iter().all(|w| w.status == "COMPLETED"));
    for b in &report.bots {
        assert_eq!(b.status, "FAILED");
        let cause = b.cause.as_deref().unwrap_or_default();
        assert!(
            cause.contains("LexV1Unavailable") || cause.contains("Lex V1"),
            "{cause}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_eventbridge_delivery_starts_one_execution() {
    let p = plan(2, json!({}));
    let stack = stack(&p, json!({})).await;
    let first = stack.deliver_wave_event(&p).await.expect("first delivery");
    let second = stack.deliver_wave_event(&p).await.expect("second delivery");
    assert_eq!(first["alreadyStarted"], json!(false), "{first}");
    assert_eq!(first["executionArn"], second["executionArn"]);
    let arn = first["executionArn"].as_str().unwrap();
    let done = stack.engine.wait(arn).await.expect("execution exists");
    // A third delivery after it finished is still no new execution.
    let third = stack.deliver_wave_event(&p).await.expect("third delivery");
    assert_eq!(third["executionArn"], first["executionArn"]);
    assert_eq!(third["alreadyStarted"], json!(true));
    assert_eq!(stack.engine.list(&stack.state_machine_arn).len(), 1);
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    let report = stack.report(&p, &done, std::time::Duration::ZERO);
    check_invariants(&stack, &p, &report);
    assert!(report.all_completed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_plan_is_rejected_with_zero_mutating_calls() {
    let mut p = plan(2, json!({}));
    p["workspaces"][1]["workspaceId"] = json!("WS-NOT-AN-ID");
    let stack = stack(&plan(2, json!({})), json!({})).await;
    // Through EventBridge: start-wave rejects it, naming the field.
    let err = stack.deliver_wave_event(&p).await.unwrap_err();
    assert_eq!(err.error_type, fleetshift_core::error_type::INVALID_PLAN);
    assert!(
        err.error_message.contains("workspaces[1].workspaceId"),
        "{err:?}"
    );
    assert!(stack.engine.list(&stack.state_machine_arn).is_empty());
    // From the console: the execution fails at once with InvalidPlan.
    let report = stack.run_wave(&p).await.expect("execution starts");
    assert_eq!(report.status, "FAILED");
    assert_eq!(
        report.error.as_deref(),
        Some(fleetshift_core::error_type::INVALID_PLAN)
    );
    assert!(
        report
            .cause
            .as_deref()
            .unwrap_or_default()
            .contains("workspaces[1].workspaceId")
    );
    // Nothing was registered, published or migrated: the plan was rejected before any call.
    assert_eq!(stack.cloud.mutating_calls(), vec![]);
    assert!(stack.cloud.migrations().is_empty());
    check_invariants(&stack, &p, &report);
    assert!(
        report.workspaces.iter().all(|w| w.status == "NOT_STARTED"),
        "{}",
        report.render()
    );
}

/// A stack whose check-migration Lambda fails as Step Functions reports it when the function
/// could not answer: the `n`-th WorkSpace check (from 0) fails with `fail(n)`'s error name, and
/// otherwise runs the real handler. cloud-local's scenario rules fail AWS calls inside a handler;
/// these are failures of the invocation itself, which no AWS call can produce:
/// - `Lambda.Unknown`: the function timed out or ran out of memory ("Handle Lambda service
///   exceptions", Step Functions Developer Guide,
///   https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html);
/// - `Lambda.TooManyRequestsException`: the account's Lambda concurrency was used up (same page);
/// - `States.Timeout`: the Task ran past its time ("Error names", Step Functions Developer Guide,
///   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
///
/// Returns the stack and the virtual time of each WorkSpace check.
async fn stack_with_failing_checks(
    plan: &Value,
    fail: impl Fn(usize) -> Option<&'static str> + Send + Sync + 'static,
) -> (LocalStack, Arc<Mutex<Vec<SystemTime>>>) {
    let stack = stack(plan, json!({})).await;
    let checks = Arc::new(Mutex::new(Vec::new()));
    let seen = checks.clone();
    let functions = stack.functions.clone();
    let fail = Arc::new(fail);
    let arn = stack
        .model
        .function_by_binary("check-migration")
        .expect("check-migration is in the template")
        .arn
        .clone();
    stack.engine.register(
        &arn,
        sfn_local::with_context(move |input: Value, ctx: sfn_local::TaskContext| {
            let functions = functions.clone();
            let error = if input["kind"] == "workspace" {
                let mut seen = seen.lock().expect("checks");
                seen.push(ctx.now);
                fail(seen.len() - 1)
            } else {
                None
            };
            async move {
                match error {
                    Some(e) => Err(sfn_local::TaskFailure::new(
                        e,
                        format!("check-migration did not answer ({e})"),
                    )),
                    None => functions.invoke("check-migration", input).await,
                }
            }
        }),
    );
    (stack, checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_times_out_then_succeeds_completes_and_migrates_once() {
    let p = plan(1, json!({}));
    let source = ws_id(0);
    // The first check fails three times: States.Timeout, Lambda.Unknown (both retried once
    // more, so the third failure exhausts the retrier), then the next check answers.
    let (stack, checks) = stack_with_failing_checks(&p, |n| {
        ["States.Timeout", "Lambda.Unknown", "States.Timeout"]
            .get(n)
            .copied()
    })
    .await;
    let report = stack.request_wave(&p).await.expect("the wave starts");
    check_invariants(&stack, &p, &report);
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    let row = &report.workspaces[0];
    assert_eq!(row.status, "COMPLETED", "{row:?}");
    assert_eq!(row.cause, None);
    assert_eq!(calls(&stack, "MigrateWorkspace", &source), 1);
    assert_eq!(stack.cloud.migrations().len(), 1);
    // Three failed attempts of the first check, then the second check (after the interval).
    let checks = checks.lock().expect("checks").clone();
    assert_eq!(checks.len(), 4);
    let waited = checks[3].duration_since(checks[2]).expect("in order");
    assert!(waited >= Duration::from_secs(600), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_throttled_many_times_in_a_row_completes() {
    let p = plan(1, json!({}));
    let source = ws_id(0);
    // Lambda throttles 20 invocations in a row: 9 attempts of each of the first two checks,
    // then 2 of the third, which answers.
    let (stack, checks) = stack_with_failing_checks(&p, |n| {
        (n < 20).then_some("Lambda.TooManyRequestsException")
    })
    .await;
    let report = stack.request_wave(&p).await.expect("the wave starts");
    check_invariants(&stack, &p, &report);
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert_eq!(report.workspaces[0].status, "COMPLETED");
    assert_eq!(calls(&stack, "MigrateWorkspace", &source), 1);
    assert_eq!(stack.cloud.migrations().len(), 1);
    assert_eq!(checks.lock().expect("checks").len(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_never_answers_fails_at_the_deadline() {
    let p = plan(1, json!({}));
    let source = ws_id(0);
    let (stack, checks) = stack_with_failing_checks(&p, |_| Some("Lambda.Unknown")).await;
    let report = stack.request_wave(&p).await.expect("the wave starts");
    check_invariants(&stack, &p, &report);
    let row = &report.workspaces[0];
    assert_eq!(row.status, "FAILED", "{row:?}");
    let target = row
        .target_workspace_id
        .clone()
        .expect("the migration started");
    assert_eq!(
        row.cause.as_deref(),
        Some(
            format!(
                "no check of new WorkSpace {target} answered in the 90 minutes after the migration started (4 unanswered checks; last error Lambda.Unknown): the migration may still complete, check the new WorkSpace"
            )
            .as_str()
        )
    );
    assert_eq!(calls(&stack, "MigrateWorkspace", &source), 1);
    // As many checks as check-migration would make with the default polling (at 60, 70, 80 and
    // 90 minutes), each tried three times; the last one no earlier than the deadline.
    let checks = checks.lock().expect("checks").clone();
    assert_eq!(checks.len(), 12);
    let span = checks[11].duration_since(checks[0]).expect("in order");
    assert!(span >= Duration::from_secs(30 * 60), "{span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_execution_is_named_after_the_plan_as_sent() {
    // examples/wave-small.json names no maxConcurrency: the state machine fills in the stack's
    // DefaultConcurrency before Register, yet Wave Registered carries the name start-wave gave.
    // Golden names as in crates/core's plan tests (Python json.dumps with sort_keys=True,
    // separators=(',', ':'), ensure_ascii=False, SHA-256, first 16 hex digits).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/wave-small.json");
    let p: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let stack = stack(&p, json!({})).await;
    let answer = stack.deliver_wave_event(&p).await.expect("delivered");
    assert_eq!(
        answer["executionName"],
        json!("wave-console-demo-92674f89d1edcb1d")
    );
    let done = stack
        .engine
        .wait(answer["executionArn"].as_str().unwrap())
        .await
        .expect("execution exists");
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    let report = stack.report(&p, &done, std::time::Duration::ZERO);
    check_invariants(&stack, &p, &report);
    let registered: WaveRegistered = stack
        .cloud
        .events()
        .iter()
        .find(|e| e.detail_type == fleetshift_core::events::WAVE_REGISTERED)
        .map(|e| serde_json::from_str(&e.detail).expect("a Wave Registered detail"))
        .expect("a Wave Registered event");
    assert_eq!(
        registered.execution_name,
        "wave-console-demo-92674f89d1edcb1d"
    );

    // Spelling the default out is another plan, so another wave (it would run differently under
    // another DefaultConcurrency): a new execution, not a duplicate.
    let mut explicit = p.clone();
    explicit["maxConcurrency"] = json!(25);
    let answer = stack
        .deliver_wave_event(&explicit)
        .await
        .expect("delivered");
    assert_eq!(
        answer["executionName"],
        json!("wave-console-demo-71cde2b456f97d91")
    );
    assert_eq!(answer["alreadyStarted"], json!(false), "{answer}");
    assert_eq!(stack.engine.list(&stack.state_machine_arn).len(), 2);
}

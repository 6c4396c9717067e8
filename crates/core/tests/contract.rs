//! The contract's JSON examples: each is parsed into its type and written back, and must come out
//! as it went in (the raw file is the oracle, not the code). The state machine writes `null` for
//! a field a result does not have; the contract reads `null` and absent alike and writes neither,
//! so the raw side is compared without its `null` fields.

use fleetshift_core::contract::{
    BotResult, MigrationProgress, Reason, StandbyResult, Status, TaskRef, WaveFinished,
    WaveRegistered, WaveSummary, WorkspaceResult,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/contract/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

/// `v` without its `null` object fields, at any depth.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parses `raw` as a `T` and checks that writing it back gives `raw` again.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, raw: Value) -> T {
    let parsed: T = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        without_nulls(raw),
        "{name}"
    );
    parsed
}

fn each<T: DeserializeOwned + Serialize>(name: &str) -> Vec<T> {
    let Value::Array(items) = fixture(name) else {
        panic!("{name} is a list")
    };
    items.into_iter().map(|v| round_trip(name, v)).collect()
}

#[test]
fn workspace_results_as_the_map_returns_them() {
    let results: Vec<WorkspaceResult> = each("workspace-results.json");
    let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Completed,
            Status::Completed,
            Status::Completed,
            Status::Failed,
            Status::Failed,
            Status::Failed,
            Status::NotStarted
        ]
    );
    let standby = |i: usize| results[i].standby.as_ref().unwrap();
    assert_eq!(standby(0).standby_workspace_id(), Some("ws-stby000001"));
    assert!(standby(0).failures().is_empty());
    // A caught AWS error: its code and AWS's message, shown once.
    assert!(matches!(standby(1), StandbyResult::Caught(_)));
    assert_eq!(
        standby(1)
            .failures()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["ResourceLimitExceededException: The account's WorkSpaces quota is reached"]
    );
    assert_eq!(
        standby(2)
            .failures()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["ResourceLimitExceeded.CoresCount: core limit reached"]
    );
    assert_eq!(results[5].reason, Some(Reason::ResultLost));
    assert_eq!(results[4].reason, None);
}

#[test]
fn bot_results_as_the_map_returns_them() {
    let bots: Vec<BotResult> = each("bot-results.json");
    assert_eq!(bots[0].v2_bot_id.as_deref(), Some("V2BOT00001"));
    assert_eq!(bots[1].status, Status::Failed);
    assert_eq!(bots[2].status, Status::NotStarted);
}

#[test]
fn events_as_push_hub_update_publishes_them() {
    let registered: WaveRegistered =
        round_trip("wave-registered.json", fixture("wave-registered.json"));
    assert_eq!(
        registered.workspaces[0].task_name,
        "wave-2025-11-a-ws-abcd12345"
    );

    let progress: Vec<MigrationProgress> = each("migration-progress.json");
    assert_eq!(
        progress[1].task,
        TaskRef::LexBot {
            id: "OrderFlowers".into(),
            version: "$LATEST".into()
        }
    );
    assert_eq!(
        progress[1].task.task_name("wave-2025-11-a"),
        "wave-2025-11-a-lex-OrderFlowers-LATEST"
    );
    assert!(progress[0].status.is_final() && !progress[1].status.is_final());

    let finished: WaveFinished = round_trip("wave-finished.json", fixture("wave-finished.json"));
    assert_eq!((finished.counts.total, finished.counts.failed), (3, 2));
    assert_eq!(finished.mapping[1].reason, Some(Reason::NoResult));

    let summary: WaveSummary = round_trip("wave-summary.json", fixture("wave-summary.json"));
    assert_eq!(summary.counts.standby_failed, 1);
    assert_eq!(summary.events_published, 1);
}

#[test]
fn an_unknown_status_or_reason_is_not_an_item_result() {
    for bad in [
        r#"{"sourceWorkspaceId": "ws-abcd12345", "status": "DONE"}"#,
        r#"{"sourceWorkspaceId": "ws-abcd12345", "status": "FAILED", "reason": "gone"}"#,
        r#"{"Error": "States.Timeout", "Cause": "child execution timed out"}"#,
    ] {
        assert!(
            serde_json::from_str::<WorkspaceResult>(bad).is_err(),
            "{bad}"
        );
    }
}

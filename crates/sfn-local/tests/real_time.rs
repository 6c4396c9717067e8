//! Real-time mode (`EngineBuilder::real_time`): waits take wall-clock time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sfn_local::{Definition, Engine, ExecutionStatus};

#[tokio::test]
async fn a_wait_really_waits_on_the_wall_clock() {
    let def = Arc::new(
        Definition::parse(
            r#"{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.until","End":true}}}"#,
        )
        .unwrap(),
    );
    let engine = Engine::builder().real_time().build();
    let sm = engine.state_machine_arn("rt");
    // whole milliseconds, so the timestamp says exactly when the wait ends
    let until = SystemTime::UNIX_EPOCH
        + Duration::from_millis(fleetshift_clock::to_millis(SystemTime::now()) + 300);
    let text = DateTime::<Utc>::from(until).to_rfc3339_opts(SecondsFormat::Millis, true);
    let d = engine
        .run(def, &sm, None, json!({"until": text}))
        .await
        .unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    // A lower bound: the wait did not end before its timestamp (on a virtual clock it would
    // have taken no wall-clock time at all).
    assert!(SystemTime::now() >= until);
    assert!(d.stop_date.unwrap() >= until, "{d:?}");
    let exited = engine
        .history(&d.execution_arn)
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == "WaitStateExited")
        .unwrap();
    assert!(exited.timestamp >= until);
}

#[tokio::test]
async fn the_execution_timeout_follows_the_last_event() {
    let def = Arc::new(
        Definition::parse(
            r#"{"TimeoutSeconds":1,"StartAt":"P","States":{
                "P":{"Type":"Pass","Next":"W"},
                "W":{"Type":"Wait","Seconds":30,"End":true}}}"#,
        )
        .unwrap(),
    );
    let engine = Engine::builder().real_time().build();
    let sm = engine.state_machine_arn("rt");
    let d = engine.run(def, &sm, None, json!({})).await.unwrap();
    assert_eq!(d.status, ExecutionStatus::TimedOut);
    let h = engine.history(&d.execution_arn).unwrap();
    let types: Vec<&str> = h.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "ExecutionTimedOut"
        ]
    );
    assert_eq!(h[4].previous_event_id, 4);
}

//! Distributed Map: the parent's history as AWS records it, failure thresholds, batching.

use std::sync::Arc;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionDescription, ExecutionStatus, TaskFailure};

/// A Distributed Map over `$.items` whose children fail on a negative item.
fn map_def(extra: &str) -> String {
    format!(
        r#"{{"StartAt":"M","States":{{"M":{{"Type":"Map","ItemsPath":"$.items",{extra}
            "ItemProcessor":{{"ProcessorConfig":{{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"}},
              "StartAt":"T","States":{{"T":{{"Type":"Task",
                "Resource":"arn:aws:lambda:us-east-1:123456789012:function:check","End":true}}}}}},
            "End":true}}}}}}"#
    )
}

fn engine() -> Engine {
    Engine::builder()
        .handler("check", |v: Value| async move {
            match v.as_i64() {
                Some(n) if n < 0 => Err(TaskFailure::new("Negative", "below zero")),
                _ => Ok(v),
            }
        })
        .build()
}

async fn run(engine: &Engine, definition: &str, input: Value) -> ExecutionDescription {
    let def = Arc::new(Definition::parse(definition).unwrap());
    let sm = engine.state_machine_arn("dm");
    engine.run(def, &sm, Some("x"), input).await.unwrap()
}

fn types(engine: &Engine, d: &ExecutionDescription) -> Vec<&'static str> {
    engine
        .history(&d.execution_arn)
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect()
}

#[tokio::test]
async fn a_succeeding_map_records_started_with_its_length_and_succeeded() {
    let engine = engine();
    let d = run(&engine, &map_def(""), json!({"items": [1, 2, 3]})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output, Some(json!([1, 2, 3])));
    assert_eq!(
        types(&engine, &d),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let h = engine.history(&d.execution_arn).unwrap();
    let started = h
        .iter()
        .find(|e| e.event_type == "MapStateStarted")
        .unwrap();
    assert_eq!(started.details.as_ref().unwrap().1, json!({"length": 3}));
}

#[tokio::test]
async fn a_failing_map_records_map_run_failed_then_map_state_failed() {
    let engine = engine();
    let d = run(&engine, &map_def(""), json!({"items": [1, -2, 3]})).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    assert_eq!(
        types(&engine, &d),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
}

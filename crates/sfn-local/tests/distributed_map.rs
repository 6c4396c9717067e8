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

#[tokio::test]
async fn tolerated_failure_count_path_is_read_from_the_input() {
    let def = map_def(r#""ToleratedFailureCountPath":"$.tolerate","#);
    let d = run(&engine(), &def, json!({"items": [1, -2, 3], "tolerate": 1})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    let d = run(
        &engine(),
        &def,
        json!({"items": [1, -2, -3], "tolerate": 1}),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // a numeric string counts, as AWS reads it
    let d = run(&engine(), &def, json!({"items": [1, -2], "tolerate": "1"})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
}

#[tokio::test]
async fn a_tolerated_failure_count_path_that_is_no_integer_is_a_runtime_error() {
    let def = map_def(r#""ToleratedFailureCountPath":"$.tolerate","#);
    for (value, cause) in [
        (
            json!("NoNumber"),
            "The ToleratedFailureCountPath field refers to value \"NoNumber\" which is not a valid integer: $.tolerate",
        ),
        (
            json!({}),
            "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: $.tolerate",
        ),
        (json!(-1), "ToleratedFailureCount cannot be negative."),
    ] {
        let engine = engine();
        let d = run(&engine, &def, json!({"items": [1], "tolerate": value})).await;
        assert_eq!(d.error.as_deref(), Some("States.Runtime"));
        assert_eq!(
            d.cause.as_deref().unwrap(),
            format!(
                "An error occurred while executing the state 'M' (entered at the event id #2). {cause}"
            )
        );
        assert_eq!(
            types(&engine, &d),
            [
                "ExecutionStarted",
                "MapStateEntered",
                "MapStateStarted",
                "ExecutionFailed"
            ]
        );
    }
}

#[tokio::test]
async fn tolerated_failure_percentage_path_is_read_from_the_input() {
    let def = map_def(r#""ToleratedFailurePercentagePath":"$.pct","#);
    // one of four failed: 25 %
    let d = run(&engine(), &def, json!({"items": [1, -2, 3, 4], "pct": 25})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    let d = run(&engine(), &def, json!({"items": [1, -2, 3, 4], "pct": 20})).await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let d = run(&engine(), &def, json!({"items": [1], "pct": "many"})).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn exceeding_either_threshold_fails_the_run() {
    // two of four failed: within the count (3), over the percentage (25 %)
    let d = run(
        &engine(),
        &map_def(r#""ToleratedFailureCount":3,"ToleratedFailurePercentage":25,"#),
        json!({"items": [1, -2, -3, 4]}),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // ...and within the percentage (50 %), over the count (1)
    let d = run(
        &engine(),
        &map_def(r#""ToleratedFailureCount":1,"ToleratedFailurePercentage":50,"#),
        json!({"items": [1, -2, -3, 4]}),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // within both
    let d = run(
        &engine(),
        &map_def(r#""ToleratedFailureCount":2,"ToleratedFailurePercentage":50,"#),
        json!({"items": [1, -2, -3, 4]}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
}

#[test]
fn a_threshold_and_its_path_are_mutually_exclusive() {
    for extra in [
        r#""ToleratedFailureCount":1,"ToleratedFailureCountPath":"$.n","#,
        r#""ToleratedFailurePercentage":1,"ToleratedFailurePercentagePath":"$.n","#,
    ] {
        let e = Definition::parse(&map_def(extra)).unwrap_err();
        assert!(e.message.contains("mutually exclusive"), "{e}");
    }
}

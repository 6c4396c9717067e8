//! Distributed Map: the parent's history as AWS records it, failure thresholds, batching.

use std::sync::Arc;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionDescription, ExecutionStatus, TaskFailure};

mod common;

use common::types;

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
    /// Four items, two of which fail, under the given thresholds.
    async fn two_of_four_failing(thresholds: &str) -> ExecutionDescription {
        let def = map_def(thresholds);
        run(&engine(), &def, json!({"items": [1, -2, -3, 4]})).await
    }
    // within the count (3), over the percentage (25 %)
    let d =
        two_of_four_failing(r#""ToleratedFailureCount":3,"ToleratedFailurePercentage":25,"#).await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // ...and within the percentage (50 %), over the count (1)
    let d =
        two_of_four_failing(r#""ToleratedFailureCount":1,"ToleratedFailurePercentage":50,"#).await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // within both
    let d =
        two_of_four_failing(r#""ToleratedFailureCount":2,"ToleratedFailurePercentage":50,"#).await;
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

/// A Distributed Map whose children return their input (a batch).
fn batch_def(batcher: &str) -> String {
    format!(
        r#"{{"StartAt":"M","States":{{"M":{{"Type":"Map","ItemsPath":"$.items",
            "ItemBatcher":{batcher},
            "ItemProcessor":{{"ProcessorConfig":{{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"}},
              "StartAt":"P","States":{{"P":{{"Type":"Pass","End":true}}}}}},
            "End":true}}}}}}"#
    )
}

#[tokio::test]
async fn item_batcher_limits_from_the_input() {
    let d = run(
        &engine(),
        &batch_def(r#"{"MaxItemsPerBatchPath":"$.per","BatchInput":{"b.$":"$.b"}}"#),
        json!({"items": [1, 2, 3], "per": 2, "b": "x"}),
    )
    .await;
    assert_eq!(
        d.output,
        Some(json!([
            {"BatchInput": {"b": "x"}, "Items": [1, 2]},
            {"BatchInput": {"b": "x"}, "Items": [3]}
        ]))
    );
    // {"Items":[1,2]} is 15 bytes
    let d = run(
        &engine(),
        &batch_def(r#"{"MaxInputBytesPerBatchPath":"$.bytes"}"#),
        json!({"items": [1, 2, 3], "bytes": 15}),
    )
    .await;
    assert_eq!(
        d.output,
        Some(json!([{"Items": [1, 2]}, {"Items": [3]}])),
        "{d:?}"
    );
    let d = run(
        &engine(),
        &batch_def(r#"{"MaxInputBytesPerBatch":15,"MaxItemsPerBatch":1}"#),
        json!({"items": [1, 2]}),
    )
    .await;
    assert_eq!(d.output, Some(json!([{"Items": [1]}, {"Items": [2]}])));
}

#[tokio::test]
async fn an_item_batcher_path_that_is_no_integer_is_a_runtime_error() {
    let d = run(
        &engine(),
        &batch_def(r#"{"MaxItemsPerBatchPath":"$.per"}"#),
        json!({"items": [1], "per": "some"}),
    )
    .await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(
        d.cause.as_deref().unwrap().ends_with(
            "The MaxItemsPerBatchPath field refers to value \"some\" which is not a valid integer: $.per"
        ),
        "{:?}",
        d.cause
    );
}

#[test]
fn item_batcher_is_validated_at_load() {
    for (batcher, says) in [
        (r#"{}"#, "needs MaxItemsPerBatch"),
        (r#"{"BatchInput":{"a":1}}"#, "needs MaxItemsPerBatch"),
        (r#"{"MaxItemsPerBatch":2,"Extra":1}"#, "'Extra'"),
        (
            r#"{"MaxItemsPerBatch":2,"MaxItemsPerBatchPath":"$.n"}"#,
            "mutually exclusive",
        ),
        (r#"{"MaxItemsPerBatch":0}"#, "from 1"),
        (r#"{"MaxInputBytesPerBatch":262145}"#, "from 1 to 262144"),
    ] {
        let e = Definition::parse(&batch_def(batcher)).unwrap_err();
        assert!(e.to_string().contains(says), "{batcher}: {e}");
    }
}

/// Children that fail on a negative item and otherwise never end.
fn stuck_engine() -> Engine {
    Engine::builder()
        .handler("check", |v: Value| async move {
            if v.as_i64().is_some_and(|n| n < 0) {
                return Err(TaskFailure::new("Negative", "below zero"));
            }
            std::future::pending::<()>().await;
            Ok(v)
        })
        .build()
}

fn assert_aborted(engine: &Engine, child: &ExecutionDescription) {
    assert_eq!(child.status, ExecutionStatus::Aborted, "{child:?}");
    let h = engine.history(&child.execution_arn).unwrap();
    assert_eq!(h.last().unwrap().event_type, "ExecutionAborted");
    assert!(child.stop_date.is_some());
}

#[tokio::test]
async fn children_still_running_when_the_run_fails_are_aborted() {
    let engine = stuck_engine();
    let d = run(
        &engine,
        &map_def(r#""MaxConcurrency":2,"#),
        // the child that never ends starts first
        json!({"items": [1, -1]}),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let children = engine.list(&format!("{}/M", engine.state_machine_arn("dm")));
    assert_eq!(children.len(), 2);
    let running = children.iter().find(|c| c.input == json!(1)).unwrap();
    assert_aborted(&engine, running);
    let failed = children.iter().find(|c| c.input == json!(-1)).unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
}

#[tokio::test]
async fn children_of_a_stopped_parent_are_aborted() {
    let engine = stuck_engine();
    let def = Arc::new(Definition::parse(&map_def("")).unwrap());
    let sm = engine.state_machine_arn("dm");
    let parent = engine
        .start_execution(def, &sm, Some("p"), json!({"items": [1, 2]}))
        .unwrap();
    let child_sm = format!("{sm}/M");
    while engine.list(&child_sm).len() < 2 {
        tokio::task::yield_now().await;
    }
    assert!(engine.stop_execution(&parent, Some("Stop"), None));
    // the parent's task is dropped when the runtime next gets to it
    for _ in 0..10_000 {
        if engine
            .list(&child_sm)
            .iter()
            .all(|c| c.status != ExecutionStatus::Running)
        {
            break;
        }
        tokio::task::yield_now().await;
    }
    let children = engine.list(&child_sm);
    assert_eq!(children.len(), 2);
    for c in &children {
        assert_aborted(&engine, c);
    }
}

#[tokio::test]
async fn item_batcher_output_is_one_result_per_batch_and_each_child_gets_its_batch() {
    // ItemSelector shapes each item first; the batches of those go to the children; the map's
    // result is the children's outputs, one per batch and in batch order (not flattened).
    let engine = Engine::builder()
        .handler("sum", |v: Value| async move {
            let items = v["Items"].as_array().cloned().unwrap_or_default();
            let sum: i64 = items.iter().filter_map(|i| i["n"].as_i64()).sum();
            Ok::<_, TaskFailure>(
                json!({"sum": sum, "tag": v["BatchInput"]["tag"], "of": items.len()}),
            )
        })
        .build();
    let d = run(
        &engine,
        r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
            "ItemSelector":{"n.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index"},
            "ItemBatcher":{"MaxItemsPerBatch":2,"BatchInput":{"tag.$":"$.tag"}},
            "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
              "StartAt":"T","States":{"T":{"Type":"Task",
                "Resource":"arn:aws:lambda:us-east-1:123456789012:function:sum","End":true}}},
            "ResultPath":"$.batches","End":true}}}"#,
        json!({"items": [1, 2, 3, 4, 5], "tag": "t"}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(
        d.output.unwrap()["batches"],
        json!([
            {"sum": 3, "tag": "t", "of": 2},
            {"sum": 7, "tag": "t", "of": 2},
            {"sum": 5, "tag": "t", "of": 1}
        ])
    );
    let children = engine.list(&format!("{}/M", engine.state_machine_arn("dm")));
    let mut inputs: Vec<Value> = children.iter().map(|c| c.input.clone()).collect();
    inputs.sort_by_key(|i| i["Items"][0]["i"].as_i64());
    assert_eq!(
        inputs,
        [
            json!({"BatchInput": {"tag": "t"}, "Items": [{"n": 1, "i": 0}, {"n": 2, "i": 1}]}),
            json!({"BatchInput": {"tag": "t"}, "Items": [{"n": 3, "i": 2}, {"n": 4, "i": 3}]}),
            json!({"BatchInput": {"tag": "t"}, "Items": [{"n": 5, "i": 4}]}),
        ]
    );
}

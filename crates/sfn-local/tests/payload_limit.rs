//! The 256 KiB payload limit (`States.DataLimitExceeded`) on state outputs and on the inputs
//! that Parameters and ItemSelector build, as well as on task results.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionDescription, ExecutionStatus, TaskFailure};

mod common;

use common::types;

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

/// A string that is within the limit on its own, and over it twice over.
fn big() -> String {
    "a".repeat(150 * 1024)
}

/// Runs `definition` on an engine whose `f` echoes its input.
async fn run(definition: &str, input: Value) -> (Engine, ExecutionDescription) {
    let engine = Engine::builder()
        .handler("f", |v: Value| async move { Ok::<_, TaskFailure>(v) })
        .build();
    let done = run_on(&engine, definition, input).await;
    (engine, done)
}

async fn run_on(engine: &Engine, definition: &str, input: Value) -> ExecutionDescription {
    let def = Arc::new(Definition::parse(definition).unwrap());
    let sm = engine.state_machine_arn("m");
    engine.run(def, &sm, Some("x"), input).await.unwrap()
}

fn assert_data_limit(d: &ExecutionDescription, state: &str) {
    assert_eq!(d.status, ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(
        d.cause
            .as_deref()
            .unwrap_or("")
            .contains(&format!("'{state}'")),
        "{:?}",
        d.cause
    );
}

#[tokio::test]
async fn pass_parameters_output_over_the_limit_fails_the_state() {
    let (engine, d) = run(
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass",
            "Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}"#,
        json!({"s": big()}),
    )
    .await;
    assert_data_limit(&d, "P");
    assert_eq!(
        types(&engine, &d),
        ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]
    );
}

#[tokio::test]
async fn pass_result_with_result_path_over_the_limit_fails() {
    let def = format!(
        r#"{{"StartAt":"P","States":{{"P":{{"Type":"Pass","Result":"{}","ResultPath":"$.r","End":true}}}}}}"#,
        big()
    );
    let (_, d) = run(&def, json!({"s": big()})).await;
    assert_data_limit(&d, "P");
}

#[tokio::test]
async fn result_selector_output_over_the_limit_is_caught_like_a_task_error() {
    let (engine, d) = run(
        &format!(
            r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}",
            "ResultSelector":{{"a.$":"$.s","b.$":"$.s"}},
            "Catch":[{{"ErrorEquals":["States.DataLimitExceeded"],"ResultPath":"$.err","Next":"C"}}],
            "End":true}},
            "C":{{"Type":"Pass","Parameters":{{"e.$":"$.err.Error"}},"End":true}}}}}}"#
        ),
        json!({"s": big()}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.output, Some(json!({"e": "States.DataLimitExceeded"})));
    // the Lambda function itself succeeded: the state failed on its own output
    assert!(types(&engine, &d).contains(&"LambdaFunctionSucceeded"));
}

#[tokio::test]
async fn parallel_result_array_over_the_limit_fails() {
    let (_, d) = run(
        r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
            {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
            {"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]}}}"#,
        json!({"s": big()}),
    )
    .await;
    assert_data_limit(&d, "P");
}

#[tokio::test]
async fn map_result_array_over_the_limit_fails() {
    let (_, d) = run(
        r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
            "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass",
                "Parameters":{"v.$":"$$.Execution.Input.s"},"End":true}}},
            "End":true}}}"#,
        json!({"items": [1, 2], "s": big()}),
    )
    .await;
    assert_data_limit(&d, "M");
}

#[tokio::test]
async fn a_map_result_over_the_limit_is_caught_by_name_not_by_states_all() {
    // AWS documents States.DataLimitExceeded as terminal, not matched by States.ALL; only a
    // catcher naming it catches a state's own oversized output.
    let map = |catch: &str| {
        format!(
            r#"{{"StartAt":"M","States":{{"M":{{"Type":"Map","ItemsPath":"$.items",
            "ItemProcessor":{{"StartAt":"I","States":{{"I":{{"Type":"Pass",
                "Parameters":{{"v.$":"$$.Execution.Input.s"}},"End":true}}}}}},
            "Catch":[{catch}],"End":true}},
            "C":{{"Type":"Pass","Result":"caught","End":true}}}}}}"#
        )
    };
    let (_, d) = run(
        &map(r#"{"ErrorEquals":["States.ALL"],"Next":"C"}"#),
        json!({"items": [1, 2], "s": big()}),
    )
    .await;
    assert_data_limit(&d, "M");
    let (_, d) = run(
        &map(r#"{"ErrorEquals":["States.TaskFailed"],"Next":"C"}"#),
        json!({"items": [1, 2], "s": big()}),
    )
    .await;
    assert_data_limit(&d, "M");
    let (_, d) = run(
        &map(r#"{"ErrorEquals":["States.DataLimitExceeded"],"Next":"C"},
               {"ErrorEquals":["States.ALL"],"Next":"C"}"#),
        json!({"items": [1, 2], "s": big()}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.output, Some(json!("caught")));
}

#[tokio::test]
async fn map_item_selector_over_the_limit_fails_before_any_iteration() {
    let (engine, d) = run(
        r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
            "ItemSelector":{"a.$":"$.s","b.$":"$.s"},
            "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
            "End":true}}}"#,
        json!({"items": [1], "s": big()}),
    )
    .await;
    assert_data_limit(&d, "M");
    assert!(!types(&engine, &d).contains(&"MapIterationStarted"));
}

#[tokio::test]
async fn choice_and_wait_outputs_over_the_limit_fail() {
    // An OutputPath into the context object adds to an input that is just within the limit.
    let input = json!({"s": "a".repeat(262_000)});
    for (ty, extra) in [
        (
            "Choice",
            r#""Choices":[{"Variable":"$.s","IsPresent":true,"Next":"E"}]"#,
        ),
        ("Wait", r#""Seconds":1,"Next":"E""#),
    ] {
        let def = format!(
            r#"{{"StartAt":"S","States":{{
                "S":{{"Type":"{ty}",{extra},"OutputPath":"$$.Execution"}},
                "E":{{"Type":"Succeed"}}}}}}"#
        );
        let (_, d) = run(&def, input.clone()).await;
        assert_data_limit(&d, "S");
    }
}

#[tokio::test]
async fn task_input_over_the_limit_fails_before_the_function_is_called() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let engine = Engine::builder()
        .handler("f", move |v: Value| {
            c.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, TaskFailure>(v) }
        })
        .build();
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}",
        "Parameters":{{"a.$":"$.s","b.$":"$.s"}},"End":true}}}}}}"#
    );
    let d = run_on(&engine, &def, json!({"s": big()})).await;
    assert_data_limit(&d, "T");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        types(&engine, &d),
        ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]
    );
}

#[tokio::test]
async fn lambda_invoke_payload_over_the_limit_fails() {
    let (_, d) = run(
        r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
            "Parameters":{"FunctionName":"f","Payload":{"a.$":"$.s","b.$":"$.s"}},"End":true}}}"#,
        json!({"s": big()}),
    )
    .await;
    assert_data_limit(&d, "T");
}

#[tokio::test]
async fn outputs_within_the_limit_pass() {
    let (_, d) = run(
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.s"},"End":true}}}"#,
        json!({"s": big()}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
}

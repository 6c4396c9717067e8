//! HeartbeatSeconds / HeartbeatSecondsPath: a handler sends heartbeats with
//! `TaskContext::heartbeat`; a gap longer than the interval fails the Task with
//! `States.HeartbeatTimeout`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sfn_local::{
    Definition, Engine, EngineBuilder, ExecutionDescription, ExecutionStatus, TaskFailure,
    with_context,
};

mod common;

use common::took;

/// `beat`: sleeps the (virtual) seconds its input lists, a heartbeat after each;
/// `hang`: one heartbeat, then never answers.
fn engine(builder: EngineBuilder) -> Engine {
    builder
        .handler(
            "beat",
            with_context(|v: Value, ctx| async move {
                for s in v["sleeps"].as_array().cloned().unwrap_or_default() {
                    fleetshift_clock::sleep(Duration::from_secs(s.as_u64().unwrap())).await;
                    ctx.heartbeat();
                }
                Ok::<_, TaskFailure>(json!("done"))
            }),
        )
        .handler(
            "hang",
            with_context(|_: Value, ctx| async move {
                ctx.heartbeat();
                std::future::pending::<Result<Value, TaskFailure>>().await
            }),
        )
        .build()
}

fn def(heartbeat: &str, function: &str) -> Arc<Definition> {
    Arc::new(
        Definition::parse(&format!(
            r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task",{heartbeat},
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:{function}",
            "Catch":[{{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"Late"}}],"End":true}},
            "Late":{{"Type":"Pass","End":true}}}}}}"#
        ))
        .unwrap(),
    )
}

async fn run(engine: &Engine, d: Arc<Definition>, input: Value) -> ExecutionDescription {
    let sm = engine.state_machine_arn("m");
    tokio::time::timeout(Duration::from_secs(30), engine.run(d, &sm, None, input))
        .await
        .expect("the execution never ended")
        .unwrap()
}

#[tokio::test]
async fn heartbeats_within_the_interval_keep_the_task_alive() {
    let engine = engine(Engine::builder());
    let d = run(
        &engine,
        def(r#""HeartbeatSeconds":15"#, "beat"),
        json!({"sleeps": [10, 10, 10, 15]}),
    )
    .await;
    assert_eq!(d.output, Some(json!("done")), "{d:?}");
    assert_eq!(took(&d), Duration::from_secs(45));
}

#[tokio::test]
async fn the_first_gap_longer_than_the_interval_times_the_task_out() {
    let engine = engine(Engine::builder());
    // 10 s, then 20 s without a heartbeat: out at 10 + 15
    let d = run(
        &engine,
        def(r#""HeartbeatSeconds":15"#, "beat"),
        json!({"sleeps": [10, 20, 1]}),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        d.output.as_ref().unwrap()["Error"],
        "States.HeartbeatTimeout"
    );
    assert_eq!(took(&d), Duration::from_secs(25));
    let h = engine.history(&d.execution_arn).unwrap();
    let timed_out = h
        .iter()
        .find(|e| e.event_type == "LambdaFunctionTimedOut")
        .unwrap();
    assert_eq!(
        timed_out.details.as_ref().unwrap().1["error"],
        "States.HeartbeatTimeout"
    );
    // from the last heartbeat to the end counts too
    let d = run(
        &engine,
        def(r#""HeartbeatSecondsPath":"$.every""#, "beat"),
        json!({"sleeps": [5], "every": 4}),
    )
    .await;
    assert_eq!(
        d.output.as_ref().unwrap()["Error"],
        "States.HeartbeatTimeout"
    );
    assert_eq!(took(&d), Duration::from_secs(4));
}

#[tokio::test]
async fn a_heartbeat_seconds_path_that_is_no_positive_integer_is_a_runtime_error() {
    let engine = engine(Engine::builder());
    let d = run(
        &engine,
        def(r#""HeartbeatSecondsPath":"$.every""#, "beat"),
        json!({"sleeps": [], "every": "soon"}),
    )
    .await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("HeartbeatSecondsPath"));
}

#[tokio::test]
async fn a_handler_that_stops_sending_heartbeats_is_caught_on_the_wall_clock() {
    // virtual time: no virtual time passes while it hangs; the watchdog ends it
    let engine_v = engine(Engine::builder());
    let d = run(&engine_v, def(r#""HeartbeatSeconds":1"#, "hang"), json!({})).await;
    assert_eq!(
        d.output.as_ref().unwrap()["Error"],
        "States.HeartbeatTimeout"
    );
    assert_eq!(took(&d), Duration::from_secs(1));
    // real time
    let engine_r = engine(Engine::builder().real_time());
    let d = run(&engine_r, def(r#""HeartbeatSeconds":1"#, "hang"), json!({})).await;
    assert_eq!(
        d.output.as_ref().unwrap()["Error"],
        "States.HeartbeatTimeout"
    );
}

#[tokio::test]
async fn task_scheduled_names_the_heartbeat_read_from_its_path() {
    // A service integration's TaskScheduled carries heartbeatInSeconds, resolved from the Path
    // form as from the fixed one.
    const RESOURCE: &str = "arn:aws:states:::aws-sdk:workspaces:describeWorkspaces";
    let engine = Engine::builder()
        .handler(RESOURCE, |_: Value| async move {
            Ok::<_, TaskFailure>(json!({}))
        })
        .build();
    let d = Arc::new(
        Definition::parse(&format!(
            r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{RESOURCE}",
            "HeartbeatSecondsPath":"$.every","End":true}}}}}}"#
        ))
        .unwrap(),
    );
    let done = run(&engine, d, json!({"every": 42})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let h = engine.history(&done.execution_arn).unwrap();
    let scheduled = h
        .iter()
        .find(|e| e.event_type == "TaskScheduled")
        .expect("TaskScheduled");
    assert_eq!(
        scheduled.details.as_ref().unwrap().1["heartbeatInSeconds"],
        json!(42)
    );
}

//! A handler that hangs, or waits on real I/O, on the virtual clock: the Task's window holds on
//! the wall clock too, so the Task ends in `States.Timeout` as it would on AWS.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionDescription, ExecutionStatus, TaskFailure};

mod common;

use common::{took, types};

fn def(json: &str) -> Arc<Definition> {
    Arc::new(Definition::parse(json).unwrap())
}

/// `hang` never answers; `io` answers after 20 ms of wall-clock time.
fn engine(builder: sfn_local::EngineBuilder) -> Engine {
    builder
        .handler("hang", |_: Value| async move {
            std::future::pending::<Result<Value, TaskFailure>>().await
        })
        .handler("io", |v: Value| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, TaskFailure>(v)
        })
        .build()
}

async fn run(engine: &Engine, d: Arc<Definition>) -> ExecutionDescription {
    let sm = engine.state_machine_arn("m");
    // a hang here is the bug: fail rather than block the suite
    tokio::time::timeout(Duration::from_secs(30), engine.run(d, &sm, None, json!({})))
        .await
        .expect("the execution never ended")
        .unwrap()
}

#[tokio::test]
async fn a_hung_handler_times_out_at_its_timeout_seconds() {
    let engine = engine(Engine::builder());
    let d = run(
        &engine,
        def(
            r#"{"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":1,
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:hang",
            "Catch":[{"ErrorEquals":["States.Timeout"],"Next":"Caught"}],"End":true},
            "Caught":{"Type":"Pass","End":true}}}"#,
        ),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.output.as_ref().unwrap()["Error"], "States.Timeout");
    assert_eq!(took(&d), Duration::from_secs(1));
    assert!(types(&engine, &d).contains(&"LambdaFunctionTimedOut"));
}

#[tokio::test]
async fn a_hung_handler_times_the_execution_out_at_its_timeout_seconds() {
    let engine = engine(Engine::builder());
    let d = run(
        &engine,
        def(
            r#"{"TimeoutSeconds":1,"StartAt":"T","States":{"T":{"Type":"Task",
            "Resource":"arn:aws:states:::lambda:invoke",
            "Parameters":{"FunctionName":"hang","Payload.$":"$"},"End":true}}}"#,
        ),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::TimedOut, "{d:?}");
    assert_eq!(took(&d), Duration::from_secs(1));
}

#[tokio::test]
async fn the_engines_handler_time_limit_ends_a_hung_handler() {
    let engine = engine(Engine::builder().handler_time_limit(Duration::from_millis(100)));
    // with TimeoutSeconds: the Task ends there on the virtual clock
    let d = run(
        &engine,
        def(
            r#"{"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":3600,
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:hang","End":true}}}"#,
        ),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(took(&d), Duration::from_secs(3600));
    // without: it ends after the limit, and can be retried
    let d = run(
        &engine,
        def(r#"{"StartAt":"T","States":{"T":{"Type":"Task",
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:hang",
            "Retry":[{"ErrorEquals":["States.Timeout"],"MaxAttempts":1,"IntervalSeconds":1}],
            "End":true}}}"#),
    )
    .await;
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        types(&engine, &d)
            .iter()
            .filter(|t| **t == "LambdaFunctionTimedOut")
            .count(),
        2
    );
    assert_eq!(took(&d), Duration::from_millis(1200));
}

#[tokio::test]
async fn a_handler_waiting_on_real_io_within_its_window_succeeds() {
    let engine = engine(Engine::builder());
    let d = run(
        &engine,
        def(
            r#"{"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":30,
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:io","End":true}}}"#,
        ),
    )
    .await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    // real I/O takes no virtual time
    assert_eq!(took(&d), Duration::ZERO);
}

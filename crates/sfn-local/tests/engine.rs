//! Behaviour of the engine through its public API.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionStatus, StartError, TaskFailure};

mod common;

use common::{took, types};

fn def(json: &str) -> Arc<Definition> {
    Arc::new(Definition::parse(json).unwrap())
}

#[tokio::test]
async fn retries_on_virtual_time_then_catches() {
    let d = def(r#"{"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
             "Retry":[{"ErrorEquals":["Busy"],"IntervalSeconds":10,"MaxAttempts":2,"BackoffRate":3}],
             "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"C"}],"End":true},
        "C":{"Type":"Pass","End":true}}}"#);
    let engine = Engine::builder()
        .handler("flaky", |_: Value| async move {
            Err::<Value, _>(TaskFailure::new("Busy", "try later"))
        })
        .build();
    let sm = engine.state_machine_arn("m");
    let out = engine
        .run(d, &sm, Some("a"), json!({"k": 1}))
        .await
        .unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(out.output.as_ref().unwrap()["err"]["Error"], "Busy");
    // 10 s then 30 s of backoff, on the virtual clock
    assert_eq!(took(&out), Duration::from_secs(40));
    let h = engine.history(&out.execution_arn).unwrap();
    assert_eq!(
        h.iter()
            .filter(|e| e.event_type == "LambdaFunctionFailed")
            .count(),
        3
    );
}

#[tokio::test]
async fn task_timeout_uses_the_handlers_virtual_duration() {
    let d = def(
        r#"{"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":5,
        "Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"slow","Payload.$":"$"},"End":true}}}"#,
    );
    let engine = Engine::builder()
        .handler(
            "arn:aws:lambda:us-east-1:123456789012:function:slow:$LATEST",
            |v: Value| async move {
                fleetshift_clock::sleep(Duration::from_secs(60)).await;
                Ok(v)
            },
        )
        .build();
    let sm = engine.state_machine_arn("m");
    let out = engine.run(d, &sm, None, json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        out.stop_date
            .unwrap()
            .duration_since(out.start_date)
            .unwrap(),
        Duration::from_secs(5)
    );
}

#[tokio::test]
async fn map_iterations_run_on_their_own_clocks() {
    let d = def(
        r#"{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,"ItemProcessor":{
        "StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$","End":true}}},"End":true}}}"#,
    );
    let engine = Engine::builder().build();
    let sm = engine.state_machine_arn("m");
    let out = engine
        .run(d, &sm, None, json!([10, 10, 10, 10]))
        .await
        .unwrap();
    assert_eq!(out.output, Some(json!([10, 10, 10, 10])));
    // two at a time: 20 s in all
    assert_eq!(
        out.stop_date
            .unwrap()
            .duration_since(out.start_date)
            .unwrap(),
        Duration::from_secs(20)
    );
}

#[tokio::test]
async fn names_are_unique_per_state_machine() {
    let d = def(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#);
    let engine = Engine::builder().build();
    let sm = engine.state_machine_arn("m");
    let a = engine
        .run(d.clone(), &sm, Some("n"), json!({}))
        .await
        .unwrap();
    let again = engine.start_execution(d, &sm, Some("n"), json!({}));
    assert_eq!(
        again,
        Err(StartError::ExecutionAlreadyExists(a.execution_arn.clone()))
    );
    assert_eq!(engine.list(&sm).len(), 1);
    assert_eq!(
        engine.describe(&a.execution_arn).unwrap().status,
        ExecutionStatus::Succeeded
    );
}

#[tokio::test]
async fn background_start_and_wait() {
    let d = def(r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#);
    let engine = Engine::builder().build();
    let sm = engine.state_machine_arn("m");
    let arn = engine
        .start_execution(d, &sm, Some("bg"), json!({"a": 1}))
        .unwrap();
    let out = engine.wait(&arn).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(out.output, Some(json!({"a": 1})));
}

#[tokio::test]
async fn seeded_intrinsics_repeat() {
    let d = def(
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
        "id.$":"States.UUID()","n.$":"States.MathRandom(1, 1000000000)","again.$":"States.UUID()"},
        "End":true}}}"#,
    );
    let run = |seed: Option<u64>| {
        let d = d.clone();
        async move {
            let b = Engine::builder();
            let engine = match seed {
                Some(s) => b.seed(s),
                None => b,
            }
            .build();
            let sm = engine.state_machine_arn("m");
            engine
                .run(d, &sm, Some("a"), json!({}))
                .await
                .unwrap()
                .output
                .unwrap()
        }
    };
    let a = run(Some(42)).await;
    assert_eq!(a, run(Some(42)).await);
    assert_ne!(a["id"], a["again"]);
    assert_ne!(a["id"], run(Some(43)).await["id"]);
    assert_ne!(run(None).await["id"], run(None).await["id"]);
    assert_eq!(a["id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn task_failing_in_a_parallel_branch_is_aborted() {
    let d = def(
        r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
        "Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],
        "Branches":[{"StartAt":"T","States":{"T":{"Type":"Task",
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:boom","End":true}}}]},
        "C":{"Type":"Pass","End":true}}}"#,
    );
    let engine = Engine::builder()
        .handler("boom", |_: Value| async move {
            Err::<Value, _>(TaskFailure::new("Exception", "no"))
        })
        .build();
    let sm = engine.state_machine_arn("m");
    let out = engine.run(d, &sm, Some("a"), json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(
        types(&engine, &out),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "TaskStateAborted",
            "ParallelStateFailed",
            "ParallelStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

fn slow_engine() -> Engine {
    Engine::builder()
        .handler("slow", |v: Value| async move {
            fleetshift_clock::sleep(Duration::from_secs(60)).await;
            Ok::<_, TaskFailure>(v)
        })
        .build()
}

#[tokio::test]
async fn a_handler_running_past_the_execution_timeout_times_the_execution_out() {
    // The last state: without the cap the execution would succeed at 60 s.
    let d = def(
        r#"{"TimeoutSeconds":10,"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow",
        "Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},
        "C":{"Type":"Pass","End":true}}}"#,
    );
    let engine = slow_engine();
    let sm = engine.state_machine_arn("m");
    let out = engine.run(d, &sm, None, json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::TimedOut);
    assert_eq!(took(&out), Duration::from_secs(10));
    assert_eq!(
        types(&engine, &out),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "ExecutionTimedOut"
        ]
    );
}

#[tokio::test]
async fn the_earlier_of_task_and_execution_timeout_wins() {
    let engine = slow_engine();
    let sm = engine.state_machine_arn("m");
    // the task's 5 s end first: a catchable States.Timeout
    let d = def(
        r#"{"TimeoutSeconds":30,"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":5,
        "Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","End":true}}}"#,
    );
    let out = engine.run(d, &sm, None, json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(took(&out), Duration::from_secs(5));
    // the execution's 20 s end first
    let d = def(
        r#"{"TimeoutSeconds":20,"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":50,
        "Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","End":true}}}"#,
    );
    let out = engine.run(d, &sm, None, json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::TimedOut);
    assert_eq!(took(&out), Duration::from_secs(20));
}

#[tokio::test]
async fn children_running_past_the_execution_timeout_time_the_parent_out() {
    // A Distributed Map's children have no deadline of their own; the parent ends at its own.
    let d = def(
        r#"{"TimeoutSeconds":100,"StartAt":"M","States":{"M":{"Type":"Map","End":true,
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
          "StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}}}}"#,
    );
    let engine = Engine::builder().build();
    let sm = engine.state_machine_arn("m");
    let out = engine.run(d, &sm, None, json!([1])).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::TimedOut);
    assert_eq!(took(&out), Duration::from_secs(100));
}

#[tokio::test]
async fn states_of_one_branch_draw_their_own_jitter() {
    // Two states, same retrier with FULL jitter, same branch, same retry counts.
    let d = def(r#"{"StartAt":"A","States":{
        "A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:busy",
             "Retry":[{"ErrorEquals":["Busy"],"IntervalSeconds":100,"MaxAttempts":1,"JitterStrategy":"FULL"}],
             "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"B"}],"End":true},
        "B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:busy",
             "Retry":[{"ErrorEquals":["Busy"],"IntervalSeconds":100,"MaxAttempts":1,"JitterStrategy":"FULL"}],
             "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"C"}],"End":true},
        "C":{"Type":"Succeed"}}}"#);
    let engine = Engine::builder()
        .seed(1)
        .handler("busy", |_: Value| async move {
            Err::<Value, _>(TaskFailure::new("Busy", "later"))
        })
        .build();
    let sm = engine.state_machine_arn("m");
    let out = engine.run(d, &sm, Some("j"), json!({})).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    let h = engine.history(&out.execution_arn).unwrap();
    // the wait of each state: from its first failure to its second scheduling
    let mut waits = Vec::new();
    let mut failed_at = None;
    for e in &h {
        match e.event_type {
            "LambdaFunctionFailed" => failed_at = Some(e.timestamp),
            "LambdaFunctionScheduled" => {
                if let Some(t) = failed_at.take() {
                    waits.push(e.timestamp.duration_since(t).unwrap());
                }
            }
            "TaskStateEntered" => failed_at = None,
            _ => {}
        }
    }
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(100)));
    assert_ne!(waits[0], waits[1]);
}

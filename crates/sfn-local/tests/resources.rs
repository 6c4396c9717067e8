//! Task resources are checked when the definition is loaded, as AWS checks them when the state
//! machine is created: an unrecognised resource, or an integration pattern this engine does not
//! run, is a `DefinitionError` naming the state and the rule.

use std::sync::Arc;

use serde_json::{Value, json};
use sfn_local::{Definition, DefinitionError, Engine, ExecutionStatus, TaskFailure};

fn task(resource: &str) -> Result<Definition, DefinitionError> {
    Definition::from_value(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": resource, "End": true}
    }}))
}

#[test]
fn lambda_functions_and_request_response_integrations_load() {
    for r in [
        "arn:aws:lambda:us-east-1:123456789012:function:start-migration",
        "arn:aws:lambda:us-east-1:123456789012:function:start-migration:$LATEST",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:f:prod",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::events:putEvents",
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::states:startExecution",
        "arn:aws:states:::aws-sdk:workspaces:migrateWorkspace",
    ] {
        task(r).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
}

#[test]
fn an_unrecognised_resource_is_rejected_at_load() {
    for r in [
        "arn:x",
        "not-an-arn",
        "arn:aws:s3:::bucket",
        "arn:aws:lambda:us-east-1:123456789012:layer:l",
        "arn:aws:lambda:us-east-1:123456789012:function:",
        "arn:aws:states:::nosuchservice:doIt",
        "arn:aws:states:::lambda:call",
        "arn:aws:states:::aws-sdk:s3",
        // patterns AWS does not offer for the service
        "arn:aws:states:::lambda:invoke.sync",
        "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
        "arn:aws:states:::aws-sdk:codebuild:startBuild.sync",
    ] {
        let e = task(r).expect_err(r);
        assert_eq!(e.state, "T", "{r}");
        assert!(e.message.contains("is not recognized"), "{r}: {e}");
        assert!(e.message.contains(r), "{r}: {e}");
    }
}

#[test]
fn callbacks_jobs_and_activities_are_rejected_at_load() {
    for (r, rule) in [
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "the .waitForTaskToken integration pattern is not supported",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "the .sync:2 integration pattern is not supported",
        ),
        (
            "arn:aws:states:::ecs:runTask.sync",
            "the .sync integration pattern is not supported",
        ),
        (
            "arn:aws:states:us-east-1:123456789012:activity:approve",
            "activities are not supported",
        ),
    ] {
        let e = task(r).expect_err(r);
        assert_eq!(e.state, "T");
        assert!(e.message.contains(rule), "{r}: {e}");
    }
}

#[test]
fn a_nested_state_is_named_by_its_path() {
    let e = Definition::from_value(json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                  "End": true}}}]}
    }}))
    .unwrap_err();
    assert!(e.state.starts_with('P') && e.state.ends_with('T'), "{e}");
    assert!(e.message.contains(".waitForTaskToken"), "{e}");
}

#[tokio::test]
async fn a_service_integration_runs_its_registered_handler() {
    let def = Arc::new(task("arn:aws:states:::sns:publish").unwrap());
    let engine = Engine::builder()
        .handler("arn:aws:states:::sns:publish", |v: Value| async move {
            Ok::<_, TaskFailure>(json!({"MessageId": "m-1", "sent": v}))
        })
        .build();
    let sm = engine.state_machine_arn("m");
    let d = engine.run(def, &sm, None, json!({"x": 1})).await.unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        d.output,
        Some(json!({"MessageId": "m-1", "sent": {"x": 1}}))
    );
    // with no handler the engine cannot call the service: a runtime error, as before
    let def = Arc::new(task("arn:aws:states:::sqs:sendMessage").unwrap());
    let d = engine.run(def, &sm, None, json!({})).await.unwrap();
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[test]
fn the_projects_state_machines_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../state-machines");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".asl.json") {
            continue;
        }
        // DefinitionSubstitutions as the stack makes them: function ARNs, numbers
        let mut text = std::fs::read_to_string(&path).unwrap();
        while let Some(i) = text.find("${") {
            let j = i + text[i..].find('}').unwrap();
            let name = &text[i + 2..j];
            let value = match name.strip_suffix("FunctionArn") {
                Some(f) => format!("arn:aws:lambda:us-east-1:123456789012:function:{f}"),
                None => "10".to_string(),
            };
            text.replace_range(i..=j, &value);
        }
        Definition::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        loaded += 1;
    }
    assert!(loaded > 0, "no state machine under {dir}");
}

//! The stack's trust boundaries offline, with IAM enforced as template.yaml grants it: who may start
//! a wave through the stack's bus (its policy, the rule's pattern, start-wave's own check), that a
//! duplicate delivery starts one execution, and, for each grant that was wrong on AWS, that the
//! earlier template's statement is refused where the fixed one works.

use std::sync::Arc;

use cloud_local::iam::{Policy, Principal};
use fleetshift::functions::TEMPLATE;
use fleetshift::local_aws::sdk_config_as;
use fleetshift::{LocalStack, StackError, StackOptions, fleet_for_plan, parameters_for_plan};
use fleetshift_core::Plan;
use serde_json::{Value, json};

mod invariants;
use invariants::check_invariants;

const ACCOUNT: &str = "123456789012";
const BUS: &str = "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves";

fn plan(wave: &str, n: usize, extra: Value) -> Value {
    let mut p = json!({
        "waveId": wave,
        "bundleId": "wsb-target0001",
        "workspaces": (0..n).map(|i| json!({"workspaceId": format!("ws-sec{i:05}")})).collect::<Vec<_>>(),
    });
    for (k, v) in extra.as_object().expect("an object") {
        p[k] = v.clone();
    }
    p
}

async fn stack_with(plan: &Value, options: StackOptions) -> LocalStack {
    let parsed = Plan::parse(plan).expect("test plans are valid");
    let mut parameters = parameters_for_plan(&parsed);
    parameters.extend(options.parameters.clone());
    LocalStack::start(StackOptions {
        fleet: fleet_for_plan(&parsed),
        parameters,
        ..options
    })
    .await
    .expect("stack starts")
}

/// A caller of the stack's account or another, allowed `events:PutEvents` on the stack's bus by
/// its own identity policy (so only the bus's policy can refuse it); returns its SDK configuration.
fn caller(stack: &LocalStack, role_arn: &str, key: &str) -> aws_config::SdkConfig {
    let policy = Policy::parse(&json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS}],
    }))
    .expect("a valid policy");
    stack.cloud.register_principal(
        key,
        Principal::assumed_role(role_arn, "someone", vec![policy]).expect("a role ARN"),
    );
    sdk_config_as(&stack.cloud.endpoint_url(), key)
}

fn refused(err: StackError) -> String {
    match err {
        StackError::NotStarted(why) => why,
        other => panic!("expected a refused request, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_of_the_account_starts_a_wave_through_the_bus() {
    let p = plan("sec-ok", 3, json!({}));
    let stack = stack_with(&p, StackOptions::default()).await;
    let report = stack.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    check_invariants(&stack, &p, &report);
    let d = stack.cloud.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].rule, "fleetshift-wave-requested");
    assert_eq!(
        d[0].target_arn,
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-wave:live"
    );
    assert_eq!(d[0].event["account"], ACCOUNT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_requested_from_another_account_starts_nothing() {
    let p = plan("sec-foreign", 2, json!({}));
    let stack = stack_with(&p, StackOptions::default()).await;
    let outsider = caller(
        &stack,
        "arn:aws:iam::210987654321:role/intruder",
        "AKIDOTHERACCOUNT",
    );
    let why = refused(stack.request_execution(&outsider, &p).await.unwrap_err());
    assert_eq!(
        why,
        "PutEvents refused the event: AccessDeniedException: User: arn:aws:sts::210987654321:assumed-role/intruder/someone is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves with an explicit deny in a resource-based policy"
    );
    assert!(stack.cloud.deliveries().is_empty());
    assert!(stack.engine.list(&stack.state_machine_arn).is_empty());
    assert!(stack.cloud.migrations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_named_operators_start_waves_when_the_stack_names_them() {
    let p = plan("sec-operators", 2, json!({}));
    let stack = stack_with(
        &p,
        StackOptions::default().parameter(
            "OperatorPrincipalArns",
            "arn:aws:iam::123456789012:role/wave-operators",
        ),
    )
    .await;
    // The CLI's own session (role fleetshift-operator) is of the account but not named.
    let why = refused(stack.request_wave(&p).await.unwrap_err());
    assert_eq!(
        why,
        "PutEvents refused the event: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/fleetshift-operator/local is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves with an explicit deny in a resource-based policy"
    );
    assert!(stack.engine.list(&stack.state_machine_arn).is_empty());

    let operator = caller(
        &stack,
        "arn:aws:iam::123456789012:role/wave-operators",
        "AKIDWAVEOPERATOR",
    );
    let done = stack
        .request_execution(&operator, &p)
        .await
        .expect("a named operator starts the wave");
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    assert_eq!(stack.engine.list(&stack.state_machine_arn).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_but_push_hub_update_publishes_progress_on_the_bus() {
    let p = plan("sec-forge", 1, json!({}));
    let stack = stack_with(&p, StackOptions::default()).await;
    let events = aws_sdk_eventbridge::Client::new(&stack.sdk);
    let forged = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name("fleetshift-waves")
        .source("fleetshift")
        .detail_type("Wave Finished")
        .detail(r#"{"waveId": "sec-forge", "failed": 0}"#)
        .build();
    let err = events
        .put_events()
        .entries(forged)
        .send()
        .await
        .unwrap_err();
    use aws_sdk_eventbridge::error::ProvideErrorMetadata;
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(
        err.message(),
        Some(
            "User: arn:aws:sts::123456789012:assumed-role/fleetshift-operator/local is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves with an explicit deny in a resource-based policy"
        )
    );
    assert!(stack.cloud.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_through_the_bus_starts_one_execution() {
    let p = plan("sec-dup", 2, json!({}));
    let stack = stack_with(&p, StackOptions::default()).await;
    // Two deliveries of the same plan (EventBridge delivers at least once; an operator may send
    // it twice): one execution.
    stack
        .put_wave_requested(&stack.sdk, &p)
        .await
        .expect("first");
    stack
        .put_wave_requested(&stack.sdk, &p)
        .await
        .expect("second");
    stack.cloud.deliveries_idle().await;
    let executions = stack.engine.list(&stack.state_machine_arn);
    assert_eq!(executions.len(), 1, "{:#?}", stack.cloud.deliveries());
    let answers: Vec<Value> = stack
        .cloud
        .deliveries()
        .into_iter()
        .map(|d| match d.outcome {
            cloud_local::DeliveryOutcome::Succeeded { response } => response,
            other => panic!("start-wave failed: {other:?}"),
        })
        .collect();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["executionArn"], answers[1]["executionArn"]);
    // Step Functions answers the second StartExecution (same name and input, still running) with
    // the first execution: both deliveries read as its start (start-wave tells a duplicate apart
    // only when it arrives seconds later, as the README says).
    assert_eq!(answers[0]["executionName"], answers[1]["executionName"]);
    let done = stack
        .engine
        .wait(&executions[0].execution_arn)
        .await
        .expect("it ends");
    assert_eq!(done.status.as_str(), "SUCCEEDED");
    assert_eq!(
        stack.cloud.migrations().len(),
        2,
        "each WorkSpace migrated once"
    );
}

// ---- the grants that were wrong on AWS: the earlier statement is refused, the fixed one works

/// A stack for `plan` deployed from template.yaml with `fixed` replaced by `earlier` (the
/// statement as it was before the fix).
async fn earlier_stack(plan: &Value, fixed: &str, earlier: &str) -> LocalStack {
    assert!(
        TEMPLATE.contains(fixed),
        "template.yaml no longer has the fixed statement:\n{fixed}"
    );
    let template: Arc<str> = Arc::from(TEMPLATE.replacen(fixed, earlier, 1));
    stack_with(
        plan,
        StackOptions {
            template: Some(template),
            ..StackOptions::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_gate_is_denied_with_the_earlier_grant_on_workspaceimage() {
    let p = plan(
        "sec-image",
        2,
        json!({"image": {"imageId": "wsi-abcd12345"}}),
    );
    let before = earlier_stack(
        &p,
        "Action: workspaces:DescribeCustomWorkspaceImageImport\n              Resource: \"*\"",
        "Action: workspaces:DescribeCustomWorkspaceImageImport\n              Resource: !Sub arn:${AWS::Partition}:workspaces:${AWS::Region}:${AWS::AccountId}:workspaceimage/*",
    )
    .await;
    let report = before.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.status, "FAILED");
    assert!(before.cloud.migrations().is_empty(), "nothing migrated");
    let denials = before.cloud.denials();
    assert!(!denials.is_empty());
    assert_eq!(
        denials[0].message,
        "User: arn:aws:sts::123456789012:assumed-role/fleetshift-PollImageImportFunctionRole/fleetshift-poll-image-import is not authorized to perform: workspaces:DescribeCustomWorkspaceImageImport on resource: * because no identity-based policy allows the workspaces:DescribeCustomWorkspaceImageImport action"
    );

    let fixed = stack_with(&p, StackOptions::default()).await;
    let report = fixed.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    check_invariants(&fixed, &p, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_tags_are_denied_with_the_earlier_create_tags_grant() {
    let p = plan(
        "sec-tags",
        1,
        json!({"standby": {"region": "us-west-2", "directoryId": "d-2000000002",
                           "tags": [{"key": "fleetshift:wave", "value": "sec-tags"}]}}),
    );
    let before = earlier_stack(
        &p,
        "Action: workspaces:CreateTags\n              Resource: \"*\"",
        "Action: workspaces:CreateTags\n              Resource: !Sub arn:${AWS::Partition}:workspaces:*:${AWS::AccountId}:*",
    )
    .await;
    let report = before.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.workspaces[0].status, "COMPLETED");
    assert!(before.cloud.standbys().is_empty(), "no standby was created");
    let denials = before.cloud.denials();
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0].action, "workspaces:CreateTags");
    assert_eq!(denials[0].resource, "*");

    let fixed = stack_with(&p, StackOptions::default()).await;
    let report = fixed.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.status, "SUCCEEDED", "{}", report.render());
    assert_eq!(fixed.cloud.standbys().len(), 1);
    check_invariants(&fixed, &p, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_polls_are_denied_with_the_earlier_get_migration_grant() {
    let bots = json!([{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST",
        "v2BotName": "OrderFlowersV2", "v2BotRole": "arn:aws:iam::123456789012:role/LexV2",
        "migrationStrategy": "CREATE_NEW"}]);
    let p = plan("sec-bots", 0, json!({"lexBots": bots}));
    let before = earlier_stack(
        &p,
        "Action: lex:GetMigration\n                Resource: \"*\"",
        "Action: lex:GetMigration\n                Resource: !Sub arn:${AWS::Partition}:lex:${AWS::Region}:${AWS::AccountId}:*",
    )
    .await;
    let report = before.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.bots[0].status, "FAILED");
    let denials = before.cloud.denials();
    assert!(!denials.is_empty());
    assert!(
        denials.iter().all(|d| d.action == "lex:GetMigration"),
        "{denials:?}"
    );

    let fixed = stack_with(&p, StackOptions::default()).await;
    let report = fixed.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.bots[0].status, "COMPLETED", "{}", report.render());
    check_invariants(&fixed, &p, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_cannot_be_invoked_with_a_grant_on_the_unqualified_function() {
    let p = plan("sec-invoke", 1, json!({}));
    let before = earlier_stack(
        &p,
        "- !Sub ${StartMigrationFunction.Arn}:*",
        "- !GetAtt StartMigrationFunction.Arn",
    )
    .await;
    let report = before.request_wave(&p).await.expect("the wave starts");
    assert_eq!(report.workspaces[0].status, "FAILED");
    let cause = report.workspaces[0].cause.clone().unwrap_or_default();
    assert!(
        cause.contains("Lambda.AWSLambdaException")
            && cause.contains("is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-migration:1"),
        "{cause}"
    );
    assert!(before.cloud.migrations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_plan_through_the_bus_lands_in_the_failure_queue_with_its_error() {
    let good = plan("sec-invalid", 1, json!({}));
    let stack = stack_with(&good, StackOptions::default()).await;
    let mut bad = good.clone();
    bad["workspaces"][0]["workspaceId"] = json!("WS-NOT-AN-ID");
    let why = refused(stack.request_execution(&stack.sdk, &bad).await.unwrap_err());
    let queue = stack
        .model
        .queues
        .first()
        .map(|q| q.arn.clone())
        .expect("the stack has its failure queue");
    assert_eq!(
        queue,
        "arn:aws:sqs:us-east-1:123456789012:fleetshift-StartWaveFailedQueue"
    );
    assert!(
        why.starts_with("start-wave failed: InvalidPlan: invalid plan: detail.workspaces[0].workspaceId: must match")
            && why.ends_with(&format!("(the event went to {queue})")),
        "{why}"
    );
    // One retry (the function's MaximumRetryAttempts), then the invocation record, whose request
    // payload is the event: fix the plan and put it again.
    let messages = stack.cloud.queue_messages(&queue);
    assert_eq!(messages.len(), 1);
    let record = messages[0].json();
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(record["requestPayload"]["detail"], bad);
    assert_eq!(record["responsePayload"]["errorType"], "InvalidPlan");
    assert!(stack.engine.list(&stack.state_machine_arn).is_empty());
    assert_eq!(
        stack
            .cloud
            .mutating_calls()
            .iter()
            .filter(|c| c.operation != "PutEvents")
            .count(),
        0
    );
}

// ---- PutEvents on the stack's bus under both plausible evaluations (per entry, whole request)

mod put_events {
    use std::collections::{BTreeMap, HashMap};

    use aws_sdk_eventbridge::error::ProvideErrorMetadata;
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    use cloud_local::iam::{IamOptions, Policy, Principal, PutEventsEvaluation};
    use cloud_local::{BusSpec, CloudLocal, Options, Running};
    use fleetshift::functions::stack_model_of;
    use fleetshift::local_aws::sdk_config_as;
    use serde_json::json;

    const OPERATOR: &str = "AKIDOPERATOR";
    const PUSH: &str = "AKIDPUSHHUBUPDATE";

    /// cloud-local with template.yaml's bus and push-hub-update's role as `template` gives them,
    /// and an operator allowed PutEvents on the bus by its own policy.
    async fn bus(template: &str, evaluation: PutEventsEvaluation) -> Running {
        let model = stack_model_of(template, &BTreeMap::new()).expect("the template resolves");
        let wave_bus = model
            .event_buses
            .iter()
            .find(|b| b.logical_id.as_deref() == Some("WaveBus"))
            .expect("the stack's bus");
        let push = model
            .function_by_binary("push-hub-update")
            .expect("push-hub-update");
        let policies = |docs: &[serde_json::Value]| -> Vec<Policy> {
            docs.iter().map(|d| Policy::parse(d).unwrap()).collect()
        };
        let operator_policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": wave_bus.arn}]});
        CloudLocal::start(Options {
            buses: vec![BusSpec {
                name: wave_bus.name.clone(),
                policy: wave_bus.policy.clone(),
            }],
            iam: IamOptions {
                principals: HashMap::from([
                    (
                        OPERATOR.to_owned(),
                        Principal::assumed_role(
                            "arn:aws:iam::123456789012:role/ops",
                            "me",
                            policies(&[operator_policy]),
                        )
                        .unwrap(),
                    ),
                    (
                        PUSH.to_owned(),
                        Principal::assumed_role(
                            &push.role_arn,
                            &push.name,
                            policies(&push.policies),
                        )
                        .unwrap(),
                    ),
                ]),
                put_events: evaluation,
                ..IamOptions::default()
            },
            ..Options::default()
        })
        .await
        .expect("cloud-local starts")
    }

    fn entry(detail_type: &str) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name("fleetshift-waves")
            .source("fleetshift")
            .detail_type(detail_type)
            .detail("{}")
            .build()
    }

    /// What PutEvents of `detail_types` signed with `key` publishes: the detail types accepted,
    /// or the request's error code.
    async fn put(cloud: &Running, key: &str, detail_types: &[&str]) -> Result<Vec<String>, String> {
        let client = aws_sdk_eventbridge::Client::new(&sdk_config_as(&cloud.endpoint_url(), key));
        let before = cloud.events().len();
        let mut req = client.put_events();
        for d in detail_types {
            req = req.entries(entry(d));
        }
        req.send()
            .await
            .map_err(|e| e.code().unwrap_or("?").to_owned())?;
        Ok(cloud.events()[before..]
            .iter()
            .map(|e| e.detail_type.clone())
            .collect())
    }

    #[tokio::test]
    async fn progress_is_published_only_by_push_hub_update_under_either_evaluation() {
        for evaluation in [
            PutEventsEvaluation::PerEntry,
            PutEventsEvaluation::WholeRequest,
        ] {
            let cloud = bus(fleetshift::functions::TEMPLATE, evaluation).await;
            // push-hub-update's own batches.
            assert_eq!(
                put(&cloud, PUSH, &["Migration Progress", "Wave Finished"]).await,
                Ok(vec![
                    "Migration Progress".to_owned(),
                    "Wave Finished".to_owned()
                ]),
                "{evaluation:?}"
            );
            // Never Wave Requested, alone or hidden in a batch of its own.
            let sneaky = put(&cloud, PUSH, &["Migration Progress", "Wave Requested"]).await;
            assert!(
                !sneaky
                    .clone()
                    .unwrap_or_default()
                    .contains(&"Wave Requested".to_owned()),
                "{evaluation:?}: {sneaky:?}"
            );
            // The operator's Wave Requested, but never progress, not even mixed into a batch.
            assert_eq!(
                put(&cloud, OPERATOR, &["Wave Requested"]).await,
                Ok(vec!["Wave Requested".to_owned()]),
                "{evaluation:?}"
            );
            let mixed = put(&cloud, OPERATOR, &["Wave Requested", "Wave Finished"]).await;
            match evaluation {
                PutEventsEvaluation::PerEntry => {
                    assert_eq!(mixed, Ok(vec!["Wave Requested".to_owned()]))
                }
                PutEventsEvaluation::WholeRequest => {
                    assert_eq!(mixed, Err("AccessDeniedException".to_owned()))
                }
            }
        }
    }

    #[tokio::test]
    async fn a_deny_on_all_values_would_let_mixed_batches_through_the_whole_request_evaluation() {
        // The same bus policy with ForAllValues in its Deny (wrong for a multivalued key): the
        // whole-request evaluation lets a mixed batch's forged progress through. This is why the
        // template uses ForAnyValue, and why the test above runs under both evaluations.
        let deny = "            Condition:\n              ForAnyValue:StringEquals:\n                events:detail-type:\n                  - Wave Registered";
        assert!(fleetshift::functions::TEMPLATE.contains(deny));
        let wrong = fleetshift::functions::TEMPLATE.replacen(
            deny,
            &deny.replace("ForAnyValue", "ForAllValues"),
            1,
        );
        let cloud = bus(&wrong, PutEventsEvaluation::WholeRequest).await;
        assert_eq!(
            put(&cloud, OPERATOR, &["Wave Requested", "Wave Finished"]).await,
            Ok(vec![
                "Wave Requested".to_owned(),
                "Wave Finished".to_owned()
            ])
        );
    }
}

//! EventBridge buses, rules and Lambda targets through the real Rust SDK client: what PutEvents
//! accepts reaches the targets of the matching rules, with EventBridge's and Lambda's retries on
//! the caller's virtual clock (no wall-clock waits).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_eventbridge::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_eventbridge::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_eventbridge::error::BoxError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use cloud_local::{
    AsyncInvokeConfig, BusSpec, CloudLocal, DeliveryOutcome, LambdaTargets, Options, RuleSpec,
    Running, TargetError, TargetFuture, TargetSpec,
};
use serde_json::{Value, json};

/// 2027-01-15T08:00:00Z.
const T0: u64 = 1_800_000_000_000;
const START_WAVE: &str = "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-wave";
const WAVES: &str = "fleetshift-waves";
const DLQ: &str = "arn:aws:sqs:us-east-1:123456789012:fleetshift-WaveDeadLetterQueue";
const FAILED: &str = "arn:aws:sqs:us-east-1:123456789012:fleetshift-FailedWaveQueue";

#[derive(Debug)]
struct VirtualTime;

impl Intercept for VirtualTime {
    fn name(&self) -> &'static str {
        "VirtualTime"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-fleetshift-virtual-time", T0.to_string());
        Ok(())
    }
}

/// A target that answers each invocation from a script (the last answer repeats) and records
/// the function ARN, the event and the virtual time of each call.
struct Target {
    answers: Vec<Result<Value, TargetError>>,
    calls: Mutex<Vec<(String, Value, SystemTime)>>,
}

impl Target {
    fn new(answers: Vec<Result<Value, TargetError>>) -> Arc<Self> {
        Arc::new(Self {
            answers,
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<(String, Value, SystemTime)> {
        self.calls.lock().unwrap().clone()
    }

    /// Seconds after T0 of each call.
    fn call_offsets(&self) -> Vec<u64> {
        self.calls()
            .iter()
            .map(|(_, _, t)| (fleetshift_clock::to_millis(*t) - T0) / 1000)
            .collect()
    }
}

impl LambdaTargets for Target {
    fn invoke(&self, function_arn: &str, event: Value) -> TargetFuture<'_> {
        let mut calls = self.calls.lock().unwrap();
        calls.push((function_arn.to_owned(), event, fleetshift_clock::now()));
        let answer = self.answers[(calls.len() - 1).min(self.answers.len() - 1)].clone();
        Box::pin(async move { answer })
    }
}

/// The stack's trigger: `WaveRequestedRule` on `fleetshift-waves`, targeting start-wave's alias.
fn wave_rule(target: TargetSpec) -> RuleSpec {
    RuleSpec {
        name: "WaveRequestedRule".into(),
        arn: None,
        bus: WAVES.into(),
        pattern: json!({
            "source": ["fleetshift"],
            "detail-type": ["Wave Requested"],
            "account": ["123456789012"]
        }),
        enabled: true,
        targets: vec![target],
    }
}

async fn start(
    target: Arc<Target>,
    rule: RuleSpec,
    async_configs: Vec<(&str, AsyncInvokeConfig)>,
) -> (Running, aws_sdk_eventbridge::Client) {
    let cloud = CloudLocal::start(Options {
        buses: vec![BusSpec {
            name: WAVES.into(),
            policy: None,
        }],
        rules: vec![rule],
        lambda_targets: Some(target),
        async_configs: async_configs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..Options::default()
    })
    .await
    .unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(cloud.endpoint_url())
        .load()
        .await;
    let conf = aws_sdk_eventbridge::config::Builder::from(&sdk)
        .interceptor(VirtualTime)
        .build();
    (cloud, aws_sdk_eventbridge::Client::from_conf(conf))
}

fn wave_requested(bus: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source("fleetshift")
        .detail_type("Wave Requested")
        .detail(r#"{"waveId": "wave-1", "plan": {"workspaces": []}}"#)
        .build()
}

#[tokio::test]
async fn a_wave_requested_event_reaches_start_wave_once() {
    let target = Target::new(vec![Ok(json!({"executionArn": "arn:x"}))]);
    let alias = format!("{START_WAVE}:live");
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", &alias)),
        vec![],
    )
    .await;
    let out = eb
        .put_events()
        .entries(wave_requested(WAVES))
        // The same event on the default bus, and another detail type: no rule of theirs.
        .entries(wave_requested("default"))
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name(WAVES)
                .source("fleetshift")
                .detail_type("Wave Completed")
                .detail("{}")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);
    let id = out.entries()[0].event_id().unwrap().to_owned();
    cloud.deliveries_idle().await;

    let calls = target.calls();
    assert_eq!(calls.len(), 1);
    let (arn, event, at) = &calls[0];
    assert_eq!(arn, &alias);
    assert_eq!(fleetshift_clock::to_millis(*at), T0);
    assert_eq!(
        event,
        &json!({
            "version": "0",
            "id": id,
            "detail-type": "Wave Requested",
            "source": "fleetshift",
            "account": "123456789012",
            "time": "2027-01-15T08:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"waveId": "wave-1", "plan": {"workspaces": []}}
        })
    );
    let deliveries = cloud.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].rule, "WaveRequestedRule");
    assert_eq!(
        deliveries[0].rule_arn,
        "arn:aws:events:us-east-1:123456789012:rule/fleetshift-waves/WaveRequestedRule"
    );
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(
        deliveries[0].outcome,
        DeliveryOutcome::Succeeded {
            response: json!({"executionArn": "arn:x"})
        }
    );
    assert_eq!(cloud.events().len(), 3, "every accepted entry is recorded");
}

#[tokio::test]
async fn an_entry_time_becomes_the_event_time() {
    let target = Target::new(vec![Ok(Value::Null)]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", START_WAVE)),
        vec![],
    )
    .await;
    let entry = PutEventsRequestEntry::builder()
        .event_bus_name(format!(
            "arn:aws:events:us-east-1:123456789012:event-bus/{WAVES}"
        ))
        .source("fleetshift")
        .detail_type("Wave Requested")
        .detail("{}")
        .time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .resources("arn:aws:workspaces:us-east-1:123456789012:workspace/ws-1")
        .build();
    eb.put_events().entries(entry).send().await.unwrap();
    cloud.deliveries_idle().await;
    let event = &target.calls()[0].1;
    assert_eq!(event["time"], "2023-11-14T22:13:20Z");
    assert_eq!(
        event["resources"],
        json!(["arn:aws:workspaces:us-east-1:123456789012:workspace/ws-1"])
    );
}

#[tokio::test]
async fn a_bus_that_does_not_exist_accepts_and_delivers_nothing() {
    let target = Target::new(vec![Ok(Value::Null)]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", START_WAVE)),
        vec![],
    )
    .await;
    let out = eb
        .put_events()
        .entries(wave_requested("fleetshift-wave"))
        .send()
        .await
        .unwrap();
    // As AWS answers: a success with an EventId (see events.rs for the recording).
    assert_eq!(out.failed_entry_count(), 0);
    assert_eq!(out.entries()[0].event_id().map(str::len), Some(36));
    cloud.deliveries_idle().await;
    assert!(target.calls().is_empty());
    assert!(cloud.deliveries().is_empty());
}

#[tokio::test]
async fn a_failing_function_is_tried_three_times_then_its_record_goes_to_the_queue() {
    let target = Target::new(vec![Err(TargetError::function(
        "InvalidPlan",
        "plan.workspaces is empty",
    ))]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", START_WAVE)),
        vec![(
            START_WAVE,
            AsyncInvokeConfig {
                on_failure_arn: Some(FAILED.into()),
                ..AsyncInvokeConfig::default()
            },
        )],
    )
    .await;
    let out = eb
        .put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    let id = out.entries()[0].event_id().unwrap().to_owned();
    cloud.deliveries_idle().await;

    // 1 + MaximumRetryAttempts (2), one minute then two minutes apart.
    assert_eq!(target.call_offsets(), vec![0, 60, 180]);
    let d = &cloud.deliveries()[0];
    assert_eq!(d.attempts, 3);
    assert_eq!(
        d.outcome,
        DeliveryOutcome::FunctionFailed {
            error_type: "InvalidPlan".into(),
            message: "plan.workspaces is empty".into(),
            condition: "RetriesExhausted".into(),
            destination: Some(FAILED.into()),
        }
    );
    let messages = cloud.queue_messages(FAILED);
    assert_eq!(messages.len(), 1);
    let mut record = messages[0].json();
    let request_id = record["requestContext"]["requestId"].take();
    assert_eq!(request_id.as_str().map(str::len), Some(36));
    assert_eq!(
        record,
        json!({
            "version": "1.0",
            "timestamp": "2027-01-15T08:03:00.000Z",
            "requestContext": {
                "requestId": null,
                "functionArn": format!("{START_WAVE}:$LATEST"),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": {
                "version": "0",
                "id": id,
                "detail-type": "Wave Requested",
                "source": "fleetshift",
                "account": "123456789012",
                "time": "2027-01-15T08:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {"waveId": "wave-1", "plan": {"workspaces": []}}
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled"
            },
            "responsePayload": {"errorType": "InvalidPlan", "errorMessage": "plan.workspaces is empty"}
        })
    );
}

#[tokio::test]
async fn an_alias_uses_its_own_config_and_a_recovering_function_succeeds() {
    let alias = format!("{START_WAVE}:live");
    let target = Target::new(vec![
        Err(TargetError::function("ServiceUnavailable", "try later")),
        Ok(json!("started")),
    ]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", &alias)),
        vec![(
            alias.as_str(),
            AsyncInvokeConfig {
                max_retry_attempts: 1,
                ..AsyncInvokeConfig::default()
            },
        )],
    )
    .await;
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    assert_eq!(target.call_offsets(), vec![0, 60]);
    assert_eq!(
        cloud.deliveries()[0].outcome,
        DeliveryOutcome::Succeeded {
            response: json!("started")
        }
    );
}

#[tokio::test]
async fn no_retries_configured_means_one_attempt() {
    let target = Target::new(vec![Err(TargetError::function("InvalidPlan", "no"))]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec::lambda("StartWave", START_WAVE)),
        vec![(
            START_WAVE,
            AsyncInvokeConfig {
                max_retry_attempts: 0,
                max_event_age_secs: 60,
                on_failure_arn: None,
            },
        )],
    )
    .await;
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    assert_eq!(target.call_offsets(), vec![0]);
    assert!(cloud.queue_messages(FAILED).is_empty());
}

#[tokio::test]
async fn a_throttled_target_is_retried_by_eventbridge_then_dead_lettered() {
    let target = Target::new(vec![Err(TargetError::refused(
        "TooManyRequestsException",
        "Rate Exceeded.",
    ))]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec {
            max_retry_attempts: 3,
            dead_letter_arn: Some(DLQ.into()),
            ..TargetSpec::lambda("StartWave", START_WAVE)
        }),
        vec![],
    )
    .await;
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    // 1 + MaximumRetryAttempts, backing off 1, 2 and 4 seconds.
    assert_eq!(target.call_offsets(), vec![0, 1, 3, 7]);
    let d = &cloud.deliveries()[0];
    assert_eq!(
        d.outcome,
        DeliveryOutcome::Undelivered {
            code: "TooManyRequestsException".into(),
            message: "Rate Exceeded.".into(),
            dead_letter: Some(DLQ.into()),
        }
    );
    let dead = cloud.queue_messages(DLQ);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].json(), d.event);
    let attributes: Vec<(&str, &str)> = dead[0]
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        attributes,
        vec![
            ("ERROR_CODE", "TooManyRequestsException"),
            ("ERROR_MESSAGE", "Rate Exceeded."),
            ("EXHAUSTED_RETRY_CONDITION", "MaximumRetryAttempts"),
            ("RETRY_ATTEMPTS", "3"),
            (
                "RULE_ARN",
                "arn:aws:events:us-east-1:123456789012:rule/fleetshift-waves/WaveRequestedRule"
            ),
            ("TARGET_ARN", START_WAVE),
        ]
    );
}

#[tokio::test]
async fn a_missing_function_goes_to_the_dead_letter_queue_without_retries() {
    let target = Target::new(vec![Err(TargetError::refused(
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-wave",
    ))]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec {
            dead_letter_arn: Some(DLQ.into()),
            ..TargetSpec::lambda("StartWave", START_WAVE)
        }),
        vec![],
    )
    .await;
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    assert_eq!(target.call_offsets(), vec![0]);
    let dead = cloud.queue_messages(DLQ);
    assert_eq!(dead[0].attributes["RETRY_ATTEMPTS"], "0");
    assert_eq!(dead[0].attributes.get("EXHAUSTED_RETRY_CONDITION"), None);
}

#[tokio::test]
async fn the_event_age_limit_ends_eventbridge_retries() {
    let target = Target::new(vec![Err(TargetError::refused(
        "ServiceException",
        "Lambda is unavailable",
    ))]);
    let (cloud, eb) = start(
        target.clone(),
        wave_rule(TargetSpec {
            max_event_age_secs: 60,
            ..TargetSpec::lambda("StartWave", START_WAVE)
        }),
        vec![],
    )
    .await;
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    // 0, 1, 3, 7, 15, 31 s; the next wait (32 s) would pass 60 s.
    assert_eq!(target.call_offsets(), vec![0, 1, 3, 7, 15, 31]);
    assert_eq!(
        cloud.deliveries()[0].outcome,
        DeliveryOutcome::Undelivered {
            code: "ServiceException".into(),
            message: "Lambda is unavailable".into(),
            dead_letter: None,
        }
    );
}

#[tokio::test]
async fn without_targets_matches_are_only_recorded() {
    let cloud = CloudLocal::start(Options {
        buses: vec![BusSpec {
            name: WAVES.into(),
            policy: None,
        }],
        rules: vec![wave_rule(TargetSpec::lambda("StartWave", START_WAVE))],
        ..Options::default()
    })
    .await
    .unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(cloud.endpoint_url())
        .load()
        .await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    eb.put_events()
        .entries(wave_requested(WAVES))
        .send()
        .await
        .unwrap();
    cloud.deliveries_idle().await;
    let d = cloud.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].outcome, DeliveryOutcome::NotInvoked);
    assert_eq!(d[0].attempts, 0);
}

#[tokio::test]
async fn a_rule_with_an_invalid_pattern_stops_the_start() {
    let mut rule = wave_rule(TargetSpec::lambda("StartWave", START_WAVE));
    rule.pattern = json!({"account": [{"prefix": 123}]});
    let err = CloudLocal::start(Options {
        buses: vec![BusSpec {
            name: WAVES.into(),
            policy: None,
        }],
        rules: vec![rule],
        ..Options::default()
    })
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule WaveRequestedRule: Event pattern is not valid. Reason: prefix match pattern must be a string at account"
    );
}

mod bus_policy {
    //! PutEvents authorized by IAM against the bus's resource policy (the policy template.yaml
    //! gives `WaveBus`), and the `account` the event then carries.

    use aws_sdk_eventbridge::error::ProvideErrorMetadata;
    use cloud_local::iam::{IamOptions, Policy, Principal};

    use super::*;

    const BUS_ARN: &str = "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves";
    const OPERATOR: &str = "arn:aws:iam::123456789012:role/Operator";

    /// template.yaml's `WaveBus` policy with `OperatorPrincipalArns` set to [`OPERATOR`].
    fn stack_policy() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyThisAccount",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": BUS_ARN,
                    "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}
                },
                {
                    "Sid": "OnlyOperatorsStartWaves",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": BUS_ARN,
                    "Condition": {
                        "ForAnyValue:StringEquals": {"events:detail-type": "Wave Requested"},
                        "ArnNotLike": {"aws:PrincipalArn": OPERATOR}
                    }
                }
            ]
        })
    }

    /// A role session allowed `events:PutEvents` on any bus by its own policy.
    fn putter(role_arn: &str) -> Principal {
        let allow = Policy::parse(&json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}
        ]}))
        .unwrap();
        Principal::assumed_role(role_arn, "session", vec![allow]).unwrap()
    }

    async fn start_with(target: Arc<Target>, policy: Value, rules: Vec<RuleSpec>) -> Running {
        let principals = [
            ("AKIDOPERATOR", putter(OPERATOR)),
            (
                "AKIDSOMEONE",
                putter("arn:aws:iam::123456789012:role/Someone"),
            ),
            (
                "AKIDOTHER",
                putter("arn:aws:iam::111122223333:role/Operator"),
            ),
        ]
        .into_iter()
        .map(|(k, p)| (k.to_owned(), p))
        .collect();
        CloudLocal::start(Options {
            buses: vec![BusSpec {
                name: WAVES.into(),
                policy: Some(policy),
            }],
            rules,
            lambda_targets: Some(target),
            iam: IamOptions {
                principals,
                ..IamOptions::default()
            },
            ..Options::default()
        })
        .await
        .unwrap()
    }

    async fn client(cloud: &Running, access_key: &str) -> aws_sdk_eventbridge::Client {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
            .endpoint_url(cloud.endpoint_url())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let conf = aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(VirtualTime)
            .build();
        aws_sdk_eventbridge::Client::from_conf(conf)
    }

    fn stack_rule() -> Vec<RuleSpec> {
        vec![wave_rule(TargetSpec::lambda("StartWave", START_WAVE))]
    }

    #[tokio::test]
    async fn an_operator_of_the_account_starts_a_wave() {
        let target = Target::new(vec![Ok(Value::Null)]);
        let cloud = start_with(target.clone(), stack_policy(), stack_rule()).await;
        let out = client(&cloud, "AKIDOPERATOR")
            .await
            .put_events()
            .entries(wave_requested(WAVES))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0);
        cloud.deliveries_idle().await;
        let calls = target.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1["account"], "123456789012");
    }

    #[tokio::test]
    async fn another_account_is_refused_by_the_bus_policy() {
        let target = Target::new(vec![Ok(Value::Null)]);
        let cloud = start_with(target.clone(), stack_policy(), stack_rule()).await;
        let err = client(&cloud, "AKIDOTHER")
            .await
            .put_events()
            .entries(wave_requested(BUS_ARN))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("AccessDeniedException"));
        assert_eq!(
            err.message(),
            Some(
                "User: arn:aws:sts::111122223333:assumed-role/Operator/session is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves with an explicit deny in a resource-based policy"
            )
        );
        cloud.deliveries_idle().await;
        assert!(target.calls().is_empty());
        assert!(cloud.events().is_empty());
    }

    #[tokio::test]
    async fn the_bus_policy_denies_a_principal_of_the_account_outside_the_operators() {
        let target = Target::new(vec![Ok(Value::Null)]);
        let cloud = start_with(target.clone(), stack_policy(), stack_rule()).await;
        let progress = PutEventsRequestEntry::builder()
            .event_bus_name(WAVES)
            .source("fleetshift")
            .detail_type("Wave Summary")
            .detail("{}")
            .build();
        let out = client(&cloud, "AKIDSOMEONE")
            .await
            .put_events()
            .entries(wave_requested(WAVES))
            .entries(progress)
            .send()
            .await
            .unwrap();
        // The Deny binds this account's principals too; the other entry is not a Wave Requested.
        assert_eq!(out.failed_entry_count(), 1);
        assert_eq!(out.entries()[0].error_code(), Some("AccessDeniedException"));
        assert_eq!(
            out.entries()[0].error_message(),
            Some(
                "User: arn:aws:sts::123456789012:assumed-role/Someone/session is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves with an explicit deny in a resource-based policy"
            )
        );
        assert!(out.entries()[1].event_id().is_some());
        cloud.deliveries_idle().await;
        assert!(target.calls().is_empty());
    }

    #[tokio::test]
    async fn the_account_in_the_pattern_rejects_an_event_of_another_account() {
        // A bus that admits account 111122223333: its events reach the bus, but carry their
        // sender's account, which WaveRequestedRule does not match.
        let admits_other = json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowOther",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "events:PutEvents",
            "Resource": BUS_ARN
        }]});
        let mut any_account = wave_rule(TargetSpec::lambda(
            "Audit",
            "arn:aws:lambda:us-east-1:123456789012:function:audit",
        ));
        any_account.name = "AnyAccountRule".into();
        any_account.pattern = json!({"source": ["fleetshift"], "detail-type": ["Wave Requested"]});
        let mut rules = stack_rule();
        rules.push(any_account);
        let target = Target::new(vec![Ok(Value::Null)]);
        let cloud = start_with(target.clone(), admits_other, rules).await;
        let out = client(&cloud, "AKIDOTHER")
            .await
            .put_events()
            .entries(wave_requested(BUS_ARN))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0);
        cloud.deliveries_idle().await;
        let calls = target.calls();
        assert_eq!(calls.len(), 1, "only the rule without `account` matched");
        assert_eq!(
            calls[0].0,
            "arn:aws:lambda:us-east-1:123456789012:function:audit"
        );
        assert_eq!(calls[0].1["account"], "111122223333");
        let rules: Vec<String> = cloud.deliveries().into_iter().map(|d| d.rule).collect();
        assert_eq!(rules, vec!["AnyAccountRule"]);
    }
}

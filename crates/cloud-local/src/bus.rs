//! EventBridge buses, rules and Lambda targets: what PutEvents accepts is matched against the
//! enabled rules of its bus and delivered to each rule's targets, with both retry layers AWS has.
//!
//! 1. EventBridge -> Lambda. EventBridge invokes the function asynchronously (InvocationType
//!    `Event`). When the Lambda service refuses the invocation (throttled, a service error),
//!    EventBridge retries per the target's RetryPolicy (`MaximumRetryAttempts`, default 185;
//!    `MaximumEventAgeInSeconds`, default 86,400) with exponential backoff; when the target does not
//!    exist or may not be invoked it does not retry. Then the event goes to the target's
//!    dead-letter queue, if any, with the attributes `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`,
//!    `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION` and `RETRY_ATTEMPTS` (EventBridge User Guide,
//!    "Event retry policy and using dead-letter queues"). The backoff's delays are not documented:
//!    here 1 s doubling to at most 5 minutes, without jitter so runs repeat.
//! 2. Lambda's asynchronous invocation. Once Lambda accepted the event, a function error is retried
//!    by Lambda per the function's EventInvokeConfig (`MaximumRetryAttempts` 0-2, default 2;
//!    `MaximumEventAgeInSeconds` 60-21,600, default 21,600), "with a one-minute wait between the
//!    first two attempts, and two minutes between the second and third attempts" (Lambda Developer
//!    Guide, "Asynchronous invocation"); then the OnFailure destination receives the invocation
//!    record ("Capturing records of Lambda asynchronous invocations", its example record).
//!
//! Waits run on the PutEvents caller's virtual clock when it sent one: each delivery is a
//! [`fleetshift_clock::scope`] starting at the request's time, so a day of retries takes no wall
//! time. Deliveries run in spawned tasks: PutEvents answers at once, as AWS does.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use crate::iam::{Policy, PolicyError};
use crate::pattern::{EventPattern, PatternError};
use crate::sqs::{QueueMessage, Queues};

/// The offline stack's account: events of callers IAM does not know carry it.
pub const ACCOUNT_ID: &str = "123456789012";

/// An event bus the stack defines (the `default` bus always exists).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusSpec {
    /// The bus name, e.g. `fleetshift-waves`.
    pub name: String,
    /// Its resource-based policy (`AWS::Events::EventBusPolicy` or the bus's `Policy`), if any.
    pub policy: Option<Value>,
}

/// A rule on a bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// The rule name.
    pub name: String,
    /// Its ARN; `None`: `arn:aws:events:REGION:ACCOUNT:rule/BUS/NAME` (`rule/NAME` on the default
    /// bus), as EventBridge names it.
    pub arn: Option<String>,
    /// The bus name (`default` for the default bus).
    pub bus: String,
    /// The event pattern.
    pub pattern: Value,
    /// `State: ENABLED`.
    pub enabled: bool,
    /// Its targets.
    pub targets: Vec<TargetSpec>,
}

/// A Lambda target of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// The target id.
    pub id: String,
    /// A Lambda function or alias ARN.
    pub arn: String,
    /// `RetryPolicy.MaximumRetryAttempts` (0-185, AWS's default 185).
    pub max_retry_attempts: u32,
    /// `RetryPolicy.MaximumEventAgeInSeconds` (60-86,400, AWS's default 86,400).
    pub max_event_age_secs: u32,
    /// `DeadLetterConfig.Arn`: an SQS queue ARN.
    pub dead_letter_arn: Option<String>,
}

impl TargetSpec {
    /// A target with AWS's default retry policy and no dead-letter queue.
    pub fn lambda(id: impl Into<String>, arn: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            arn: arn.into(),
            max_retry_attempts: 185,
            max_event_age_secs: 86_400,
            dead_letter_arn: None,
        }
    }
}

/// A function's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`, SAM's
/// `EventInvokeConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncInvokeConfig {
    /// `MaximumRetryAttempts` (0-2, default 2).
    pub max_retry_attempts: u32,
    /// `MaximumEventAgeInSeconds` (60-21,600, default 21,600).
    pub max_event_age_secs: u32,
    /// `DestinationConfig.OnFailure.Destination`: an SQS queue ARN.
    pub on_failure_arn: Option<String>,
}

impl Default for AsyncInvokeConfig {
    fn default() -> Self {
        Self {
            max_retry_attempts: 2,
            max_event_age_secs: 21_600,
            on_failure_arn: None,
        }
    }
}

/// Why an invocation of a target failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum TargetError {
    /// The Lambda service refused the invocation: the function did not run (e.g.
    /// `TooManyRequestsException`, `ServiceException`, `ResourceNotFoundException`,
    /// `AccessDeniedException`). EventBridge retries it, except a missing function or a missing
    /// permission.
    #[error("{code}: {message}")]
    Refused {
        /// The Lambda API error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The function ran and returned an error (its `errorType` and `errorMessage`). Lambda retries
    /// it per the function's [`AsyncInvokeConfig`].
    #[error("{error_type}: {message}")]
    Function {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
}

impl TargetError {
    /// The function returned an error.
    pub fn function(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Function {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// The Lambda service refused the invocation with `code`.
    pub fn refused(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Refused {
            code: code.into(),
            message: message.into(),
        }
    }

    /// EventBridge User Guide, "Event retry policy and using dead-letter queues": "for errors that
    /// result from missing permissions to a target, or a target resource that no longer exists
    /// ... EventBridge sends these events directly to the DLQ".
    fn retried_by_eventbridge(&self) -> bool {
        match self {
            TargetError::Refused { code, .. } => !matches!(
                code.as_str(),
                "ResourceNotFoundException" | "AccessDeniedException"
            ),
            TargetError::Function { .. } => false,
        }
    }
}

/// A boxed future returned by [`LambdaTargets::invoke`].
pub type TargetFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, TargetError>> + Send + 'a>>;

/// Runs Lambda targets for cloud-local's buses (the stack implements it: in-process handlers or the
/// built binaries). `invoke` is one invocation of the function or alias `function_arn` with the
/// EventBridge event as its payload; it is polled inside the delivery's
/// [`fleetshift_clock::scope`], so [`fleetshift_clock::now`] is the invocation's virtual time.
pub trait LambdaTargets: Send + Sync + 'static {
    /// Invokes the function once; `Ok` carries its response payload.
    fn invoke(&self, function_arn: &str, event: Value) -> TargetFuture<'_>;

    /// The version an invocation of `function_arn` runs (`responseContext.executedVersion`):
    /// `$LATEST` unless overridden (an alias runs the version it points to).
    fn executed_version(&self, function_arn: &str) -> String {
        let _ = function_arn;
        "$LATEST".to_owned()
    }
}

/// How one event's delivery to one target ended (so far).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum DeliveryOutcome {
    /// Still being tried.
    InFlight,
    /// No [`LambdaTargets`] is attached: the match is only recorded.
    NotInvoked,
    /// The function succeeded.
    Succeeded {
        /// Its response payload.
        response: Value,
    },
    /// Lambda accepted the event, and the function failed every attempt Lambda made.
    FunctionFailed {
        /// The last `errorType`.
        error_type: String,
        /// The last `errorMessage`.
        message: String,
        /// `RetriesExhausted` or `EventAgeExceeded`.
        condition: String,
        /// The OnFailure queue the invocation record went to, if any.
        destination: Option<String>,
    },
    /// The Lambda service refused the event until EventBridge gave up.
    Undelivered {
        /// The last Lambda error code.
        code: String,
        /// Its message.
        message: String,
        /// The dead-letter queue the event went to; `None`: dropped.
        dead_letter: Option<String>,
    },
}

/// One event's delivery to one target of one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event (as the target receives it).
    pub event: Value,
    /// The event id.
    pub event_id: String,
    /// The bus name.
    pub bus: String,
    /// The rule name.
    pub rule: String,
    /// The rule ARN.
    pub rule_arn: String,
    /// The target id.
    pub target_id: String,
    /// The target ARN.
    pub target_arn: String,
    /// Invocations made (refused ones included).
    pub attempts: u32,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// The PutEvents caller's time.
    pub accepted_at: SystemTime,
    /// The (virtual) time it ended.
    pub finished_at: Option<SystemTime>,
}

/// Why the buses and rules of [`crate::Options`] were refused.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A rule's pattern is not one EventBridge accepts.
    #[error("rule {rule}: {source}")]
    Pattern {
        /// The rule.
        rule: String,
        /// Why.
        source: PatternError,
    },
    /// A rule names a bus that is not defined.
    #[error("rule {rule}: event bus {bus} does not exist")]
    UnknownBus {
        /// The rule.
        rule: String,
        /// The bus.
        bus: String,
    },
    /// A bus's resource-based policy is not a policy document IAM accepts.
    #[error("event bus {bus}: {source}")]
    Policy {
        /// The bus.
        bus: String,
        /// Why.
        source: PolicyError,
    },
    /// A setting is out of the range AWS accepts.
    #[error("{what}: {detail}")]
    OutOfRange {
        /// Which rule/target or function.
        what: String,
        /// The setting and its range.
        detail: String,
    },
}

pub(crate) struct Bus {
    pub(crate) arn: String,
    /// Handed to IAM, which authorizes each PutEvents entry against it.
    policy: Option<Policy>,
}

struct Rule {
    spec: RuleSpec,
    arn: String,
    pattern: EventPattern,
}

#[derive(Default)]
struct Records {
    deliveries: Vec<Delivery>,
    queues: Queues,
}

/// The buses, rules and deliveries of a running cloud-local.
pub(crate) struct Buses {
    region: String,
    buses: BTreeMap<String, Bus>,
    rules: Vec<Rule>,
    targets: Option<Arc<dyn LambdaTargets>>,
    async_configs: HashMap<String, AsyncInvokeConfig>,
    records: Mutex<Records>,
    in_flight: tokio::sync::watch::Sender<usize>,
}

fn range(what: &str, name: &str, value: u32, lo: u32, hi: u32) -> Result<(), BusError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(BusError::OutOfRange {
            what: what.to_owned(),
            detail: format!("{name} {value} is outside {lo}-{hi}"),
        })
    }
}

/// The function ARN without its qualifier (version or alias).
fn unqualified(arn: &str) -> &str {
    let parts: Vec<&str> = arn.splitn(8, ':').collect();
    if parts.len() == 8 {
        let cut = arn.len() - parts[7].len() - 1;
        &arn[..cut]
    } else {
        arn
    }
}

impl Buses {
    pub(crate) fn new(
        region: &str,
        buses: Vec<BusSpec>,
        rules: Vec<RuleSpec>,
        targets: Option<Arc<dyn LambdaTargets>>,
        async_configs: HashMap<String, AsyncInvokeConfig>,
    ) -> Result<Self, BusError> {
        let bus_arn = |name: &str| format!("arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{name}");
        let mut all = BTreeMap::new();
        all.insert(
            "default".to_owned(),
            Bus {
                arn: bus_arn("default"),
                policy: None,
            },
        );
        for b in buses {
            let policy = b
                .policy
                .as_ref()
                .map(Policy::parse)
                .transpose()
                .map_err(|source| BusError::Policy {
                    bus: b.name.clone(),
                    source,
                })?;
            all.insert(
                b.name.clone(),
                Bus {
                    arn: bus_arn(&b.name),
                    policy,
                },
            );
        }
        let mut compiled = Vec::with_capacity(rules.len());
        for r in rules {
            if !all.contains_key(&r.bus) {
                return Err(BusError::UnknownBus {
                    rule: r.name.clone(),
                    bus: r.bus.clone(),
                });
            }
            let pattern =
                EventPattern::from_value(&r.pattern).map_err(|source| BusError::Pattern {
                    rule: r.name.clone(),
                    source,
                })?;
            for t in &r.targets {
                let what = format!("rule {} target {}", r.name, t.id);
                range(&what, "MaximumRetryAttempts", t.max_retry_attempts, 0, 185)?;
                range(
                    &what,
                    "MaximumEventAgeInSeconds",
                    t.max_event_age_secs,
                    60,
                    86_400,
                )?;
            }
            let arn = r.arn.clone().unwrap_or_else(|| {
                if r.bus == "default" {
                    format!("arn:aws:events:{region}:{ACCOUNT_ID}:rule/{}", r.name)
                } else {
                    format!(
                        "arn:aws:events:{region}:{ACCOUNT_ID}:rule/{}/{}",
                        r.bus, r.name
                    )
                }
            });
            compiled.push(Rule {
                spec: r,
                arn,
                pattern,
            });
        }
        for (f, c) in &async_configs {
            let what = format!("function {f}");
            range(&what, "MaximumRetryAttempts", c.max_retry_attempts, 0, 2)?;
            range(
                &what,
                "MaximumEventAgeInSeconds",
                c.max_event_age_secs,
                60,
                21_600,
            )?;
        }
        Ok(Self {
            region: region.to_owned(),
            buses: all,
            rules: compiled,
            targets,
            async_configs,
            records: Mutex::new(Records::default()),
            in_flight: tokio::sync::watch::channel(0).0,
        })
    }

    /// Each bus's ARN and resource-based policy.
    pub(crate) fn policies(&self) -> impl Iterator<Item = (&str, &Policy)> {
        self.buses
            .values()
            .filter_map(|b| b.policy.as_ref().map(|p| (b.arn.as_str(), p)))
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bus an entry's `EventBusName` (a name or an ARN; absent: `default`) names, if it exists
    /// in this account and Region.
    pub(crate) fn resolve(&self, name_or_arn: Option<&str>) -> Option<(&str, &Bus)> {
        let name = match name_or_arn {
            None => "default",
            Some(s) if s.starts_with("arn:") => {
                let (prefix, name) = s.split_once(":event-bus/")?;
                if prefix != format!("arn:aws:events:{}:{ACCOUNT_ID}", self.region) {
                    return None;
                }
                name
            }
            Some(s) => s,
        };
        self.buses.get_key_value(name).map(|(k, b)| (k.as_str(), b))
    }

    /// Records the matches of `event` (accepted on `bus` at `now`) and starts their deliveries.
    /// `virtual_time`: the caller runs on a virtual clock, so the deliveries' waits do too.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        bus: &str,
        event: &Value,
        now: SystemTime,
        virtual_time: bool,
    ) {
        let event_id = event["id"].as_str().unwrap_or_default().to_owned();
        for rule in self
            .rules
            .iter()
            .filter(|r| r.spec.enabled && r.spec.bus == bus && r.pattern.matches(event))
        {
            for target in &rule.spec.targets {
                let index = {
                    let mut rec = self.records();
                    rec.deliveries.push(Delivery {
                        event: event.clone(),
                        event_id: event_id.clone(),
                        bus: bus.to_owned(),
                        rule: rule.spec.name.clone(),
                        rule_arn: rule.arn.clone(),
                        target_id: target.id.clone(),
                        target_arn: target.arn.clone(),
                        attempts: 0,
                        outcome: if self.targets.is_some() {
                            DeliveryOutcome::InFlight
                        } else {
                            DeliveryOutcome::NotInvoked
                        },
                        accepted_at: now,
                        finished_at: None,
                    });
                    rec.deliveries.len() - 1
                };
                let Some(lambda) = self.targets.clone() else {
                    continue;
                };
                self.in_flight.send_modify(|n| *n += 1);
                let guard = InFlight(self.clone());
                let job = Job {
                    buses: self.clone(),
                    lambda,
                    index,
                    event: event.clone(),
                    target: target.clone(),
                    rule_arn: rule.arn.clone(),
                    accepted_at: now,
                };
                tokio::spawn(async move {
                    let _guard = guard;
                    if virtual_time {
                        fleetshift_clock::scope(now, job.run()).await;
                    } else {
                        job.run().await;
                    }
                });
            }
        }
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.records().deliveries.clone()
    }

    pub(crate) fn queue_messages(&self, queue_arn: &str) -> Vec<QueueMessage> {
        self.records().queues.messages(queue_arn)
    }

    /// Waits until no delivery is in flight.
    pub(crate) async fn idle(&self) {
        let mut rx = self.in_flight.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    fn async_config(&self, function_arn: &str) -> AsyncInvokeConfig {
        // SAM puts an EventInvokeConfig on the alias when AutoPublishAlias is set: the qualified
        // ARN first, then the function's.
        self.async_configs
            .get(function_arn)
            .or_else(|| self.async_configs.get(unqualified(function_arn)))
            .cloned()
            .unwrap_or_default()
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut Delivery)) {
        if let Some(d) = self.records().deliveries.get_mut(index) {
            f(d);
        }
    }

    fn send(&self, queue_arn: &str, body: String, attributes: BTreeMap<String, String>) {
        self.records().queues.send(
            queue_arn,
            QueueMessage {
                body,
                attributes,
                sent_at: fleetshift_clock::now(),
            },
        );
    }
}

/// Counts a delivery in flight until dropped (also when its task panics).
struct InFlight(Arc<Buses>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

struct Job {
    buses: Arc<Buses>,
    lambda: Arc<dyn LambdaTargets>,
    index: usize,
    event: Value,
    target: TargetSpec,
    rule_arn: String,
    accepted_at: SystemTime,
}

/// EventBridge's backoff between refused invocations: not documented; 1 s doubling, at most
/// 5 minutes.
fn eventbridge_backoff(retry: u32) -> Duration {
    Duration::from_secs(1u64 << retry.min(8)).min(Duration::from_secs(300))
}

/// Lambda Developer Guide, "Asynchronous invocation": one minute before the first retry, two
/// before the second.
fn lambda_retry_delay(retry: u32) -> Duration {
    Duration::from_secs(if retry <= 1 { 60 } else { 120 })
}

fn age(since: SystemTime) -> Duration {
    fleetshift_clock::now()
        .duration_since(since)
        .unwrap_or_default()
}

impl Job {
    fn attempt(&self) {
        self.buses.update(self.index, |d| d.attempts += 1);
    }

    fn finish(&self, outcome: DeliveryOutcome) {
        let now = fleetshift_clock::now();
        self.buses.update(self.index, |d| {
            d.outcome = outcome;
            d.finished_at = Some(now);
        });
    }

    async fn run(self) {
        let max_age = Duration::from_secs(u64::from(self.target.max_event_age_secs));
        let mut retries = 0;
        loop {
            self.attempt();
            match self
                .lambda
                .invoke(&self.target.arn, self.event.clone())
                .await
            {
                Ok(response) => return self.finish(DeliveryOutcome::Succeeded { response }),
                Err(TargetError::Function {
                    error_type,
                    message,
                }) => return self.lambda_retries(error_type, message).await,
                Err(refused) => {
                    let TargetError::Refused { code, message } = &refused else {
                        return;
                    };
                    let exhausted = if !refused.retried_by_eventbridge() {
                        Some(None)
                    } else if retries >= self.target.max_retry_attempts {
                        Some(Some("MaximumRetryAttempts"))
                    } else if age(self.accepted_at) + eventbridge_backoff(retries) > max_age {
                        Some(Some("MaximumEventAgeInSeconds"))
                    } else {
                        None
                    };
                    if let Some(condition) = exhausted {
                        return self.dead_letter(code, message, condition, retries);
                    }
                    fleetshift_clock::sleep(eventbridge_backoff(retries)).await;
                    retries += 1;
                }
            }
        }
    }

    fn dead_letter(&self, code: &str, message: &str, condition: Option<&str>, retries: u32) {
        tracing::warn!(target_arn = %self.target.arn, code, "event not delivered to its target");
        if let Some(queue) = &self.target.dead_letter_arn {
            let mut attributes = BTreeMap::from([
                ("RULE_ARN".to_owned(), self.rule_arn.clone()),
                ("TARGET_ARN".to_owned(), self.target.arn.clone()),
                ("ERROR_CODE".to_owned(), code.to_owned()),
                ("ERROR_MESSAGE".to_owned(), message.to_owned()),
                ("RETRY_ATTEMPTS".to_owned(), retries.to_string()),
            ]);
            if let Some(c) = condition {
                attributes.insert("EXHAUSTED_RETRY_CONDITION".to_owned(), c.to_owned());
            }
            self.buses.send(queue, self.event.to_string(), attributes);
        }
        self.finish(DeliveryOutcome::Undelivered {
            code: code.to_owned(),
            message: message.to_owned(),
            dead_letter: self.target.dead_letter_arn.clone(),
        });
    }

    /// Lambda accepted the event (the first attempt ran and failed): Lambda's own retries.
    async fn lambda_retries(&self, mut error_type: String, mut message: String) {
        let arn = &self.target.arn;
        let config = self.buses.async_config(arn);
        let accepted = fleetshift_clock::now();
        let max_age = Duration::from_secs(u64::from(config.max_event_age_secs));
        let mut invocations = 1;
        let condition = loop {
            if invocations > config.max_retry_attempts {
                break "RetriesExhausted";
            }
            let delay = lambda_retry_delay(invocations);
            if age(accepted) + delay > max_age {
                break "EventAgeExceeded";
            }
            fleetshift_clock::sleep(delay).await;
            invocations += 1;
            self.attempt();
            match self.lambda.invoke(arn, self.event.clone()).await {
                Ok(response) => return self.finish(DeliveryOutcome::Succeeded { response }),
                Err(TargetError::Function {
                    error_type: t,
                    message: m,
                }) => (error_type, message) = (t, m),
                // Lambda's own queue retries a throttled retry; counted here as a failed attempt.
                Err(TargetError::Refused { code, message: m }) => (error_type, message) = (code, m),
            }
        };
        tracing::warn!(function_arn = %arn, %error_type, condition, "asynchronous invocation failed");
        if let Some(queue) = &config.on_failure_arn {
            let record = self.invocation_record(condition, invocations, &error_type, &message);
            self.buses.send(queue, record.to_string(), BTreeMap::new());
        }
        self.finish(DeliveryOutcome::FunctionFailed {
            error_type,
            message,
            condition: condition.to_owned(),
            destination: config.on_failure_arn,
        });
    }

    /// Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations", "Example
    /// invocation record": the unqualified ARN gains `:$LATEST`; a function error reported through
    /// the Runtime API's error endpoint is `Unhandled`.
    fn invocation_record(
        &self,
        condition: &str,
        invocations: u32,
        error_type: &str,
        message: &str,
    ) -> Value {
        let arn = &self.target.arn;
        let function_arn = if unqualified(arn) == arn.as_str() {
            format!("{arn}:$LATEST")
        } else {
            arn.clone()
        };
        json!({
            "version": "1.0",
            "timestamp": crate::events::rfc3339_millis(fleetshift_clock::now()),
            "requestContext": {
                "requestId": request_id(self.event["id"].as_str().unwrap_or_default(), &self.target.id),
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations
            },
            "requestPayload": self.event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": self.lambda.executed_version(arn),
                "functionError": "Unhandled"
            },
            "responsePayload": {"errorType": error_type, "errorMessage": message}
        })
    }
}

/// The asynchronous invocation's request id: stable for one event and target, UUID-shaped.
fn request_id(event_id: &str, target_id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.bytes().chain([0]).chain(target_id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let x = crate::scenario::splitmix(h);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        x & 0xfff,
        x >> 16
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_are_stripped() {
        let f = "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-wave";
        assert_eq!(unqualified(&format!("{f}:live")), f);
        assert_eq!(unqualified(f), f);
    }

    #[test]
    fn the_backoffs_follow_their_sources() {
        assert_eq!(lambda_retry_delay(1), Duration::from_secs(60));
        assert_eq!(lambda_retry_delay(2), Duration::from_secs(120));
        assert_eq!(eventbridge_backoff(0), Duration::from_secs(1));
        assert_eq!(eventbridge_backoff(3), Duration::from_secs(8));
        assert_eq!(eventbridge_backoff(20), Duration::from_secs(256));
    }

    #[test]
    fn a_rule_on_an_unknown_bus_or_with_a_bad_pattern_is_refused() {
        let rule = |bus: &str, pattern: Value| RuleSpec {
            name: "R".into(),
            arn: None,
            bus: bus.into(),
            pattern,
            enabled: true,
            targets: vec![],
        };
        let err = |r| {
            Buses::new("us-east-1", vec![], vec![r], None, HashMap::new())
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            err(rule("nope", json!({"source": ["x"]}))),
            "rule R: event bus nope does not exist"
        );
        assert_eq!(
            err(rule("default", json!({"source": "x"}))),
            "rule R: Event pattern is not valid. Reason: Match value must be String, number, true, false, or null at source"
        );
        let mut r = rule("default", json!({"source": ["x"]}));
        r.targets.push(TargetSpec {
            max_retry_attempts: 186,
            ..TargetSpec::lambda("T", "arn:aws:lambda:us-east-1:123456789012:function:f")
        });
        assert_eq!(
            err(r),
            "rule R target T: MaximumRetryAttempts 186 is outside 0-185"
        );
    }

    #[test]
    fn buses_resolve_by_name_or_arn_of_this_account_and_region() {
        let b = Buses::new(
            "us-east-1",
            vec![BusSpec {
                name: "fleetshift-waves".into(),
                policy: None,
            }],
            vec![],
            None,
            HashMap::new(),
        )
        .unwrap();
        assert_eq!(b.resolve(None).unwrap().0, "default");
        assert_eq!(
            b.resolve(Some("fleetshift-waves")).unwrap().0,
            "fleetshift-waves"
        );
        assert_eq!(
            b.resolve(Some(
                "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"
            ))
            .unwrap()
            .1
            .arn,
            "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"
        );
        assert!(
            b.resolve(Some(
                "arn:aws:events:us-east-1:111122223333:event-bus/fleetshift-waves"
            ))
            .is_none()
        );
        assert!(b.resolve(Some("typo")).is_none());
    }
}

//! The handler against mocked Migration Hub and EventBridge clients.

use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_migrationhub::operation::create_progress_update_stream::{
    CreateProgressUpdateStreamError, CreateProgressUpdateStreamOutput,
};
use aws_sdk_migrationhub::operation::import_migration_task::{
    ImportMigrationTaskError, ImportMigrationTaskOutput,
};
use aws_sdk_migrationhub::operation::notify_migration_task_state::{
    NotifyMigrationTaskStateError, NotifyMigrationTaskStateOutput,
};
use aws_sdk_migrationhub::types::Status as HubTaskStatus;
use aws_sdk_migrationhub::types::error::{
    AccessDeniedException, DryRunOperation, HomeRegionNotSetException, InternalServerError,
    InvalidInputException, ResourceNotFoundException, ServiceUnavailableException,
    ThrottlingException, UnauthorizedOperation,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use fleetshift_core::contract::Reason;
use lambda_runtime::Diagnostic;
use push_hub_update::{
    Deps, HUB_RETRY_ROUNDS, HubStatus, MAX_STATUS_DETAIL_CHARS, Output, Settings, Status, handle,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

fn deps(hub: &[&Rule], events: &[&Rule], settings: Settings) -> Deps {
    Deps {
        hub: mock_client!(aws_sdk_migrationhub, RuleMode::MatchAny, hub),
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, events),
        settings,
    }
}

/// Like [`deps`], with the SDK making one attempt per call: a test of `register`'s own rounds
/// counts calls per round (the SDK's attempts are configured by `Deps::from_config`, not here)
/// and never waits on the SDK's wall-clock backoff.
fn deps_one_attempt(hub: &[&Rule], events: &[&Rule], settings: Settings) -> Deps {
    let once = |c: aws_sdk_migrationhub::config::Builder| {
        c.retry_config(aws_sdk_migrationhub::config::retry::RetryConfig::disabled())
    };
    Deps {
        hub: mock_client!(aws_sdk_migrationhub, RuleMode::MatchAny, hub, once),
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, events),
        settings,
    }
}

/// The role the register fixture's bot passes to Lex V2.
const LEX_ROLE: &str = "arn:aws:iam::123456789012:role/LexV2Migration";

fn hub_on() -> Settings {
    Settings {
        hub_enabled: true,
        home_region: Some("us-west-2".into()),
        ..settings_with_bus()
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

fn error_type(err: push_hub_update::Error) -> String {
    Diagnostic::from(err).error_type
}

struct HubRules {
    create: Rule,
    import: Rule,
    notify: Rule,
}

impl HubRules {
    fn ok() -> Self {
        HubRules {
            create: mock!(aws_sdk_migrationhub::Client::create_progress_update_stream)
                .match_requests(|r| r.progress_update_stream_name() == Some("fleetshift"))
                .then_output(|| CreateProgressUpdateStreamOutput::builder().build()),
            import: mock!(aws_sdk_migrationhub::Client::import_migration_task)
                .then_output(|| ImportMigrationTaskOutput::builder().build()),
            notify: mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
                .then_output(|| NotifyMigrationTaskStateOutput::builder().build()),
        }
    }

    fn all(&self) -> [&Rule; 3] {
        [&self.create, &self.import, &self.notify]
    }

    fn calls(&self) -> usize {
        self.create.num_calls() + self.import.num_calls() + self.notify.num_calls()
    }
}

/// PutEvents accepting everything, checking source, bus and detail-type.
fn events_ok(detail_type: &'static str) -> Rule {
    mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |r| {
            r.entries().iter().all(|e| {
                e.source() == Some("fleetshift")
                    && e.detail_type() == Some(detail_type)
                    && e.event_bus_name() == Some("fleet-bus")
                    && e.time().is_some()
                    && e.detail()
                        .is_some_and(|d| serde_json::from_str::<Value>(d).is_ok())
            })
        })
        .then_compute_output(|r| {
            PutEventsOutput::builder()
                .failed_entry_count(0)
                .set_entries(Some(
                    r.entries()
                        .iter()
                        .map(|_| PutEventsResultEntry::builder().event_id("e-1").build())
                        .collect(),
                ))
                .build()
        })
}

/// A stack deployed with its own bus and Lex migration enabled for the fixture's role.
fn settings_with_bus() -> Settings {
    Settings {
        event_bus_name: "fleet-bus".into(),
        lex_migration_enabled: true,
        lex_v2_bot_role_arn: Some(LEX_ROLE.into()),
        ..Settings::default()
    }
}

// ----- fixtures ----------------------------------------------------------------------------

#[test]
fn fixtures_parse_and_round_trip() {
    // Written back, each input is the file as it was: the function reads every field it is given.
    for name in ["register.json", "update.json", "update-bot.json"] {
        let raw = fixture(name);
        let input =
            push_hub_update::parse_input(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(serde_json::to_value(&input).unwrap(), raw, "{name}");
    }
    // `finish` reads only the ids of the planned items (the state passes the plan's whole entries).
    let input = push_hub_update::parse_input(fixture("finish.json")).unwrap();
    let mut expected = fixture("finish.json");
    expected["planned"] = json!([{"workspaceId": "ws-abcd12345"}, {"workspaceId": "ws-abcd12346"}]);
    expected["plannedBots"] = json!([{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST"}]);
    assert_eq!(serde_json::to_value(&input).unwrap(), expected);
    // The register fixture holds a plan the core accepts.
    let plan = &fixture("register.json")["plan"];
    fleetshift_core::Plan::parse(plan).unwrap();
}

// ----- register ----------------------------------------------------------------------------

#[tokio::test]
async fn register_imports_every_item_as_not_started_and_publishes() {
    // Default polling: the image deadline (240 min) + one 5-minute poll + 30 minutes of backoff.
    let expected_next = 16_500;
    let hub = HubRules {
        import: mock!(aws_sdk_migrationhub::Client::import_migration_task)
            .match_requests(|r| {
                r.progress_update_stream() == Some("fleetshift")
                    && matches!(
                        r.migration_task_name(),
                        Some("wave-2025-11-a-ws-abcd12345")
                            | Some("wave-2025-11-a-ws-abcd12346")
                            | Some("wave-2025-11-a-lex-OrderFlowers-LATEST")
                    )
            })
            .then_output(|| ImportMigrationTaskOutput::builder().build()),
        notify: mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
            .match_requests(move |r| {
                r.task().map(|t| t.status()) == Some(&HubTaskStatus::NotStarted)
                    && r.next_update_seconds() == Some(expected_next)
                    && r.update_date_time().is_some()
                    && r.migration_task_name()
                        .is_some_and(|n| n.starts_with("wave-2025-11-a-"))
            })
            .then_output(|| NotifyMigrationTaskStateOutput::builder().build()),
        ..HubRules::ok()
    };
    let events = events_ok("Wave Registered");
    let d = deps(&hub.all(), &[&events], hub_on());

    let out = handle(fixture("register.json"), &d).await.unwrap();
    let Output::Register(out) = out else {
        panic!("{out:?}")
    };
    assert_eq!(out.hub_status, HubStatus::Registered);
    assert!(out.hub.enabled);
    assert_eq!(out.hub.home_region.as_deref(), Some("us-west-2"));
    assert_eq!(out.hub.next_update_seconds, Some(expected_next as u32));
    assert_eq!(
        out.plan.workspaces[0].bundle_id.as_deref(),
        Some("wsb-abcd12345")
    );
    assert_eq!(hub.create.num_calls(), 1);
    assert_eq!(hub.import.num_calls(), 3);
    assert_eq!(hub.notify.num_calls(), 3);
    assert_eq!(events.num_calls(), 1);
    // The output feeds the state machine: it must serialise with the contract's names.
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["hubStatus"], "registered");
    assert_eq!(json["hub"]["progressUpdateStream"], "fleetshift");
}

#[tokio::test]
async fn register_rejects_a_standby_region_this_stack_cannot_use() {
    // Before any WorkSpace is touched: otherwise all would migrate and then every standby fail.
    let standby = |region: &str| json!({"region": region, "directoryId": "d-1234567890", "dataReplication": "PRIMARY_AS_SOURCE"});
    let only_west = Settings {
        standby_region: Some("us-west-2".into()),
        ..settings_with_bus()
    };
    let cases = [
        (
            settings_with_bus(),
            "us-east-1",
            Some("must differ from the primary Region us-east-1"),
        ),
        (
            only_west.clone(),
            "eu-west-1",
            Some("must be us-west-2, the stack's StandbyRegion"),
        ),
        (only_west, "us-west-2", None),
        (settings_with_bus(), "eu-west-1", None),
    ];
    for (settings, region, rule) in cases {
        let hub = HubRules::ok();
        let events = events_ok("Wave Registered");
        let d = Deps {
            hub: mock_client!(aws_sdk_migrationhub, RuleMode::MatchAny, &hub.all()),
            // The function's own Region, where the WorkSpaces are migrated.
            events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&events], |c| c
                .region(aws_config::Region::new("us-east-1"))),
            settings,
        };
        let mut input = fixture("register.json");
        input["plan"]["standby"] = standby(region);
        let res = handle(input, &d).await;
        match rule {
            Some(rule) => {
                let diag = Diagnostic::from(res.unwrap_err());
                assert_eq!(diag.error_type, "InvalidPlan", "{region}");
                assert!(
                    diag.error_message.contains("standby.region")
                        && diag.error_message.contains(rule),
                    "{region}: {}",
                    diag.error_message
                );
                assert_eq!(hub.calls() + events.num_calls(), 0, "{region}: no call");
            }
            None => {
                res.unwrap_or_else(|e| panic!("{region}: {e}"));
                assert_eq!(events.num_calls(), 1, "{region}");
            }
        }
    }
}

#[tokio::test]
async fn register_with_hub_disabled_publishes_only() {
    let hub = HubRules::ok();
    let events = events_ok("Wave Registered");
    let d = deps(&hub.all(), &[&events], settings_with_bus());
    let mut input = fixture("register.json");
    input["plan"]["hub"] = json!({});
    let Output::Register(out) = handle(input, &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.hub_status, HubStatus::Disabled);
    assert!(!out.hub.enabled);
    assert_eq!(hub.calls(), 0);
    assert_eq!(events.num_calls(), 1);
}

/// PutEvents accepting everything, keeping each published detail.
fn events_kept() -> (Rule, Arc<Mutex<Vec<Value>>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let k = kept.clone();
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |r| {
            for e in r.entries() {
                k.lock()
                    .unwrap()
                    .push(serde_json::from_str(e.detail().unwrap_or("null")).unwrap());
            }
            true
        })
        .then_compute_output(|r| {
            PutEventsOutput::builder()
                .failed_entry_count(0)
                .set_entries(Some(
                    r.entries()
                        .iter()
                        .map(|_| PutEventsResultEntry::builder().event_id("e-1").build())
                        .collect(),
                ))
                .build()
        });
    (rule, kept)
}

/// Runs `register` on virtual time (the backoff between rounds takes no wall-clock time) and
/// answers its output, the `Wave Registered` details published and the virtual time it took.
async fn register_on_virtual_time(
    d: &Deps,
    kept: &Arc<Mutex<Vec<Value>>>,
) -> (push_hub_update::RegisterOutput, Vec<Value>, Duration) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (out, end) = fleetshift_clock::scope(start, handle(fixture("register.json"), d)).await;
    let Output::Register(out) = out.expect("register never fails on Migration Hub") else {
        panic!("not a register output")
    };
    let details = kept.lock().unwrap().clone();
    (*out, details, end.duration_since(start).unwrap())
}

/// Each item of a Wave Registered detail as (task name, hubRegistered, hubErrorType).
fn hub_rows(detail: &Value) -> Vec<(String, Value, Value)> {
    detail["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .chain(detail["lexBots"].as_array().unwrap())
        .map(|i| {
            (
                i["taskName"].as_str().unwrap().to_owned(),
                i.get("hubRegistered").cloned().unwrap_or(Value::Null),
                i.get("hubErrorType").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

const WS1: &str = "wave-2025-11-a-ws-abcd12345";
const WS2: &str = "wave-2025-11-a-ws-abcd12346";
const BOT: &str = "wave-2025-11-a-lex-OrderFlowers-LATEST";

/// The error metadata a real answer carries (the mock HTTP response has none to parse).
fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn throttled_import() -> ImportMigrationTaskError {
    ImportMigrationTaskError::ThrottlingException(
        ThrottlingException::builder()
            .message("Rate exceeded")
            .meta(meta("ThrottlingException", "Rate exceeded"))
            .build()
            .unwrap(),
    )
}

fn throttled_notify() -> NotifyMigrationTaskStateError {
    NotifyMigrationTaskStateError::ThrottlingException(
        ThrottlingException::builder()
            .message("Rate exceeded")
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn register_resumes_throttled_items_at_the_step_that_failed() {
    // WS2's import is throttled twice past the SDK's retries, the bot's NOT_STARTED report once.
    // Each is retried in a later round from the call that failed (the bot is not imported again),
    // nothing else is called twice, and every item ends registered.
    let import_ws2 = mock!(aws_sdk_migrationhub::Client::import_migration_task)
        .match_requests(|r| r.migration_task_name() == Some(WS2))
        .sequence()
        .error(throttled_import)
        .times(2)
        .output(|| ImportMigrationTaskOutput::builder().build())
        .repeatedly()
        .build();
    let notify_bot = mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
        .match_requests(|r| r.migration_task_name() == Some(BOT))
        .sequence()
        .error(throttled_notify)
        .output(|| NotifyMigrationTaskStateOutput::builder().build())
        .repeatedly()
        .build();
    let hub = HubRules::ok();
    let (events, kept) = events_kept();
    let d = deps_one_attempt(
        &[
            &import_ws2,
            &notify_bot,
            &hub.create,
            &hub.import,
            &hub.notify,
        ],
        &[&events],
        hub_on(),
    );
    let (out, details, took) = register_on_virtual_time(&d, &kept).await;

    assert_eq!(out.hub_status, HubStatus::Registered);
    assert!(out.hub.enabled);
    assert_eq!(out.hub_error, None);
    assert_eq!(hub.create.num_calls(), 1);
    assert_eq!(import_ws2.num_calls(), 3);
    assert_eq!(notify_bot.num_calls(), 2);
    // WS1 and the bot imported once each; WS1 and WS2 notified once each.
    assert_eq!(hub.import.num_calls(), 2);
    assert_eq!(hub.notify.num_calls(), 2);
    // Two pauses: round 1 waits 1-2 s, round 2 waits 2-4 s (exponential, half jittered).
    assert!(
        took >= Duration::from_secs(3) && took <= Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["hubStatus"], "registered");
    assert_eq!(
        hub_rows(&details[0]),
        vec![
            (WS1.to_owned(), json!(true), Value::Null),
            (WS2.to_owned(), json!(true), Value::Null),
            (BOT.to_owned(), json!(true), Value::Null),
        ]
    );
}

#[tokio::test]
async fn register_reports_items_throttled_past_every_round_as_unregistered() {
    // WS2's import is throttled on every call: after the first attempt and HUB_RETRY_ROUNDS retry
    // rounds it is reported unregistered (its first update imports it), the others registered,
    // and the wave goes on with the Hub.
    let import_ws2 = mock!(aws_sdk_migrationhub::Client::import_migration_task)
        .match_requests(|r| r.migration_task_name() == Some(WS2))
        .then_error(throttled_import);
    let hub = HubRules::ok();
    let (events, kept) = events_kept();
    let d = deps_one_attempt(
        &[&import_ws2, &hub.create, &hub.import, &hub.notify],
        &[&events],
        hub_on(),
    );
    let (out, details, took) = register_on_virtual_time(&d, &kept).await;

    assert_eq!(HUB_RETRY_ROUNDS, 5);
    assert_eq!(import_ws2.num_calls(), 6);
    assert_eq!(hub.import.num_calls(), 2);
    assert_eq!(hub.notify.num_calls(), 2);
    assert_eq!(out.hub_status, HubStatus::Registered);
    assert!(out.hub.enabled, "later updates still use the Hub");
    assert_eq!(
        out.hub_error.as_deref(),
        Some("ImportMigrationTask failed: ThrottlingException: Rate exceeded")
    );
    // Pauses of 1-2, 2-4, 4-8, 8-16 and 16-32 s.
    assert!(
        took >= Duration::from_secs(31) && took <= Duration::from_secs(62),
        "{took:?}"
    );
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["hubStatus"], "registered");
    assert_eq!(
        details[0]["hubError"],
        "ImportMigrationTask failed: ThrottlingException: Rate exceeded"
    );
    assert_eq!(
        hub_rows(&details[0]),
        vec![
            (WS1.to_owned(), json!(true), Value::Null),
            (WS2.to_owned(), json!(false), json!("ThrottlingException")),
            (BOT.to_owned(), json!(true), Value::Null),
        ]
    );
}

#[tokio::test]
async fn a_hub_outage_during_register_degrades_to_events_only() {
    // Every ImportMigrationTask answers 500: each task is retried for every round, then the wave
    // reports the Hub unavailable, every item unregistered, and later updates skip the Hub.
    let hub = HubRules {
        import: mock!(aws_sdk_migrationhub::Client::import_migration_task).then_error(|| {
            ImportMigrationTaskError::InternalServerError(
                InternalServerError::builder()
                    .message("oops")
                    .meta(meta("InternalServerError", "oops"))
                    .build(),
            )
        }),
        ..HubRules::ok()
    };
    let (events, kept) = events_kept();
    let d = deps_one_attempt(&hub.all(), &[&events], hub_on());
    let (out, details, _) = register_on_virtual_time(&d, &kept).await;

    assert_eq!(hub.create.num_calls(), 1);
    assert_eq!(hub.import.num_calls(), 3 * 6);
    assert_eq!(hub.notify.num_calls(), 0);
    assert_eq!(out.hub_status, HubStatus::Unavailable);
    assert!(!out.hub.enabled, "later updates skip the Hub");
    assert_eq!(
        out.hub_error.as_deref(),
        Some("ImportMigrationTask failed: InternalServerError: oops")
    );
    assert_eq!(events.num_calls(), 1, "the event is still published");
    assert_eq!(details[0]["hubStatus"], "unavailable");
    assert_eq!(details[0]["hub"]["enabled"], false);
    assert_eq!(
        hub_rows(&details[0]),
        vec![
            (WS1.to_owned(), json!(false), json!("ServiceUnavailable")),
            (WS2.to_owned(), json!(false), json!("ServiceUnavailable")),
            (BOT.to_owned(), json!(false), json!("ServiceUnavailable")),
        ]
    );
}

#[tokio::test]
async fn register_degrades_on_every_create_stream_error() {
    // No failure of CreateProgressUpdateStream fails the wave: without a stream no task can be
    // imported, so the wave uses events only. Failures that may pass are retried in rounds first.
    type Make = fn() -> CreateProgressUpdateStreamError;
    let cases: Vec<(&str, Make, usize, &str)> = vec![
        (
            "HomeRegionNotSet",
            || {
                CreateProgressUpdateStreamError::HomeRegionNotSetException(
                    HomeRegionNotSetException::builder()
                        .message("The home region is not set")
                        .build(),
                )
            },
            1,
            "HubUnavailable",
        ),
        (
            "AccessDenied",
            || {
                CreateProgressUpdateStreamError::AccessDeniedException(
                    AccessDeniedException::builder().message("denied").build(),
                )
            },
            1,
            "AccessDenied",
        ),
        (
            "Throttling",
            || {
                CreateProgressUpdateStreamError::ThrottlingException(
                    ThrottlingException::builder()
                        .message("slow down")
                        .build()
                        .unwrap(),
                )
            },
            6,
            "ThrottlingException",
        ),
        (
            "InternalServerError",
            || {
                CreateProgressUpdateStreamError::InternalServerError(
                    InternalServerError::builder().message("oops").build(),
                )
            },
            6,
            "ServiceUnavailable",
        ),
        (
            "ServiceUnavailable",
            || {
                CreateProgressUpdateStreamError::ServiceUnavailableException(
                    ServiceUnavailableException::builder()
                        .message("later")
                        .build(),
                )
            },
            6,
            "ServiceUnavailable",
        ),
        (
            "InvalidInput",
            || {
                CreateProgressUpdateStreamError::InvalidInputException(
                    InvalidInputException::builder().message("bad name").build(),
                )
            },
            1,
            "InvalidRequest",
        ),
    ];
    for (name, make, creates, error_type) in cases {
        let hub = HubRules {
            create: mock!(aws_sdk_migrationhub::Client::create_progress_update_stream)
                .then_error(make),
            ..HubRules::ok()
        };
        let (events, kept) = events_kept();
        let d = deps_one_attempt(&hub.all(), &[&events], hub_on());
        let (out, details, _) = register_on_virtual_time(&d, &kept).await;
        assert_eq!(hub.create.num_calls(), creates, "{name}");
        assert_eq!(hub.import.num_calls(), 0, "{name}");
        assert_eq!(out.hub_status, HubStatus::Unavailable, "{name}");
        assert!(!out.hub.enabled, "{name}: later updates skip the Hub");
        assert_eq!(
            events.num_calls(),
            1,
            "{name}: the event is still published"
        );
        let e = json!(error_type);
        assert_eq!(
            hub_rows(&details[0]),
            vec![
                (WS1.to_owned(), json!(false), e.clone()),
                (WS2.to_owned(), json!(false), e.clone()),
                (BOT.to_owned(), json!(false), e),
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn register_degrades_on_every_import_error() {
    // (name, error, import calls, error type of every item). A missing home Region or access
    // denied stops the Hub for the wave (the mock answers at once, so the other tasks are never
    // tried); an invalid input is final per task; the rest are retried for every round.
    type Make = fn() -> ImportMigrationTaskError;
    let cases: Vec<(&str, Make, usize, &str)> = vec![
        (
            "HomeRegionNotSet",
            || {
                ImportMigrationTaskError::HomeRegionNotSetException(
                    HomeRegionNotSetException::builder().build(),
                )
            },
            1,
            "HubUnavailable",
        ),
        (
            "AccessDenied",
            || {
                ImportMigrationTaskError::AccessDeniedException(
                    AccessDeniedException::builder().build(),
                )
            },
            1,
            "AccessDenied",
        ),
        (
            "UnauthorizedOperation",
            || {
                ImportMigrationTaskError::UnauthorizedOperation(
                    UnauthorizedOperation::builder().build(),
                )
            },
            1,
            "AccessDenied",
        ),
        ("Throttling", throttled_import, 18, "ThrottlingException"),
        (
            "ServiceUnavailable",
            || {
                ImportMigrationTaskError::ServiceUnavailableException(
                    ServiceUnavailableException::builder().build(),
                )
            },
            18,
            "ServiceUnavailable",
        ),
        (
            "ResourceNotFound",
            || {
                ImportMigrationTaskError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("no stream")
                        .build(),
                )
            },
            18,
            "ResourceNotFound",
        ),
        (
            "InvalidInput",
            || {
                ImportMigrationTaskError::InvalidInputException(
                    InvalidInputException::builder().build(),
                )
            },
            3,
            "InvalidRequest",
        ),
    ];
    for (name, make, imports, error_type) in cases {
        let hub = HubRules {
            import: mock!(aws_sdk_migrationhub::Client::import_migration_task).then_error(make),
            ..HubRules::ok()
        };
        let (events, kept) = events_kept();
        let d = deps_one_attempt(&hub.all(), &[&events], hub_on());
        let (out, details, _) = register_on_virtual_time(&d, &kept).await;
        assert_eq!(hub.create.num_calls(), 1, "{name}");
        assert_eq!(hub.import.num_calls(), imports, "{name}");
        assert_eq!(hub.notify.num_calls(), 0, "{name}");
        assert_eq!(out.hub_status, HubStatus::Unavailable, "{name}");
        assert!(!out.hub.enabled, "{name}");
        assert_eq!(events.num_calls(), 1, "{name}");
        let e = json!(error_type);
        assert_eq!(
            hub_rows(&details[0]),
            vec![
                (WS1.to_owned(), json!(false), e.clone()),
                (WS2.to_owned(), json!(false), e.clone()),
                (BOT.to_owned(), json!(false), e),
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn register_fails_when_eventbridge_fails_even_with_the_hub_down() {
    // Events are the sink of record: a Hub outage degrades, a PutEvents failure does not.
    let hub = HubRules {
        import: mock!(aws_sdk_migrationhub::Client::import_migration_task)
            .then_error(throttled_import),
        ..HubRules::ok()
    };
    let events = mock!(aws_sdk_eventbridge::Client::put_events).then_error(|| {
        PutEventsError::InternalException(
            aws_sdk_eventbridge::types::error::InternalException::builder()
                .message("down")
                .build(),
        )
    });
    let d = deps_one_attempt(&hub.all(), &[&events], hub_on());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (res, _) = fleetshift_clock::scope(start, handle(fixture("register.json"), &d)).await;
    assert_eq!(error_type(res.unwrap_err()), "ServiceUnavailable");
}

#[tokio::test]
async fn invalid_plans_make_no_call() {
    let cases = [
        (
            "bad id pattern",
            json!({"waveId": "w", "bundleId": "wsb-abcd12345", "workspaces": [{"workspaceId": "WS-1"}]}),
            "workspaces[0].workspaceId",
        ),
        (
            "missing field",
            json!({"bundleId": "wsb-abcd12345", "workspaces": [{"workspaceId": "ws-abcd12345"}]}),
            "waveId",
        ),
        (
            "unknown field",
            json!({"waveId": "w", "bundleId": "wsb-abcd12345", "workspaces": [{"workspaceId": "ws-abcd12345", "user": "alice"}]}),
            "workspaces[0]",
        ),
        ("empty plan", json!({"waveId": "w"}), "workspaces"),
        ("not an object", json!([]), "plan"),
    ];
    for (name, plan, field) in cases {
        let hub = HubRules::ok();
        let events = events_ok("Wave Registered");
        let d = deps(&hub.all(), &[&events], hub_on());
        let err = handle(json!({"action": "register", "plan": plan}), &d)
            .await
            .unwrap_err();
        let diag = Diagnostic::from(err);
        assert_eq!(diag.error_type, "InvalidPlan", "{name}");
        assert!(
            diag.error_message.contains(field),
            "{name}: {}",
            diag.error_message
        );
        assert_eq!(hub.calls() + events.num_calls(), 0, "{name}");
    }
}

// ----- update ------------------------------------------------------------------------------

#[tokio::test]
async fn update_notifies_within_hub_limits_and_publishes() {
    let notify = mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
        .match_requests(|r| {
            let t = r.task().expect("task");
            r.progress_update_stream() == Some("fleetshift")
                && r.migration_task_name() == Some("wave-2025-11-a-ws-abcd12345")
                && t.status() == &HubTaskStatus::InProgress
                && t.status_detail()
                    .is_some_and(|d| d.chars().count() == MAX_STATUS_DETAIL_CHARS)
                && t.progress_percent() == Some(100)
                && r.next_update_seconds() == Some(16_500)
                && r.update_date_time().is_some()
        })
        .then_output(|| NotifyMigrationTaskStateOutput::builder().build());
    let hub = HubRules {
        notify,
        ..HubRules::ok()
    };
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            let e = &r.entries()[0];
            let d: Value = serde_json::from_str(e.detail().unwrap()).unwrap();
            r.entries().len() == 1
                && e.detail_type() == Some("Migration Progress")
                && e.source() == Some("fleetshift")
                && d["taskName"] == "wave-2025-11-a-ws-abcd12345"
                && d["status"] == "IN_PROGRESS"
                && d["hubStatus"] == "updated"
                && d["progressPercent"] == 100
                && d["updatedAt"].as_str().is_some_and(|t| t.ends_with('Z'))
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&hub.all(), &[&events], hub_on());
    let mut input = fixture("update.json");
    input["statusDetail"] = json!("x".repeat(4000));
    input["progressPercent"] = json!(100);
    input["nextUpdateSeconds"] = json!(60);

    let Output::Update(out) = handle(input, &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.hub_status, HubStatus::Updated);
    assert!(out.event_published);
    assert_eq!(hub.notify.num_calls(), 1);
    assert_eq!(hub.import.num_calls(), 0);
    assert_eq!(events.num_calls(), 1);
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"hubStatus": "updated", "eventPublished": true})
    );
}

#[tokio::test]
async fn a_completed_update_carries_the_new_workspace_id_in_its_event() {
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            let d: Value = serde_json::from_str(r.entries()[0].detail().unwrap()).unwrap();
            d["status"] == "COMPLETED" && d["targetWorkspaceId"] == "ws-abcd99999"
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&[], &[&events], settings_with_bus());
    let mut input = fixture("update.json");
    input["hub"] = json!({"enabled": false});
    input["status"] = json!("COMPLETED");
    input["targetWorkspaceId"] = json!("ws-abcd99999");
    handle(input.clone(), &d).await.unwrap();
    assert_eq!(events.num_calls(), 1);

    // A malformed id, or one on a bot's task, is InvalidPlan naming the field; nothing is called.
    let mut bad = input.clone();
    bad["targetWorkspaceId"] = json!("alice");
    let mut on_bot = input;
    on_bot["task"] = json!({"kind": "lexBot", "id": "OrderFlowers", "version": "$LATEST"});
    for input in [bad, on_bot] {
        let diag = Diagnostic::from(handle(input, &d).await.unwrap_err());
        assert_eq!(diag.error_type, "InvalidPlan");
        assert!(diag.error_message.contains("targetWorkspaceId"), "{diag:?}");
    }
    assert_eq!(events.num_calls(), 1);
}

#[tokio::test]
async fn a_completed_update_carries_an_adoption_in_its_event_and_null_is_none() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let record = seen.clone();
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |r| {
            let d: Value = serde_json::from_str(r.entries()[0].detail().unwrap()).unwrap();
            record.lock().unwrap().push(d);
            true
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&[], &[&events], settings_with_bus());
    let mut input = fixture("update.json");
    input["hub"] = json!({"enabled": false});
    input["status"] = json!("COMPLETED");
    input["targetWorkspaceId"] = json!("ws-abcd99999");
    input["adoption"] = json!({"adopted": true, "evidence": "relatedWorkspacesNameSource"});
    handle(input.clone(), &d).await.unwrap();
    // ReportCompleted copies start-migration's `adoption`, null for an answered migration.
    input["adoption"] = Value::Null;
    handle(input, &d).await.unwrap();
    assert_eq!(events.num_calls(), 2);
    let details = seen.lock().unwrap().clone();
    assert_eq!(details.len(), 2);
    assert_eq!(
        details[0]["adoption"],
        json!({"adopted": true, "evidence": "relatedWorkspacesNameSource"})
    );
    assert_eq!(details[1].get("adoption"), None);
}

#[tokio::test]
async fn update_bot_with_hub_disabled_publishes_only() {
    let hub = HubRules::ok();
    let events = events_ok("Migration Progress");
    let d = deps(&hub.all(), &[&events], hub_on());
    let Output::Update(out) = handle(fixture("update-bot.json"), &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.hub_status, HubStatus::Disabled);
    assert_eq!(hub.calls(), 0);
    assert_eq!(events.num_calls(), 1);
}

/// Every exception NotifyMigrationTaskState documents: the error type it becomes, reported with
/// the degraded update (the event is published, the state succeeds).
#[tokio::test]
async fn notify_exceptions_map_to_error_types_or_degrade() {
    type Make = fn() -> NotifyMigrationTaskStateError;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "AccessDenied",
            || {
                NotifyMigrationTaskStateError::AccessDeniedException(
                    AccessDeniedException::builder()
                        .message("not allowed")
                        .build(),
                )
            },
            "AccessDenied",
        ),
        (
            "Throttling",
            || {
                NotifyMigrationTaskStateError::ThrottlingException(
                    ThrottlingException::builder()
                        .message("Rate exceeded")
                        .retry_after_seconds(2)
                        .build()
                        .unwrap(),
                )
            },
            "ThrottlingException",
        ),
        (
            "InternalServerError",
            || {
                NotifyMigrationTaskStateError::InternalServerError(
                    InternalServerError::builder().message("internal").build(),
                )
            },
            "ServiceUnavailable",
        ),
        (
            "ServiceUnavailable",
            || {
                NotifyMigrationTaskStateError::ServiceUnavailableException(
                    ServiceUnavailableException::builder()
                        .message("later")
                        .build(),
                )
            },
            "ServiceUnavailable",
        ),
        (
            "DryRunOperation",
            || {
                NotifyMigrationTaskStateError::DryRunOperation(
                    DryRunOperation::builder().message("dry run").build(),
                )
            },
            "UnexpectedResponse",
        ),
        (
            "UnauthorizedOperation",
            || {
                NotifyMigrationTaskStateError::UnauthorizedOperation(
                    UnauthorizedOperation::builder()
                        .message("unauthorized")
                        .build(),
                )
            },
            "AccessDenied",
        ),
        (
            "InvalidInput",
            || {
                NotifyMigrationTaskStateError::InvalidInputException(
                    InvalidInputException::builder().message("bad").build(),
                )
            },
            "InvalidRequest",
        ),
        (
            "ResourceNotFound",
            || {
                NotifyMigrationTaskStateError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("no such task")
                        .build(),
                )
            },
            "ResourceNotFound",
        ),
        (
            "HomeRegionNotSet",
            || {
                NotifyMigrationTaskStateError::HomeRegionNotSetException(
                    HomeRegionNotSetException::builder()
                        .message("home region not set")
                        .build(),
                )
            },
            "HubUnavailable",
        ),
    ];
    for (name, make, expected) in cases {
        let hub = HubRules {
            notify: mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
                .then_error(make),
            ..HubRules::ok()
        };
        let events = events_ok("Migration Progress");
        let d = deps(&hub.all(), &[&events], hub_on());
        let res = handle(fixture("update.json"), &d).await;
        // Every Hub failure of an update degrades: the event is still published and the state
        // succeeds; the failure's errorType is reported with it.
        let Output::Update(out) = res.unwrap_or_else(|e| panic!("{name}: {e}")) else {
            panic!("{name}")
        };
        assert_eq!(out.hub_status, HubStatus::Unavailable, "{name}");
        assert!(out.event_published, "{name}");
        assert!(out.hub_error.is_some(), "{name}");
        assert_eq!(out.hub_error_type.as_deref(), Some(expected), "{name}");
        assert_eq!(events.num_calls(), 1, "{name}: event still published");
        if name == "ResourceNotFound" {
            // The unknown task was imported and notified once more before giving up.
            assert_eq!(hub.import.num_calls(), 1);
            assert_eq!(hub.notify.num_calls(), 2);
        } else {
            assert_eq!(hub.import.num_calls(), 0, "{name}");
            assert!(hub.notify.num_calls() >= 1, "{name}");
        }
    }
}

#[tokio::test]
async fn update_imports_a_task_hub_does_not_know() {
    let notify = mock!(aws_sdk_migrationhub::Client::notify_migration_task_state)
        .sequence()
        .error(|| {
            NotifyMigrationTaskStateError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        })
        .output(|| NotifyMigrationTaskStateOutput::builder().build())
        .build();
    let import = mock!(aws_sdk_migrationhub::Client::import_migration_task)
        .match_requests(|r| r.migration_task_name() == Some("wave-2025-11-a-ws-abcd12345"))
        .then_output(|| ImportMigrationTaskOutput::builder().build());
    let hub = HubRules {
        notify,
        import,
        ..HubRules::ok()
    };
    let events = events_ok("Migration Progress");
    let d = deps(&hub.all(), &[&events], hub_on());
    let Output::Update(out) = handle(fixture("update.json"), &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.hub_status, HubStatus::Updated);
    assert_eq!(hub.notify.num_calls(), 2);
    assert_eq!(hub.import.num_calls(), 1);
    assert_eq!(events.num_calls(), 1);
}

#[tokio::test]
async fn invalid_updates_make_no_call() {
    let base = fixture("update.json");
    let mut bad_task = base.clone();
    bad_task["task"]["id"] = json!("alice");
    let mut bad_kind = base.clone();
    bad_kind["task"] = json!({"kind": "user", "id": "alice"});
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("status");
    let mut unknown = base.clone();
    unknown["userName"] = json!("alice");
    let mut bad_status = base.clone();
    bad_status["status"] = json!("DONE");
    let mut bad_stream = base.clone();
    bad_stream["hub"]["progressUpdateStream"] = json!("a:b");
    let mut percent_over = base.clone();
    percent_over["progressPercent"] = json!(140);
    let mut percent_under = base.clone();
    percent_under["progressPercent"] = json!(-1);
    let mut next_negative = base.clone();
    next_negative["nextUpdateSeconds"] = json!(-60);
    let unknown_action = json!({"action": "delete"});
    for (name, input) in [
        ("progressPercent over 100", percent_over),
        ("progressPercent under 0", percent_under),
        ("negative nextUpdateSeconds", next_negative),
        ("bad task id", bad_task),
        ("unknown task kind", bad_kind),
        ("missing status", missing),
        ("unknown field", unknown),
        ("unknown status", bad_status),
        ("bad stream", bad_stream),
        ("unknown action", unknown_action),
    ] {
        let hub = HubRules::ok();
        let events = events_ok("Migration Progress");
        let d = deps(&hub.all(), &[&events], hub_on());
        let err = handle(input, &d).await.unwrap_err();
        assert_eq!(error_type(err), "InvalidPlan", "{name}");
        assert_eq!(hub.calls() + events.num_calls(), 0, "{name}");
    }
}

// ----- EventBridge failures ----------------------------------------------------------------

#[tokio::test]
async fn rejected_events_are_typed_errors() {
    for (code, expected) in [
        ("ThrottlingException", "ThrottlingException"),
        ("InternalFailure", "ServiceUnavailable"),
        ("NotAuthorizedForSourceException", "AccessDenied"),
    ] {
        let events = mock!(aws_sdk_eventbridge::Client::put_events).then_output(move || {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code(code)
                        .error_message("rejected")
                        .build(),
                )
                .build()
        });
        let hub = HubRules::ok();
        let d = deps(&hub.all(), &[&events], hub_on());
        let err = handle(fixture("update-bot.json"), &d).await.unwrap_err();
        let diag = Diagnostic::from(err);
        assert_eq!(diag.error_type, expected, "{code}");
        assert!(diag.error_message.contains(code), "{}", diag.error_message);
        assert_eq!(events.num_calls(), 1);
    }
}

#[tokio::test]
async fn put_events_service_error_is_retryable() {
    let events = mock!(aws_sdk_eventbridge::Client::put_events).then_error(|| {
        PutEventsError::InternalException(
            aws_sdk_eventbridge::types::error::InternalException::builder()
                .message("internal")
                .build(),
        )
    });
    let hub = HubRules::ok();
    let d = deps(&hub.all(), &[&events], hub_on());
    let err = handle(fixture("finish.json"), &d).await.unwrap_err();
    assert_eq!(error_type(err), "ServiceUnavailable");
}

// ----- finish ------------------------------------------------------------------------------

#[tokio::test]
async fn finish_summarises_and_publishes_the_mapping() {
    let hub = HubRules::ok();
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            let e = &r.entries()[0];
            let d: Value = serde_json::from_str(e.detail().unwrap()).unwrap();
            e.detail_type() == Some("Wave Finished")
                && d["mapping"][0]["targetWorkspaceId"] == "ws-new0000001"
                && d["mapping"][0]["standby"]["pending"][0]["standbyWorkspaceId"] == "ws-stby000001"
                && d["bots"][0]["v1BotName"] == "OrderFlowers"
                && d["parts"] == 1
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&hub.all(), &[&events], hub_on());
    let Output::Finish(out) = handle(fixture("finish.json"), &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (out.counts.total, out.counts.completed, out.counts.failed),
        (3, 1, 2)
    );
    assert_eq!(out.mapping.len(), 2);
    assert_eq!(out.mapping[1].target_workspace_id, None);
    assert_eq!(
        out.counts.cause,
        "1 of 2 WorkSpaces and 1 of 1 bot failed: ws-abcd12346: new WorkSpace ws-new0000002 not \
         AVAILABLE 90 minutes after the migration started (state PENDING); migrations can fail \
         silently; OrderFlowers:$LATEST: LexV1Unavailable: Lex V1 model building stopped answering \
         on 2025-09-15"
    );
    assert_eq!(out.events_published, 1);
    assert_eq!(hub.calls(), 0, "finish reports to EventBridge only");
    assert_eq!(events.num_calls(), 1);
}

#[tokio::test]
async fn a_large_finish_is_split_across_events() {
    let items: Vec<Value> = (0..600)
        .map(|i| {
            json!({
                "sourceWorkspaceId": format!("ws-{i:010}"),
                "status": "FAILED",
                "cause": "y".repeat(2400),
            })
        })
        .collect();
    let ids: Vec<String> = (0..600).map(|i| format!("ws-{i:010}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let input = json!({"action": "finish", "waveId": "big", "planned": planned(&ids),
        "workspaces": items, "bots": []});
    let entries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = entries.clone();
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |r| {
            seen.fetch_add(r.entries().len(), std::sync::atomic::Ordering::SeqCst);
            r.entries()
                .iter()
                .all(|e| e.detail().unwrap().len() < 256 * 1024)
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&[], &[&events], hub_on());
    let Output::Finish(out) = handle(input, &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.counts.failed, 600);
    assert!(out.events_published >= 6, "{}", out.events_published);
    assert_eq!(
        entries.load(std::sync::atomic::Ordering::SeqCst),
        out.events_published
    );
    assert_eq!(
        events.num_calls(),
        out.events_published,
        "one ~250 KB entry per request"
    );
    assert!(
        out.counts.cause.ends_with("; and 590 more"),
        "{}",
        out.counts.cause
    );
}

#[tokio::test]
async fn finish_with_everything_completed() {
    let events = events_ok("Wave Finished");
    let d = deps(&[], &[&events], settings_with_bus());
    let input = json!({"action": "finish", "waveId": "w", "planned": planned(&["ws-abcd12345"]),
    "workspaces": [
        {"sourceWorkspaceId": "ws-abcd12345", "targetWorkspaceId": "ws-abcd99999", "status": "COMPLETED", "kind": "workspace"}
    ]});
    let Output::Finish(out) = handle(input, &d).await.unwrap() else {
        panic!()
    };
    assert_eq!(out.counts.cause, "all 1 WorkSpace completed");
    assert_eq!(out.counts.failed, 0);
}

/// Runs `finish` with PutEvents accepting everything; returns the output and the published details.
async fn finish_with(input: Value) -> (push_hub_update::FinishOutput, Vec<Value>) {
    let details = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen = details.clone();
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(move |r| {
            let mut seen = seen.lock().unwrap();
            for e in r.entries() {
                assert_eq!(e.detail_type(), Some("Wave Finished"));
                seen.push(serde_json::from_str(e.detail().unwrap()).unwrap());
            }
            true
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let d = deps(&[], &[&events], settings_with_bus());
    let Output::Finish(out) = handle(input, &d)
        .await
        .expect("finish never loses the summary")
    else {
        panic!("not a finish output")
    };
    assert_eq!(events.num_calls(), 1);
    let details = details.lock().unwrap().clone();
    (out, details)
}

fn planned(ids: &[&str]) -> Value {
    json!(
        ids.iter()
            .map(|id| json!({"workspaceId": id, "bundleId": "wsb-target0001"}))
            .collect::<Vec<_>>()
    )
}

fn completed(id: &str, target: &str) -> Value {
    json!({"sourceWorkspaceId": id, "targetWorkspaceId": target, "status": "COMPLETED", "cause": null, "standby": null})
}

#[tokio::test]
async fn finish_reports_a_planned_workspace_without_a_result_as_failed() {
    let input = json!({"action": "finish", "waveId": "w",
        "planned": planned(&["ws-abcd00001", "ws-abcd00002", "ws-abcd00003"]),
        "plannedBots": [],
        "workspaces": [completed("ws-abcd00001", "ws-new0000001"), completed("ws-abcd00003", "ws-new0000003")],
        "bots": []});
    let (out, details) = finish_with(input).await;
    assert_eq!(
        (out.counts.total, out.counts.completed, out.counts.failed),
        (3, 2, 1)
    );
    let ids: Vec<&str> = out
        .mapping
        .iter()
        .map(|m| m.source_workspace_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["ws-abcd00001", "ws-abcd00002", "ws-abcd00003"],
        "plan order"
    );
    let lost = &out.mapping[1];
    assert_eq!(lost.status, Status::Failed);
    assert_eq!(lost.reason, Some(Reason::NoResult));
    assert_eq!(lost.target_workspace_id, None);
    assert!(
        lost.cause
            .as_deref()
            .unwrap()
            .starts_with("no result reported"),
        "{lost:?}"
    );
    assert!(
        out.counts
            .cause
            .starts_with("1 of 3 WorkSpaces failed: ws-abcd00002: no result reported"),
        "{}",
        out.counts.cause
    );
    // The event says the same.
    assert_eq!(details[0]["failed"], 1);
    assert_eq!(details[0]["mapping"][1]["status"], "FAILED");
}

#[tokio::test]
async fn finish_counts_unreadable_entries_and_fails_the_items_they_hide() {
    // A Distributed Map child that failed outside the item's Catch: no sourceWorkspaceId.
    let child_failed = json!({"Error": "States.Timeout", "Cause": "child execution timed out"});
    let input = json!({"action": "finish", "waveId": "w",
        "planned": planned(&["ws-abcd00001", "ws-abcd00002"]),
        "plannedBots": [{"v1BotName": "OrderFlowers", "v1BotVersion": "1", "v2BotName": "O", "v2BotRole": "r", "migrationStrategy": "CREATE_NEW"}],
        "workspaces": [child_failed, completed("ws-abcd00002", "ws-new0000002")],
        "bots": [{"Error": "States.Runtime", "Cause": "boom"}]});
    let (out, details) = finish_with(input).await;
    assert_eq!(
        (
            out.counts.total,
            out.counts.completed,
            out.counts.failed,
            out.counts.unreadable
        ),
        (3, 1, 2, 2)
    );
    assert_eq!(out.mapping[0].source_workspace_id, "ws-abcd00001");
    assert_eq!(out.mapping[0].status, Status::Failed);
    assert_eq!(out.bots.len(), 1);
    assert_eq!(out.bots[0].status, Status::Failed);
    assert!(
        out.bots[0]
            .cause
            .as_deref()
            .unwrap()
            .starts_with("no result reported")
    );
    for named in [
        "1 of 2 WorkSpaces and 1 of 1 bot failed",
        "ws-abcd00001: no result reported",
        "OrderFlowers:1: no result reported",
        "2 results were not an item result: States.Timeout: child execution timed out; States.Runtime: boom",
    ] {
        assert!(
            out.counts.cause.contains(named),
            "{named}: {}",
            out.counts.cause
        );
    }
    assert_eq!(details[0]["unreadable"], 2);

    // A Map output that is not even a list is one unreadable entry, not an invalid input.
    let input = json!({"action": "finish", "waveId": "w", "planned": planned(&["ws-abcd00001"]),
        "workspaces": {"Error": "States.ItemReaderFailed"}, "bots": null});
    let (out, _) = finish_with(input).await;
    assert_eq!(
        (out.counts.total, out.counts.failed, out.counts.unreadable),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn finish_reports_results_for_items_not_in_the_plan() {
    let input = json!({"action": "finish", "waveId": "w",
        "planned": planned(&["ws-abcd00001"]),
        "workspaces": [completed("ws-abcd00001", "ws-new0000001"), completed("ws-abcd09999", "ws-new0009999")]});
    let (out, details) = finish_with(input).await;
    assert_eq!(
        (
            out.counts.total,
            out.counts.completed,
            out.counts.failed,
            out.counts.unplanned
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(out.mapping.len(), 2);
    assert_eq!(out.mapping[1].source_workspace_id, "ws-abcd09999");
    assert!(
        out.counts
            .cause
            .contains("1 result for items not in the plan: ws-abcd09999 COMPLETED"),
        "{}",
        out.counts.cause
    );
    assert_eq!(details[0]["mapping"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn finish_counts_and_names_failed_standbys_of_completed_workspaces() {
    let caught = json!({"sourceWorkspaceId": "ws-abcd00001", "targetWorkspaceId": "ws-new0000001", "status": "COMPLETED",
        "standby": {"Error": "StandbyFailed", "Cause": "{\"errorType\":\"StandbyFailed\",\"errorMessage\":\"ws-new0000001: ResourceLimitExceeded.CoresCount\"}"}});
    let rejected = json!({"sourceWorkspaceId": "ws-abcd00002", "targetWorkspaceId": "ws-new0000002", "status": "COMPLETED",
        "standby": {"region": "us-west-2", "pending": [], "failed": [{"primaryWorkspaceId": "ws-new0000002", "errorCode": "InvalidParameterValuesException", "errorMessage": "directory not registered"}]}});
    let fine = json!({"sourceWorkspaceId": "ws-abcd00003", "targetWorkspaceId": "ws-new0000003", "status": "COMPLETED",
        "standby": {"region": "us-west-2", "pending": [{"primaryWorkspaceId": "ws-new0000003", "directoryId": "d-1", "state": "PENDING"}], "failed": []}});
    let input = json!({"action": "finish", "waveId": "w",
        "planned": planned(&["ws-abcd00001", "ws-abcd00002", "ws-abcd00003"]),
        "workspaces": [caught, rejected, fine]});
    let (out, details) = finish_with(input).await;
    // The migrations happened: every item stays COMPLETED.
    assert_eq!(
        (out.counts.total, out.counts.completed, out.counts.failed),
        (3, 3, 0)
    );
    assert!(out.mapping.iter().all(|m| m.status == Status::Completed));
    assert_eq!(out.counts.standby_failed, 2);
    assert_eq!(details[0]["standbyFailed"], 2);
    assert!(
        out.counts.cause.starts_with(
            "all 3 WorkSpaces completed. 2 standbys failed: ws-abcd00001: StandbyFailed: \
             ws-new0000001: ResourceLimitExceeded.CoresCount; ws-abcd00002: \
             InvalidParameterValuesException: directory not registered"
        ),
        "{}",
        out.counts.cause
    );
    assert!(
        !out.counts.cause.contains("ws-abcd00003"),
        "{}",
        out.counts.cause
    );
}

#[tokio::test]
async fn a_plan_with_bots_is_refused_by_a_stack_without_lex_and_nothing_is_called() {
    let events = mock!(aws_sdk_eventbridge::Client::put_events)
        .then_output(|| PutEventsOutput::builder().build());
    let d = deps(&[], &[&events], Settings::default());
    let err = handle(fixture("register.json"), &d).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: lexBots: must be empty: the stack's LexMigrationEnabled is false, so start-migration has no Lex permission (deploy with LexMigrationEnabled=true and LexV2BotRoleArn to migrate bots)"
    );
    assert_eq!(error_type(err), "InvalidPlan");
    assert_eq!(events.num_calls(), 0);
}

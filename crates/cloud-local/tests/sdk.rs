//! The real Rust SDK clients against cloud-local: success paths, typed errors, scenarios and
//! virtual time (carried by the `x-fleetshift-virtual-time` header; no wall-clock sleeps).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_workspaces::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_workspaces::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_workspaces::error::{BoxError, ProvideErrorMetadata};
use cloud_local::{CloudLocal, Fleet, Options, Running, Scenario};

const T0: u64 = 1_800_000_000_000;
const MINUTE: u64 = 60_000;

/// Adds the caller's virtual now to every request, as the offline runner's HTTP client does.
#[derive(Debug, Clone)]
struct VirtualTime(Arc<AtomicU64>);

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
        let now = self.0.load(Ordering::SeqCst).to_string();
        context
            .request_mut()
            .headers_mut()
            .insert(fleetshift_clock_header(), now);
        Ok(())
    }
}

fn fleetshift_clock_header() -> &'static str {
    "x-fleetshift-virtual-time"
}

struct Env {
    cloud: Running,
    now: Arc<AtomicU64>,
}

impl Env {
    async fn start(fleet: Fleet, scenario: Scenario) -> Self {
        let cloud = CloudLocal::start(Options {
            fleet,
            scenario,
            ..Options::default()
        })
        .await
        .expect("cloud-local starts");
        Self {
            cloud,
            now: Arc::new(AtomicU64::new(T0)),
        }
    }

    fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    async fn sdk(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(self.cloud.endpoint_url())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }

    async fn workspaces_in(&self, region: &str) -> aws_sdk_workspaces::Client {
        let conf = aws_sdk_workspaces::config::Builder::from(&self.sdk(region).await)
            .interceptor(VirtualTime(self.now.clone()))
            .build();
        aws_sdk_workspaces::Client::from_conf(conf)
    }

    async fn workspaces(&self) -> aws_sdk_workspaces::Client {
        self.workspaces_in("us-east-1").await
    }

    async fn hub(&self) -> aws_sdk_migrationhub::Client {
        let conf = aws_sdk_migrationhub::config::Builder::from(&self.sdk("us-east-1").await)
            .interceptor(VirtualTime(self.now.clone()))
            .build();
        aws_sdk_migrationhub::Client::from_conf(conf)
    }

    async fn events(&self) -> aws_sdk_eventbridge::Client {
        let conf = aws_sdk_eventbridge::config::Builder::from(&self.sdk("us-east-1").await)
            .interceptor(VirtualTime(self.now.clone()))
            .build();
        aws_sdk_eventbridge::Client::from_conf(conf)
    }
}

fn valid_id(id: &str) -> bool {
    id.len() >= 11
        && id.starts_with("ws-")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

mod workspaces {
    use super::*;
    use aws_sdk_workspaces::types::{StandbyWorkspace, WorkspaceState};

    async fn state(ws: &aws_sdk_workspaces::Client, id: &str) -> Option<WorkspaceState> {
        let out = ws
            .describe_workspaces()
            .workspace_ids(id)
            .send()
            .await
            .expect("describe");
        out.workspaces().first().and_then(|w| w.state().cloned())
    }

    #[tokio::test]
    async fn a_migration_replaces_the_workspace_after_its_duration() {
        let env = Env::start(Fleet::generate(3), Scenario::default()).await;
        let ws = env.workspaces().await;
        let out = ws
            .migrate_workspace()
            .source_workspace_id("ws-gen0000000")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .expect("migrate");
        assert_eq!(out.source_workspace_id(), Some("ws-gen0000000"));
        let target = out.target_workspace_id().expect("target id").to_owned();
        assert!(valid_id(&target), "{target}");
        assert_ne!(target, "ws-gen0000000");

        assert_eq!(state(&ws, &target).await, Some(WorkspaceState::Pending));
        // A second migration of the same WorkSpace while it runs.
        let err = ws
            .migrate_workspace()
            .source_workspace_id("ws-gen0000000")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .expect_err("in progress");
        assert!(
            err.as_service_error()
                .unwrap()
                .is_operation_in_progress_exception()
        );
        assert_eq!(err.code(), Some("OperationInProgressException"));

        env.advance(39 * MINUTE);
        assert_eq!(state(&ws, &target).await, Some(WorkspaceState::Pending));
        assert_eq!(
            state(&ws, "ws-gen0000000").await,
            Some(WorkspaceState::Available)
        );
        env.advance(MINUTE);
        assert_eq!(state(&ws, &target).await, Some(WorkspaceState::Available));
        assert_eq!(
            state(&ws, "ws-gen0000000").await,
            None,
            "the source is replaced"
        );
        let target_ws = ws
            .describe_workspaces()
            .workspace_ids(&target)
            .send()
            .await
            .unwrap();
        let w = &target_ws.workspaces()[0];
        assert_eq!(w.bundle_id(), Some("wsb-target0001"));
        assert_eq!(w.user_name(), Some("user00000"));

        let err = ws
            .migrate_workspace()
            .source_workspace_id("ws-gen0000000")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .expect_err("gone");
        assert!(
            err.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );

        let migrations = env.cloud.migrations();
        assert_eq!(migrations.len(), 1);
        assert_eq!(migrations[0].target_workspace_id, target);
        let log = env.cloud.calls();
        let ok_migrations = log
            .iter()
            .filter(|c| c.operation == "MigrateWorkspace" && c.outcome.is_ok())
            .count();
        assert_eq!(ok_migrations, 1);
        assert!(
            log.iter()
                .all(|c| c.mutating == (c.operation == "MigrateWorkspace"))
        );
        assert_eq!(env.cloud.now(), fleetshift_clock_time(T0 + 40 * MINUTE));
    }

    #[tokio::test]
    async fn a_lost_answer_does_the_work_and_answers_internal_failure() {
        let scenario: Scenario = serde_json::from_value(serde_json::json!({
            "rules": [{"operation": "MigrateWorkspace", "id": "ws-gen0000001", "loseAnswer": 1}]
        }))
        .unwrap();
        let env = Env::start(Fleet::generate(3), scenario).await;
        let ws = env.workspaces().await;
        let migrate = |id: &'static str| {
            ws.migrate_workspace()
                .source_workspace_id(id)
                .bundle_id("wsb-target0001")
                .send()
        };
        // A call that fails on its own has no answer to lose: the lost answer is still owed.
        let err = ws
            .migrate_workspace()
            .source_workspace_id("ws-gen0000001")
            .bundle_id("wsb-nosuch0001")
            .send()
            .await
            .expect_err("unknown bundle");
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        let err = migrate("ws-gen0000001").await.expect_err("answer lost");
        assert_eq!(err.code(), Some("InternalFailure"));
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
        // ... but the migration was started: the call again is refused as in progress.
        assert_eq!(env.cloud.migrations().len(), 1);
        let err = migrate("ws-gen0000001").await.expect_err("in progress");
        assert_eq!(err.code(), Some("OperationInProgressException"));
        assert_eq!(env.cloud.migrations().len(), 1);
        // The rule names one id and loses one answer.
        migrate("ws-gen0000002")
            .await
            .expect("another WorkSpace answers");
        assert_eq!(env.cloud.migrations().len(), 2);
    }

    fn fleetshift_clock_time(ms: u64) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn migrate_errors_are_typed() {
        let mut fleet = Fleet::generate(4);
        fleet.workspaces[1].state = "ADMIN_MAINTENANCE".into();
        fleet.workspaces[2].bundle_id = "wsb-byolsrc001".into();
        fleet.workspaces[3].state = "STOPPED".into();
        let env = Env::start(fleet, Scenario::default()).await;
        let ws = env.workspaces().await;
        let migrate = |src: &'static str, bundle: &'static str| {
            ws.migrate_workspace()
                .source_workspace_id(src)
                .bundle_id(bundle)
                .send()
        };

        let e = migrate("ws-nosuch0001", "wsb-target0001")
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
        assert_eq!(e.code(), Some("ResourceNotFoundException"));

        let e = migrate("ws-BAD", "wsb-target0001").await.unwrap_err();
        let se = e.as_service_error().unwrap();
        assert!(se.is_invalid_parameter_values_exception());
        let msg = se.message().unwrap();
        assert!(
            msg.contains("SourceWorkspaceId") && msg.contains("pattern"),
            "{msg}"
        );

        let e = migrate("ws-gen0000001", "wsb-target0001")
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_unavailable_exception(),
            "{e:?}"
        );
        assert!(e.message().unwrap().contains("ADMIN_MAINTENANCE"));

        let e = migrate("ws-gen0000002", "wsb-target0001")
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_operation_not_supported_exception()
        );
        let e = migrate("ws-gen0000000", "wsb-byoltgt001")
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_operation_not_supported_exception()
        );
        let e = migrate("ws-gen0000000", "wsb-nosuch0001")
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );

        migrate("ws-gen0000002", "wsb-byoltgt001")
            .await
            .expect("BYOL to BYOL");
        migrate("ws-gen0000003", "wsb-target0001")
            .await
            .expect("STOPPED migrates");
        assert_eq!(env.cloud.migrations().len(), 2);
    }

    #[tokio::test]
    async fn describe_filters_paginates_and_separates_regions() {
        let env = Env::start(Fleet::generate(30), Scenario::default()).await;
        let ws = env.workspaces().await;
        let first = ws.describe_workspaces().send().await.unwrap();
        assert_eq!(first.workspaces().len(), 25);
        let token = first.next_token().expect("more").to_owned();
        let second = ws
            .describe_workspaces()
            .next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(second.workspaces().len(), 5);
        assert!(second.next_token().is_none());

        let by_user = ws
            .describe_workspaces()
            .directory_id("d-1000000001")
            .user_name("user00007")
            .send()
            .await
            .unwrap();
        assert_eq!(
            by_user.workspaces()[0].workspace_id(),
            Some("ws-gen0000007")
        );

        let e = ws
            .describe_workspaces()
            .user_name("user00007")
            .send()
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_invalid_parameter_values_exception()
        );
        let e = ws.describe_workspaces().limit(26).send().await.unwrap_err();
        assert!(e.message().unwrap().contains("Limit"), "{e:?}");

        let west = env.workspaces_in("us-west-2").await;
        let none = west.describe_workspaces().send().await.unwrap();
        assert!(none.workspaces().is_empty());
    }

    #[tokio::test]
    async fn standbys_are_created_in_the_callers_region_and_failures_reported() {
        let mut scenario = Scenario::default();
        scenario.fail_standbys.push(cloud_local::StandbyFailure {
            primary_workspace_id: "ws-gen0000002".into(),
            error_code: Some("ResourceLimitExceeded".into()),
            error_message: None,
        });
        let env = Env::start(Fleet::generate(3), scenario).await;
        let west = env.workspaces_in("us-west-2").await;
        let req = |primary: &str, dir: &str| {
            StandbyWorkspace::builder()
                .primary_workspace_id(primary)
                .directory_id(dir)
                .build()
                .unwrap()
        };
        let out = west
            .create_standby_workspaces()
            .primary_region("us-east-1")
            .standby_workspaces(req("ws-gen0000000", "d-2000000002"))
            .standby_workspaces(req("ws-nosuch0001", "d-2000000002"))
            .standby_workspaces(req("ws-gen0000001", "d-1000000001"))
            .standby_workspaces(req("ws-gen0000002", "d-2000000002"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.pending_standby_requests().len(), 1);
        let failed = out.failed_standby_requests();
        assert_eq!(failed.len(), 3);
        assert_eq!(failed[0].error_code(), Some("ResourceNotFound.Workspace"));
        assert_eq!(
            failed[0]
                .standby_workspace_request()
                .unwrap()
                .primary_workspace_id(),
            "ws-nosuch0001"
        );
        assert_eq!(failed[1].error_code(), Some("ResourceNotFound.Directory"));
        assert_eq!(failed[2].error_code(), Some("ResourceLimitExceeded"));

        let pending = &out.pending_standby_requests()[0];
        let standby = pending.workspace_id().unwrap().to_owned();
        assert_eq!(pending.state(), Some(&WorkspaceState::Pending));
        env.advance(20 * MINUTE);
        assert_eq!(
            state(&west, &standby).await,
            Some(WorkspaceState::Available)
        );
        let records = env.cloud.standbys();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].primary_workspace_id, "ws-gen0000000");
        assert_eq!(records[0].region, "us-west-2");

        // Calling it in the primary Region is a parameter error.
        let east = env.workspaces().await;
        let e = east
            .create_standby_workspaces()
            .primary_region("us-east-1")
            .standby_workspaces(req("ws-gen0000000", "d-2000000002"))
            .send()
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_invalid_parameter_values_exception()
        );
    }

    #[tokio::test]
    async fn image_imports_advance_and_fail_as_configured() {
        let mut fleet = Fleet::generate(0);
        fleet.image_imports[0].duration_secs = 60 * 60;
        let mut scenario = Scenario::default();
        fleet.image_imports.push(cloud_local::ImageImportSeed {
            image_id: "wsi-broken0001".into(),
            duration_secs: 600,
            final_state: "COMPLETED".into(),
            error_details: Vec::new(),
            started_at_millis: None,
        });
        scenario
            .fail_image_imports
            .push(cloud_local::ImageImportFailure {
                image_id: "wsi-broken0001".into(),
                at_percent: 50,
                error_details: vec![cloud_local::ImportErrorDetail {
                    error_code: "UnsupportedOperatingSystem".into(),
                    error_message: "Windows 7 is not supported".into(),
                }],
            });
        let env = Env::start(fleet, scenario).await;
        let ws = env.workspaces().await;
        let describe = |id: &'static str| {
            ws.describe_custom_workspace_image_import()
                .image_id(id)
                .send()
        };
        use aws_sdk_workspaces::types::CustomWorkspaceImageImportState as S;

        let first = describe("wsi-gen000001").await.unwrap();
        assert_eq!(first.state(), Some(&S::Pending));
        assert_eq!(first.progress_percentage(), Some(0));
        assert!(first.created().is_some());
        env.advance(30 * MINUTE);
        let mid = describe("wsi-gen000001").await.unwrap();
        assert_eq!(mid.progress_percentage(), Some(50));
        assert!(!matches!(
            mid.state(),
            Some(S::Completed | S::Error | S::Pending)
        ));
        env.advance(30 * MINUTE);
        let done = describe("wsi-gen000001").await.unwrap();
        assert_eq!(done.state(), Some(&S::Completed));
        assert_eq!(done.progress_percentage(), Some(100));

        describe("wsi-broken0001").await.unwrap();
        env.advance(5 * MINUTE);
        let broken = describe("wsi-broken0001").await.unwrap();
        assert_eq!(broken.state(), Some(&S::Error));
        assert_eq!(
            broken.error_details()[0].error_code(),
            Some("UnsupportedOperatingSystem")
        );

        let e = describe("wsi-nosuch0001").await.unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );
    }
}

mod scenarios {
    use super::*;
    use aws_sdk_workspaces::types::WorkspaceState;
    use cloud_local::{FailAction, Rule};

    #[tokio::test]
    async fn fail_after_letting_calls_through() {
        let scenario: Scenario = serde_json::from_value(serde_json::json!({"rules": [
            {"operation": "DescribeWorkspaces", "id": "ws-gen0000000",
             "fail": {"error": "ThrottlingException", "after": 1, "times": 1}}
        ]}))
        .unwrap();
        let env = Env::start(Fleet::generate(2), scenario).await;
        let ws = env.workspaces().await;
        let describe = |id: &'static str| ws.describe_workspaces().workspace_ids(id).send();
        describe("ws-gen0000000")
            .await
            .expect("the first goes through");
        describe("ws-gen0000001")
            .await
            .expect("another id is not counted");
        let e = describe("ws-gen0000000").await.unwrap_err();
        assert_eq!(e.code(), Some("ThrottlingException"));
        describe("ws-gen0000000").await.expect("then behaves");
    }

    #[tokio::test]
    async fn fail_n_times_then_behave() {
        let scenario = Scenario {
            rules: vec![Rule {
                operation: "MigrateWorkspace".into(),
                id: Some("ws-gen0000000".into()),
                fail: Some(FailAction {
                    error: "OperationInProgressException".into(),
                    times: Some(2),
                    after: None,
                    status: None,
                    message: None,
                }),
                throttle: None,
                latency_ms: None,
                lose_answer: None,
            }],
            ..Scenario::default()
        };
        let env = Env::start(Fleet::generate(2), scenario).await;
        let ws = env.workspaces().await;
        for _ in 0..2 {
            let e = ws
                .migrate_workspace()
                .source_workspace_id("ws-gen0000000")
                .bundle_id("wsb-target0001")
                .send()
                .await
                .unwrap_err();
            assert!(
                e.as_service_error()
                    .unwrap()
                    .is_operation_in_progress_exception()
            );
        }
        // Another id is unaffected.
        ws.migrate_workspace()
            .source_workspace_id("ws-gen0000001")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .unwrap();
        ws.migrate_workspace()
            .source_workspace_id("ws-gen0000000")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .expect("third time succeeds");
        let migrated: Vec<_> = env
            .cloud
            .migrations()
            .into_iter()
            .map(|m| m.source_workspace_id)
            .collect();
        assert_eq!(migrated, ["ws-gen0000001", "ws-gen0000000"]);
        assert_eq!(env.cloud.mutating_calls().len(), 4);
    }

    #[tokio::test]
    async fn throttling_is_a_deterministic_fraction() {
        let scenario = Scenario::from_json(
            r#"{"seed": 11, "rules": [{"operation": "DescribeWorkspaces", "throttle": 0.3}]}"#,
        )
        .unwrap();
        let env = Env::start(Fleet::generate(1), scenario.clone()).await;
        let ws = env.workspaces().await;
        let mut pattern = Vec::new();
        for _ in 0..100 {
            match ws.describe_workspaces().send().await {
                Ok(_) => pattern.push(false),
                Err(e) => {
                    assert_eq!(e.code(), Some("ThrottlingException"));
                    pattern.push(true);
                }
            }
        }
        let throttled = pattern.iter().filter(|t| **t).count();
        assert!((15..=45).contains(&throttled), "{throttled}");

        let again = Env::start(Fleet::generate(1), scenario).await;
        let ws = again.workspaces().await;
        for expected in pattern.iter().take(20) {
            assert_eq!(ws.describe_workspaces().send().await.is_err(), *expected);
        }
    }

    #[tokio::test]
    async fn a_silent_migration_failure_stays_pending() {
        let scenario =
            Scenario::from_json(r#"{"neverFinishMigrations": ["ws-gen0000000"]}"#).unwrap();
        let env = Env::start(Fleet::generate(1), scenario).await;
        let ws = env.workspaces().await;
        let target = ws
            .migrate_workspace()
            .source_workspace_id("ws-gen0000000")
            .bundle_id("wsb-target0001")
            .send()
            .await
            .unwrap()
            .target_workspace_id
            .unwrap();
        env.advance(10 * 60 * MINUTE);
        let out = ws
            .describe_workspaces()
            .workspace_ids(&target)
            .send()
            .await
            .unwrap();
        assert_eq!(out.workspaces()[0].state(), Some(&WorkspaceState::Pending));
        assert!(env.cloud.migrations()[0].completes_at.is_none());
    }

    #[tokio::test]
    async fn latency_delays_but_answers() {
        let scenario =
            Scenario::from_json(r#"{"rules": [{"operation": "*", "latencyMs": 30}]}"#).unwrap();
        let env = Env::start(Fleet::generate(1), scenario).await;
        let ws = env.workspaces().await;
        let started = std::time::Instant::now();
        ws.describe_workspaces().send().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}

mod migration_hub {
    use super::*;
    use aws_sdk_migrationhub::primitives::DateTime;
    use aws_sdk_migrationhub::types::{Status, Task};

    fn task(status: Status, percent: i32) -> Task {
        Task::builder()
            .status(status)
            .progress_percent(percent)
            .status_detail("ws-gen0000000 -> ws-new")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn stream_import_notify_describe_list() {
        let env = Env::start(Fleet::generate(1), Scenario::default()).await;
        let hub = env.hub().await;
        let notify = |name: &'static str, status: Status| {
            hub.notify_migration_task_state()
                .progress_update_stream("fleetshift")
                .migration_task_name(name)
                .task(task(status, 50))
                .update_date_time(DateTime::from_secs(1_800_000_000))
                .next_update_seconds(900)
                .send()
        };
        let e = hub
            .import_migration_task()
            .progress_update_stream("fleetshift")
            .migration_task_name("ws-gen0000000")
            .send()
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception()
        );

        hub.create_progress_update_stream()
            .progress_update_stream_name("fleetshift")
            .send()
            .await
            .unwrap();
        let e = notify("ws-gen0000000", Status::InProgress)
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception(),
            "{e:?}"
        );
        assert_eq!(e.code(), Some("ResourceNotFoundException"));

        hub.import_migration_task()
            .progress_update_stream("fleetshift")
            .migration_task_name("ws-gen0000000")
            .send()
            .await
            .unwrap();
        notify("ws-gen0000000", Status::InProgress).await.unwrap();
        notify("ws-gen0000000", Status::Completed).await.unwrap();

        let d = hub
            .describe_migration_task()
            .progress_update_stream("fleetshift")
            .migration_task_name("ws-gen0000000")
            .send()
            .await
            .unwrap();
        let t = d.migration_task().unwrap();
        assert_eq!(t.task().unwrap().status(), &Status::Completed);
        assert_eq!(
            t.update_date_time(),
            Some(&DateTime::from_secs(1_800_000_000))
        );

        let list = hub.list_migration_tasks().send().await.unwrap();
        assert_eq!(list.migration_task_summary_list().len(), 1);
        assert_eq!(
            list.migration_task_summary_list()[0].status(),
            Some(&Status::Completed)
        );

        let tasks = env.cloud.hub_tasks();
        assert_eq!(tasks[0].status.as_deref(), Some("COMPLETED"));
        assert_eq!(tasks[0].notifications, 2);
    }

    #[tokio::test]
    async fn invalid_input_names_the_field() {
        let env = Env::start(Fleet::generate(1), Scenario::default()).await;
        let hub = env.hub().await;
        let e = hub
            .create_progress_update_stream()
            .progress_update_stream_name("bad:name")
            .send()
            .await
            .unwrap_err();
        let se = e.as_service_error().unwrap();
        assert!(se.is_invalid_input_exception());
        assert!(se.message().unwrap().contains("ProgressUpdateStreamName"));
        hub.create_progress_update_stream()
            .progress_update_stream_name("s")
            .send()
            .await
            .unwrap();
        hub.import_migration_task()
            .progress_update_stream("s")
            .migration_task_name("t")
            .send()
            .await
            .unwrap();
        let e = hub
            .notify_migration_task_state()
            .progress_update_stream("s")
            .migration_task_name("t")
            .task(task(Status::InProgress, 101))
            .update_date_time(DateTime::from_secs(1))
            .next_update_seconds(60)
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_invalid_input_exception());
        assert!(
            e.message().unwrap().contains("Task.ProgressPercent"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn unavailable_hub_answers_as_configured() {
        for (mode, check) in [
            ("homeRegionNotSet", "HomeRegionNotSetException"),
            ("accessDenied", "AccessDeniedException"),
        ] {
            let scenario =
                Scenario::from_json(&format!(r#"{{"migrationHub": "{mode}"}}"#)).unwrap();
            let env = Env::start(Fleet::generate(1), scenario).await;
            let e = env
                .hub()
                .await
                .create_progress_update_stream()
                .progress_update_stream_name("fleetshift")
                .send()
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(check));
            let se = e.as_service_error().unwrap();
            assert!(se.is_home_region_not_set_exception() || se.is_access_denied_exception());
        }
    }
}

mod eventbridge {
    use super::*;
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;

    fn entry(detail: &str) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source("fleetshift")
            .detail_type("WorkSpace migrated")
            .detail(detail)
            .build()
    }

    #[tokio::test]
    async fn put_events_records_and_reports_per_entry() {
        let env = Env::start(Fleet::generate(0), Scenario::default()).await;
        let eb = env.events().await;
        let out = eb
            .put_events()
            .entries(entry(r#"{"old": "ws-a", "new": "ws-b"}"#))
            .entries(entry("not json"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 1);
        assert!(out.entries()[0].event_id().is_some());
        assert_eq!(out.entries()[1].error_code(), Some("MalformedDetail"));
        let events = env.cloud.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_bus_name, "default");

        let mut too_many = eb.put_events();
        for _ in 0..11 {
            too_many = too_many.entries(entry("{}"));
        }
        let e = too_many.send().await.unwrap_err();
        assert_eq!(e.code(), Some("ValidationException"));
        assert!(e.message().unwrap().contains("Entries"));
    }
}

#[allow(deprecated)]
mod lex {
    use super::*;
    use aws_sdk_lexmodelbuilding::types::{MigrationStatus, MigrationStrategy};

    async fn client(env: &Env) -> aws_sdk_lexmodelbuilding::Client {
        let conf = aws_sdk_lexmodelbuilding::config::Builder::from(&env.sdk("us-east-1").await)
            .interceptor(VirtualTime(env.now.clone()))
            .build();
        aws_sdk_lexmodelbuilding::Client::from_conf(conf)
    }

    fn start(
        lex: &aws_sdk_lexmodelbuilding::Client,
        bot: &str,
    ) -> aws_sdk_lexmodelbuilding::operation::start_migration::builders::StartMigrationFluentBuilder
    {
        lex.start_migration()
            .v1_bot_name(bot)
            .v1_bot_version("$LATEST")
            .v2_bot_name(format!("{bot}V2"))
            .v2_bot_role("arn:aws:iam::123456789012:role/LexV2Migration")
            .migration_strategy(MigrationStrategy::CreateNew)
    }

    #[tokio::test]
    async fn a_migration_completes_over_time() {
        let env = Env::start(Fleet::generate(0), Scenario::default()).await;
        let lex = client(&env).await;
        let out = start(&lex, "OrderFlowers").send().await.unwrap();
        let id = out.migration_id().unwrap().to_owned();
        assert_eq!(id.len(), 10);
        assert_eq!(out.v1_bot_locale().map(|l| l.as_str()), Some("en-US"));
        let get = || lex.get_migration().migration_id(&id).send();
        assert_eq!(
            get().await.unwrap().migration_status(),
            Some(&MigrationStatus::InProgress)
        );
        env.advance(5 * MINUTE);
        let done = get().await.unwrap();
        assert_eq!(done.migration_status(), Some(&MigrationStatus::Completed));
        assert!(done.alerts().is_empty());

        let bot = lex
            .get_bot()
            .name("OrderFlowers")
            .version_or_alias("$LATEST")
            .send()
            .await
            .unwrap();
        assert_eq!(bot.version(), Some("$LATEST"));
        let versions = lex
            .get_bot_versions()
            .name("OrderFlowers")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.bots().len(), 2);

        let e = start(&lex, "NoSuchBot").send().await.unwrap_err();
        assert!(e.as_service_error().unwrap().is_not_found_exception());
        let e = start(&lex, "bad-name").send().await.unwrap_err();
        assert!(e.as_service_error().unwrap().is_bad_request_exception());
        assert!(e.message().unwrap().contains("v1BotName"));
        let e = lex
            .get_migration()
            .migration_id("short")
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_bad_request_exception());
    }

    #[tokio::test]
    async fn gone_endpoints_answer_endpoint_gone() {
        let env = Env::start(
            Fleet::generate(0),
            Scenario::from_json(r#"{"lexV1": "gone", "failLexMigrations": []}"#).unwrap(),
        )
        .await;
        let lex = client(&env).await;
        let e = start(&lex, "OrderFlowers").send().await.unwrap_err();
        assert_eq!(e.code(), Some("EndpointGone"));
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(410));
        assert!(env.cloud.lex_migrations().is_empty());
    }

    #[tokio::test]
    async fn a_failing_migration_reports_an_error_alert() {
        let env = Env::start(
            Fleet::generate(0),
            Scenario::from_json(r#"{"failLexMigrations": ["BookTrip"]}"#).unwrap(),
        )
        .await;
        let lex = client(&env).await;
        let id = start(&lex, "BookTrip")
            .send()
            .await
            .unwrap()
            .migration_id
            .unwrap();
        env.advance(5 * MINUTE);
        let out = lex.get_migration().migration_id(&id).send().await.unwrap();
        assert_eq!(out.migration_status(), Some(&MigrationStatus::Failed));
        assert_eq!(out.alerts().len(), 1);
    }
}

mod wire {
    //! Raw HTTP: what no SDK shows directly (error headers, Step Functions without a backend).
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn post(env: &Env, target: &str, version: &str, body: &str) -> (u16, String, String) {
        let mut s = tokio::net::TcpStream::connect(env.cloud.addr())
            .await
            .unwrap();
        let req = format!(
            "POST / HTTP/1.1\r\nhost: localhost\r\nx-amz-target: {target}\r\ncontent-type: application/x-amz-json-{version}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    #[tokio::test]
    async fn errors_carry_the_header_and_the_type() {
        let env = Env::start(Fleet::generate(1), Scenario::default()).await;
        let (status, head, body) = post(
            &env,
            "AWSMigrationHub.DescribeMigrationTask",
            "1.1",
            r#"{"ProgressUpdateStream": "x", "MigrationTaskName": "y"}"#,
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            head.contains("x-amzn-errortype: resourcenotfoundexception"),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "ResourceNotFoundException");
        assert!(
            v["Message"].is_string(),
            "Migration Hub spells it Message: {v}"
        );
    }

    #[tokio::test]
    async fn step_functions_without_a_backend_is_unsupported_but_validated() {
        let env = Env::start(Fleet::generate(0), Scenario::default()).await;
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:fleet";
        let (status, _, body) = post(
            &env,
            "AWSStepFunctions.StartExecution",
            "1.0",
            &format!(r#"{{"stateMachineArn": "{arn}", "name": "wave-1"}}"#),
        )
        .await;
        assert_eq!(status, 501);
        assert!(
            body.contains("UnsupportedOperation") && body.contains("backend"),
            "{body}"
        );
        let (status, _, body) = post(
            &env,
            "AWSStepFunctions.StartExecution",
            "1.0",
            &format!(r#"{{"stateMachineArn": "{arn}", "name": "has space"}}"#),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("InvalidName"), "{body}");
        assert_eq!(env.cloud.mutating_calls().len(), 2);
    }
}

mod step_functions {
    use super::*;
    use cloud_local::SfnLocalBackend;
    use serde_json::{Value, json};
    use sfn_local::{Definition, Engine, TaskFailure};

    async fn env_with_sfn() -> (Env, SfnLocalBackend, String, String) {
        let engine = Engine::builder()
            .handler("hang", |_input: Value| async move {
                std::future::pending::<Result<Value, TaskFailure>>().await
            })
            .build();
        let backend = SfnLocalBackend::new(engine);
        let quick = backend.register(
            "quick",
            Arc::new(
                Definition::parse(
                    r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","Result":{"ok":true},"End":true}}}"#,
                )
                .unwrap(),
            ),
        );
        let slow = backend.register(
            "slow",
            Arc::new(
                Definition::parse(
                    r#"{"StartAt":"Hang","States":{"Hang":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
                        "Parameters":{"FunctionName":"hang","Payload.$":"$"},"End":true}}}"#,
                )
                .unwrap(),
            ),
        );
        let cloud = CloudLocal::start(Options {
            sfn: Some(Arc::new(backend.clone())),
            ..Options::default()
        })
        .await
        .unwrap();
        let env = Env {
            cloud,
            now: Arc::new(AtomicU64::new(T0)),
        };
        (env, backend, quick, slow)
    }

    async fn client(env: &Env) -> aws_sdk_sfn::Client {
        let conf = aws_sdk_sfn::config::Builder::from(&env.sdk("us-east-1").await)
            .interceptor(VirtualTime(env.now.clone()))
            .build();
        aws_sdk_sfn::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn an_execution_started_through_an_alias_runs_the_state_machine_and_names_the_alias() {
        let (env, backend, quick, _) = env_with_sfn().await;
        let alias = backend.register_alias(&quick, "live");
        assert_eq!(
            alias,
            "arn:aws:states:us-east-1:123456789012:stateMachine:quick:live"
        );
        let sfn = client(&env).await;
        let started = sfn
            .start_execution()
            .state_machine_arn(&alias)
            .name("via-alias")
            .input("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            started.execution_arn(),
            "arn:aws:states:us-east-1:123456789012:execution:quick:via-alias"
        );
        backend
            .engine()
            .wait(started.execution_arn())
            .await
            .expect("the execution ends");
        let d = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(d.state_machine_arn(), quick);
        assert_eq!(d.state_machine_alias_arn(), Some(alias.as_str()));
        assert_eq!(d.status().as_str(), "SUCCEEDED");
        // An alias that was never registered does not exist.
        let e = sfn
            .start_execution()
            .state_machine_arn(format!("{quick}:beta"))
            .name("x")
            .send()
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_state_machine_does_not_exist()
        );
    }

    #[tokio::test]
    async fn executions_run_on_the_attached_engine() {
        let (env, backend, quick, slow) = env_with_sfn().await;
        let sfn = client(&env).await;

        let first = sfn
            .start_execution()
            .state_machine_arn(&slow)
            .name("wave-1")
            .input(r#"{"wave": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(
            first.start_date().secs(),
            (T0 / 1000) as i64,
            "virtual start"
        );
        let again = sfn
            .start_execution()
            .state_machine_arn(&slow)
            .name("wave-1")
            .input(r#"{"wave": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.execution_arn(),
            first.execution_arn(),
            "idempotent by name"
        );
        let e = sfn
            .start_execution()
            .state_machine_arn(&slow)
            .name("wave-1")
            .input(r#"{"wave": 2}"#)
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_execution_already_exists());

        let running = sfn
            .describe_execution()
            .execution_arn(first.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(running.status().as_str(), "RUNNING");
        let list = sfn
            .list_executions()
            .state_machine_arn(&slow)
            .send()
            .await
            .unwrap();
        assert_eq!(list.executions().len(), 1);

        let done = sfn
            .start_execution()
            .state_machine_arn(&quick)
            .name("q")
            .send()
            .await
            .unwrap();
        backend.engine().wait(done.execution_arn()).await.unwrap();
        let d = sfn
            .describe_execution()
            .execution_arn(done.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(d.status().as_str(), "SUCCEEDED");
        let output: Value = serde_json::from_str(d.output().unwrap()).unwrap();
        assert_eq!(output, json!({"ok": true}));
        let history = sfn
            .get_execution_history()
            .execution_arn(done.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(history.events()[0].r#type().as_str(), "ExecutionStarted");

        let e = sfn
            .start_execution()
            .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:nope")
            .send()
            .await
            .unwrap_err();
        assert!(
            e.as_service_error()
                .unwrap()
                .is_state_machine_does_not_exist()
        );
        let e = sfn
            .describe_execution()
            .execution_arn("arn:aws:states:us-east-1:123456789012:execution:quick:nope")
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_execution_does_not_exist());
        let e = sfn
            .start_execution()
            .state_machine_arn(&quick)
            .name("bad name")
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_invalid_name());
    }
}

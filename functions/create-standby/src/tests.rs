use std::sync::{Arc, Mutex};

use aws_sdk_workspaces::Client;
use aws_sdk_workspaces::config::retry::RetryConfig;
use aws_sdk_workspaces::operation::create_standby_workspaces::{
    CreateStandbyWorkspacesError, CreateStandbyWorkspacesOutput,
};
use aws_sdk_workspaces::types::error::{
    AccessDeniedException, InvalidParameterValuesException, OperationNotSupportedException,
    ResourceLimitExceededException, ResourceNotFoundException,
};
use aws_sdk_workspaces::types::{
    DataReplication, FailedCreateStandbyWorkspacesRequest, PendingCreateStandbyWorkspacesRequest,
    StandbyWorkspace, WorkspaceState,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use lambda_runtime::Diagnostic;
use serde_json::json;

use super::*;

const PRIMARY: &str = "us-east-1";
const STANDBY: &str = "us-west-2";
const WS_A: &str = "ws-abcd12345";
const WS_B: &str = "ws-efgh67890";

/// Records the host of every request, to prove which Region's endpoint was called.
#[derive(Debug, Clone, Default)]
struct Hosts(Arc<Mutex<Vec<String>>>);

impl Intercept for Hosts {
    fn name(&self) -> &'static str {
        "Hosts"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri().to_owned();
        self.0.lock().unwrap().push(uri);
        Ok(())
    }
}

/// Deps whose client lives in `PRIMARY` (the function's own Region) and answers from `rules`.
fn deps(rules: &[&Rule]) -> (Deps, Hosts) {
    let hosts = Hosts::default();
    let h = hosts.clone();
    let client: Client = mock_client!(aws_sdk_workspaces, RuleMode::MatchAny, rules, move |b| b
        .region(Region::new(PRIMARY))
        .retry_config(RetryConfig::disabled())
        .interceptor(h.clone()));
    (Deps::new(client.config().clone()), hosts)
}

fn input(ids: &[&str]) -> serde_json::Value {
    json!({
        "standby": {
            "region": STANDBY,
            "directoryId": "d-926722edaf",
            "volumeEncryptionKey": "alias/workspaces",
            "tags": [{"key": "fleetshift:wave", "value": "wave-1"}],
            "dataReplication": "PRIMARY_AS_SOURCE"
        },
        "workspaceIds": ids,
    })
}

fn request(id: &str) -> StandbyWorkspace {
    StandbyWorkspace::builder()
        .primary_workspace_id(id)
        .directory_id("d-926722edaf")
        .build()
        .unwrap()
}

fn failed(id: &str, code: &str, message: &str) -> FailedCreateStandbyWorkspacesRequest {
    FailedCreateStandbyWorkspacesRequest::builder()
        .standby_workspace_request(request(id))
        .error_code(code)
        .error_message(message)
        .build()
}

fn pending(standby_id: &str) -> PendingCreateStandbyWorkspacesRequest {
    PendingCreateStandbyWorkspacesRequest::builder()
        .workspace_id(standby_id)
        .directory_id("d-926722edaf")
        .user_name("jdoe")
        .state(WorkspaceState::Pending)
        .build()
}

fn diagnostic(err: Error) -> Diagnostic {
    Diagnostic::from(err)
}

#[tokio::test]
async fn the_request_goes_to_the_standby_region_and_its_standby_is_pending() {
    let rule = mock!(Client::create_standby_workspaces)
        .match_requests(|r| {
            let ws = r.standby_workspaces();
            r.primary_region() == Some(PRIMARY)
                && ws.len() == 1
                && ws[0].primary_workspace_id() == WS_A
                && ws[0].directory_id() == "d-926722edaf"
                && ws[0].volume_encryption_key() == Some("alias/workspaces")
                && ws[0].data_replication() == Some(&DataReplication::PrimaryAsSource)
                && ws[0].tags().len() == 1
                && ws[0].tags()[0].key() == "fleetshift:wave"
                && ws[0].tags()[0].value() == Some("wave-1")
        })
        .then_output(|| {
            CreateStandbyWorkspacesOutput::builder()
                .pending_standby_requests(pending("ws-stby00001"))
                .build()
        });
    let (deps, hosts) = deps(&[&rule]);

    let out = handle(input(&[WS_A]), &deps).await.unwrap();

    assert_eq!(rule.num_calls(), 1);
    let hosts = hosts.0.lock().unwrap().clone();
    assert_eq!(hosts.len(), 1);
    assert!(hosts[0].contains("workspaces.us-west-2."), "{hosts:?}");
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({
            "region": STANDBY,
            "pending": [{
                "primaryWorkspaceId": WS_A,
                "standbyWorkspaceId": "ws-stby00001",
                "directoryId": "d-926722edaf",
                "state": "PENDING"
            }],
            "failed": []
        })
    );
}

#[tokio::test]
async fn a_failure_naming_another_workspace_does_not_fail_a_pending_request() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .failed_standby_requests(failed(WS_B, "ResourceLimitExceeded", "quota"))
            .pending_standby_requests(pending("ws-stby00001"))
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let out = handle(input(&[WS_A]), &deps).await.unwrap();

    assert_eq!(
        out.pending,
        vec![PendingStandby {
            primary_workspace_id: WS_A.into(),
            standby_workspace_id: Some("ws-stby00001".into()),
            directory_id: "d-926722edaf".into(),
            state: "PENDING".into(),
        }]
    );
    assert_eq!(out.failed, []);
}

#[tokio::test]
async fn several_pending_answers_to_one_request_name_no_standby_id() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .pending_standby_requests(pending("ws-stby00001"))
            .pending_standby_requests(pending("ws-stby00002"))
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let out = handle(input(&[WS_A]), &deps).await.unwrap();

    assert_eq!(rule.num_calls(), 1);
    assert_eq!(
        out.pending,
        vec![PendingStandby {
            primary_workspace_id: WS_A.into(),
            standby_workspace_id: None,
            directory_id: "d-926722edaf".into(),
            state: "PENDING".into(),
        }]
    );
}

#[tokio::test]
async fn primary_region_defaults_to_the_functions_own_and_can_be_set() {
    let default_rule = mock!(Client::create_standby_workspaces)
        .match_requests(|r| r.primary_region() == Some(PRIMARY))
        .then_output(|| {
            CreateStandbyWorkspacesOutput::builder()
                .pending_standby_requests(pending("ws-stby00001"))
                .build()
        });
    let (deps_default, _) = deps(&[&default_rule]);
    handle(input(&[WS_A]), &deps_default).await.unwrap();
    assert_eq!(default_rule.num_calls(), 1);

    let explicit_rule = mock!(Client::create_standby_workspaces)
        .match_requests(|r| r.primary_region() == Some("eu-west-1"))
        .then_output(|| {
            CreateStandbyWorkspacesOutput::builder()
                .pending_standby_requests(pending("ws-stby00001"))
                .build()
        });
    let (deps_explicit, _) = deps(&[&explicit_rule]);
    let mut explicit = input(&[WS_A]);
    explicit["primaryRegion"] = json!("eu-west-1");
    handle(explicit, &deps_explicit).await.unwrap();
    assert_eq!(explicit_rule.num_calls(), 1);
}

#[tokio::test]
async fn a_rejected_request_in_a_200_is_standby_failed_naming_the_workspace() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .failed_standby_requests(failed(WS_A, "InvalidResourceState", "primary is STOPPED"))
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A]), &deps).await.unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    match &err {
        Error::Own(StandbyFailed { region, failed }) => {
            assert_eq!(region, STANDBY);
            assert_eq!(
                failed,
                &[FailedStandby {
                    primary_workspace_id: WS_A.into(),
                    error_code: "InvalidResourceState".into(),
                    error_message: "primary is STOPPED".into(),
                }]
            );
        }
        other => panic!("expected StandbyFailed, got {other:?}"),
    }
    assert_eq!(
        diagnostic(err),
        Diagnostic {
            error_type: "StandbyFailed".into(),
            error_message: "all 1 standby requests in us-west-2 failed: ws-abcd12345: InvalidResourceState: primary is STOPPED".into(),
        }
    );
}

#[tokio::test]
async fn a_rejection_naming_no_workspace_fails_the_request_with_its_code() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .failed_standby_requests(
                FailedCreateStandbyWorkspacesRequest::builder()
                    .error_code("ResourceLimitExceeded.WorkSpaces")
                    .error_message("standby quota reached")
                    .build(),
            )
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A]), &deps).await.unwrap_err();

    let Error::Own(StandbyFailed { failed, .. }) = &err else {
        panic!("expected StandbyFailed, got {err:?}");
    };
    assert_eq!(
        failed,
        &[FailedStandby {
            primary_workspace_id: WS_A.into(),
            error_code: "ResourceLimitExceeded.WorkSpaces".into(),
            error_message: "standby quota reached".into(),
        }]
    );
}

#[tokio::test]
async fn an_answer_that_drops_a_workspace_reports_it_failed() {
    let rule = mock!(Client::create_standby_workspaces)
        .then_output(|| CreateStandbyWorkspacesOutput::builder().build());
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A]), &deps).await.unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    let Error::Own(StandbyFailed { failed, .. }) = &err else {
        panic!("expected StandbyFailed, got {err:?}");
    };
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].primary_workspace_id, WS_A);
    assert_eq!(failed[0].error_code, NOT_ACKNOWLEDGED);
    assert_eq!(diagnostic(err).error_type, "StandbyFailed");
}

#[tokio::test]
async fn every_modeled_exception_has_its_error_type() {
    type MakeError = fn() -> CreateStandbyWorkspacesError;
    let cases: [(MakeError, &str); 5] = [
        (
            || {
                CreateStandbyWorkspacesError::AccessDeniedException(
                    AccessDeniedException::builder().message("denied").build(),
                )
            },
            "AccessDenied",
        ),
        (
            || {
                CreateStandbyWorkspacesError::InvalidParameterValuesException(
                    InvalidParameterValuesException::builder()
                        .message("bad")
                        .build(),
                )
            },
            "InvalidRequest",
        ),
        (
            || {
                CreateStandbyWorkspacesError::OperationNotSupportedException(
                    OperationNotSupportedException::builder()
                        .message("no")
                        .build(),
                )
            },
            "OperationNotSupported",
        ),
        (
            || {
                CreateStandbyWorkspacesError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().message("gone").build(),
                )
            },
            "ResourceNotFound",
        ),
        (
            || {
                CreateStandbyWorkspacesError::ResourceLimitExceededException(
                    ResourceLimitExceededException::builder()
                        .message("quota")
                        .build(),
                )
            },
            "ResourceLimitExceeded",
        ),
    ];
    for (make, expected) in cases {
        let rule = mock!(Client::create_standby_workspaces).then_error(make);
        let (deps, _) = deps(&[&rule]);
        let err = handle(input(&[WS_A]), &deps).await.unwrap_err();
        assert_eq!(rule.num_calls(), 1, "{expected}");
        assert!(matches!(err, Error::Aws(_)), "{expected}: {err:?}");
        assert_eq!(diagnostic(err).error_type, expected);
    }
}

#[tokio::test]
async fn throttling_from_the_wire_keeps_its_code() {
    let rule = mock!(Client::create_standby_workspaces).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    });
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A]), &deps).await.unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    let Error::Aws(aws) = &err else {
        panic!("expected Aws, got {err:?}");
    };
    assert_eq!(aws.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(aws.message, "Rate exceeded");
    assert_eq!(diagnostic(err).error_type, "ThrottlingException");
}

#[tokio::test]
async fn invalid_inputs_make_no_call_and_name_the_field() {
    let mut bad_id = input(&["WS-NOPE"]);
    bad_id["primaryRegion"] = json!(PRIMARY);
    let mut missing_directory = input(&[WS_A]);
    missing_directory["standby"]
        .as_object_mut()
        .unwrap()
        .remove("directoryId");
    let mut bad_region = input(&[WS_A]);
    bad_region["standby"]["region"] = json!("moon-base");
    let mut bad_primary = input(&[WS_A]);
    bad_primary["primaryRegion"] = json!("US_EAST_1");
    let mut bad_replication = input(&[WS_A]);
    bad_replication["standby"]["dataReplication"] = json!("BOTH_WAYS");
    let mut same_region = input(&[WS_A]);
    same_region["standby"]["region"] = json!(PRIMARY);
    let mut bad_directory = input(&[WS_A]);
    bad_directory["standby"]["directoryId"] = json!("dir-123");
    let mut aws_tag = input(&[WS_A]);
    aws_tag["standby"]["tags"] = json!([{"key": "aws:owner", "value": "x"}]);
    let cases = [
        (bad_id, "workspaceIds[0]"),
        (missing_directory, "standby"),
        (bad_region, "standby.region"),
        (bad_primary, "primaryRegion"),
        (bad_replication, "standby.dataReplication"),
        (same_region, "standby.region"),
        (bad_directory, "standby.directoryId"),
        (aws_tag, "standby.tags[0].key"),
        (input(&[]), "workspaceIds"),
        // One call requests the standby of one WorkSpace (the state machine's States.Array).
        (input(&[WS_A, WS_B]), "workspaceIds"),
        (input(&[WS_A, WS_A]), "workspaceIds"),
        (
            json!({"standby": input(&[WS_A])["standby"]}),
            "workspaceIds",
        ),
        (
            json!({"standby": input(&[WS_A])["standby"], "workspaceIds": "ws-abcd12345"}),
            "workspaceIds",
        ),
    ];
    for (payload, field) in cases {
        let rule = mock!(Client::create_standby_workspaces)
            .then_output(|| CreateStandbyWorkspacesOutput::builder().build());
        let (deps, _) = deps(&[&rule]);
        let err = handle(payload.clone(), &deps).await.unwrap_err();
        assert_eq!(rule.num_calls(), 0, "{payload}");
        let Error::InvalidInput(v) = &err else {
            panic!("expected InvalidInput for {payload}, got {err:?}");
        };
        assert!(
            v.0.iter().any(|x| x.field == field),
            "{payload}: expected a violation of {field}, got {v}"
        );
        let d = diagnostic(err);
        assert_eq!(d.error_type, "InvalidPlan");
        assert!(d.error_message.contains(field), "{}", d.error_message);
    }
}

#[test]
fn fixtures_parse_and_round_trip() {
    let raw: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/input.json")).unwrap();
    let parsed: Input = validate::from_json(raw.clone()).unwrap();
    assert_eq!(parsed.workspace_ids, ["ws-f2nh7q1lk"]);
    assert_eq!(
        parsed.standby.data_replication.as_deref(),
        Some("PRIMARY_AS_SOURCE")
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    assert!(check(&parsed, PRIMARY).is_ok());

    let raw: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/input-minimal.json")).unwrap();
    let parsed: Input = validate::from_json(raw.clone()).unwrap();
    assert_eq!(parsed.primary_region, None);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);

    let raw: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/output.json")).unwrap();
    let parsed: Output = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(parsed.pending.len(), 1);
    assert_eq!(
        parsed.pending[0].standby_workspace_id.as_deref(),
        Some("ws-8hq2kd0vd")
    );
    assert_eq!(parsed.failed, []);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
}

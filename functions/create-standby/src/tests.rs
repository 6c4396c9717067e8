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
async fn partial_failure_is_data_and_the_call_goes_to_the_standby_region() {
    let rule = mock!(Client::create_standby_workspaces)
        .match_requests(|r| {
            let ws = r.standby_workspaces();
            r.primary_region() == Some(PRIMARY)
                && ws.len() == 2
                && ws[0].primary_workspace_id() == WS_A
                && ws[1].primary_workspace_id() == WS_B
                && ws.iter().all(|w| {
                    w.directory_id() == "d-926722edaf"
                        && w.volume_encryption_key() == Some("alias/workspaces")
                        && w.data_replication() == Some(&DataReplication::PrimaryAsSource)
                        && w.tags().len() == 1
                        && w.tags()[0].key() == "fleetshift:wave"
                        && w.tags()[0].value() == Some("wave-1")
                })
        })
        .then_output(|| {
            CreateStandbyWorkspacesOutput::builder()
                .failed_standby_requests(failed(
                    WS_B,
                    "ResourceLimitExceeded",
                    "standby quota reached",
                ))
                .pending_standby_requests(pending("ws-stby00001"))
                .build()
        });
    let (deps, hosts) = deps(&[&rule]);

    let out = handle(input(&[WS_A, WS_B]), &deps).await.unwrap();

    assert_eq!(rule.num_calls(), 1);
    let hosts = hosts.0.lock().unwrap().clone();
    assert_eq!(hosts.len(), 1);
    assert!(hosts[0].contains("workspaces.us-west-2."), "{hosts:?}");
    assert_eq!(out.region, STANDBY);
    assert_eq!(
        out.pending,
        vec![PendingStandby {
            primary_workspace_id: WS_A.into(),
            standby_workspace_id: Some("ws-stby00001".into()),
            directory_id: "d-926722edaf".into(),
            state: "PENDING".into(),
        }]
    );
    assert_eq!(
        out.failed,
        vec![FailedStandby {
            primary_workspace_id: WS_B.into(),
            error_code: "ResourceLimitExceeded".into(),
            error_message: "standby quota reached".into(),
        }]
    );
}

#[tokio::test]
async fn several_pending_are_all_reported_without_guessing_their_standby_ids() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .pending_standby_requests(pending("ws-stby00001"))
            .pending_standby_requests(pending("ws-stby00002"))
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let out = handle(input(&[WS_A, WS_B]), &deps).await.unwrap();

    assert_eq!(rule.num_calls(), 1);
    assert!(out.failed.is_empty());
    let ids: Vec<_> = out
        .pending
        .iter()
        .map(|p| p.primary_workspace_id.as_str())
        .collect();
    assert_eq!(ids, [WS_A, WS_B]);
    assert!(
        out.pending
            .iter()
            .all(|p| p.standby_workspace_id.is_none() && p.state == "PENDING")
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
async fn all_failed_in_a_200_is_standby_failed_naming_each_workspace() {
    let rule = mock!(Client::create_standby_workspaces).then_output(|| {
        CreateStandbyWorkspacesOutput::builder()
            .failed_standby_requests(failed(WS_A, "InvalidResourceState", "primary is STOPPED"))
            .failed_standby_requests(failed(WS_B, "ResourceNotFound", "no such WorkSpace"))
            .build()
    });
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A, WS_B]), &deps).await.unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    match &err {
        Error::StandbyFailed { region, failed } => {
            assert_eq!(region, STANDBY);
            assert_eq!(failed.len(), 2);
            assert_eq!(failed[0].primary_workspace_id, WS_A);
            assert_eq!(failed[1].error_code, "ResourceNotFound");
        }
        other => panic!("expected StandbyFailed, got {other:?}"),
    }
    let d = diagnostic(err);
    assert_eq!(d.error_type, "StandbyFailed");
    assert!(d.error_message.contains(WS_A) && d.error_message.contains("primary is STOPPED"));
    assert!(d.error_message.contains(WS_B) && d.error_message.contains("ResourceNotFound"));
}

#[tokio::test]
async fn an_answer_that_drops_a_workspace_reports_it_failed() {
    let rule = mock!(Client::create_standby_workspaces)
        .then_output(|| CreateStandbyWorkspacesOutput::builder().build());
    let (deps, _) = deps(&[&rule]);

    let err = handle(input(&[WS_A]), &deps).await.unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    let Error::StandbyFailed { failed, .. } = &err else {
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
    let mut bad_id = input(&[WS_A, "WS-NOPE"]);
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
        (bad_id, "workspaceIds[1]"),
        (missing_directory, "standby"),
        (bad_region, "standby.region"),
        (bad_primary, "primaryRegion"),
        (bad_replication, "standby.dataReplication"),
        (same_region, "standby.region"),
        (bad_directory, "standby.directoryId"),
        (aws_tag, "standby.tags[0].key"),
        (input(&[]), "workspaceIds"),
        (input(&[WS_A, WS_A]), "workspaceIds[1]"),
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
    assert_eq!(parsed.workspace_ids.len(), 2);
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
    assert_eq!(parsed.pending.len() + parsed.failed.len(), 2);
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
}

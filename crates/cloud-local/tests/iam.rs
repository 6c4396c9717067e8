//! IAM enforced by cloud-local, seen through the real SDK clients: the caller is the access key a
//! request is signed with; denials come back in each service's wire form with AWS's message.

use std::collections::HashMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_workspaces::config::Credentials;
use aws_sdk_workspaces::error::ProvideErrorMetadata;
use cloud_local::iam::{DenyReason, IamOptions, Policy, Principal, UnknownCallers};
use cloud_local::{CloudLocal, Fleet, Options, Outcome, Running};
use serde_json::{Value, json};

const KEY: &str = "AKIDSTARTMIGRATION";
const ROLE: &str = "arn:aws:iam::123456789012:role/fleetshift-StartMigrationFunctionRole";
const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/fleetshift-StartMigrationFunctionRole/fleetshift-start-migration";

fn principal(statements: Value) -> Principal {
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    Principal::assumed_role(
        ROLE,
        "fleetshift-start-migration",
        vec![Policy::parse(&doc).unwrap()],
    )
    .unwrap()
}

async fn start(iam: IamOptions) -> Running {
    CloudLocal::start(Options {
        fleet: Fleet::generate(2),
        iam,
        ..Options::default()
    })
    .await
    .expect("cloud-local starts")
}

async fn start_as(statements: Value) -> Running {
    start(IamOptions {
        principals: HashMap::from([(KEY.to_owned(), principal(statements))]),
        ..IamOptions::default()
    })
    .await
}

async fn sdk(cloud: &Running, key: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .endpoint_url(cloud.endpoint_url())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

async fn workspaces(cloud: &Running, key: &str, region: &str) -> aws_sdk_workspaces::Client {
    aws_sdk_workspaces::Client::new(&sdk(cloud, key, region).await)
}

fn denied(action: &str, resource: &str) -> String {
    format!(
        "User: {SESSION} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

#[tokio::test]
async fn migrate_needs_the_workspace_and_the_bundle() {
    let cloud = start_as(
        json!([{"Effect": "Allow", "Action": "workspaces:MigrateWorkspace",
        "Resource": ["arn:aws:workspaces:us-east-1:123456789012:workspace/*",
                     "arn:aws:workspaces:us-east-1:123456789012:workspacebundle/*"]}]),
    )
    .await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    ws.migrate_workspace()
        .source_workspace_id("ws-gen0000000")
        .bundle_id("wsb-target0001")
        .send()
        .await
        .expect("allowed");
    assert_eq!(cloud.migrations().len(), 1);
    assert!(cloud.denials().is_empty());

    let cloud = start_as(
        json!([{"Effect": "Allow", "Action": "workspaces:MigrateWorkspace",
        "Resource": "arn:aws:workspaces:us-east-1:123456789012:workspace/*"}]),
    )
    .await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    let e = ws
        .migrate_workspace()
        .source_workspace_id("ws-gen0000000")
        .bundle_id("wsb-target0001")
        .send()
        .await
        .unwrap_err();
    let expected = denied(
        "workspaces:MigrateWorkspace",
        "arn:aws:workspaces:us-east-1:123456789012:workspacebundle/wsb-target0001",
    );
    assert!(e.as_service_error().unwrap().is_access_denied_exception());
    assert_eq!(e.message(), Some(expected.as_str()));
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    assert!(cloud.migrations().is_empty());
    let calls = cloud.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].outcome,
        Outcome::Error {
            code: "AccessDeniedException".into(),
            status: 400
        }
    );
    let d = cloud.denials();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].principal_arn, SESSION);
    assert_eq!(d[0].operation, "MigrateWorkspace");
    assert_eq!(d[0].reason, DenyReason::NoIdentityAllow);
    assert_eq!(d[0].message, expected);
}

// The template's bug: DescribeCustomWorkspaceImageImport supports no resource-level permissions
// (Service Authorization Reference), so a grant on workspaceimage/* matches nothing.
#[tokio::test]
async fn an_action_without_resource_types_is_granted_only_on_star() {
    let cloud = start_as(json!([{"Effect": "Allow",
        "Action": "workspaces:DescribeCustomWorkspaceImageImport",
        "Resource": "arn:aws:workspaces:us-east-1:123456789012:workspaceimage/*"}]))
    .await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    let e = ws
        .describe_custom_workspace_image_import()
        .image_id("wsi-gen000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(
        e.message(),
        Some(
            "User: arn:aws:sts::123456789012:assumed-role/fleetshift-StartMigrationFunctionRole/fleetshift-start-migration is not authorized to perform: workspaces:DescribeCustomWorkspaceImageImport on resource: * because no identity-based policy allows the workspaces:DescribeCustomWorkspaceImageImport action"
        )
    );

    let cloud = start_as(json!([{"Effect": "Allow",
        "Action": "workspaces:DescribeCustomWorkspaceImageImport", "Resource": "*"}]))
    .await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    let out = ws
        .describe_custom_workspace_image_import()
        .image_id("wsi-gen000001")
        .send()
        .await
        .expect("allowed on *");
    assert_eq!(out.image_id(), Some("wsi-gen000001"));
}

#[tokio::test]
async fn an_explicit_deny_beats_an_allow() {
    let cloud = start_as(json!([
        {"Effect": "Allow", "Action": "workspaces:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "workspaces:MigrateWorkspace",
         "Resource": "arn:aws:workspaces:*:*:workspace/ws-gen0000001"}
    ]))
    .await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    let migrate = |id: &'static str| {
        ws.migrate_workspace()
            .source_workspace_id(id)
            .bundle_id("wsb-target0001")
            .send()
    };
    migrate("ws-gen0000000").await.expect("allowed");
    let e = migrate("ws-gen0000001").await.unwrap_err();
    assert_eq!(
        e.message(),
        Some(
            "User: arn:aws:sts::123456789012:assumed-role/fleetshift-StartMigrationFunctionRole/fleetshift-start-migration is not authorized to perform: workspaces:MigrateWorkspace on resource: arn:aws:workspaces:us-east-1:123456789012:workspace/ws-gen0000001 with an explicit deny in an identity-based policy"
        )
    );
    assert_eq!(cloud.denials()[0].reason, DenyReason::ExplicitIdentity);
}

#[tokio::test]
async fn the_requested_region_is_the_signed_one() {
    let cloud = start_as(
        json!([{"Effect": "Allow", "Action": "workspaces:DescribeWorkspaces",
        "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}]),
    )
    .await;
    workspaces(&cloud, KEY, "us-east-1")
        .await
        .describe_workspaces()
        .send()
        .await
        .expect("us-east-1 allowed");
    let e = workspaces(&cloud, KEY, "us-west-2")
        .await
        .describe_workspaces()
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(cloud.denials()[0].resource, "*");
}

#[tokio::test]
async fn put_events_is_authorized_entry_by_entry() {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    let cloud = start_as(json!([{"Effect": "Allow", "Action": "events:PutEvents",
        "Resource": "arn:aws:events:us-east-1:123456789012:event-bus/default",
        "Condition": {"StringEquals": {"events:source": "fleetshift",
                                       "events:detail-type": ["Item Progress", "Wave Summary"]}}}]))
    .await;
    let events = aws_sdk_eventbridge::Client::new(&sdk(&cloud, KEY, "us-east-1").await);
    let entry = |source: &str, detail_type: &str| {
        PutEventsRequestEntry::builder()
            .source(source)
            .detail_type(detail_type)
            .detail("{}")
            .build()
    };
    let out = events
        .put_events()
        .entries(entry("fleetshift", "Item Progress"))
        .entries(entry("other", "Item Progress"))
        .entries(entry("fleetshift", "Wave Requested"))
        .send()
        .await
        .expect("a 200 with failed entries");
    assert_eq!(out.failed_entry_count(), 2);
    let codes: Vec<Option<&str>> = out.entries().iter().map(|e| e.error_code()).collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some("NotAuthorizedForSourceException"),
            Some("NotAuthorizedForDetailTypeException")
        ]
    );
    assert!(out.entries()[0].event_id().is_some());
    let recorded: Vec<(String, String)> = cloud
        .events()
        .iter()
        .map(|e| (e.source.clone(), e.detail_type.clone()))
        .collect();
    assert_eq!(
        recorded,
        vec![("fleetshift".to_owned(), "Item Progress".to_owned())]
    );

    // Another bus, which no statement grants: the whole request is refused.
    let e = events
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .source("fleetshift")
                .detail_type("Item Progress")
                .detail("{}")
                .event_bus_name("fleetshift-waves")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(
        e.message(),
        Some(
            denied(
                "events:PutEvents",
                "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn unknown_callers_are_unrestricted_unless_enforced() {
    let cloud = start(IamOptions::default()).await;
    workspaces(&cloud, "AKIDSOMEONE", "us-east-1")
        .await
        .describe_workspaces()
        .send()
        .await
        .expect("no enforcement by default");

    let only_describe = principal(json!([{"Effect": "Allow",
        "Action": "workspaces:Describe*", "Resource": "*"}]));
    let cloud = start(IamOptions {
        unknown_callers: UnknownCallers::Enforce(only_describe),
        ..IamOptions::default()
    })
    .await;
    let ws = workspaces(&cloud, "AKIDSOMEONE", "us-east-1").await;
    ws.describe_workspaces().send().await.expect("allowed");
    let e = ws
        .migrate_workspace()
        .source_workspace_id("ws-gen0000000")
        .bundle_id("wsb-target0001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        Some(
            denied(
                "workspaces:MigrateWorkspace",
                "arn:aws:workspaces:us-east-1:123456789012:workspacebundle/wsb-target0001"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn a_principal_registered_later_is_enforced_from_then_on() {
    let cloud = start(IamOptions::default()).await;
    let ws = workspaces(&cloud, KEY, "us-east-1").await;
    ws.describe_workspaces().send().await.expect("unrestricted");
    cloud.register_principal(KEY, principal(json!([])));
    let e = ws.describe_workspaces().send().await.unwrap_err();
    assert_eq!(
        e.message(),
        Some(denied("workspaces:DescribeWorkspaces", "*").as_str())
    );
}

#[tokio::test]
async fn standbys_need_the_primary_in_its_region_the_directory_and_the_kms_key() {
    let key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let cloud = start_as(json!([
        {"Effect": "Allow", "Action": "workspaces:CreateStandbyWorkspaces",
         "Resource": ["arn:aws:workspaces:us-east-1:123456789012:workspace/*",
                      "arn:aws:workspaces:us-west-2:123456789012:directory/*"]},
        {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": key,
         "Condition": {"StringEquals": {"kms:ViaService": "workspaces.us-west-2.amazonaws.com"}}}
    ]))
    .await;
    let ws = workspaces(&cloud, KEY, "us-west-2").await;
    let request = |k: Option<&str>| {
        aws_sdk_workspaces::types::StandbyWorkspace::builder()
            .primary_workspace_id("ws-gen0000000")
            .directory_id("d-2000000002")
            .set_volume_encryption_key(k.map(str::to_owned))
            .build()
            .unwrap()
    };
    let out = ws
        .create_standby_workspaces()
        .primary_region("us-east-1")
        .standby_workspaces(request(Some(key)))
        .send()
        .await
        .expect("allowed");
    assert_eq!(out.pending_standby_requests().len(), 1);

    // kms:CreateGrant must also be for an AWS resource: the grant is conditioned on it.
    let cloud = start_as(json!([
        {"Effect": "Allow", "Action": "workspaces:CreateStandbyWorkspaces", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": key},
        {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key,
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}}}
    ]))
    .await;
    let ws = workspaces(&cloud, KEY, "us-west-2").await;
    let e = ws
        .create_standby_workspaces()
        .primary_region("us-east-1")
        .standby_workspaces(request(Some(key)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.message(), Some(denied("kms:CreateGrant", key).as_str()));
    assert!(cloud.standbys().is_empty());
}

#[allow(deprecated)]
#[tokio::test]
async fn lex_answers_403_and_start_migration_needs_pass_role_to_lex_v2() {
    let cloud = start_as(json!([{"Effect": "Allow", "Action": "lex:StartMigration",
        "Resource": "arn:aws:lex:us-east-1:123456789012:bot:OrderFlowers:*"},
        {"Effect": "Allow", "Action": "iam:PassRole",
         "Resource": "arn:aws:iam::123456789012:role/LexV2Migration",
         "Condition": {"StringEquals": {"iam:PassedToService": "lex.amazonaws.com"}}}]))
    .await;
    let lex = aws_sdk_lexmodelbuilding::Client::new(&sdk(&cloud, KEY, "us-east-1").await);
    let e = lex
        .get_bot()
        .name("OrderFlowers")
        .version_or_alias("$LATEST")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 403);
    assert_eq!(
        e.message(),
        Some(
            denied(
                "lex:GetBot",
                "arn:aws:lex:us-east-1:123456789012:bot:OrderFlowers:$LATEST"
            )
            .as_str()
        )
    );
    let e = lex
        .start_migration()
        .v1_bot_name("OrderFlowers")
        .v1_bot_version("$LATEST")
        .v2_bot_name("OrderFlowersV2")
        .v2_bot_role("arn:aws:iam::123456789012:role/LexV2Migration")
        .migration_strategy(aws_sdk_lexmodelbuilding::types::MigrationStrategy::CreateNew)
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_access_denied_exception());
    assert_eq!(
        e.message(),
        Some(
            denied(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/LexV2Migration"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn migration_hub_denials_carry_message_capitalized() {
    let cloud = start_as(json!([])).await;
    let hub = aws_sdk_migrationhub::Client::new(&sdk(&cloud, KEY, "us-east-1").await);
    let e = hub
        .create_progress_update_stream()
        .progress_update_stream_name("fleetshift")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_access_denied_exception());
    assert_eq!(
        e.message(),
        Some(
            denied(
                "mgh:CreateProgressUpdateStream",
                "arn:aws:mgh:us-east-1:123456789012:progressUpdateStream/fleetshift"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn a_start_through_an_alias_is_authorized_on_the_state_machine_with_its_qualifier() {
    let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration";
    let cloud = start_as(
        json!([{"Effect": "Allow", "Action": "states:StartExecution",
        "Resource": sm,
        "Condition": {"ForAnyValue:StringEquals": {"states:StateMachineQualifier": "live"}}}]),
    )
    .await;
    let sfn = aws_sdk_sfn::Client::new(&sdk(&cloud, KEY, "us-east-1").await);
    let code = |target: String| {
        let sfn = sfn.clone();
        async move {
            let e = sfn
                .start_execution()
                .state_machine_arn(target)
                .name("w")
                .send()
                .await
                .unwrap_err();
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        }
    };
    // Allowed: it reaches Step Functions, which has no backend attached here.
    assert_eq!(code(format!("{sm}:live")).await.0, "UnsupportedOperation");
    // The unqualified ARN (the latest revision) and another alias are not.
    let denial = denied("states:StartExecution", sm);
    assert_eq!(
        code(sm.to_owned()).await,
        ("AccessDeniedException".to_owned(), denial.clone())
    );
    assert_eq!(
        code(format!("{sm}:beta")).await,
        ("AccessDeniedException".to_owned(), denial)
    );
}

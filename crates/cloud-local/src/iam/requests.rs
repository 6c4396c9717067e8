//! What each operation cloud-local serves asks IAM for: the action, the resources the Service
//! Authorization Reference lists for it (ARN formats from `iam/reference.json`, filled from the
//! request), the condition keys, and the authorizations AWS implies (PassRole, KMS grants, tags).
//! Also the wire form of AccessDenied per protocol.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::reference::{ReferenceError, arn_for, dependent_actions, resource_types};
use super::{Decision, Denial, DenyReason, Principal, RequestContext, State, authorize};
use crate::error::ApiError;
use crate::key_clock::signed_access_key;
use crate::lex::Route;
use crate::world::{Ctx, Service, World};

/// Lex V2's service principal: the `iam:PassedToService` value AWS sets when Lex is handed a role
/// (the Lex V2 managed policies pass roles with `"iam:PassedToService": "lexv2.amazonaws.com"`,
/// and Lex V2 roles trust `"Service": "lexv2.amazonaws.com"`; Lex V2 Developer Guide, AWS managed
/// policies for Amazon Lex V2).
pub(crate) const LEX_V2_SERVICE: &str = "lexv2.amazonaws.com";

/// "Amazon Lex uses the StartImport operation in the Amazon Lex V2 API to import the migrated
/// bot" and "your user or role must have IAM permission for both Amazon Lex and Amazon Lex V2 API
/// operations" (Amazon Lex V1 Developer Guide, Migrating a bot).
const LEX_V2_IMPORT: &str = "lex:StartImport";

const PARTITION: &str = "aws";

/// One authorization a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) action: String,
    /// An error: the reference lacks what this check needs.
    pub(crate) resources: Result<Vec<String>, ReferenceError>,
    pub(crate) context: RequestContext,
}

/// The IAM prefix of a service.
pub(crate) fn prefix(service: Service) -> &'static str {
    match service {
        Service::WorkSpaces => "workspaces",
        Service::Lex => "lex",
        Service::MigrationHub => "mgh",
        Service::EventBridge => "events",
        Service::StepFunctions => "states",
    }
}

/// AccessDenied as each service's model and protocol give it: WorkSpaces, EventBridge and Step
/// Functions 400 with `message` (botocore: workspaces and events model `AccessDeniedException` with
/// no status, i.e. 400; Step Functions leaves it unmodeled and its other errors carry `message`);
/// Migration Hub 400 with `Message` (mgh's shape has `Message`); Lex model building 403 with
/// `message` (lex-models' shape: `"error": {"httpStatusCode": 403}`).
pub(crate) fn access_denied(service: Service, message: String) -> ApiError {
    match service {
        Service::Lex => ApiError::new(403, "AccessDeniedException", message),
        Service::MigrationHub => ApiError::bad("AccessDeniedException", message).upper(),
        _ => ApiError::bad("AccessDeniedException", message),
    }
}

fn internal(e: &ReferenceError) -> ApiError {
    ApiError::new(500, "InternalFailure", format!("cloud-local IAM: {e}"))
}

struct Env<'a> {
    region: &'a str,
    account: &'a str,
}

impl Env<'_> {
    /// The resources of `action`: for each resource type the reference lists, its ARN filled with
    /// `fills` (the type's own variables, which may override `Region`/`Account`); types the
    /// request does not address are skipped; `*` when none is addressed or none is listed.
    fn resources(
        &self,
        action: &str,
        fills: &[(&str, Vec<(&str, &str)>)],
    ) -> Result<Vec<String>, ReferenceError> {
        let (service, _) = action.split_once(':').unwrap_or((action, ""));
        let mut out = Vec::new();
        for kind in resource_types(action)? {
            for (_, vars) in fills.iter().filter(|(k, _)| *k == kind) {
                let mut all = vars.clone();
                all.extend([
                    ("Partition", PARTITION),
                    ("Region", self.region),
                    ("Account", self.account),
                ]);
                if let Some(arn) = arn_for(service, kind, &all)? {
                    out.push(arn);
                }
            }
        }
        if out.is_empty() {
            out.push("*".to_owned());
        }
        Ok(out)
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn base_context(region: &str) -> RequestContext {
    RequestContext::new().with("aws:RequestedRegion", region)
}

fn tag_context(ctx: &mut RequestContext, tags: &[Value]) {
    let mut keys = Vec::new();
    for t in tags {
        if let Some(k) = s(t, "Key") {
            ctx.set(&format!("aws:RequestTag/{k}"), s(t, "Value").unwrap_or(""));
            keys.push(k.to_owned());
        }
    }
    ctx.set_values("aws:TagKeys", keys);
}

/// The checks of one request (PutEvents is per entry: see [`put_events`]).
pub(crate) fn checks(
    service: Service,
    op: &str,
    body: &Value,
    region: &str,
    world: &World,
    amazon_owned_bundles: &HashSet<String>,
) -> Result<Vec<Check>, ReferenceError> {
    let account = world.fleet.account_id.as_str();
    let env = Env { region, account };
    let action = format!("{}:{op}", prefix(service));
    let mut ctx = base_context(region);
    let mut extra = Vec::new();
    let resources = match (service, op) {
        (Service::WorkSpaces, "MigrateWorkspace") => {
            let bundle = s(body, "BundleId").unwrap_or_default();
            // Public bundles belong to Amazon, not to an account (DescribeWorkspaceBundles: Owner
            // "AMAZON"); their ARN carries no account, so only `*` in the account segment grants
            // them.
            let bundle_account = if amazon_owned_bundles.contains(bundle) {
                ""
            } else {
                account
            };
            env.resources(
                &action,
                &[
                    (
                        "workspaceid",
                        vec![(
                            "WorkspaceId",
                            s(body, "SourceWorkspaceId").unwrap_or_default(),
                        )],
                    ),
                    (
                        "workspacebundle",
                        vec![("BundleId", bundle), ("Account", bundle_account)],
                    ),
                ],
            )?
        }
        (Service::WorkSpaces, "CreateStandbyWorkspaces") => {
            // Called in the standby Region: the primary WorkSpace lives in PrimaryRegion, the
            // directory in the standby Region (API reference, CreateStandbyWorkspaces).
            let primary_region = s(body, "PrimaryRegion").unwrap_or(region);
            let requests = body
                .get("StandbyWorkspaces")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut fills = Vec::new();
            let mut all_tags = Vec::new();
            for r in requests {
                fills.push((
                    "workspaceid",
                    vec![
                        (
                            "WorkspaceId",
                            s(r, "PrimaryWorkspaceId").unwrap_or_default(),
                        ),
                        ("Region", primary_region),
                    ],
                ));
                fills.push((
                    "directoryid",
                    vec![("DirectoryId", s(r, "DirectoryId").unwrap_or_default())],
                ));
                if let Some(key) = s(r, "VolumeEncryptionKey") {
                    extra.extend(kms_checks(&env, key)?);
                }
                if let Some(tags) = r.get("Tags").and_then(Value::as_array) {
                    all_tags.extend(tags.iter().cloned());
                }
            }
            if !all_tags.is_empty() {
                tag_context(&mut ctx, &all_tags);
                // Tagging on create needs workspaces:CreateTags too (WorkSpaces Administration
                // Guide, "Tag WorkSpaces resources": CreateTags is required to add tags).
                let tags_action = "workspaces:CreateTags".to_owned();
                extra.push(Check {
                    resources: env.resources(&tags_action, &[]),
                    action: tags_action,
                    context: ctx.clone(),
                });
            }
            env.resources(&action, &fills)?
        }
        (Service::Lex, "StartMigration") => {
            let resources = env.resources(
                &action,
                &[(
                    "bot version",
                    vec![
                        ("BotName", s(body, "v1BotName").unwrap_or_default()),
                        ("BotVersion", s(body, "v1BotVersion").unwrap_or_default()),
                    ],
                )],
            )?;
            if let Some(role) = s(body, "v2BotRole") {
                extra.push(Check {
                    action: "iam:PassRole".into(),
                    resources: Ok(vec![role.to_owned()]),
                    context: base_context(region).with("iam:PassedToService", LEX_V2_SERVICE),
                });
            }
            // The V2 bot: the one an earlier migration created under this name (UPDATE_EXISTING),
            // else a bot not created yet, whose id nobody knows: only `bot/*` grants that.
            let v2_name = s(body, "v2BotName").unwrap_or_default();
            let v2_id = world
                .lex_migrations
                .values()
                .find(|m| m.v2_bot_name == v2_name)
                .map_or("*", |m| m.v2_bot_id.as_str());
            // A gap in the reference fails this request only once the checks before it passed.
            let v2_bot = env.resources(LEX_V2_IMPORT, &[("bot", vec![("BotId", v2_id)])]);
            // The reference lists StartImport's dependent actions for every kind of import (bots,
            // custom vocabularies, test sets); a V1 migration imports a bot, so only the
            // dependents the reference scopes to a Lex V2 bot are required (those it does not
            // describe, such as the custom vocabulary and test set actions, are not).
            let dependents = dependent_actions(LEX_V2_IMPORT).map(|all| {
                all.iter()
                    .filter(|a| resource_types(a).is_ok_and(|types| types.contains(&"bot")))
                    .cloned()
                    .collect::<Vec<String>>()
            });
            let actions: Vec<String> = std::iter::once(LEX_V2_IMPORT.to_owned())
                .chain(dependents.clone().unwrap_or_default())
                .collect();
            for a in actions {
                extra.push(Check {
                    action: a,
                    resources: v2_bot.clone().and_then(|r| dependents.clone().map(|_| r)),
                    context: base_context(region),
                });
            }
            resources
        }
        (Service::Lex, "GetBot") | (Service::Lex, "GetBotVersions") => {
            // Path parameters arrive in the body the router builds: name and version.
            env.resources(
                &action,
                &[(
                    "bot version",
                    vec![
                        ("BotName", s(body, "name").unwrap_or_default()),
                        // GetBotVersions names no version: every version of the bot.
                        ("BotVersion", s(body, "version").unwrap_or("*")),
                    ],
                )],
            )?
        }
        (Service::MigrationHub, "CreateProgressUpdateStream") => env.resources(
            &action,
            &[(
                "progressUpdateStream",
                vec![(
                    "Stream",
                    s(body, "ProgressUpdateStreamName").unwrap_or_default(),
                )],
            )],
        )?,
        (Service::MigrationHub, _) => env.resources(
            &action,
            &[(
                "migrationTask",
                vec![
                    (
                        "Stream",
                        s(body, "ProgressUpdateStream").unwrap_or_default(),
                    ),
                    ("Task", s(body, "MigrationTaskName").unwrap_or_default()),
                ],
            )],
        )?,
        (Service::StepFunctions, _) => {
            // The request names the resource by its ARN already. A qualified state machine ARN
            // (version or alias) is authorized against the unqualified state machine ARN, with the
            // qualifier in states:StateMachineQualifier ("To authorize a version or an alias to
            // invoke an API action, Step Functions uses the state machine's ARN instead of using
            // the version ARN or alias ARN": Step Functions Developer Guide, "Authorization for
            // versions and aliases").
            let field = match op {
                "StartExecution" => "stateMachineArn",
                "ListExecutions" if body.get("stateMachineArn").is_some() => "stateMachineArn",
                "ListExecutions" => "mapRunArn",
                _ => "executionArn",
            };
            resource_types(&action)?;
            let arn = s(body, field).unwrap_or("*");
            if field == "stateMachineArn"
                && let Some(q) = arn.split(':').nth(7)
            {
                ctx.set("states:StateMachineQualifier", q);
                let unqualified = arn.rsplit_once(':').map_or(arn, |(sm, _)| sm);
                vec![unqualified.to_owned()]
            } else {
                vec![arn.to_owned()]
            }
        }
        _ => env.resources(&action, &[])?,
    };
    let mut out = vec![Check {
        action,
        resources: Ok(resources),
        context: ctx,
    }];
    out.extend(extra);
    Ok(out)
}

/// `kms:CreateGrant` and `kms:DescribeKey` on a standby's volume encryption key: WorkSpaces uses
/// the key on the caller's behalf, through the WorkSpaces endpoint of the standby Region, and
/// creates a grant for its own resource (WorkSpaces Administration Guide, "Encrypted WorkSpaces":
/// the caller needs kms:CreateGrant and kms:DescribeKey; KMS Developer Guide, kms:ViaService and
/// kms:GrantIsForAWSResource).
fn kms_checks(env: &Env<'_>, key: &str) -> Result<Vec<Check>, ReferenceError> {
    let key_arn = if key.starts_with("arn:") {
        key.to_owned()
    } else {
        env.resources("kms:DescribeKey", &[("key", vec![("KeyId", key)])])?
            .remove(0)
    };
    let via = format!("workspaces.{}.amazonaws.com", env.region);
    let ctx = base_context(env.region)
        .with("kms:ViaService", via)
        .with("kms:CallerAccount", env.account);
    Ok(vec![
        Check {
            action: "kms:CreateGrant".into(),
            resources: Ok(vec![key_arn.clone()]),
            context: ctx.clone().with("kms:GrantIsForAWSResource", "true"),
        },
        Check {
            action: "kms:DescribeKey".into(),
            resources: Ok(vec![key_arn]),
            context: ctx,
        },
    ])
}

/// What the server does with a request after IAM.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Serve it.
    Allowed,
    /// Answer this error.
    Denied(ApiError),
    /// PutEvents with some entries denied: serve `allowed` (the body with only the allowed entries;
    /// `None`: none), then put each failed entry back at its index.
    PutEvents {
        allowed: Option<Value>,
        failed: Vec<(usize, Value)>,
    },
}

fn record(
    state: &State,
    p: &Principal,
    op: &str,
    d: &Decision,
    at: std::time::SystemTime,
) -> Option<String> {
    let message = d.message(&p.arn)?;
    if let Decision::Deny {
        action,
        resource,
        reason,
        ..
    } = d
    {
        state.record(Denial {
            principal_arn: p.arn.clone(),
            operation: op.to_owned(),
            action: action.clone(),
            resource: resource.clone(),
            reason: *reason,
            message: message.clone(),
            at,
        });
    }
    Some(message)
}

/// Authorizes one request of `principal`; records denials.
#[allow(clippy::too_many_arguments)]
pub(crate) fn authorize_request(
    state: &State,
    principal: &Principal,
    service: Service,
    op: &str,
    body: &Value,
    region: &str,
    world: &World,
    at: std::time::SystemTime,
) -> Outcome {
    if service == Service::EventBridge && op == "PutEvents" {
        return put_events(state, principal, body, region, &world.fleet.account_id, at);
    }
    let checks = match checks(
        service,
        op,
        body,
        region,
        world,
        &state.amazon_owned_bundles,
    ) {
        Ok(c) => c,
        Err(e) => return Outcome::Denied(internal(&e)),
    };
    for c in &checks {
        let resources = match &c.resources {
            Ok(r) => r,
            Err(e) => return Outcome::Denied(internal(e)),
        };
        let policy = resources.first().and_then(|r| state.resource_policy(r));
        let d = authorize(
            principal,
            &c.action,
            resources,
            &c.context,
            policy.as_deref(),
        );
        if let Some(message) = record(state, principal, op, &d, at) {
            return Outcome::Denied(access_denied(service, message));
        }
    }
    Outcome::Allowed
}

/// PutEvents is authorized entry by entry: the result entries carry
/// `NotAuthorizedForSourceException` ("You do not have permissions to publish events with this
/// source onto this event bus") and `NotAuthorizedForDetailTypeException` per entry (botocore
/// events model, PutEventsResultEntry.ErrorCode), so each entry is evaluated with its own
/// `events:source` and `events:detail-type` (both ArrayOfString in the reference: here one value
/// each) on its own bus, with that bus's resource-based policy. A request none of whose entries
/// any statement could allow, whatever the source, is refused whole with AccessDeniedException.
fn put_events(
    state: &State,
    principal: &Principal,
    body: &Value,
    region: &str,
    account: &str,
    at: std::time::SystemTime,
) -> Outcome {
    let Some(entries) = body.get("Entries").and_then(Value::as_array) else {
        return Outcome::Allowed;
    };
    let env = Env { region, account };
    if state.put_events == super::PutEventsEvaluation::WholeRequest {
        return put_events_whole(state, principal, entries, region, &env, at);
    }
    let mut kept = Vec::new();
    let mut failed = Vec::new();
    let mut whole: Option<String> = None;
    for (i, e) in entries.iter().enumerate() {
        let bus_arn = match entry_bus(&env, e) {
            Ok(b) => b,
            Err(err) => return Outcome::Denied(internal(&err)),
        };
        let mut ctx = base_context(region);
        if let Some(src) = s(e, "Source") {
            ctx.set_values("events:source", vec![src.to_owned()]);
        }
        if let Some(dt) = s(e, "DetailType") {
            ctx.set_values("events:detail-type", vec![dt.to_owned()]);
        }
        let policy = state.resource_policy(&bus_arn);
        let d = authorize(
            principal,
            "events:PutEvents",
            std::slice::from_ref(&bus_arn),
            &ctx,
            policy.as_deref(),
        );
        let Some(message) = record(state, principal, "PutEvents", &d, at) else {
            kept.push(e.clone());
            continue;
        };
        let code = match &d {
            Decision::Deny {
                reason: DenyReason::NoIdentityAllow | DenyReason::NoResourceAllow,
                failed_condition_keys,
                ..
            } if failed_condition_keys.iter().any(|k| k == "events:source") => {
                "NotAuthorizedForSourceException"
            }
            Decision::Deny {
                reason: DenyReason::NoIdentityAllow | DenyReason::NoResourceAllow,
                failed_condition_keys,
                ..
            } if failed_condition_keys
                .iter()
                .any(|k| k == "events:detail-type") =>
            {
                "NotAuthorizedForDetailTypeException"
            }
            _ => "AccessDeniedException",
        };
        if code == "AccessDeniedException" && whole.is_none() {
            whole = Some(message.clone());
        }
        failed.push((i, json!({"ErrorCode": code, "ErrorMessage": message})));
    }
    if failed.is_empty() {
        return Outcome::Allowed;
    }
    if kept.is_empty()
        && failed
            .iter()
            .all(|(_, f)| f["ErrorCode"] == "AccessDeniedException")
        && let Some(message) = whole
    {
        return Outcome::Denied(access_denied(Service::EventBridge, message));
    }
    let allowed = (!kept.is_empty()).then(|| {
        let mut b = body.clone();
        b["Entries"] = Value::Array(kept);
        b
    });
    Outcome::PutEvents { allowed, failed }
}

/// The ARN of the bus a PutEvents entry names (its name or ARN; `default` when it names none).
fn entry_bus(env: &Env<'_>, entry: &Value) -> Result<String, ReferenceError> {
    let bus = s(entry, "EventBusName").unwrap_or("default");
    if bus.starts_with("arn:") {
        return Ok(bus.to_owned());
    }
    env.resources(
        "events:PutEvents",
        &[("event-bus", vec![("EventBusName", bus)])],
    )
    .map(|mut r| r.remove(0))
}

/// [`super::PutEventsEvaluation::WholeRequest`]: one evaluation per bus the request names, with
/// the sources and detail types of all its entries on that bus as the keys' values; any denial
/// refuses the whole request with AccessDeniedException.
fn put_events_whole(
    state: &State,
    principal: &Principal,
    entries: &[Value],
    region: &str,
    env: &Env<'_>,
    at: std::time::SystemTime,
) -> Outcome {
    let mut by_bus: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for e in entries {
        let bus = match entry_bus(env, e) {
            Ok(b) => b,
            Err(err) => return Outcome::Denied(internal(&err)),
        };
        let i = match by_bus.iter().position(|(b, _, _)| *b == bus) {
            Some(i) => i,
            None => {
                by_bus.push((bus, Vec::new(), Vec::new()));
                by_bus.len() - 1
            }
        };
        if let Some(src) = s(e, "Source") {
            by_bus[i].1.push(src.to_owned());
        }
        if let Some(dt) = s(e, "DetailType") {
            by_bus[i].2.push(dt.to_owned());
        }
    }
    for (bus, sources, detail_types) in by_bus {
        let mut ctx = base_context(region);
        if !sources.is_empty() {
            ctx.set_values("events:source", sources);
        }
        if !detail_types.is_empty() {
            ctx.set_values("events:detail-type", detail_types);
        }
        let policy = state.resource_policy(&bus);
        let d = authorize(
            principal,
            "events:PutEvents",
            std::slice::from_ref(&bus),
            &ctx,
            policy.as_deref(),
        );
        if let Some(message) = record(state, principal, "PutEvents", &d, at) {
            return Outcome::Denied(access_denied(Service::EventBridge, message));
        }
    }
    Outcome::Allowed
}

/// Puts the failed entries back into a PutEvents answer for the allowed ones (`None`: there were
/// none), in request order.
pub(crate) fn merge_put_events(answer: Option<Value>, failed: Vec<(usize, Value)>) -> Value {
    let served: Vec<Value> = answer
        .as_ref()
        .and_then(|a| a.get("Entries"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = served.len() + failed.len();
    let mut served = served.into_iter();
    let mut failed = failed.into_iter().peekable();
    let mut entries = Vec::with_capacity(total);
    for i in 0..total {
        match failed.peek() {
            Some((j, _)) if *j == i => entries.extend(failed.next().map(|(_, v)| v)),
            _ => entries.extend(served.next()),
        }
    }
    // The served answer's own failures are entries with an ErrorCode too.
    let failed_count = entries
        .iter()
        .filter(|e| e.get("ErrorCode").is_some())
        .count();
    json!({"FailedEntryCount": failed_count, "Entries": entries})
}

/// The IAM step of a request: finds its caller from the SigV4 access key id and, unless the
/// caller is unrestricted, authorizes it. Lex's GET operations carry their parameters in the path:
/// `lex_route` supplies them.
pub(crate) fn check(
    shared: &crate::server::Shared,
    headers: &HeaderMap,
    service: Service,
    op: &str,
    lex_route: Option<&Route>,
    body: &Value,
    ctx: &Ctx,
) -> Outcome {
    let state = &shared.iam;
    if !state.enforcing.load(Ordering::Relaxed) {
        return Outcome::Allowed;
    }
    let Some(principal) = state.caller(signed_access_key(headers)) else {
        return Outcome::Allowed;
    };
    let path_body;
    let body = match lex_route {
        Some(Route::GetBot(name, version)) => {
            path_body = json!({"name": name, "version": version});
            &path_body
        }
        Some(Route::GetBotVersions(name)) => {
            path_body = json!({"name": name});
            &path_body
        }
        _ => body,
    };
    let world = shared.world();
    authorize_request(
        state,
        &principal,
        service,
        op,
        body,
        &ctx.region,
        &world,
        ctx.now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_entries_go_back_to_their_places() {
        let answer =
            json!({"FailedEntryCount": 0, "Entries": [{"EventId": "a"}, {"EventId": "b"}]});
        let failed = vec![(
            1,
            json!({"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "m"}),
        )];
        assert_eq!(
            merge_put_events(Some(answer), failed),
            json!({"FailedEntryCount": 1, "Entries": [
                {"EventId": "a"},
                {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "m"},
                {"EventId": "b"}
            ]})
        );
        let only = vec![(
            0,
            json!({"ErrorCode": "NotAuthorizedForDetailTypeException", "ErrorMessage": "m"}),
        )];
        assert_eq!(
            merge_put_events(None, only),
            json!({"FailedEntryCount": 1, "Entries": [
                {"ErrorCode": "NotAuthorizedForDetailTypeException", "ErrorMessage": "m"}
            ]})
        );
    }
}

//! The HTTP front: routes each request to its service, applies the scenario, logs the call.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::error::ApiError;
use crate::key_clock::KeyClock;
use crate::lex::Route;
use crate::scenario::{LexAvailability, draw};
use crate::sfn::SfnBackend;
use crate::world::{CallRecord, Ctx, MUTATING, Outcome, Service, World};
use crate::{events, hub, lex, sfn, workspaces};

/// Requests larger than this are refused (PutEvents is the largest at 256 KiB, SFN input too).
const MAX_BODY: usize = 4 * 1024 * 1024;

pub(crate) struct Shared {
    pub(crate) buses: Arc<crate::bus::Buses>,
    pub(crate) world: Mutex<World>,
    pub(crate) sfn: Option<Arc<dyn SfnBackend>>,
    pub(crate) default_region: String,
    pub(crate) key_clock: KeyClock,
    pub(crate) iam: crate::iam::State,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves consistent-enough state for a test double.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) fn unknown_operation(prefix: &str, op: &str) -> ApiError {
    ApiError::bad(
        "UnknownOperationException",
        format!("{prefix}.{op} is not an operation cloud-local emulates"),
    )
}

enum Dispatch {
    Json {
        service: Service,
        op: String,
        json_version: &'static str,
    },
    Lex(Route),
}

impl Dispatch {
    fn service(&self) -> Service {
        match self {
            Dispatch::Json { service, .. } => *service,
            Dispatch::Lex(_) => Service::Lex,
        }
    }
    fn op(&self) -> &str {
        match self {
            Dispatch::Json { op, .. } => op,
            Dispatch::Lex(r) => r.operation(),
        }
    }
}

fn dispatch(method: &str, path: &str, headers: &HeaderMap) -> Option<Dispatch> {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.')?;
        let (service, json_version) = match prefix {
            "WorkspacesService" => (Service::WorkSpaces, "1.1"),
            "AWSMigrationHub" => (Service::MigrationHub, "1.1"),
            "AWSEvents" => (Service::EventBridge, "1.1"),
            "AWSStepFunctions" => (Service::StepFunctions, "1.0"),
            _ => return None,
        };
        return (method == "POST").then(|| Dispatch::Json {
            service,
            op: op.to_owned(),
            json_version,
        });
    }
    lex::route(method, path).map(Dispatch::Lex)
}

/// The caller's now: the virtual-time header if present, else the time set for the request's
/// access key ([`KeyClock`]), else the wall clock.
fn request_now(headers: &HeaderMap, keys: &KeyClock) -> SystemTime {
    headers
        .get(fleetshift_clock::VIRTUAL_TIME_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(fleetshift_clock::from_millis)
        .or_else(|| keys.for_request(headers))
        .unwrap_or_else(SystemTime::now)
}

/// Whether the caller runs on a virtual clock (it sent its time, or its access key has one).
fn request_is_virtual(headers: &HeaderMap, keys: &KeyClock) -> bool {
    headers.contains_key(fleetshift_clock::VIRTUAL_TIME_HEADER)
        || keys.for_request(headers).is_some()
}

/// The Region of the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
pub(crate) fn signed_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_owned())
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let Some(route) = dispatch(&method, parts.uri.path(), &parts.headers) else {
        let e = ApiError::new(
            404,
            "UnknownOperationException",
            format!("cloud-local does not emulate {method} {}", parts.uri.path()),
        );
        return error_response(&e, "application/json");
    };
    let content_type = match &route {
        Dispatch::Json { json_version, .. } => format!("application/x-amz-json-{json_version}"),
        Dispatch::Lex(_) => "application/json".to_owned(),
    };
    let ctx = Ctx {
        now: request_now(&parts.headers, &shared.key_clock),
        region: signed_region(&parts.headers).unwrap_or_else(|| shared.default_region.clone()),
    };
    let virtual_time = request_is_virtual(&parts.headers, &shared.key_clock);
    let service = route.service();
    let op = route.op().to_owned();

    let parsed: Result<Value, ApiError> = match to_bytes(body, MAX_BODY).await {
        Err(e) => Err(ApiError::bad(
            "SerializationException",
            format!("reading the body: {e}"),
        )),
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Default::default())),
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            ApiError::bad(
                "SerializationException",
                format!("the body is not valid JSON: {e}"),
            )
        }),
    };
    let body = parsed.as_ref().cloned().unwrap_or(Value::Null);
    let target = match &route {
        Dispatch::Json { service, op, .. } => match service {
            Service::WorkSpaces => workspaces::target_id(op, &body),
            Service::MigrationHub => hub::target_id(op, &body),
            Service::EventBridge => events::target_id(&body),
            Service::StepFunctions => sfn::target_id(op, &body),
            Service::Lex => None,
        },
        Dispatch::Lex(r) => r.target_id(&body),
    };

    // IAM before the service acts (a denied request changes nothing and uses no scenario rule).
    let lex_route = match &route {
        Dispatch::Lex(r) => Some(r),
        Dispatch::Json { .. } => None,
    };
    let iam = crate::iam::requests::check(
        &shared,
        &parts.headers,
        service,
        &op,
        lex_route,
        &body,
        &ctx,
    );
    let (parsed, put_events_failed, denied) = match iam {
        crate::iam::requests::Outcome::PutEvents { allowed, failed } => {
            (allowed.ok_or(None), Some(failed), None)
        }
        crate::iam::requests::Outcome::Denied(e) => (parsed.map_err(Some), None, Some(e)),
        crate::iam::requests::Outcome::Allowed => (parsed.map_err(Some), None, None),
    };

    // Scenario first: a dead endpoint, injected errors, throttling, latency, lost answers.
    let (latency, injected, lose_answer) = {
        let mut world = shared.world();
        if ctx.now > world.last_now {
            world.last_now = ctx.now;
        }
        if service == Service::Lex && world.scenario.lex_v1 == LexAvailability::Gone {
            (
                Duration::ZERO,
                Some(ApiError::new(
                    410,
                    "EndpointGone",
                    "Amazon Lex V1 endpoints stopped answering on 2025-09-15 (Lex V1 is end of life)",
                )),
                None,
            )
        } else if let Some(e) = denied {
            (Duration::ZERO, Some(e), None)
        } else {
            apply_rules(&mut world, service, &op, target.as_deref())
        }
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let mut result: Result<(u16, Value), ApiError> = match (injected, parsed) {
        (Some(e), _) | (None, Err(Some(e))) => Err(e),
        // PutEvents whose every entry IAM refused: nothing left to serve.
        (None, Err(None)) => Ok((200, Value::Null)),
        (None, Ok(body)) => match &route {
            Dispatch::Json {
                service: Service::StepFunctions,
                op,
                ..
            } => sfn::call(shared.sfn.as_deref(), op, body, ctx.now)
                .await
                .map(|v| (200, v)),
            Dispatch::Json { service, op, .. } => {
                let mut world = shared.world();
                let w = &mut *world;
                match service {
                    Service::WorkSpaces => workspaces::call(w, &ctx, op, &body),
                    Service::MigrationHub => hub::call(w, &ctx, op, &body),
                    _ => {
                        let caller = shared
                            .iam
                            .caller(crate::key_clock::signed_access_key(&parts.headers));
                        let put = events::Put {
                            buses: &shared.buses,
                            caller: caller.as_deref(),
                            virtual_time,
                        };
                        events::call(w, &ctx, op, &body, &put)
                    }
                }
                .map(|v| (200, v))
            }
            Dispatch::Lex(r) => {
                let mut world = shared.world();
                lex::call(&mut world, &ctx, r, parts.uri.query(), &body)
            }
        },
    };

    if let Some(failed) = put_events_failed
        && let Ok((_, answer)) = &mut result
    {
        let served = (!answer.is_null()).then(|| answer.take());
        *answer = crate::iam::requests::merge_put_events(served, failed);
    }

    // A lost answer is charged only when there was an answer to lose (the call succeeded).
    if let Some(rule) = lose_answer.filter(|_| result.is_ok()) {
        *shared.world().rule_lost.entry(rule).or_insert(0) += 1;
        result = Err(ApiError::new(
            500,
            "InternalFailure",
            format!(
                "{op} was carried out but its answer was lost (injected by the cloud-local scenario)"
            ),
        ));
    }

    {
        let mut world = shared.world();
        let seq = world.calls.len() as u64;
        world.calls.push(CallRecord {
            seq,
            service,
            operation: op.clone(),
            target,
            outcome: match &result {
                Ok(_) => Outcome::Ok,
                Err(e) => Outcome::Error {
                    code: e.code.clone(),
                    status: e.status,
                },
            },
            mutating: MUTATING.contains(&op.as_str()),
            at: ctx.now,
            region: ctx.region.clone(),
        });
    }
    match result {
        Ok((status, v)) => {
            tracing::debug!(operation = %op, status, "answered");
            json_response(status, &v, &content_type)
        }
        Err(e) => {
            tracing::debug!(operation = %op, code = %e.code, "answered with an error");
            error_response(&e, &content_type)
        }
    }
}

fn apply_rules(
    world: &mut World,
    service: Service,
    op: &str,
    target: Option<&str>,
) -> (Duration, Option<ApiError>, Option<(usize, String)>) {
    let mut latency = Duration::ZERO;
    let mut error = None;
    // The first rule whose lost answers are not used up; the caller charges it if the call
    // succeeds.
    let mut lose: Option<usize> = None;
    let key = target.unwrap_or(op).to_owned();
    let seed = world.scenario.seed;
    let rules = world.scenario.rules.clone();
    for (i, rule) in rules.iter().enumerate() {
        if rule.operation != "*" && rule.operation != op {
            continue;
        }
        if let Some(id) = &rule.id
            && Some(id.as_str()) != target
        {
            continue;
        }
        if let Some(ms) = rule.latency_ms {
            latency += Duration::from_millis(ms);
        }
        if error.is_some() {
            continue;
        }
        if let Some(fail) = &rule.fail {
            let passed = world.rule_passed.entry((i, key.clone())).or_insert(0);
            if *passed < fail.after.unwrap_or(0) {
                *passed += 1;
                continue;
            }
            let used = world.rule_fails.entry((i, key.clone())).or_insert(0);
            if fail.times.is_none_or(|n| *used < n) {
                *used += 1;
                error = Some(injected_error(
                    service,
                    &fail.error,
                    fail.status,
                    fail.message.clone(),
                    target,
                ));
                continue;
            }
        }
        if let Some(fraction) = rule.throttle {
            let n = world.rule_hits.entry((i, key.clone())).or_insert(0);
            let d = draw(seed, i, &format!("{op}/{key}"), *n);
            *n += 1;
            if d < fraction {
                error = Some(throttling(service));
                continue;
            }
        }
        if let Some(times) = rule.lose_answer
            && lose.is_none()
            && world.rule_lost.get(&(i, key.clone())).copied().unwrap_or(0) < times
        {
            lose = Some(i);
        }
    }
    let lose_answer = lose.filter(|_| error.is_none()).map(|i| (i, key));
    (latency, error, lose_answer)
}

fn throttling(service: Service) -> ApiError {
    match service {
        Service::Lex => ApiError::new(429, "LimitExceededException", "Rate exceeded"),
        Service::MigrationHub => ApiError::bad("ThrottlingException", "Rate exceeded")
            .with("RetryAfterSeconds", 1)
            .upper(),
        _ => ApiError::bad("ThrottlingException", "Rate exceeded"),
    }
}

fn injected_error(
    service: Service,
    code: &str,
    status: Option<u16>,
    message: Option<String>,
    target: Option<&str>,
) -> ApiError {
    let default_status = match (service, code) {
        (Service::Lex, "NotFoundException") => 404,
        (Service::Lex, "LimitExceededException") => 429,
        (Service::Lex, "AccessDeniedException") => 403,
        (Service::Lex, "InternalFailureException") => 500,
        (_, "InternalServerError" | "InternalException" | "InternalFailure") => 500,
        (_, "ServiceUnavailableException" | "ServiceUnavailable") => 503,
        _ => 400,
    };
    let message =
        message.unwrap_or_else(|| format!("{code} (injected by the cloud-local scenario)"));
    let mut e = ApiError::new(status.unwrap_or(default_status), code, message);
    if service == Service::MigrationHub {
        e = e.upper();
    }
    if service == Service::WorkSpaces
        && matches!(
            code,
            "ResourceNotFoundException" | "ResourceUnavailableException"
        )
        && let Some(t) = target
    {
        e = e.with("ResourceId", t);
    }
    e
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn json_response(status: u16, v: &Value, content_type: &str) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

fn error_response(e: &ApiError, content_type: &str) -> Response {
    let mut r = json_response(e.status, &e.body(), content_type);
    if let Ok(code) = HeaderValue::from_str(&e.code) {
        r.headers_mut().insert("x-amzn-errortype", code);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_region_of_the_credential_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-west-2/workspaces/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        assert_eq!(signed_region(&h).as_deref(), Some("us-west-2"));
        assert_eq!(signed_region(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_virtual_time_from_the_header() {
        let mut h = HeaderMap::new();
        h.insert(
            fleetshift_clock::VIRTUAL_TIME_HEADER,
            HeaderValue::from_static("1700000000000"),
        );
        assert_eq!(
            request_now(&h, &KeyClock::default()),
            fleetshift_clock::from_millis(1_700_000_000_000)
        );
    }

    #[test]
    fn the_header_wins_over_the_access_key_time() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDPROC/20250101/us-east-1/workspaces/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        let keys = KeyClock::default();
        keys.set("AKIDPROC", fleetshift_clock::from_millis(2_000_000_000_000));
        assert_eq!(
            request_now(&h, &keys),
            fleetshift_clock::from_millis(2_000_000_000_000)
        );
        h.insert(
            fleetshift_clock::VIRTUAL_TIME_HEADER,
            HeaderValue::from_static("1700000000000"),
        );
        assert_eq!(
            request_now(&h, &keys),
            fleetshift_clock::from_millis(1_700_000_000_000)
        );
    }
}

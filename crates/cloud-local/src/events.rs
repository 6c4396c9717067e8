//! Amazon EventBridge PutEvents (awsJson1_1, `AWSEvents.PutEvents`): each accepted entry becomes
//! an event on its bus, authorized against the bus's resource policy, matched against the bus's
//! rules and delivered to their targets ([`crate::bus`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::bus::{ACCOUNT_ID, Buses};
use crate::error::ApiError;
use crate::iam::Principal;
use crate::validate::{Input, Str};
use crate::world::{Ctx, RecordedEvent, World};

/// What PutEvents needs beyond the request: the buses, the caller (`None`: IAM does not know it,
/// so its events carry the stack's account) and whether the caller runs on virtual time.
pub(crate) struct Put<'a> {
    pub(crate) buses: &'a Arc<Buses>,
    pub(crate) caller: Option<&'a Principal>,
    pub(crate) virtual_time: bool,
}

/// RFC 3339 in UTC to the second, as EventBridge writes an event's `time` ("2017-12-22T18:43:48Z").
pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// RFC 3339 in UTC to the millisecond, as Lambda writes an invocation record's `timestamp`.
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn invalid(message: String) -> ApiError {
    ApiError::bad("ValidationException", message)
}

/// PutEvents accepts at most 256 KiB of entries per request. The limit AWS documents has changed:
/// the API Reference and the botocore model (`events/2015-10-07`, PutEvents) used to say "the
/// total entry size must be less than 256KB" and the current model says "less than 1MB". Kept at
/// 256 KiB, the stricter, so that what the handlers publish fits under either. The size is summed
/// as in the EventBridge User Guide, "Calculating PutEvents event entry size" (Source, DetailType,
/// Detail, each Resources entry, in UTF-8 bytes), without the guide's 14 bytes for a `Time`.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

pub(crate) fn target_id(body: &Value) -> Option<String> {
    body.get("Entries")
        .and_then(|l| l.get(0))
        .and_then(|e| e.get("DetailType"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub(crate) fn call(
    world: &mut World,
    ctx: &Ctx,
    op: &str,
    body: &Value,
    put: &Put<'_>,
) -> Result<Value, ApiError> {
    if op != "PutEvents" {
        return Err(crate::server::unknown_operation("AWSEvents", op));
    }
    let input = Input::new(body, invalid)?;
    // Botocore model `PutEventsRequestEntryList`: 1 to 10 entries.
    let entries = input.req_list("Entries", Some(1), Some(10))?;
    input.opt_str(
        "EndpointId",
        Str::len_pattern(1, 50, "^[A-Za-z0-9\\-]+[\\.][A-Za-z0-9\\-]+$"),
    )?;
    let mut checked = Vec::with_capacity(entries.len());
    let mut size = 0;
    for (i, e) in entries.iter().enumerate() {
        let entry = input.nested(e, &format!("Entries.{}", i + 1))?;
        let time = entry.opt_timestamp("Time")?;
        let source = entry.opt_str("Source", Str::any())?;
        let resources = match entry.opt_list("Resources", None, None)? {
            Some(items) => entry.str_items(
                "Resources",
                items,
                Str {
                    max: Some(2048),
                    ..Str::any()
                },
            )?,
            None => Vec::new(),
        };
        let detail_type = entry.opt_str("DetailType", Str::any())?;
        let detail = entry.opt_str("Detail", Str::any())?;
        let bus = entry.opt_str(
            "EventBusName",
            Str::len_pattern(
                1,
                1600,
                "(arn:aws[\\w-]*:events:[a-z]+-[a-z]+-[\\w-]+:[0-9]{12}:event-bus\\/)?[\\.\\-_A-Za-z0-9]+",
            ),
        )?;
        entry.opt_str("TraceHeader", Str::len(1, 500))?;
        size += source.map_or(0, str::len)
            + detail_type.map_or(0, str::len)
            + detail.map_or(0, str::len)
            + resources.iter().map(|r| r.len()).sum::<usize>();
        checked.push((time, source, resources, detail_type, detail, bus));
    }
    if size > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "Total size of the entries in the request is over the limit ({size} > {MAX_REQUEST_BYTES} bytes)."
        )));
    }
    // API Reference, PutEvents: one result per entry, in order (`PutEventsResultEntry`: an
    // EventId, or ErrorCode and ErrorMessage) and FailedEntryCount; a failed entry does not fail
    // the call (HTTP 200). InvalidArgument ("A specified parameter is not valid.") and
    // MalformedDetail ("The JSON provided is not valid.") are among the model's non-retryable
    // entry codes; the message texts are not documented.
    let mut results = Vec::with_capacity(checked.len());
    let mut failed = 0;
    for (time, source, resources, detail_type, detail, bus) in checked {
        let missing = [
            ("Source", source),
            ("DetailType", detail_type),
            ("Detail", detail),
        ]
        .into_iter()
        .find(|(_, v)| v.is_none_or(str::is_empty));
        if let Some((field, _)) = missing {
            failed += 1;
            results.push(json!({
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": format!("Parameter {field} is not valid. Reason: {field} is a required argument.")
            }));
            continue;
        }
        let (source, detail_type, detail) = (
            source.unwrap_or_default(),
            detail_type.unwrap_or_default(),
            detail.unwrap_or_default(),
        );
        if !matches!(serde_json::from_str::<Value>(detail), Ok(Value::Object(_))) {
            failed += 1;
            results.push(
                json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}),
            );
            continue;
        }
        // IAM authorized each entry before (crate::iam::requests), the bus's resource policy
        // included.
        let resolved = put.buses.resolve(bus);
        let id = world.fresh(b"0123456789abcdef", 32);
        let event_id = format!(
            "{}-{}-{}-{}-{}",
            &id[0..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..32]
        );
        world.events.push(RecordedEvent {
            event_id: event_id.clone(),
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: detail.to_owned(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            event_bus_name: bus.unwrap_or("default").to_owned(),
            time,
            received_at: ctx.now,
        });
        match resolved {
            Some((name, _)) => {
                let at = time
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .map(|t| UNIX_EPOCH + Duration::from_secs_f64(t))
                    .unwrap_or(ctx.now);
                let event = json!({
                    "version": "0",
                    "id": event_id,
                    "detail-type": detail_type,
                    "source": source,
                    "account": put.caller.map_or(ACCOUNT_ID, |c| c.account.as_str()),
                    "time": rfc3339(at),
                    "region": ctx.region,
                    "resources": resources,
                    "detail": serde_json::from_str::<Value>(detail).unwrap_or(Value::Null),
                });
                put.buses.dispatch(name, &event, ctx.now, put.virtual_time);
            }
            // AWS accepts an entry for a bus that does not exist and delivers it nowhere: recorded
            // against AWS on 2025-01-08 by LocalStack's snapshot test
            // `test_put_events_nonexistent_event_bus` (FailedEntryCount 0, an EventId; only
            // DescribeEventBus answers ResourceNotFoundException "Event bus NAME does not exist.");
            // aws/aws-cli#9186 and aws/aws-sdk#186 report the same.
            None => tracing::warn!(
                event_bus = bus.unwrap_or("default"),
                "PutEvents to an event bus that does not exist: accepted and delivered nowhere, as AWS does"
            ),
        }
        results.push(json!({ "EventId": event_id }));
    }
    Ok(json!({"FailedEntryCount": failed, "Entries": results}))
}

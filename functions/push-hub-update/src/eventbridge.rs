//! The EventBridge sink (always on): each action's details as events with source `fleetshift` on
//! the stack's bus, packed into as few `PutEvents` requests as EventBridge's limits allow. Events
//! are the sink of record, so a failed `PutEvents` is an error the state machine retries.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;
use aws_smithy_types::error::display::DisplayErrorContext;
use fleetshift_core::{AwsError, ErrorKind, events};
use serde::Serialize;
use tracing::warn;

use crate::Deps;

/// EventBridge's limit on one entry and on one `PutEvents` request, in bytes.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Detail budget of one event: the entry limit minus room for source, detail-type and time.
pub const DETAIL_BUDGET_BYTES: usize = 250_000;
/// EventBridge's limit on entries per `PutEvents` request.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;

/// Publishes one event per detail, packing them into as few `PutEvents` requests as the limits
/// allow (10 entries, 256 KB).
pub(crate) async fn publish<T: Serialize>(
    deps: &Deps,
    detail_type: &str,
    details: &[T],
) -> Result<(), AwsError> {
    let time = DateTime::from(fleetshift_clock::now());
    let entries: Vec<(usize, PutEventsRequestEntry)> = details
        .iter()
        .map(|d| {
            let detail = serde_json::to_string(d).expect("a contract type serialises");
            let size = entry_size(detail_type, &detail);
            let entry = PutEventsRequestEntry::builder()
                .source(events::SOURCE)
                .detail_type(detail_type)
                .detail(detail)
                .event_bus_name(&deps.settings.event_bus_name)
                .time(time)
                .build();
            (size, entry)
        })
        .collect();
    for batch in batches(entries) {
        let sent = batch.len();
        let out = deps
            .events
            .put_events()
            .set_entries(Some(batch))
            .send()
            .await
            .map_err(|e| {
                let classified = match e.as_service_error() {
                    Some(s) if s.is_internal_exception() => {
                        AwsError::from_kind(ErrorKind::ServiceUnavailable, "PutEvents", &e)
                    }
                    _ => AwsError::classify("PutEvents", &e),
                };
                warn!(kind = ?classified.kind, error = %DisplayErrorContext(&e), "PutEvents failed");
                classified
            })?;
        if out.failed_entry_count() > 0 {
            let first = out.entries().iter().find(|r| r.error_code().is_some());
            let code = first.and_then(|r| r.error_code()).map(str::to_owned);
            let message = format!(
                "{} of {sent} {detail_type} events rejected: {}",
                out.failed_entry_count(),
                first
                    .and_then(|r| r.error_message())
                    .unwrap_or("no message")
            );
            let kind = code
                .as_deref()
                .map(entry_error_kind)
                .unwrap_or(ErrorKind::ServiceUnavailable);
            let err = AwsError {
                kind,
                operation: "PutEvents",
                code,
                message,
            };
            warn!(kind = ?err.kind, error = %err, "EventBridge rejected events");
            return Err(err);
        }
    }
    Ok(())
}

/// The class of a rejected `PutEvents` entry. Entry failures other than permissions and malformed
/// details are transient ("retry the failed entries", says the EventBridge guide).
fn entry_error_kind(code: &str) -> ErrorKind {
    match code {
        "NotAuthorizedForSourceException" | "NotAuthorizedForDetailTypeException" => {
            ErrorKind::AccessDenied
        }
        "MalformedDetail" | "InvalidArgument" => ErrorKind::InvalidRequest,
        other => ErrorKind::from_code(other).unwrap_or(ErrorKind::ServiceUnavailable),
    }
}

/// An entry's size as EventBridge counts it (time 14 bytes, then source, detail-type and detail).
fn entry_size(detail_type: &str, detail: &str) -> usize {
    14 + events::SOURCE.len() + detail_type.len() + detail.len()
}

fn batches(entries: Vec<(usize, PutEventsRequestEntry)>) -> Vec<Vec<PutEventsRequestEntry>> {
    let mut out: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
    let mut size = 0;
    for (n, entry) in entries {
        match out.last_mut() {
            Some(b) if b.len() < MAX_ENTRIES_PER_REQUEST && size + n <= MAX_EVENT_BYTES => {
                size += n;
                b.push(entry);
            }
            _ => {
                size = n;
                out.push(vec![entry]);
            }
        }
    }
    out
}

/// Splits two lists into parts whose details each fit [`DETAIL_BUDGET_BYTES`], given the size of
/// everything else a detail holds (`base_bytes`). Always at least one part; the first list's items
/// come first, in order, then the second's.
pub(crate) fn split_lists<A: Serialize, B: Serialize>(
    base_bytes: usize,
    a: Vec<A>,
    b: Vec<B>,
) -> Vec<(Vec<A>, Vec<B>)> {
    // Room for the two list keys, `part`/`parts` and brackets.
    let overhead = base_bytes + 60;
    let mut parts: Vec<(Vec<A>, Vec<B>)> = vec![(Vec::new(), Vec::new())];
    let mut size = overhead;
    // Whether an item of `n` bytes needs a new part (never for the first item of a part).
    let mut new_part = |n: usize, last: &(Vec<A>, Vec<B>)| {
        let full = size + n > DETAIL_BUDGET_BYTES && !(last.0.is_empty() && last.1.is_empty());
        size = if full { overhead } else { size } + n;
        full
    };
    for item in a {
        if new_part(json_len(&item), &parts[parts.len() - 1]) {
            parts.push((Vec::new(), Vec::new()));
        }
        let last = parts.len() - 1;
        parts[last].0.push(item);
    }
    for item in b {
        if new_part(json_len(&item), &parts[parts.len() - 1]) {
            parts.push((Vec::new(), Vec::new()));
        }
        let last = parts.len() - 1;
        parts[last].1.push(item);
    }
    parts
}

/// A value's size in a detail: its JSON and a separating comma.
pub(crate) fn json_len<T: Serialize>(v: &T) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len()) + 1
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn large_details_are_split_and_small_ones_are_not() {
        let one = split_lists(20, vec![json!({"a": 1})], Vec::<Value>::new());
        assert_eq!(one, vec![(vec![json!({"a": 1})], vec![])]);
        // Nothing at all is still one part: the event says the lists are empty.
        assert_eq!(
            split_lists(20, Vec::<Value>::new(), Vec::<Value>::new()).len(),
            1
        );

        // 400 items of 2,048 bytes: 122 fit in 250,000 bytes with 80 bytes of base and overhead.
        let item = json!({"sourceWorkspaceId": "ws-abcd12345", "cause": "x".repeat(2000)});
        assert_eq!(json_len(&item), 2_048);
        let parts = split_lists(20, vec![item; 400], vec![json!({"v1BotName": "B"})]);
        let sizes: Vec<(usize, usize)> = parts.iter().map(|(a, b)| (a.len(), b.len())).collect();
        assert_eq!(sizes, vec![(122, 0), (122, 0), (122, 0), (34, 1)]);
    }

    #[test]
    fn requests_respect_entry_count_and_size() {
        let entry = || PutEventsRequestEntry::builder().build();
        let small: Vec<_> = (0..23).map(|_| (100, entry())).collect();
        let b = batches(small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 3]);
        let big: Vec<_> = (0..3).map(|_| (200_000, entry())).collect();
        assert_eq!(batches(big).len(), 3);
    }

    #[test]
    fn entry_failures_are_classified() {
        assert_eq!(
            entry_error_kind("ThrottlingException"),
            ErrorKind::Throttling
        );
        assert_eq!(
            entry_error_kind("InternalFailure"),
            ErrorKind::ServiceUnavailable
        );
        assert_eq!(
            entry_error_kind("NotAuthorizedForSourceException"),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            entry_error_kind("MalformedDetail"),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            entry_error_kind("SomethingNew"),
            ErrorKind::ServiceUnavailable
        );
    }
}

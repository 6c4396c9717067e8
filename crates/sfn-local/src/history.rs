//! Execution history events, shaped like `GetExecutionHistory`.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// One event of an execution's history.
///
/// `details` holds the typed details object that AWS names after the event type
/// (`stateEnteredEventDetails`, `lambdaFunctionScheduledEventDetails`, ...); as in AWS, inputs and
/// outputs inside it are JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, in the order the events happened.
    pub id: u64,
    /// The event this one follows in its branch (0 for none).
    pub previous_event_id: u64,
    /// The (virtual) time of the event.
    pub timestamp: SystemTime,
    /// `ExecutionStarted`, `TaskStateEntered`, `LambdaFunctionSucceeded`, ...
    pub event_type: &'static str,
    /// The details member's name and value, when the event has one.
    pub details: Option<(&'static str, Value)>,
}

impl HistoryEvent {
    /// The event as the `GetExecutionHistory` API shows it (`timestamp` in epoch seconds).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::from(self.id));
        m.insert(
            "previousEventId".into(),
            Value::from(self.previous_event_id),
        );
        let secs = fleetshift_clock::to_millis(self.timestamp) as f64 / 1000.0;
        m.insert("timestamp".into(), Value::from(secs));
        m.insert("type".into(), Value::from(self.event_type));
        if let Some((k, v)) = &self.details {
            m.insert((*k).into(), v.clone());
        }
        Value::Object(m)
    }
}

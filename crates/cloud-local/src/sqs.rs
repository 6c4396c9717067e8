//! A minimal Amazon SQS: the queues EventBridge dead-letters into and Lambda sends its on-failure
//! invocation records to. Messages are only kept, for tests and the CLI to read; there is no SQS
//! wire protocol.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// One message sent to a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMessage {
    /// The message body (JSON text for every sender here).
    pub body: String,
    /// String message attributes (EventBridge's dead-letter attributes: `RULE_ARN`,
    /// `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION`,
    /// `RETRY_ATTEMPTS`).
    pub attributes: BTreeMap<String, String>,
    /// The sender's (virtual) time.
    pub sent_at: SystemTime,
}

impl QueueMessage {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Queues by ARN; a queue exists once something is sent to it.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    queues: BTreeMap<String, Vec<QueueMessage>>,
}

impl Queues {
    pub(crate) fn send(&mut self, queue_arn: &str, message: QueueMessage) {
        self.queues
            .entry(queue_arn.to_owned())
            .or_default()
            .push(message);
    }

    pub(crate) fn messages(&self, queue_arn: &str) -> Vec<QueueMessage> {
        self.queues.get(queue_arn).cloned().unwrap_or_default()
    }
}

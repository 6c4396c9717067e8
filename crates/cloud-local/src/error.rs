//! Service errors as they travel on the wire.
//!
//! awsJson1_0 / awsJson1_1 and restJson1 errors: the shape name in `__type` (and the
//! `x-amzn-ErrorType` header), the HTTP status of the shape's `error.httpStatusCode` (400 unless
//! the model says otherwise), and the shape's members in the body (Smithy, "AWS JSON 1.1
//! protocol", "Operation error serialization"; the SDKs read the code from either place). Each
//! service spells the message member as its model does: `message` for WorkSpaces, EventBridge,
//! Step Functions and Lex, `Message` for Migration Hub (botocore models, e.g.
//! `mgh/2017-05-31` `HomeRegionNotSetException`).

use serde_json::{Map, Value};

/// How a service spells the message member of its error shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKey {
    /// `message` (WorkSpaces, EventBridge, Step Functions, Lex).
    Lower,
    /// `Message` (Migration Hub).
    Upper,
}

/// A modeled (or deliberately unmodeled) service error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The error shape name, sent as `__type` and `x-amzn-ErrorType`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Extra members of the error shape (e.g. `ResourceId`).
    extra: Vec<(String, Value)>,
    pub(crate) key: MessageKey,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            extra: Vec::new(),
            key: MessageKey::Lower,
        }
    }

    pub(crate) fn bad(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub(crate) fn with(mut self, member: &str, value: impl Into<Value>) -> Self {
        self.extra.push((member.to_owned(), value.into()));
        self
    }

    pub(crate) fn upper(mut self) -> Self {
        self.key = MessageKey::Upper;
        self
    }

    /// The JSON body: `{"__type": ..., "message"|"Message": ..., extra members}`.
    pub(crate) fn body(&self) -> Value {
        let mut m: Map<String, Value> = self.extra.iter().cloned().collect();
        m.insert("__type".into(), Value::String(self.code.clone()));
        let key = match self.key {
            MessageKey::Lower => "message",
            MessageKey::Upper => "Message",
        };
        m.insert(key.into(), Value::String(self.message.clone()));
        Value::Object(m)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

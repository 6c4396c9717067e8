//! Helpers shared by the integration tests (each test file is its own crate and includes
//! this with `mod common;`, so a helper one file leaves unused is not dead code there).
#![allow(dead_code)]

use std::time::Duration;

use sfn_local::{Engine, ExecutionDescription};

/// The event types of an execution's history, in order.
pub(crate) fn types(engine: &Engine, d: &ExecutionDescription) -> Vec<&'static str> {
    engine
        .history(&d.execution_arn)
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect()
}

/// How long an execution ran, from its start to its stop date.
pub(crate) fn took(d: &ExecutionDescription) -> Duration {
    d.stop_date.unwrap().duration_since(d.start_date).unwrap()
}

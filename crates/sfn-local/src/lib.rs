//! An Amazon States Language engine that reproduces AWS Step Functions, on a virtual clock.
//!
//! Load a definition with [`Definition::parse`] (validated: errors name the state and the rule),
//! register a [`Handler`] per Lambda function on an [`Engine`], then [`Engine::run`] an execution
//! (or [`Engine::start_execution`] it in the background) and read it back with
//! [`Engine::describe`], [`Engine::history`] and [`Engine::list`].
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use sfn_local::{Definition, Engine, ExecutionStatus, TaskFailure};
//! use serde_json::{json, Value};
//!
//! let def = Arc::new(Definition::parse(r#"{"StartAt":"Hello","States":{"Hello":{
//!     "Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
//!     "Parameters":{"FunctionName":"hello","Payload.$":"$"},
//!     "OutputPath":"$.Payload","End":true}}}"#).unwrap());
//! let engine = Engine::builder()
//!     .handler("hello", |input: Value| async move { Ok::<_, TaskFailure>(json!({"hi": input})) })
//!     .build();
//! let sm = engine.state_machine_arn("demo");
//! let done = engine.run(def, &sm, Some("run-1"), json!({"x": 1})).await.unwrap();
//! assert_eq!(done.status, ExecutionStatus::Succeeded);
//! assert_eq!(done.output, Some(json!({"hi": {"x": 1}})));
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo());
//! ```
//!
//! Time: by default every execution runs on its own virtual clock ([`fleetshift_clock`]): Wait
//! states, retry backoff and Task timeouts take no real time, and history timestamps follow the
//! virtual clock. Map iterations and Parallel branches each get their own branch of virtual time.
//! [`EngineBuilder::real_time`] switches to the wall clock.

mod definition;
mod engine;
mod exec;
mod history;
mod intrinsics;
mod path;
mod time;

pub use definition::{Definition, DefinitionError};
pub use engine::{
    ClockMode, ContextHandler, Engine, EngineBuilder, ExecutionDescription, ExecutionStatus,
    Handler, HandlerFuture, StartError, TaskContext, TaskFailure, with_context,
};
pub use history::HistoryEvent;

//! The `fleetshift` command as a library: the offline stack (cloud-local + the real state machine
//! on sfn-local + the real handlers), shared by the CLI, the end-to-end tests and the benchmarks.

pub mod functions;
pub mod generate;
pub mod lambda_api;
pub mod local_aws;
pub mod progress;
pub mod report;
pub mod stack;

pub use report::{ReadFrom, WaveReport};
pub use stack::{LocalStack, StackError, StackOptions, fleet_for_plan, parameters_for_plan};

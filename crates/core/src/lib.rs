//! The shared core of Fleetshift: the wave plan and its validation, the error taxonomy the state
//! machine routes on, the one place that classifies AWS SDK errors, and client construction.

pub mod aws_error;
pub mod clients;
pub mod contract;
pub mod error_type;
pub mod events;
pub mod lex_v1;
pub mod plan;
pub mod validate;

pub use aws_error::{AwsError, ErrorKind};
pub use plan::Plan;
pub use validate::{Violation, Violations};

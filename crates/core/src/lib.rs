//! The shared core of Fleetshift: the wave plan and its validation, the error taxonomy the state
//! machine routes on, the one error shape every function reports (its `Diagnostic` and the
//! classification of AWS SDK errors), client construction, and the RFC 3339 and text helpers the
//! contracts share.

pub mod aws_error;
pub mod canonical;
pub mod clients;
pub mod contract;
pub mod diagnostic;
pub mod error_type;
pub mod events;
pub mod lex_v1;
pub mod plan;
pub mod rfc3339;
pub mod text;
pub mod validate;

pub use aws_error::{AwsError, ErrorKind};
pub use plan::Plan;
pub use validate::{Violation, Violations};

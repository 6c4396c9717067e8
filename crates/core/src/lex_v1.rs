//! Lex V1 model building stopped answering on 2025-09-15. StartMigration and GetMigration belong
//! to V1, so in most accounts a call now fails before any modeled error comes back: the endpoint
//! does not resolve or accept connections, or something other than Lex answers. [`classify`] turns
//! those answers into [`ErrorKind::LexV1Unavailable`] (never retried: waiting will not bring the
//! endpoint back) and leaves every other answer to [`AwsError::classify`], so accounts and test
//! doubles where Lex V1 still works keep the normal retry classes.
//!
//! The rules StartMigration's model sets on its parameters live here too, once: the plan, the
//! start-migration input and push-hub-update's bot tasks are checked with them.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws_error::{AwsError, ErrorKind};
use crate::plan::LexBot;
use crate::validate::{self, Violations};

/// What an operator reads when Lex V1 no longer answers.
pub const STOPPED_MESSAGE: &str = "Amazon Lex V1 stopped answering on 2025-09-15, so this bot cannot be \
     migrated through the V1 StartMigration/GetMigration APIs; rebuild it in Lex V2 \
     (console or import) instead";

/// Error codes an endpoint answers with when the operation or the endpoint no longer exists.
const GONE_CODES: &[&str] = &[
    "EndpointGone",
    "EndpointGoneException",
    "UnknownOperationException",
    "UnknownEndpoint",
    "UnrecognizedEndpoint",
    "ServiceDeprecated",
    "ServiceDeprecatedException",
];

/// Whether `err` says the Lex V1 endpoint is gone rather than that the call failed: a failure to
/// connect at all, an answer that is not Lex's (unparseable), `410 Gone`, a gone-like code, or a
/// `404` without Lex's own `NotFoundException` (the path is unknown to whoever answered).
pub fn is_gone<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => {
            if err.code().is_some_and(|c| GONE_CODES.contains(&c)) {
                return true;
            }
            match err.raw_response().map(|r| r.status().as_u16()) {
                Some(410) => true,
                Some(404) => err.code() != Some("NotFoundException"),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Classifies a failed Lex V1 call: [`ErrorKind::LexV1Unavailable`] when the endpoint is gone
/// (see [`is_gone`]), else [`AwsError::classify`]. Match the operation's modeled errors first.
pub fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let base = AwsError::classify(operation, err);
    if is_gone(err) {
        AwsError {
            kind: ErrorKind::LexV1Unavailable,
            message: format!("{STOPPED_MESSAGE} ({})", base.message),
            ..base
        }
    } else {
        base
    }
}

/// StartMigration's `MigrationStrategy` values.
pub const MIGRATION_STRATEGIES: &[&str] = &["CREATE_NEW", "UPDATE_EXISTING"];

/// `prefix.name`, or `name` at the top level.
fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Checks a Lex V1 bot reference against the model's `BotName` (2-50 characters) and `Version`
/// (1-64 characters) rules, naming the fields as the caller's input spells them.
pub fn check_bot(
    v: &mut Violations,
    (name_field, name): (&str, &str),
    (version_field, version): (&str, &str),
) {
    v.length(name_field, name, 2, 50);
    v.pattern(name_field, name, &validate::LEX_BOT_NAME);
    v.length(version_field, version, 1, 64);
    v.pattern(version_field, version, &validate::LEX_BOT_VERSION);
}

/// The parameters of one StartMigration call, as the plan's `lexBots[i]` and start-migration's
/// input both carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationRequest<'a> {
    pub v1_bot_name: &'a str,
    pub v1_bot_version: &'a str,
    pub v2_bot_name: &'a str,
    pub v2_bot_role: &'a str,
    pub migration_strategy: &'a str,
}

impl MigrationRequest<'_> {
    /// Checks every parameter against StartMigration's model; fields are named `<prefix>.v1BotName`
    /// and so on (`v1BotName` with an empty prefix).
    pub fn check(&self, prefix: &str, v: &mut Violations) {
        check_bot(
            v,
            (&field(prefix, "v1BotName"), self.v1_bot_name),
            (&field(prefix, "v1BotVersion"), self.v1_bot_version),
        );
        let f = field(prefix, "v2BotName");
        v.length(&f, self.v2_bot_name, 1, 100);
        v.pattern(&f, self.v2_bot_name, &validate::LEX_V2_BOT_NAME);
        let f = field(prefix, "v2BotRole");
        v.length(&f, self.v2_bot_role, 20, 2048);
        v.pattern(&f, self.v2_bot_role, &validate::IAM_ROLE_ARN);
        v.one_of(
            &field(prefix, "migrationStrategy"),
            self.migration_strategy,
            MIGRATION_STRATEGIES,
        );
    }
}

impl<'a> From<&'a LexBot> for MigrationRequest<'a> {
    fn from(b: &'a LexBot) -> Self {
        MigrationRequest {
            v1_bot_name: &b.v1_bot_name,
            v1_bot_version: &b.v1_bot_version,
            v2_bot_name: &b.v2_bot_name,
            v2_bot_role: &b.v2_bot_role,
            migration_strategy: &b.migration_strategy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/LexV2";

    fn request<'a>(name: &'a str, version: &'a str, strategy: &'a str) -> MigrationRequest<'a> {
        MigrationRequest {
            v1_bot_name: name,
            v1_bot_version: version,
            v2_bot_name: "order-flowers",
            v2_bot_role: ROLE,
            migration_strategy: strategy,
        }
    }

    #[test]
    fn a_valid_request_has_no_violation() {
        let mut v = Violations::default();
        request("OrderFlowers", "$LATEST", "CREATE_NEW").check("", &mut v);
        request("Order_Flowers", "12", "UPDATE_EXISTING").check("lexBots[0]", &mut v);
        assert_eq!(v, Violations::default());
    }

    #[test]
    fn each_rule_names_its_field_under_the_prefix() {
        let mut v = Violations::default();
        request("O", "v1", "MERGE").check("lexBots[2]", &mut v);
        let found: Vec<(&str, &str)> =
            v.0.iter()
                .map(|x| (x.field.as_str(), x.rule.as_str()))
                .collect();
        assert_eq!(
            found,
            [
                (
                    "lexBots[2].v1BotName",
                    "length must be 2-50 characters (is 1)"
                ),
                ("lexBots[2].v1BotVersion", r"must match \$LATEST|[0-9]+"),
                (
                    "lexBots[2].migrationStrategy",
                    "must be one of CREATE_NEW, UPDATE_EXISTING"
                ),
            ]
        );
    }

    #[test]
    fn a_bot_reference_is_named_as_the_caller_spells_it() {
        let mut v = Violations::default();
        check_bot(&mut v, ("task.id", "Bad Name"), ("task.version", "$LATEST"));
        assert_eq!(v.to_string(), "task.id: must match ^([A-Za-z]_?)+$");
    }
}

//! Lex V1 model building stopped answering on 2025-09-15. StartMigration and GetMigration belong
//! to V1, so in most accounts a call now fails before any modeled error comes back. [`classify`]
//! turns the answers that say the endpoint is retired into [`ErrorKind::LexV1Unavailable`] (never
//! retried: waiting will not bring the endpoint back) and leaves every other answer to
//! [`AwsError::classify`]: a timeout, a reset, a refused connection, a resolver that could not
//! answer or a 5xx is the retried `ServiceUnavailable` like on any other call, so a network blip
//! in an account where Lex V1 still works never fails a bot for good.
//!
//! The rules StartMigration's model sets on its parameters live here too, once: the plan, the
//! start-migration input and push-hub-update's bot tasks are checked with them.

use std::error::Error as StdError;
use std::io;

use aws_smithy_runtime_api::client::dns::ResolveDnsError;
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

/// How hyper-util's connector names a failed lookup by its default resolver (`GaiResolver`): the
/// error is its private `ConnectError`, built by `ConnectError::dns` with this fixed message and
/// the resolver's error as its source (hyper-util 0.1 `client/legacy/connect/http.rs`). The type
/// is not exported, so this message is the only mark it has. The chain as the SDK reports it:
/// `DispatchFailure(ConnectorError { err: hyper::Error(Connect, ConnectError("dns error",
/// Custom { kind: Uncategorized, error: "failed to lookup address information: nodename nor
/// servname provided, or not known" })), kind: Io })` (github.com/txpipe/oura/issues/541,
/// github.com/awslabs/aws-sdk-rust/issues/1136).
const HYPER_DNS_ERROR: &str = "dns error";

/// What `getaddrinfo` answers (`gai_strerror`) when the name does not exist (`EAI_NONAME`) or has
/// no address (`EAI_NODATA`): glibc (Lambda's Amazon Linux), musl, and the BSDs/macOS. The
/// standard library reports them as `failed to lookup address information: <this>` with the
/// unstable `io::ErrorKind::Uncategorized`, so there is no typed check: the text is all there is.
/// `EAI_AGAIN` ("Temporary failure in name resolution") and `EAI_FAIL` are not here: they are
/// what a throttled or unreachable resolver gives (the Amazon-provided DNS server drops queries
/// past 1024 packets per second per network interface, "failing or timing out":
/// repost.aws/knowledge-center/vpc-find-cause-of-failed-dns-queries), and are retried.
const NO_SUCH_NAME: &[&str] = &[
    "Name or service not known",
    "No address associated with hostname",
    "Name does not resolve",
    "nodename nor servname provided, or not known",
];

/// Whether `err` says the Lex V1 endpoint is retired rather than that this call failed: `410
/// Gone`, a gone-like code, a `404` without Lex's own `NotFoundException` (the path is unknown to
/// whoever answers for the name now; `AwsError::classify` would make it the equally final
/// `ResourceNotFound`), or a host name that no longer resolves (see [`is_name_not_found`]).
/// A timeout, a reset, a refused connection, an unparseable or cut-off answer
/// (`ResponseError`), a resolver that could not answer, and a 5xx are not.
pub fn is_gone<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        // A connect timeout can wrap a slow lookup: it says nothing about the name, so the
        // `is_timeout` kind the connector set decides first.
        SdkError::DispatchFailure(failure) => {
            !failure.is_timeout()
                && failure
                    .as_connector_error()
                    .is_some_and(|e| is_name_not_found(e))
        }
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

/// Whether a connection failure is the resolver saying the host name does not exist. The resolver
/// is found by type where it has one: `ResolveDnsError`, which every resolver plugged into the
/// SDK's HTTP client through `ResolveDns` fails with (aws-smithy-http-client's `downcast_error`
/// classifies it as I/O), or else hyper-util's default resolver's `dns error` (see
/// [`HYPER_DNS_ERROR`]). Below it, the cause must say the name does not exist: an
/// `io::ErrorKind::NotFound`, or one of `getaddrinfo`'s [`NO_SUCH_NAME`] answers. Any other
/// resolver failure (a timeout, `EAI_AGAIN`) may pass, and is retried.
pub fn is_name_not_found(err: &(dyn StdError + 'static)) -> bool {
    chain(err)
        .skip_while(|e| !(e.is::<ResolveDnsError>() || e.to_string() == HYPER_DNS_ERROR))
        .skip(1)
        .any(|cause| {
            cause
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
                || NO_SUCH_NAME
                    .iter()
                    .any(|text| cause.to_string().contains(text))
        })
}

/// `err` and each error below it. An `io::Error`'s `source()` is its payload's source, which skips
/// the payload (where the resolver's own error sits), so after an `io::Error` the next one is its
/// payload (`get_ref`), as aws-smithy-http-client's `error_chain` walks it.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|p| p as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// Classifies a failed Lex V1 call: [`ErrorKind::LexV1Unavailable`] when the endpoint is retired
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
    use std::fmt;

    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    /// Any Lex V1 operation's error type will do: only unmodeled answers reach [`classify`].
    #[allow(deprecated)]
    type GetMigrationError = aws_sdk_lexmodelbuilding::operation::get_migration::GetMigrationError;
    type Err = SdkError<GetMigrationError, HttpResponse>;

    /// One link of a connector's error chain, standing in for hyper's and hyper-util's private
    /// error types: their `Display` is a fixed message and the cause is their `source()`.
    #[derive(Debug)]
    struct Link(&'static str, Option<Box<dyn StdError + Send + Sync>>);

    impl fmt::Display for Link {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Link {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_ref().map(|e| &**e as _)
        }
    }

    /// The chain hyper-util's client gives for a failed lookup by its default resolver:
    /// `hyper_util::client::legacy::Error` (kind `Connect`), then `ConnectError("dns error")`,
    /// then what the standard library's `getaddrinfo` call answered.
    fn hyper_dns_failure(gai: &'static str) -> Box<dyn StdError + Send + Sync> {
        let cause = io::Error::other(format!("failed to lookup address information: {gai}"));
        Box::new(Link(
            "client error (Connect)",
            Some(Box::new(Link("dns error", Some(Box::new(cause))))),
        ))
    }

    fn dispatch(err: ConnectorError) -> Err {
        SdkError::dispatch_failure(err)
    }

    fn answered(status: u16, code: Option<&str>, body: &'static str) -> Err {
        let mut meta = ErrorMetadata::builder().message(body);
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(
            GetMigrationError::generic(meta.build()),
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body)),
        )
    }

    fn error_type(err: &Err) -> &'static str {
        classify("GetMigration", err).kind.error_type()
    }

    #[test]
    fn a_retired_endpoint_is_lex_v1_unavailable() {
        let gone = answered(410, Some("EndpointGone"), "Lex V1 is end of life");
        let classified = classify("GetMigration", &gone);
        assert_eq!(classified.kind.error_type(), "LexV1Unavailable");
        assert_eq!(classified.code.as_deref(), Some("EndpointGone"));
        assert_eq!(
            classified.message,
            format!("{STOPPED_MESSAGE} (Lex V1 is end of life)")
        );
        assert_eq!(error_type(&answered(410, None, "Gone")), "LexV1Unavailable");
        assert_eq!(
            error_type(&answered(400, Some("UnknownOperationException"), "?")),
            "LexV1Unavailable"
        );
        assert_eq!(
            error_type(&answered(404, None, "<html>Not Found</html>")),
            "LexV1Unavailable"
        );
        // Lex's own 404 names a missing migration, not a missing endpoint.
        assert_eq!(
            error_type(&answered(404, Some("NotFoundException"), "no migration")),
            "ResourceNotFound"
        );
    }

    #[test]
    fn a_name_that_no_longer_resolves_is_lex_v1_unavailable() {
        for gai in NO_SUCH_NAME {
            let err = dispatch(ConnectorError::io(hyper_dns_failure(gai)));
            assert_eq!(error_type(&err), "LexV1Unavailable", "{gai}");
        }
        // A resolver plugged in through `ResolveDns` fails with the typed `ResolveDnsError`.
        let typed = ResolveDnsError::new(io::Error::from(io::ErrorKind::NotFound));
        let err = dispatch(ConnectorError::io(Box::new(typed)));
        assert_eq!(error_type(&err), "LexV1Unavailable");
        let typed = ResolveDnsError::new(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        let err = dispatch(ConnectorError::io(Box::new(typed)));
        assert_eq!(error_type(&err), "LexV1Unavailable");
    }

    #[test]
    fn a_resolver_that_could_not_answer_is_retried() {
        let err = dispatch(ConnectorError::io(hyper_dns_failure(
            "Temporary failure in name resolution",
        )));
        assert_eq!(error_type(&err), "ServiceUnavailable");
        let err = dispatch(ConnectorError::io(Box::new(ResolveDnsError::new(
            io::Error::from(io::ErrorKind::TimedOut),
        ))));
        assert_eq!(error_type(&err), "ServiceUnavailable");
        // The same words without a resolver in the chain are not a lookup's answer.
        let err = dispatch(ConnectorError::io(Box::new(io::Error::other(
            "Name or service not known",
        ))));
        assert_eq!(error_type(&err), "ServiceUnavailable");
    }

    #[test]
    fn timeouts_are_retried() {
        let err: Err = SdkError::timeout_error(Box::new(io::Error::from(io::ErrorKind::TimedOut)));
        assert_eq!(error_type(&err), "ServiceUnavailable");
        let err = dispatch(ConnectorError::timeout(Box::new(io::Error::from(
            io::ErrorKind::TimedOut,
        ))));
        assert_eq!(error_type(&err), "ServiceUnavailable");
        // A connect timeout around a lookup that did fail still says nothing final.
        let err = dispatch(ConnectorError::timeout(hyper_dns_failure(
            "Name or service not known",
        )));
        assert_eq!(error_type(&err), "ServiceUnavailable");
    }

    #[test]
    fn resets_and_other_io_errors_are_retried() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
        ] {
            let err = dispatch(ConnectorError::io(Box::new(io::Error::from(kind))));
            assert_eq!(error_type(&err), "ServiceUnavailable", "{kind:?}");
        }
        let cut_off: Err = SdkError::response_error(
            io::Error::from(io::ErrorKind::UnexpectedEof),
            HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from("{\"migr")),
        );
        assert_eq!(error_type(&cut_off), "ServiceUnavailable");
    }

    #[test]
    fn server_errors_are_retried() {
        for status in [500, 502, 503, 504] {
            let err = answered(status, None, "Service Unavailable");
            assert_eq!(error_type(&err), "ServiceUnavailable", "{status}");
        }
        let err = answered(500, Some("InternalFailureException"), "internal");
        assert_eq!(error_type(&err), "ServiceUnavailable");
    }

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

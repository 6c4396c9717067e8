//! The SDK configuration of an offline run: every client talks to cloud-local over loopback, with
//! static credentials, and every request carries the caller's virtual time so the emulated
//! services age their resources on the workflow's clock.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
    http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use fleetshift_clock::VIRTUAL_TIME_HEADER;

/// The Region offline runs call "home".
pub const LOCAL_REGION: &str = fleetshift_template::REGION;

/// The access key id of [`sdk_config`]: a caller cloud-local does not know (unrestricted).
pub const ANONYMOUS_ACCESS_KEY_ID: &str = "AKIDFLEETSHIFTLOCAL";

/// An [`SdkConfig`] pointed at `endpoint` (cloud-local), signed by no identity the stack knows.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_as(endpoint, ANONYMOUS_ACCESS_KEY_ID)
}

/// An [`SdkConfig`] pointed at `endpoint` (cloud-local) whose requests are signed with
/// `access_key_id`: cloud-local finds the caller (and its policies) by it. The SDK's retry count
/// is production's (fleetshift_core::clients); only its backoff base is shortened, because the
/// SDK sleeps on the wall clock while the workflow runs on virtual time.
pub fn sdk_config_as(endpoint: &str, access_key_id: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(LOCAL_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key_id,
            "fleetshift-local-secret",
            None,
            None,
            "fleetshift-local",
        )))
        .http_client(http_client())
        .retry_config(
            fleetshift_core::clients::retry_config().with_initial_backoff(Duration::from_millis(5)),
        )
        .sleep_impl(default_async_sleep().expect("tokio sleep is available"))
        .build()
}

/// Plain HTTP (loopback needs no TLS) that stamps each request with the caller's virtual time.
fn http_client() -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new().build_http();
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(VirtualTime(inner.http_connector(settings, components)))
    })
}

#[derive(Debug)]
struct VirtualTime(SharedHttpConnector);

impl HttpConnector for VirtualTime {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        // Read while still inside the caller's task: the task-local holds its branch's time.
        if fleetshift_clock::is_virtual() {
            request.headers_mut().insert(
                VIRTUAL_TIME_HEADER,
                fleetshift_clock::now_millis().to_string(),
            );
        }
        self.0.call(request)
    }
}

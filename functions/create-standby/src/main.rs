use create_standby::{Deps, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // No settings of its own: the standby Region comes with each input, the primary Region
    // defaults to the function's own (AWS_REGION, read by aws-config).
    let config = fleetshift_core::clients::load().await;
    let deps = Deps::from_config(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let deps = deps.clone();
        async move { handle(event.payload, &deps).await }
    }))
    .await
}

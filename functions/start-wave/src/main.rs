use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use start_wave::{Deps, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let config = fleetshift_core::clients::load().await;
    let deps = Deps::from_config(&config, settings);
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        handle(event.payload, deps).await
    }))
    .await
}

use check_migration::{Deps, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // No settings of its own: the Region and endpoint come from the standard AWS variables.
    let config = fleetshift_core::clients::load().await;
    let deps = Deps::from_config(&config);
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let custom = event.context.client_context.as_ref().map(|c| &c.custom);
            // Boxed: the handler's future is deep, and one more layer of nesting overflows the
            // compiler's layout query depth.
            fleetshift_clock::invocation(custom, Box::pin(handle(event.payload, deps))).await
        },
    ))
    .await
}

//! cloud-local on a fixed port until Ctrl-C, for boto3 or the AWS CLI (until `fleetshift local
//! serve` exists): `cargo run -p cloud-local --example serve -- [PORT] [FLEET.json] [SCENARIO.json]`.
//! Step Functions has one state machine, `smoke` (a single Pass state).

use std::sync::Arc;

use cloud_local::{CloudLocal, Fleet, Options, Scenario, SfnLocalBackend};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args.first().map(|p| p.parse()).transpose()?.unwrap_or(4566);
    let fleet = match args.get(1) {
        Some(path) => Fleet::load(path)?,
        None => Fleet::generate(10),
    };
    let scenario = match args.get(2) {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    let backend = SfnLocalBackend::new(sfn_local::Engine::builder().build());
    backend.register(
        "smoke",
        Arc::new(sfn_local::Definition::parse(
            r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#,
        )?),
    );
    let cloud = CloudLocal::start(Options {
        port: Some(port),
        fleet,
        scenario,
        sfn: Some(Arc::new(backend)),
        ..Options::default()
    })
    .await?;
    println!("cloud-local listening on {}", cloud.endpoint_url());
    tokio::signal::ctrl_c().await?;
    cloud.shutdown().await;
    Ok(())
}

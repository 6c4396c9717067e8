//! cloud-local: a loopback HTTP server that speaks the real AWS wire protocols of the operations
//! Fleetshift calls (WorkSpaces, Lex model building V1, Migration Hub, EventBridge PutEvents and
//! Step Functions through an attached engine), enforces the constraints of the official service
//! models, and behaves over time as AWS does, on the caller's virtual clock.
//!
//! A [`Fleet`] seeds it; a [`Scenario`] makes it misbehave on purpose. [`Running`] exposes the
//! endpoint, snapshots of the state and the call log for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cloud_local::StartError> {
//! use cloud_local::{CloudLocal, Fleet, Options};
//! let cloud = CloudLocal::start(Options { fleet: Fleet::generate(10), ..Options::default() }).await?;
//! let endpoint = cloud.endpoint_url(); // point every SDK client here
//! # let _ = endpoint;
//! cloud.shutdown().await;
//! # Ok(()) }
//! ```

mod bus;
mod error;
mod events;
mod fleet;
mod hub;
pub mod iam;
mod key_clock;
mod lex;
mod pattern;
mod scenario;
mod server;
mod sfn;
mod sqs;
mod validate;
mod workspaces;
mod world;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use bus::{
    ACCOUNT_ID, AsyncInvokeConfig, BusError, BusSpec, Delivery, DeliveryOutcome, LambdaTargets,
    RuleSpec, TargetError, TargetFuture, TargetSpec,
};
pub use error::ApiError;
pub use fleet::{
    BundleSeed, DirectorySeed, Fleet, FleetError, ImageImportSeed, ImportErrorDetail, LexBotSeed,
    WORKSPACE_STATES, WorkspaceSeed,
};
pub use key_clock::KeyClock;
pub use pattern::{EventPattern, PatternError};
pub use scenario::{
    FailAction, HubAvailability, ImageImportFailure, LexAvailability, Rule, Scenario,
    ScenarioError, StandbyFailure,
};
pub use sfn::{SfnBackend, SfnFuture, SfnLocalBackend};
pub use sqs::QueueMessage;
pub use world::{
    CallRecord, HubTaskSnapshot, LexMigrationSnapshot, MigrationRecord, Outcome, RecordedEvent,
    Service, StandbyRecord, WorkspaceSnapshot,
};

use server::Shared;
use world::World;

/// How to start cloud-local.
#[derive(Default, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; `None` (or 0) picks a free one.
    pub port: Option<u16>,
    /// What exists before the first request.
    pub fleet: Fleet,
    /// What goes wrong on purpose.
    pub scenario: Scenario,
    /// The stack's event buses besides `default` (which always exists); each one's policy is the
    /// resource-based policy IAM authorizes PutEvents against.
    pub buses: Vec<BusSpec>,
    /// The rules on the buses; their Lambda targets are invoked through `lambda_targets`.
    pub rules: Vec<RuleSpec>,
    /// Invokes the rules' Lambda targets; `None`: matched events are only recorded
    /// ([`Running::deliveries`]).
    pub lambda_targets: Option<Arc<dyn LambdaTargets>>,
    /// Each function's asynchronous invocation settings, by function ARN (unqualified, or
    /// qualified by the alias the configuration is on); AWS's defaults for the others.
    pub async_configs: HashMap<String, AsyncInvokeConfig>,
    /// Runs Step Functions executions; without one, Step Functions calls answer
    /// `UnsupportedOperation` (501).
    pub sfn: Option<Arc<dyn SfnBackend>>,
    /// Who may do what; the default enforces nothing.
    pub iam: iam::IamOptions,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("port", &self.port)
            .field("buses", &self.buses)
            .field("rules", &self.rules)
            .field(
                "lambda_targets",
                &self.lambda_targets.as_ref().map(|_| "attached"),
            )
            .field("async_configs", &self.async_configs)
            .field("fleet", &self.fleet)
            .field("scenario", &self.scenario)
            .field("sfn", &self.sfn.as_ref().map(|_| "attached"))
            .field("iam", &self.iam)
            .finish()
    }
}

/// Why cloud-local did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The fleet is inconsistent.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// The scenario is out of range.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A bus, rule or target is not one EventBridge accepts.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The port could not be bound.
    #[error("binding 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
}

/// Entry point.
#[derive(Debug)]
pub struct CloudLocal;

impl CloudLocal {
    /// Validates the fleet and scenario, binds 127.0.0.1 and serves until [`Running::shutdown`]
    /// (or drop). HTTP/1.1 with keep-alive; requests are served concurrently.
    pub async fn start(options: Options) -> Result<Running, StartError> {
        options.fleet.validate()?;
        options.scenario.validate()?;
        let buses = Arc::new(bus::Buses::new(
            &options.fleet.default_region,
            options.buses,
            options.rules,
            options.lambda_targets,
            options.async_configs,
        )?);
        let port = options.port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| StartError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { port, source })?;
        let shared = Arc::new(Shared {
            default_region: options.fleet.default_region.clone(),
            buses,
            world: Mutex::new(World::new(options.fleet, options.scenario)),
            sfn: options.sfn,
            key_clock: KeyClock::default(),
            iam: iam::State::new(options.iam),
        });
        // The bus policies IAM authorizes PutEvents against (over any of `Options::iam` for the
        // same bus).
        for (arn, policy) in shared.buses.policies() {
            shared.iam.set_resource_policy(arn, policy.clone());
        }
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "cloud-local listening");
        Ok(Running {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running cloud-local: its endpoint, state snapshots and call log.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addr", &self.addr).finish()
    }
}

impl Running {
    /// `http://127.0.0.1:PORT`, for `endpoint_url` of every SDK client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The virtual time of callers that sign with their own access key instead of sending the
    /// virtual-time header (out-of-process Lambda binaries): set it for the duration of each of
    /// their invocations.
    pub fn key_clock(&self) -> KeyClock {
        self.shared.key_clock.clone()
    }

    /// The latest caller time seen in a request (virtual or wall clock); the Unix epoch before
    /// the first request. Snapshots without a time are taken at this time.
    pub fn now(&self) -> SystemTime {
        self.shared.world().last_now
    }

    /// Every visible WorkSpace (all Regions) with its state at [`Running::now`]. A migrated
    /// source disappears once its replacement is AVAILABLE.
    pub fn workspaces(&self) -> Vec<WorkspaceSnapshot> {
        let w = self.shared.world();
        w.workspace_snapshots(w.last_now)
    }

    /// Every visible WorkSpace with its state at `t`.
    pub fn workspaces_at(&self, t: SystemTime) -> Vec<WorkspaceSnapshot> {
        self.shared.world().workspace_snapshots(t)
    }

    /// One visible WorkSpace at [`Running::now`].
    pub fn workspace(&self, id: &str) -> Option<WorkspaceSnapshot> {
        self.workspaces().into_iter().find(|w| w.workspace_id == id)
    }

    /// Every accepted MigrateWorkspace, in order.
    pub fn migrations(&self) -> Vec<MigrationRecord> {
        self.shared.world().migrations.clone()
    }

    /// Every standby WorkSpace created, in order.
    pub fn standbys(&self) -> Vec<StandbyRecord> {
        self.shared.world().standbys.clone()
    }

    /// Migration Hub progress update streams.
    pub fn hub_streams(&self) -> Vec<String> {
        self.shared.world().hub_streams.iter().cloned().collect()
    }

    /// Migration Hub tasks with their last reported status.
    pub fn hub_tasks(&self) -> Vec<HubTaskSnapshot> {
        self.shared.world().hub_snapshots()
    }

    /// Events accepted by PutEvents, in order.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.shared.world().events.clone()
    }

    /// Every match of an event with a rule target, in order, with how its delivery went so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.buses.deliveries()
    }

    /// The messages sent to the SQS queue `queue_arn` (dead-letter queues, OnFailure
    /// destinations), in order.
    pub fn queue_messages(&self, queue_arn: &str) -> Vec<QueueMessage> {
        self.shared.buses.queue_messages(queue_arn)
    }

    /// Waits until every delivery in flight has ended (retries included: on virtual time they
    /// take no wall time).
    pub async fn deliveries_idle(&self) {
        self.shared.buses.idle().await;
    }

    /// Lex V1 -> V2 migrations with their status at [`Running::now`].
    pub fn lex_migrations(&self) -> Vec<LexMigrationSnapshot> {
        let w = self.shared.world();
        w.lex_snapshots(w.last_now)
    }

    /// Every request, in order of arrival.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.world().calls.clone()
    }

    /// Requests to operations that change state (whatever their outcome).
    pub fn mutating_calls(&self) -> Vec<CallRecord> {
        self.calls().into_iter().filter(|c| c.mutating).collect()
    }

    /// From now on, requests signed with `access_key_id` are made by `principal` and authorized
    /// against its policies (e.g. a function process started on demand with keys of its own).
    pub fn register_principal(&self, access_key_id: &str, principal: iam::Principal) {
        self.shared.iam.register_principal(access_key_id, principal);
    }

    /// Sets the resource-based policy of the resource `arn` (e.g. an event bus's policy).
    pub fn set_resource_policy(&self, arn: &str, policy: iam::Policy) {
        self.shared.iam.set_resource_policy(arn, policy);
    }

    /// Every authorization IAM denied, in order (implied ones such as `iam:PassRole` included).
    pub fn denials(&self) -> Vec<iam::Denial> {
        self.shared.iam.denials()
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_fixtures_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let fleet = crate::Fleet::load(format!("{dir}/fleet.json")).unwrap();
        assert_eq!(fleet.workspaces.len(), 4);
        let scenario = crate::Scenario::load(format!("{dir}/scenario.json")).unwrap();
        assert_eq!(scenario.rules.len(), 3);
        assert_eq!(scenario.lex_v1, crate::LexAvailability::Gone);
    }
}

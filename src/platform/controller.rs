//! `wisp controller`: the API, auth, scheduling, the activation store and the feeds of a
//! cluster, handing each activation to an invoker over NATS. Any number of controllers share
//! one PostgreSQL store; a load balancer may send any request to any of them.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use wisp_bus::{RemoteInvoker, Subjects};
use wisp_services::KvBackend;
use wisp_store::Backend;

use super::build::{self, ControllerInputs};
use super::flags::{ApiFlags, ClusterFlags, CommonFlags, StateFlags};
use super::setup;

#[derive(Args)]
pub struct ControllerArgs {
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    api: ApiFlags,
    #[command(flatten)]
    state: StateFlags,
    #[command(flatten)]
    cluster: ClusterFlags,
    /// This controller's name in the cluster, stable across its restarts: what it has
    /// running is written under it [default: the host name].
    #[arg(long, env = "WISP_CONTROLLER_ID", value_parser = super::flags::parse_token)]
    controller_id: Option<String>,
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let common = args.common.settings();
    let api_settings = args.api.settings();
    let state_settings = args.state.settings(&common.data_dir);
    let id = args.controller_id.unwrap_or_else(super::flags::host_name);
    let cluster = args.cluster.settings("controller", id)?;
    super::init_tracing(common.log_format);

    build::data_dir(&common)?;
    let metrics = build::metrics(&common.metrics);
    let state = build::open_state(&common, &state_settings, &cluster.cluster, &metrics).await?;
    let api = build::bind_api(&api_settings).await?;
    let sites = build::site_names(&api.host, &state_settings);
    let client = wisp_bus::connect(&cluster.bus).await?;
    let remote = RemoteInvoker::start(client, Subjects::new(&cluster.cluster), &cluster.id)
        .await
        .context("cannot join the cluster's bus")?;
    let remote = Arc::new(remote);
    // Running invokers announce themselves within a heartbeat: waiting that long spares the
    // first requests a refusal. With none running, the API still starts (and answers 503).
    if !remote.wait_for_invokers(1, wisp_bus::HEARTBEAT_TTL).await {
        println!("wisp: no invoker has joined the cluster yet");
    }
    let server = build::controller(
        &common,
        &api_settings,
        ControllerInputs {
            api,
            state,
            sites,
            invoker: remote.clone(),
            // The key-value and S3 endpoints are the invokers'.
            namespace_env: None,
            peers: Some(Arc::new(Controllers(remote.clone()))),
            metrics,
            id: cluster.id.clone(),
        },
    )
    .await?;

    let api_host = &server.api_host;
    setup::write_wskprops(api_host, &server.guest);
    println!(
        "wisp: controller {} of cluster {}, listening on {api_host}",
        cluster.id, cluster.cluster
    );
    println!("wisp: guest credentials {}", server.guest);
    println!("wisp: data directory {}", common.data_dir.display());
    match &api_settings.store {
        Backend::Postgres(_) => {
            println!("wisp: entities and activations in {}", api_settings.store)
        }
        Backend::Sqlite => println!(
            "wisp: WARNING: entities and activations are in SQLite under the data directory, \
             which no other controller sees: controllers of a cluster share a postgres:// \
             --store"
        ),
    }
    if build::url_signing_key()?.is_none() {
        println!(
            "wisp: WARNING: object URLs signed here open only through this controller: give \
             every controller the same WISP_URL_SIGNING_KEY"
        );
    }
    if state_settings.kv_backend == KvBackend::Embedded {
        println!(
            "wisp: WARNING: the key-value store is embedded in this controller, apart from the \
             invokers' functions: a cluster shares a redis:// --kv-backend"
        );
    }
    super::serve_api(server, &common).await
}

/// The cluster's other controllers as the bus hears them.
struct Controllers(Arc<RemoteInvoker>);

impl wisp_controller::Peers for Controllers {
    fn may_be_live(&self, id: &str) -> bool {
        self.0.controller_may_be_live(id)
    }

    fn collect_outcomes<'a>(&'a self, id: &'a str) -> wisp_core::BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.0.collect_outcomes_of(id).await {
                tracing::warn!(error = %e, controller = id, "its outcomes could not be collected");
            }
        })
    }

    fn take_outcome(
        &self,
        activation: &wisp_core::ActivationId,
    ) -> Option<Result<wisp_core::invoke::RunOutcome, wisp_core::invoke::InvokeError>> {
        self.0.take_unclaimed(activation)
    }
}

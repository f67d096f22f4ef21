//! `wisp invoker`: the runtimes of a cluster, with the key-value and S3 endpoints their
//! functions reach and the cache of declared files. It takes the activations controllers
//! place on it from NATS and announces itself there; it never touches the entity store.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use wisp_bus::{InvokerNode, NodeConfig, Subjects};
use wisp_services::KvBackend;

use super::build::{self, FunctionsApi};
use super::flags::{ClusterFlags, CommonFlags, RuntimeFlags, StateFlags};

/// How often the invoker tells controllers it is alive (they count it gone after three
/// missed beats).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long NATS waits for a sign of life on an activation this invoker took before it
/// counts it dropped; a running activation renews it at half this.
const ACK_WAIT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct InvokerArgs {
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    state: StateFlags,
    #[command(flatten)]
    runtime: RuntimeFlags,
    #[command(flatten)]
    cluster: ClusterFlags,
    /// This invoker's name in the cluster, stable across its restarts: where controllers
    /// place its work [default: the host name].
    #[arg(long, env = "WISP_INVOKER_ID", value_parser = super::flags::parse_token)]
    invoker_id: Option<String>,
    /// The API URL functions are told and reach: the controllers' (their load balancer's).
    #[arg(long, env = "WISP_API_HOST")]
    api_host: String,
}

pub async fn run(args: InvokerArgs) -> anyhow::Result<()> {
    let common = args.common.settings();
    let state_settings = args.state.settings(&common.data_dir);
    let runtime_settings = args.runtime.settings();
    let id = args.invoker_id.unwrap_or_else(super::flags::host_name);
    let cluster = args.cluster.settings("invoker", id)?;
    let api_host = args.api_host;
    super::init_tracing(common.log_format);

    build::data_dir(&common)?;
    let metrics = build::metrics(&common.metrics);
    let state = build::open_state(&common, &state_settings, &cluster.cluster, &metrics).await?;
    let sites = build::site_names(&api_host, &state_settings);
    let functions_api = FunctionsApi {
        host: &api_host,
        address: build::api_address(&api_host).await?,
    };
    let runtimes = build::runtimes(
        &common,
        &runtime_settings,
        &state,
        functions_api,
        &sites.url,
    )
    .await?;
    let client = wisp_bus::connect(&cluster.bus).await?;
    let node = InvokerNode::start(
        client,
        Subjects::new(&cluster.cluster),
        NodeConfig {
            invoker: cluster.id.clone(),
            memory_mb: runtime_settings.invoker.memory_budget_mb,
            heartbeat_every: HEARTBEAT_EVERY,
            ack_wait: ACK_WAIT,
        },
        runtimes.invoker.clone(),
    )
    .await?;
    let node = Arc::new(node);

    println!(
        "wisp: invoker {} of cluster {} ready; functions reach the API at {api_host}",
        cluster.id, cluster.cluster
    );
    println!("wisp: data directory {}", common.data_dir.display());
    super::announce_runtimes(&runtime_settings, &runtimes);
    if let Some(listen) = common.metrics.listen {
        let ready = {
            let (node, runtimes) = (node.clone(), runtimes.invoker.clone());
            move || node.taking_work() && runtimes.accepting()
        };
        let app = wisp_api::invoker_router(metrics, runtimes.invoker.clone(), Arc::new(ready));
        if let Some(address) = super::serve_router(listen, app, common.read_timeout).await {
            println!("wisp: metrics and probes on http://{address} (/metrics, /healthz, /readyz)");
        }
    }
    if state_settings.kv_backend == KvBackend::Embedded {
        println!(
            "wisp: WARNING: the key-value store is embedded in this invoker, apart from the \
             other invokers and the controllers: a cluster shares a redis:// --kv-backend"
        );
    }

    super::shutdown_signal().await;
    println!("wisp: shutting down");
    node.drain(common.shutdown_grace).await;
    runtimes.invoker.shutdown();
    Ok(())
}

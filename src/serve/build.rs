//! From a [`Config`] to a platform ready to serve: each part is made once, after the parts it
//! needs, and handed everything at construction.
//!
//! The order: the data directory and the entity and activation stores (SQLite in it, or
//! PostgreSQL); the API's listener (its address is the API host functions are told); the
//! state services — object storage, the key-value store and the S3 endpoint; the invoker,
//! whose wasm components reach those stores, with declared state in front of it (over the
//! stores, its file cache at the path the invoker's sandboxes show it); the controller, with
//! every service's activation environment; what the API's handlers reach.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use wisp_api::{AppState, BuildInfo, ObjectsApi};
use wisp_controller::{ActivationEnv, Controller, ControllerConfig, ControllerParts};
use wisp_declared_state::{DeclaredState, StateConfig, StatefulInvoker};
use wisp_invoker::{Invoker, InvokerConfig, SandboxBind, SandboxLayers, SandboxSettings};
use wisp_kv::Keys;
use wisp_metrics::Metrics;
use wisp_services::{Envs, GuestStores, StateStores};

use super::config::Config;
use super::setup;

/// The platform, built and started, waiting for its listener to be served.
pub struct Server {
    pub listener: TcpListener,
    /// What the API's handlers reach (`wisp_api::router` makes the router of it).
    pub app: AppState,
    pub controller: Controller,
    /// The API's URL as clients and functions are told it.
    pub api_host: String,
    /// The guest namespace's `uuid:key`.
    pub guest: String,
    /// The sandbox layers runtime processes get.
    pub layers: SandboxLayers,
    /// Where a namespace's site is reached, `{namespace}` standing for it.
    pub site_url: String,
    /// Where the key-value store serves RESP2, when it runs.
    pub kv_address: Option<SocketAddr>,
    /// Where the S3 endpoint listens, when it runs.
    pub s3_address: Option<SocketAddr>,
}

/// The controller's id among those sharing a PostgreSQL store: what it has running (pending
/// markers, compositions) is written under it, and after a restart it fails or resumes only
/// its own. One `wisp serve` per database for now, so one fixed id; the controllers of a
/// cluster will each need one of their own, stable across restarts.
const CONTROLLER_ID: &str = "serve";

pub async fn build(config: &Config) -> anyhow::Result<Server> {
    let data_dir = &config.data_dir;
    setup::private_dir(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let stores = config
        .store
        .open(&data_dir.join("db"), CONTROLLER_ID)
        .await
        .with_context(|| crate::store::cannot_open(&config.store, data_dir))?;
    let given = setup::given_guest_key(config.guest_key_file.as_deref())?;
    let guest = setup::ensure_guest_key(&*stores.entities, data_dir, given.as_deref()).await?;

    let listener = wisp_services::listen::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    let api_host = config.api_host.clone().unwrap_or_else(|| api_url(local));

    let metrics = match config.metrics.listen {
        Some(_) => Metrics::new(config.metrics.per_action),
        None => Metrics::disabled(),
    };
    let objects = wisp_services::objects::open_objects(
        &config.objects.backend,
        &config.objects.dir,
        std::env::vars(),
        data_dir,
        config.objects.quota_bytes,
        &metrics,
    )
    .await?;
    let kv = wisp_services::kv::start_kv(
        &data_dir.join("kv"),
        &config.kv.backend,
        config.kv.listen,
        config.kv.quota_bytes,
        &metrics,
    )
    .await?;
    let keys = kv.as_ref().map(|kv| Keys::new(kv.store.clone()));
    let site_domains =
        wisp_services::sites::site_domains(&api_host, config.sites.domain.as_deref());
    let site_url = wisp_services::sites::site_url_pattern(&api_host, &site_domains);
    let s3 = wisp_services::objects::start_s3(
        objects.store.clone(),
        data_dir,
        config.objects.s3_listen,
        &api_host,
        &site_url,
        config.read_timeout,
    )
    .await?;

    // Made before the invoker: its sandboxes bind it.
    let state_cache = data_dir.join("state-cache");
    std::fs::create_dir_all(&state_cache)
        .with_context(|| format!("cannot create {}", state_cache.display()))?;
    let state_files = SandboxBind {
        host: state_cache.clone(),
        inside: "/wisp/state-files".into(),
    };
    // Functions reach the endpoints where they listen (the configured addresses when a
    // service is not running).
    let endpoints = vec![
        local,
        kv.as_ref().map_or(config.kv.listen, |kv| kv.address),
        s3.as_ref()
            .map_or(config.objects.s3_listen, |(address, _)| *address),
    ];
    // Components' `kv` and `objects` imports reach the same stores as everything else.
    let guest_stores = GuestStores {
        keys: keys.clone(),
        objects: objects.store.clone(),
    };
    let invoker = Invoker::new(
        invoker_config(config, &api_host, endpoints, state_files.clone())?,
        Some(Arc::new(guest_stores)),
    )
    .context("cannot start the invoker")?;
    let layers = invoker.sandbox_layers();

    let declared_state = match &keys {
        Some(keys) => {
            let backend = StateStores {
                keys: keys.clone(),
                objects: objects.store.clone(),
            };
            let state_config = StateConfig {
                files_seen_at: invoker.seen_by_functions(&state_files),
                file_cache_dir: state_cache,
                file_cache_bytes: config.state_cache_bytes,
            };
            let declared = DeclaredState::new(Arc::new(backend), state_config)
                .context("cannot prepare the cache of declared files")?;
            Some(declared)
        }
        None => None,
    };
    // Every state service that runs tells each activation where it is.
    let mut envs: Vec<Arc<dyn ActivationEnv>> = Vec::new();
    let kv_address = kv.map(|kv| {
        envs.push(Arc::new(kv.env));
        kv.address
    });
    let s3_address = s3.map(|(address, env)| {
        envs.push(Arc::new(env));
        address
    });
    let invoker = StatefulInvoker::new(Arc::new(invoker), declared_state);
    let controller = Controller::new(
        controller_config(config, metrics),
        ControllerParts {
            entities: stores.entities,
            activations: stores.activations,
            invoker: Arc::new(invoker),
            activation_env: Some(Arc::new(Envs(envs))),
        },
    );
    controller.start().await?;

    let sites = Arc::new(wisp_api::Sites::new(
        objects.store.clone(),
        wisp_api::SitesConfig {
            domains: site_domains,
            cache_bytes: config.sites.cache_bytes,
        },
    ));
    let app = AppState {
        controller: controller.clone(),
        build: BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            build: format!("wisp {}", env!("CARGO_PKG_VERSION")),
        },
        kv: keys,
        objects: Some(ObjectsApi {
            store: objects.store,
            signer: objects.signer,
            public_url: api_host.clone(),
            max_upload_bytes: config.objects.max_upload_bytes,
        }),
        sites: Some(sites),
        api_host: api_host.clone(),
        logins: Arc::default(),
    };
    Ok(Server {
        listener,
        app,
        controller,
        api_host,
        guest,
        layers,
        site_url,
        kv_address,
        s3_address,
    })
}

/// `http://` and the address the API listens on, a loopback one for an unspecified address.
fn api_url(local: SocketAddr) -> String {
    let ip = if local.ip().is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        local.ip()
    };
    format!("http://{}", SocketAddr::new(ip, local.port()))
}

fn invoker_config(
    config: &Config,
    api_host: &str,
    endpoints: Vec<SocketAddr>,
    state_files: SandboxBind,
) -> anyhow::Result<InvokerConfig> {
    let settings = &config.invoker;
    Ok(InvokerConfig {
        runtime_dir: config.data_dir.join("runtime"),
        node: settings.node.clone(),
        python: settings.python.clone(),
        stem_cells: settings.stem_cells,
        memory_budget_mb: settings.memory_budget_mb,
        idle_timeout: settings.idle_timeout,
        max_queued: settings.max_queued,
        memory_cgroups: settings.memory_cgroups,
        max_result_bytes: 1024 * 1024,
        max_unpacked_bytes: settings.max_unpacked_bytes,
        api_host: api_host.to_string(),
        wasm_instances: settings.wasm_instances,
        wasm_idle_instances: settings.wasm_idle_instances,
        wasm_max_memory_mb: config.controller.limits.max_memory,
        sandbox: SandboxSettings {
            mode: settings.sandbox,
            network: settings.network,
            endpoints,
            outbound: settings.outbound.clone(),
            init_program: std::env::current_exe()
                .context("cannot find the wisp binary, which sandboxes run as their init")?,
            tmp_mb: settings.tmp_mb,
            pids_max: settings.pids_max,
            shared: vec![state_files],
        },
    })
}

fn controller_config(config: &Config, metrics: Arc<Metrics>) -> ControllerConfig {
    let settings = &config.controller;
    ControllerConfig {
        limits: settings.limits,
        activation_retention: settings.activation_retention,
        max_blocking_wait: settings.max_blocking_wait,
        identity_ttl: settings.identity_ttl,
        metrics,
    }
}

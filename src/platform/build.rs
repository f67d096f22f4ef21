//! From the configuration to a platform ready to serve, in parts that each role puts
//! together: every role opens the namespaces' state ([`open_state`]); a host that runs
//! functions makes the runtimes with the endpoints around them ([`runtimes`]); a host that
//! serves the API binds it ([`bind_api`]) and makes the controller over an invoker, local or
//! remote ([`controller`]). Each part is made once, after the parts it needs, and handed
//! everything at construction.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use wisp_api::{AppState, BuildInfo, ObjectsApi};
use wisp_controller::{ActivationEnv, Controller, ControllerConfig, ControllerParts};
use wisp_core::invoke::Invoke;
use wisp_declared_state::{DeclaredState, StateConfig, StatefulInvoker};
use wisp_invoker::{Invoker, InvokerConfig, SandboxBind, SandboxLayers, SandboxSettings};
use wisp_kv::{Keys, KvStore};
use wisp_metrics::Metrics;
use wisp_services::{Envs, GuestStores, ObjectStorage, StateStores, WithEnv};

use super::config::{ApiSettings, Common, MetricsSettings, RuntimeSettings, StateSettings};
use super::setup;

/// Creates the data directory, kept private (it holds secrets).
pub fn data_dir(common: &Common) -> anyhow::Result<()> {
    let dir = &common.data_dir;
    setup::private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// The metrics every part records into: nothing unless they are served.
pub fn metrics(settings: &MetricsSettings) -> Arc<Metrics> {
    match settings.listen {
        Some(_) => Metrics::new(settings.per_action),
        None => Metrics::disabled(),
    }
}

/// The namespaces' state as every part reaches it: objects and key-value data.
pub struct NamespaceState {
    pub objects: ObjectStorage,
    pub kv: Arc<dyn KvStore>,
    /// The key-value store as typed calls, for the platform's own clients.
    pub keys: Keys,
}

/// `cluster`: whose keys they are in a shared Redis (`wisp serve`'s: `wisp`).
pub async fn open_state(
    common: &Common,
    state: &StateSettings,
    cluster: &str,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<NamespaceState> {
    let signing_key = url_signing_key()?;
    let objects = wisp_services::objects::open_objects(
        &state.objects_backend,
        &state.objects_dir,
        std::env::vars(),
        &common.data_dir,
        signing_key.as_deref().map(str::as_bytes),
        state.objects_quota_bytes,
        metrics,
    )
    .await?;
    let kv = wisp_services::kv::open_kv(
        &common.data_dir.join("kv"),
        &state.kv_backend,
        cluster,
        state.kv_quota_bytes,
        metrics,
    )
    .await?;
    Ok(NamespaceState {
        objects,
        keys: Keys::new(kv.clone()),
        kv,
    })
}

/// The secret that signs object URLs when the operator gives one, `WISP_URL_SIGNING_KEY`
/// (never a flag: a command line is readable by every process on the machine). The
/// controllers of a cluster share it, so a URL one signs opens through any.
pub fn url_signing_key() -> anyhow::Result<Option<String>> {
    match std::env::var("WISP_URL_SIGNING_KEY") {
        Ok(key) if key.trim().len() >= 32 => Ok(Some(key.trim().to_owned())),
        Ok(_) => anyhow::bail!(
            "WISP_URL_SIGNING_KEY is too short: give at least 32 random characters (e.g. \
             `openssl rand -hex 32`), the same to every controller of the cluster"
        ),
        Err(_) => Ok(None),
    }
}

/// The API's listener, and its URL as clients and functions are told it.
pub struct Api {
    pub listener: TcpListener,
    pub host: String,
}

pub async fn bind_api(api: &ApiSettings) -> anyhow::Result<Api> {
    let listener = wisp_services::listen::bind(api.listen)
        .await
        .with_context(|| format!("cannot listen on {}", api.listen))?;
    let local = listener.local_addr()?;
    let host = api.api_host.clone().unwrap_or_else(|| api_url(local));
    Ok(Api { listener, host })
}

/// Where the namespaces' sites are reached: the host names that serve them, and the URL
/// pattern (`{namespace}` standing for one) functions and the CLI are told.
pub struct SiteNames {
    pub domains: Vec<String>,
    pub url: String,
}

pub fn site_names(api_host: &str, state: &StateSettings) -> SiteNames {
    let domains = wisp_services::sites::site_domains(api_host, state.site_domain.as_deref());
    let url = wisp_services::sites::site_url_pattern(api_host, &domains);
    SiteNames { domains, url }
}

/// The API as functions reach it: its URL, and the address their sandboxes let them dial.
pub struct FunctionsApi<'a> {
    pub host: &'a str,
    pub address: SocketAddr,
}

/// The runtimes of a host that runs functions, with declared state and the state services'
/// variables in front of them, and the endpoints those variables name.
pub struct Runtimes {
    pub invoker: Arc<dyn Invoke>,
    /// The state services' variables of a namespace, as this host's functions get them.
    pub env: Arc<dyn ActivationEnv>,
    /// The sandbox layers runtime processes get.
    pub layers: SandboxLayers,
    /// Where the key-value store serves RESP2, when it runs.
    pub kv_address: Option<SocketAddr>,
    /// Where the S3 endpoint listens, when it runs.
    pub s3_address: Option<SocketAddr>,
}

/// Starts the key-value and S3 endpoints and the runtimes, whose sandboxes reach them.
pub async fn runtimes(
    common: &Common,
    settings: &RuntimeSettings,
    state: &NamespaceState,
    api: FunctionsApi<'_>,
    site_url: &str,
) -> anyhow::Result<Runtimes> {
    let data_dir = &common.data_dir;
    let kv =
        wisp_services::kv::serve_kv(state.kv.clone(), &data_dir.join("kv"), settings.kv_listen)
            .await?;
    let s3 = wisp_services::objects::start_s3(
        state.objects.store.clone(),
        data_dir,
        settings.s3_listen,
        api.host,
        site_url,
        common.read_timeout,
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
        api.address,
        kv.as_ref().map_or(settings.kv_listen, |kv| kv.address),
        s3.as_ref()
            .map_or(settings.s3_listen, |(address, _)| *address),
    ];
    // Components' `kv` and `objects` imports reach the same stores as everything else.
    let guest_stores = GuestStores {
        keys: Some(state.keys.clone()),
        objects: state.objects.store.clone(),
    };
    let invoker = Invoker::new(
        invoker_config(common, settings, api.host, endpoints, state_files.clone())?,
        Some(Arc::new(guest_stores)),
    )
    .context("cannot start the invoker")?;
    let layers = invoker.sandbox_layers();

    let backend = StateStores {
        keys: state.keys.clone(),
        objects: state.objects.store.clone(),
    };
    let state_config = StateConfig {
        files_seen_at: invoker.seen_by_functions(&state_files),
        file_cache_dir: state_cache,
        file_cache_bytes: settings.state_cache_bytes,
    };
    let declared = DeclaredState::new(Arc::new(backend), state_config)
        .context("cannot prepare the cache of declared files")?;
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
    let env: Arc<dyn ActivationEnv> = Arc::new(Envs(envs));
    let stateful = StatefulInvoker::new(Arc::new(invoker), Some(declared));
    Ok(Runtimes {
        invoker: Arc::new(WithEnv::new(Arc::new(stateful), env.clone())),
        env,
        layers,
        kv_address,
        s3_address,
    })
}

/// The platform's API side, built and started, waiting for its listener to be served.
pub struct Server {
    pub listener: TcpListener,
    /// What the API's handlers reach (`wisp_api::router` makes the router of it).
    pub app: AppState,
    pub controller: Controller,
    /// The API's URL as clients and functions are told it.
    pub api_host: String,
    /// The guest namespace's `uuid:key`.
    pub guest: String,
}

/// What the controller runs over besides its own settings.
pub struct ControllerInputs {
    pub api: Api,
    pub state: NamespaceState,
    pub sites: SiteNames,
    /// Where activations run: this host's runtimes, or the cluster's invokers.
    pub invoker: Arc<dyn Invoke>,
    /// The state services' variables a login hands out; `None` where this host serves no
    /// endpoints.
    pub namespace_env: Option<Arc<dyn ActivationEnv>>,
    pub metrics: Arc<Metrics>,
    /// The cluster's other controllers, for a controller of a cluster.
    pub peers: Option<Arc<dyn wisp_controller::Peers>>,
    /// Its id among the controllers sharing a PostgreSQL store: what it has running (pending
    /// markers, compositions) is written under it, and after a restart it fails or resumes
    /// only its own.
    pub id: String,
}

/// Opens the entity and activation stores, makes sure the guest namespace has its key, and
/// starts the controller.
pub async fn controller(
    common: &Common,
    settings: &ApiSettings,
    inputs: ControllerInputs,
) -> anyhow::Result<Server> {
    let data_dir = &common.data_dir;
    let stores = settings
        .store
        .open(&data_dir.join("db"), &inputs.id)
        .await
        .with_context(|| crate::store::cannot_open(&settings.store, data_dir))?;
    let given = setup::given_guest_key(settings.guest_key_file.as_deref())?;
    let guest = setup::ensure_guest_key(&*stores.entities, data_dir, given.as_deref()).await?;

    let controller = Controller::new(
        controller_config(settings, inputs.metrics),
        ControllerParts {
            entities: stores.entities,
            activations: stores.activations,
            invoker: inputs.invoker,
            namespace_env: inputs.namespace_env,
            peers: inputs.peers,
        },
    );
    controller.start().await?;

    let objects = inputs.state.objects;
    let sites = Arc::new(wisp_api::Sites::new(
        objects.store.clone(),
        wisp_api::SitesConfig {
            domains: inputs.sites.domains,
            cache_bytes: settings.sites.cache_bytes,
        },
    ));
    let api_host = inputs.api.host;
    let app = AppState {
        controller: controller.clone(),
        build: BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            build: format!("wisp {}", env!("CARGO_PKG_VERSION")),
        },
        kv: Some(inputs.state.keys),
        objects: Some(ObjectsApi {
            store: objects.store,
            signer: objects.signer,
            public_url: api_host.clone(),
            max_upload_bytes: settings.max_upload_bytes,
        }),
        sites: Some(sites),
        api_host: api_host.clone(),
        logins: Arc::default(),
    };
    Ok(Server {
        listener: inputs.api.listener,
        app,
        controller,
        api_host,
        guest,
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

/// The address `api_host` (a URL) names, for the sandboxes to let functions dial it.
pub async fn api_address(api_host: &str) -> anyhow::Result<SocketAddr> {
    let (scheme, rest) = api_host
        .split_once("://")
        .with_context(|| format!("the API host `{api_host}` is not a URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{authority}:{port}")
    };
    let mut addresses = tokio::net::lookup_host(with_port)
        .await
        .with_context(|| format!("cannot resolve the API host `{api_host}`"))?;
    addresses
        .next()
        .with_context(|| format!("the API host `{api_host}` has no address"))
}

fn invoker_config(
    common: &Common,
    settings: &RuntimeSettings,
    api_host: &str,
    endpoints: Vec<SocketAddr>,
    state_files: SandboxBind,
) -> anyhow::Result<InvokerConfig> {
    let runtime = &settings.invoker;
    Ok(InvokerConfig {
        runtime_dir: common.data_dir.join("runtime"),
        node: runtime.node.clone(),
        python: runtime.python.clone(),
        stem_cells: runtime.stem_cells,
        memory_budget_mb: runtime.memory_budget_mb,
        idle_timeout: runtime.idle_timeout,
        max_queued: runtime.max_queued,
        memory_cgroups: runtime.memory_cgroups,
        max_result_bytes: 1024 * 1024,
        max_unpacked_bytes: runtime.max_unpacked_bytes,
        api_host: api_host.to_string(),
        wasm_instances: runtime.wasm_instances,
        wasm_idle_instances: runtime.wasm_idle_instances,
        wasm_max_memory_mb: wisp_core::SystemLimits::default().max_memory,
        sandbox: SandboxSettings {
            mode: runtime.sandbox,
            network: runtime.network,
            endpoints,
            outbound: runtime.outbound.clone(),
            init_program: std::env::current_exe()
                .context("cannot find the wisp binary, which sandboxes run as their init")?,
            tmp_mb: runtime.tmp_mb,
            pids_max: runtime.pids_max,
            shared: vec![state_files],
        },
    })
}

fn controller_config(settings: &ApiSettings, metrics: Arc<Metrics>) -> ControllerConfig {
    let controller = &settings.controller;
    ControllerConfig {
        limits: controller.limits,
        activation_retention: controller.activation_retention,
        max_blocking_wait: controller.max_blocking_wait,
        identity_ttl: controller.identity_ttl,
        metrics,
    }
}

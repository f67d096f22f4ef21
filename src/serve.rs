//! `wisp serve`: the whole platform in one process on embedded defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use wisp_api::{AppState, BuildInfo, ObjectsApi};
use wisp_controller::{Controller, ControllerConfig, StateConfig};
use wisp_core::EntityName;
use wisp_invoker::{
    FunctionNetwork, Invoker, InvokerConfig, Outbound, SandboxBind, SandboxMode, SandboxSettings,
};
use wisp_services::{Envs, GuestStores, Keys, StateStores};
use wisp_store::SqliteStore;

use crate::admin::split_auth;

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "WISP_LISTEN", default_value = "127.0.0.1:3233")]
    listen: SocketAddr,
    /// Where entities, activations and runtime files are kept [default: ~/.local/share/wisp].
    #[arg(long, env = "WISP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A file holding the guest namespace's key as UUID:KEY (the environment variable
    /// WISP_GUEST_KEY is the other way to give it; never on the command line, where every
    /// process on the machine can read it) [default: generated on first start, then kept in
    /// <data dir>/guest.key].
    #[arg(long, env = "WISP_GUEST_KEY_FILE")]
    guest_key_file: Option<PathBuf>,
    /// The API URL functions and clients should use [default: http://<listen address>].
    #[arg(long, env = "WISP_API_HOST")]
    api_host: Option<String>,
    /// Pre-started runtime processes kept ready per kind.
    #[arg(long, env = "WISP_STEM_CELLS", default_value_t = 2)]
    stem_cells: usize,
    /// Memory (MB) that specialised runtime processes may reserve in total.
    #[arg(long, env = "WISP_MEMORY_BUDGET", default_value_t = 4096)]
    memory_budget: u64,
    /// Activations that may wait for room in the invoker; more are refused at once.
    #[arg(long, env = "WISP_MAX_QUEUED", default_value_t = 10_000)]
    max_queued: usize,
    /// WebAssembly instances that may run at once (slots reserved by the wasm engine); more
    /// activations of `wasm` actions wait.
    #[arg(long, env = "WISP_WASM_INSTANCES", default_value_t = 100)]
    wasm_instances: u32,
    /// Warm WebAssembly component instances kept idle for reuse, at most (each holds one of
    /// the `--wasm-instances` slots and its memory until it is reused or evicted).
    #[arg(long, env = "WISP_WASM_IDLE_INSTANCES", default_value_t = 32)]
    wasm_idle_instances: usize,
    /// Enforce memory limits by polling resident memory even where memory cgroups are available.
    #[arg(long, env = "WISP_NO_CGROUPS")]
    no_cgroups: bool,
    /// Most bytes (in MB) a zip action may unpack to; a larger archive fails its activations
    /// with a developer error before it fills the disk (Lambda's figure by default).
    #[arg(long, env = "WISP_MAX_UNPACKED_MB", default_value_t = 250)]
    max_unpacked_mb: u64,
    /// Seconds an idle warm process is kept.
    #[arg(long, env = "WISP_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Days activation records are kept.
    #[arg(long, env = "WISP_ACTIVATION_RETENTION_DAYS", default_value_t = 30)]
    activation_retention_days: u64,
    /// Invocations per minute allowed to each namespace.
    #[arg(long, env = "WISP_INVOCATIONS_PER_MINUTE", default_value_t = 1_000_000)]
    invocations_per_minute: u64,
    /// Activations each namespace may have in flight at once.
    #[arg(long, env = "WISP_CONCURRENT_INVOCATIONS", default_value_t = 1_000)]
    concurrent_invocations: u64,
    /// Trigger fires per minute allowed to each namespace.
    #[arg(long, env = "WISP_FIRES_PER_MINUTE", default_value_t = 1_000_000)]
    fires_per_minute: u64,
    /// Where the key-value store serves RESP2. Nimbella's SDKs always dial port 6379, so the
    /// default is a loopback address of its own, clear of a local Redis.
    #[arg(long, env = "WISP_KV_LISTEN", default_value = "127.0.0.2:6379")]
    kv_listen: SocketAddr,
    /// Where the key-value data lives: `embedded` (in memory and under the data directory)
    /// or a Redis URL, `redis://[[user]:password@]host[:port][/db]`, that servers share.
    #[arg(long, env = "WISP_KV_BACKEND", default_value = "embedded")]
    kv_backend: wisp_services::KvBackend,
    /// Bytes (in MB) of keys and values each namespace may keep in the key-value store.
    #[arg(long, env = "WISP_KV_QUOTA_MB", default_value_t = 32)]
    kv_quota_mb: usize,
    /// Bytes (in MB) of declared files this host keeps copies of (least recently used go
    /// first), under `<data dir>/state-cache`.
    #[arg(long, env = "WISP_STATE_CACHE_MB", default_value_t = 1024)]
    state_cache_mb: u64,
    /// Where the namespaces' objects are kept [default: <data dir>/objects].
    #[arg(long, env = "WISP_OBJECTS_DIR")]
    objects_dir: Option<PathBuf>,
    /// Bytes (in MB) of objects each namespace may keep.
    #[arg(long, env = "WISP_OBJECTS_QUOTA_MB", default_value_t = 1024)]
    objects_quota_mb: u64,
    /// Largest object (in MB) one upload through the REST API may carry.
    #[arg(long, env = "WISP_OBJECTS_MAX_UPLOAD_MB", default_value_t = 1024)]
    objects_max_upload_mb: u64,
    /// Where the S3-compatible endpoint functions use (`__NIM_STORAGE_KEY`) listens: a
    /// loopback address of its own by default, like the key-value store's.
    #[arg(long, env = "WISP_S3_LISTEN", default_value = "127.0.0.2:9000")]
    s3_listen: SocketAddr,
    /// A domain whose subdomains are the namespaces' sites (`<namespace>.<domain>`), beside
    /// `localhost` and the API host's name; it needs a wildcard DNS record.
    #[arg(long, env = "WISP_SITE_DOMAIN")]
    site_domain: Option<String>,
    /// Memory (MB) for the small files of the sites and their compressed forms.
    #[arg(long, env = "WISP_SITE_CACHE_MB", default_value_t = 64)]
    site_cache_mb: usize,
    /// Most actions in a sequence (nested ones inlined) and components in a conductor
    /// composition (which may run its conductor 2n + 1 times).
    #[arg(long, env = "WISP_SEQUENCE_MAX_LENGTH", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    sequence_max_length: u64,
    /// Seconds a looked-up key, with its namespace's limits, is trusted: how soon changes made
    /// by `wisp admin` on a running server take effect.
    #[arg(long, env = "WISP_IDENTITY_CACHE_TTL", default_value_t = 5)]
    identity_cache_ttl: u64,
    /// Longest a blocking invoke or a web action call waits for its activation before
    /// answering 202 (seconds).
    #[arg(long, env = "WISP_MAX_BLOCKING_WAIT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60))]
    max_blocking_wait: u64,
    /// Seconds a client of the API or the S3 endpoint gets to send a request's headers (and,
    /// on a kept-alive connection, to start its next request) and each part of its body;
    /// past it the connection is closed.
    #[arg(long, env = "WISP_READ_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    read_timeout: u64,
    /// Where Prometheus scrapes `/metrics`: an address of its own, loopback by default, so
    /// namespace names are not published on the API's port; `off` records nothing. If it
    /// cannot listen, the server runs without it.
    #[arg(long, env = "WISP_METRICS_LISTEN", default_value = "127.0.0.1:9184")]
    metrics_listen: MetricsListen,
    /// Count activations per action too (a label tenants can grow without bound).
    #[arg(long, env = "WISP_METRICS_PER_ACTION")]
    metrics_per_action: bool,
    /// The server log's format on stderr: `text` for people, `json` (one object per line,
    /// with the request's transaction id and the activation's id and namespace) for log
    /// collectors. `WISP_LOG` (or `RUST_LOG`) filters it, e.g. `info`.
    #[arg(long, env = "WISP_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Seconds running activations get to finish on shutdown.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// How functions are sandboxed: `auto` uses every layer this host allows and says which,
    /// `required` refuses to start when one is missing, `off` runs functions as processes of
    /// the server's own user with nothing between them and the host.
    #[arg(long, env = "WISP_SANDBOX", default_value = "auto")]
    sandbox: SandboxArg,
    /// What functions' network reaches: `isolated` (their own network namespace whose TCP
    /// connections and DNS queries the server carries: to the platform's endpoints, API,
    /// key-value and S3, and to the outside network, but not to the host's other services or
    /// private addresses), `none` (a loopback interface only), or `host` (everything the host
    /// reaches, its loopback services included: only for a trusted single-user machine).
    #[arg(long, env = "WISP_FUNCTION_NETWORK", default_value = "isolated")]
    function_network: NetworkArg,
    /// Address blocks functions in isolated networks may reach although they are denied by
    /// default (private, loopback, link-local and the host's own addresses), e.g. a LAN
    /// service: `10.1.2.0/24,192.168.5.7`.
    #[arg(long, env = "WISP_FUNCTION_EGRESS_ALLOW", value_delimiter = ',')]
    function_egress_allow: Vec<wisp_invoker::Cidr>,
    /// Name servers functions' DNS queries are relayed to (`address` or `address:port`,
    /// comma-separated); the host's `/etc/resolv.conf` by default.
    #[arg(long, env = "WISP_FUNCTION_DNS", value_delimiter = ',', value_parser = parse_resolver)]
    function_dns: Vec<SocketAddr>,
    /// Size (MB) of each function sandbox's private `/tmp`.
    #[arg(long, env = "WISP_FUNCTION_TMP_MB", default_value_t = 64)]
    function_tmp_mb: u64,
    /// Most processes and threads one runtime process and what it starts may have.
    #[arg(long, env = "WISP_FUNCTION_PIDS", default_value_t = 256)]
    function_pids: u64,
    /// The Node.js interpreter.
    #[arg(long, env = "WISP_NODE", default_value = "node")]
    node: PathBuf,
    /// The Python 3 interpreter.
    #[arg(long, env = "WISP_PYTHON", default_value = "python3")]
    python: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SandboxArg {
    Required,
    Auto,
    Off,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NetworkArg {
    Isolated,
    None,
    Host,
}

/// Where an endpoint bound to `address` is reached from the same host.
/// `--metrics-listen`: an address, or `off` (`None`).
#[derive(Debug, Clone, Copy)]
struct MetricsListen(Option<SocketAddr>);

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(text: &str) -> Result<MetricsListen, String> {
        if text == "off" {
            return Ok(MetricsListen(None));
        }
        text.parse()
            .map(|address| MetricsListen(Some(address)))
            .map_err(|_| format!("`{text}` is not an address:port or `off`"))
    }
}

/// A name server's address, port 53 unless given.
fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("`{text}` is not an address or address:port"))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(args.log_format);
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(crate::paths::default_data_dir);
    private_dir(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let (entities, activations) = SqliteStore::open(&data_dir.join("db"))
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let given = given_guest_key(args.guest_key_file.as_deref())?;
    let guest = ensure_guest_key(&entities, &data_dir, given.as_deref()).await?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let api_host = args.api_host.clone().unwrap_or_else(|| {
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            local.ip().to_string()
        };
        format!(
            "http://{}",
            SocketAddr::new(host.parse().expect("an IP"), local.port())
        )
    });

    // Made before the invoker: its sandboxes bind it.
    let state_cache = data_dir.join("state-cache");
    std::fs::create_dir_all(&state_cache)
        .with_context(|| format!("cannot create {}", state_cache.display()))?;
    let state_files = SandboxBind {
        host: state_cache.clone(),
        inside: "/wisp/state-files".into(),
    };
    let invoker = Invoker::new(InvokerConfig {
        runtime_dir: data_dir.join("runtime"),
        node: args.node.clone(),
        python: args.python.clone(),
        stem_cells: args.stem_cells,
        memory_budget_mb: args.memory_budget,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_queued: args.max_queued,
        memory_cgroups: !args.no_cgroups,
        max_result_bytes: 1024 * 1024,
        max_unpacked_bytes: args.max_unpacked_mb << 20,
        api_host: api_host.clone(),
        wasm_instances: args.wasm_instances,
        wasm_idle_instances: args.wasm_idle_instances,
        wasm_max_memory_mb: wisp_core::SystemLimits::default().max_memory,
        sandbox: SandboxSettings {
            mode: match args.sandbox {
                SandboxArg::Required => SandboxMode::Required,
                SandboxArg::Auto => SandboxMode::Auto,
                SandboxArg::Off => SandboxMode::Off,
            },
            network: match args.function_network {
                NetworkArg::Isolated => FunctionNetwork::Isolated,
                NetworkArg::None => FunctionNetwork::None,
                NetworkArg::Host => FunctionNetwork::Host,
            },
            endpoints: vec![local, args.kv_listen, args.s3_listen],
            outbound: Outbound {
                allow: args.function_egress_allow.clone(),
                resolvers: if args.function_dns.is_empty() {
                    Outbound::host_resolvers()
                } else {
                    args.function_dns.clone()
                },
            },
            init_program: std::env::current_exe()
                .context("cannot find the wisp binary, which sandboxes run as their init")?,
            tmp_mb: args.function_tmp_mb,
            pids_max: args.function_pids,
            shared: vec![state_files.clone()],
        },
    })
    .context("cannot start the invoker")?;
    let layers = invoker.sandbox_layers();
    let files_seen_at = invoker.seen_by_functions(&state_files);
    let objects_dir = args
        .objects_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("objects"));
    let metrics = match args.metrics_listen.0 {
        Some(_) => wisp_metrics::Metrics::new(args.metrics_per_action),
        None => wisp_metrics::Metrics::disabled(),
    };
    let objects = wisp_services::objects::open_objects(
        &objects_dir,
        &data_dir,
        args.objects_quota_mb << 20,
        &metrics,
    )?;
    let kv = wisp_services::kv::start_kv(
        &data_dir.join("kv"),
        &args.kv_backend,
        args.kv_listen,
        args.kv_quota_mb << 20,
        &metrics,
    )
    .await?;
    let keys = kv.as_ref().map(|kv| Keys::new(kv.store.clone()));
    // Components' `kv` and `objects` imports reach the same stores as everything else.
    invoker.set_wasm_state(Arc::new(GuestStores {
        keys: keys.clone(),
        objects: objects.store.clone(),
    }));
    let controller = Controller::new(
        ControllerConfig {
            limits: wisp_core::SystemLimits {
                throttles: wisp_core::Throttles {
                    invocations_per_minute: args.invocations_per_minute,
                    concurrent_invocations: args.concurrent_invocations,
                    fires_per_minute: args.fires_per_minute,
                },
                max_sequence_length: args.sequence_max_length as usize,
                ..wisp_core::SystemLimits::default()
            },
            activation_retention: Duration::from_secs(
                args.activation_retention_days.max(1) * 86_400,
            ),
            max_blocking_wait: Duration::from_secs(args.max_blocking_wait),
            identity_ttl: Duration::from_secs(args.identity_cache_ttl),
            metrics,
        },
        Arc::new(entities),
        Arc::new(activations),
        Arc::new(invoker),
    );
    let site_domains = wisp_services::sites::site_domains(&api_host, args.site_domain.as_deref());
    let site_url = wisp_services::sites::site_url_pattern(&api_host, &site_domains);
    let s3 = wisp_services::objects::start_s3(
        objects.store.clone(),
        &data_dir,
        args.s3_listen,
        &api_host,
        &site_url,
        Duration::from_secs(args.read_timeout),
    )
    .await?;
    // Every state service that runs tells each activation where it is.
    let mut envs: Vec<Arc<dyn wisp_controller::ActivationEnv>> = Vec::new();
    let (controller, kv_address) = match (kv, &keys) {
        (Some(kv), Some(keys)) => {
            envs.push(Arc::new(kv.env));
            (
                controller
                    .with_state(
                        Arc::new(StateStores {
                            keys: keys.clone(),
                            objects: objects.store.clone(),
                        }),
                        StateConfig {
                            files_seen_at,
                            file_cache_dir: state_cache,
                            file_cache_bytes: args.state_cache_mb << 20,
                        },
                    )
                    .context("cannot prepare the cache of declared files")?,
                Some(kv.address),
            )
        }
        _ => (controller, None),
    };
    let s3_address = s3.map(|(address, env)| {
        envs.push(Arc::new(env));
        address
    });
    let controller = controller.with_activation_env(Arc::new(Envs(envs)));
    controller.start().await?;

    let sites = Arc::new(wisp_api::Sites::new(
        objects.store.clone(),
        wisp_api::SitesConfig {
            domains: site_domains,
            cache_bytes: args.site_cache_mb << 20,
        },
    ));
    let app = wisp_api::router(AppState {
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
            max_upload_bytes: args.objects_max_upload_mb << 20,
        }),
        sites: Some(sites),
        api_host: api_host.clone(),
        logins: Arc::default(),
    });
    // The properties file is in place before the address is announced, so whoever waits for
    // the announcement (a script, a test) finds it.
    write_wskprops(&api_host, &guest);
    println!("wisp: listening on {api_host}");
    println!("wisp: guest credentials {guest}");
    println!("wisp: data directory {}", data_dir.display());
    match args.sandbox {
        SandboxArg::Off => println!(
            "wisp: WARNING: the function sandbox is off (--sandbox=off): functions run as this \
             server's user, with everything it can reach, the data directory included"
        ),
        _ => println!("wisp: function sandbox: {layers}"),
    }
    if matches!(args.function_network, NetworkArg::Host) {
        println!(
            "wisp: WARNING: functions share the host's network (--function-network=host), \
             its loopback services included"
        );
    }
    println!("wisp: sites at {site_url} and {api_host}/sites/{{namespace}}/");
    if let Some(address) = kv_address {
        println!("wisp: key-value store (RESP) on {address}");
    }
    if let Some(address) = s3_address {
        println!("wisp: object storage (S3) on http://{address}");
    }
    if let Some(listen) = args.metrics_listen.0 {
        if let Some(address) = serve_metrics(listen, &controller, args.read_timeout).await {
            println!("wisp: metrics on http://{address}/metrics");
        }
    }

    wisp_api::serve(
        listener,
        app,
        Duration::from_secs(args.read_timeout),
        shutdown_signal(),
    )
    .await;
    println!("wisp: shutting down");
    controller
        .shutdown(Duration::from_secs(args.shutdown_grace))
        .await;
    Ok(())
}

/// Serves `/metrics` on `address` until the server ends; `None` (and a warning) if it cannot
/// listen there.
async fn serve_metrics(
    address: SocketAddr,
    controller: &Controller,
    read_timeout: u64,
) -> Option<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(%address, error = %e, "no metrics endpoint: cannot listen");
            return None;
        }
    };
    let bound = listener.local_addr().ok()?;
    let app = wisp_api::metrics_router(controller.clone());
    tokio::spawn(wisp_api::serve(
        listener,
        app,
        Duration::from_secs(read_timeout),
        std::future::pending(),
    ));
    Some(bound)
}

/// The server's log on stderr: `WISP_LOG` (or `RUST_LOG`) filters it in tracing's syntax
/// (`info`, `wisp_controller=debug,warn`); `json` writes one object per line with the spans
/// it happened in (a request's transaction id, an activation's id and namespace).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WISP_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        // s3s logs every refused S3 request (a bad signature, an absent key) as an error: a
        // client's mistake, not the server's. Failures of storage itself are logged by Wisp.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,s3s=off"));
    // Colours only for a person at a terminal, never into a file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

/// Creates the data directory owner-only, or makes an existing one of ours so: it holds every
/// namespace's secrets (keys, key-value passwords, S3 key pairs, the URL signing key). A
/// directory that holds no store yet is not changed, only named (it may be a home directory).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.mode() & 0o077 == 0 || meta.uid() != effective_uid() {
        return Ok(());
    }
    if dir.join("db").is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        println!(
            "wisp: {} was open to other users; now only its owner may enter it",
            dir.display()
        );
    } else {
        println!(
            "wisp: {} can be entered by other users of this machine (what Wisp keeps in it is \
             its owner's alone): `chmod 700` it",
            dir.display()
        );
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The guest key given by the operator: the file `--guest-key-file` names, else the
/// environment variable `WISP_GUEST_KEY` (whose value a child of the server never sees:
/// runtime processes get a clean environment).
fn given_guest_key(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        use std::os::unix::fs::PermissionsExt;
        let auth = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the guest key file {}", file.display()))?;
        if std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            println!(
                "wisp: {} can be read by other users of this machine: `chmod 600` it",
                file.display()
            );
        }
        return Ok(Some(auth.trim().to_string()));
    }
    Ok(std::env::var("WISP_GUEST_KEY")
        .ok()
        .map(|auth| auth.trim().to_string())
        .filter(|auth| !auth.is_empty()))
}

/// The guest namespace's `uuid:key`: as given, else as kept in the data directory, else new.
async fn ensure_guest_key(
    store: &SqliteStore,
    data_dir: &Path,
    given: Option<&str>,
) -> anyhow::Result<String> {
    let file = data_dir.join("guest.key");
    let auth = match given {
        Some(auth) => auth.to_string(),
        None => match std::fs::read_to_string(&file) {
            Ok(kept) => kept.trim().to_string(),
            Err(_) => {
                let (uuid, key) = wisp_controller::generate_key();
                let auth = format!("{uuid}:{key}");
                wisp_cli::write_private(&file, auth.as_bytes())
                    .with_context(|| format!("cannot keep the guest key in {}", file.display()))?;
                auth
            }
        },
    };
    let (uuid, key) = split_auth(&auth).context("invalid guest key")?;
    let guest = EntityName::parse("guest").expect("a valid name");
    // Storing the key is idempotent; it also refuses a uuid that belongs to another namespace.
    wisp_controller::add_key(store, guest, Some((uuid, key))).await?;
    Ok(auth)
}

/// Makes a properties file of ours (it holds a key) readable by its owner only.
fn tighten_wskprops(path: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.mode() & 0o077 == 0 || meta.uid() != effective_uid() {
        return;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Ok(()) => println!(
            "wisp: {} was readable by other users; now only by its owner",
            path.display()
        ),
        Err(e) => println!("wisp: could not make {} private: {e}", path.display()),
    }
}

/// Writes `~/.wskprops` for this server when there is none; never replaces a different one.
fn write_wskprops(api_host: &str, auth: &str) {
    let path = crate::paths::wskprops();
    let wanted = format!("APIHOST={api_host}\nAUTH={auth}\n");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == wanted => tighten_wskprops(&path),
        Ok(_) => {
            tighten_wskprops(&path);
            println!(
                "wisp: {} exists and points elsewhere; left unchanged (use `wisp property set --apihost {api_host} --auth ...`)",
                path.display()
            )
        }
        Err(_) => match wisp_cli::write_private(&path, wanted.as_bytes()) {
            Ok(()) => println!("wisp: wrote {}", path.display()),
            Err(e) => println!("wisp: could not write {}: {e}", path.display()),
        },
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

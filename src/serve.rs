//! `wisp serve`: the whole platform in one process on embedded defaults. The flags resolve
//! into one [`Config`] (`config.rs`), `build.rs` makes the platform from it, and `run` serves
//! it until a signal.

mod build;
mod config;
mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wisp_controller::Controller;
use wisp_invoker::{FunctionNetwork, Outbound, SandboxMode};
use wisp_services::KvBackend;

use config::{
    Config, ControllerSettings, InvokerSettings, KvSettings, LogFormat, MetricsSettings,
    ObjectSettings, SiteSettings,
};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "WISP_LISTEN", default_value = "127.0.0.1:3233")]
    listen: SocketAddr,
    /// Where runtime files and every namespace's secrets are kept, and entities and activations
    /// on SQLite [default: ~/.local/share/wisp].
    #[arg(long, env = "WISP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where entities, keys and activation records are kept: `sqlite` (files under
    /// <data dir>/db) or a PostgreSQL database, `postgres://[user@]host[:port]/database`, which
    /// the server migrates at start. Its password goes in PGPASSWORD or ~/.pgpass, or with the
    /// URL in WISP_STORE, never on the command line.
    #[arg(long, env = "WISP_STORE", hide_env_values = true, default_value = "sqlite", value_parser = crate::store::STORE_PARSER)]
    store: wisp_store::Backend,
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
    #[arg(long, env = "WISP_KV_BACKEND", hide_env_values = true, default_value = "embedded", value_parser = crate::secret_flag::SecretParser::<KvBackend>::new("--kv-backend (WISP_KV_BACKEND)"))]
    kv_backend: KvBackend,
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
    /// Where the namespaces' objects are kept: `local` (under --objects-dir) or an S3 bucket that
    /// servers share, `s3://BUCKET[/prefix]`, reached as the AWS_* variables say
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL).
    #[arg(long, env = "WISP_OBJECTS_BACKEND", hide_env_values = true, default_value = "local", value_parser = crate::secret_flag::SecretParser::<wisp_services::ObjectsBackend>::new("--objects-backend (WISP_OBJECTS_BACKEND)"))]
    objects_backend: wisp_services::ObjectsBackend,
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
    log_format: LogArg,
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
enum LogArg {
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

impl ServeArgs {
    /// The configuration these flags say, with every default resolved.
    fn into_config(self) -> Config {
        let data_dir = self.data_dir.unwrap_or_else(crate::paths::default_data_dir);
        let objects_dir = self.objects_dir.unwrap_or_else(|| data_dir.join("objects"));
        Config {
            listen: self.listen,
            api_host: self.api_host,
            store: self.store,
            guest_key_file: self.guest_key_file,
            read_timeout: Duration::from_secs(self.read_timeout),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            log_format: match self.log_format {
                LogArg::Text => LogFormat::Text,
                LogArg::Json => LogFormat::Json,
            },
            controller: ControllerSettings {
                limits: wisp_core::SystemLimits {
                    throttles: wisp_core::Throttles {
                        invocations_per_minute: self.invocations_per_minute,
                        concurrent_invocations: self.concurrent_invocations,
                        fires_per_minute: self.fires_per_minute,
                    },
                    max_sequence_length: self.sequence_max_length as usize,
                    ..wisp_core::SystemLimits::default()
                },
                activation_retention: Duration::from_secs(
                    self.activation_retention_days.max(1) * 86_400,
                ),
                max_blocking_wait: Duration::from_secs(self.max_blocking_wait),
                identity_ttl: Duration::from_secs(self.identity_cache_ttl),
            },
            invoker: InvokerSettings {
                node: self.node,
                python: self.python,
                stem_cells: self.stem_cells,
                memory_budget_mb: self.memory_budget,
                max_queued: self.max_queued,
                idle_timeout: Duration::from_secs(self.idle_timeout),
                memory_cgroups: !self.no_cgroups,
                max_unpacked_bytes: self.max_unpacked_mb << 20,
                wasm_instances: self.wasm_instances,
                wasm_idle_instances: self.wasm_idle_instances,
                sandbox: match self.sandbox {
                    SandboxArg::Required => SandboxMode::Required,
                    SandboxArg::Auto => SandboxMode::Auto,
                    SandboxArg::Off => SandboxMode::Off,
                },
                network: match self.function_network {
                    NetworkArg::Isolated => FunctionNetwork::Isolated,
                    NetworkArg::None => FunctionNetwork::None,
                    NetworkArg::Host => FunctionNetwork::Host,
                },
                outbound: Outbound {
                    allow: self.function_egress_allow,
                    resolvers: if self.function_dns.is_empty() {
                        Outbound::host_resolvers()
                    } else {
                        self.function_dns
                    },
                },
                tmp_mb: self.function_tmp_mb,
                pids_max: self.function_pids,
            },
            kv: KvSettings {
                listen: self.kv_listen,
                backend: self.kv_backend,
                quota_bytes: self.kv_quota_mb << 20,
            },
            objects: ObjectSettings {
                dir: objects_dir,
                backend: self.objects_backend,
                quota_bytes: self.objects_quota_mb << 20,
                max_upload_bytes: self.objects_max_upload_mb << 20,
                s3_listen: self.s3_listen,
            },
            state_cache_bytes: self.state_cache_mb << 20,
            sites: SiteSettings {
                domain: self.site_domain,
                cache_bytes: self.site_cache_mb << 20,
            },
            metrics: MetricsSettings {
                listen: self.metrics_listen.0,
                per_action: self.metrics_per_action,
            },
            data_dir,
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config();
    init_tracing(config.log_format);
    let server = build::build(&config).await?;
    let api_host = &server.api_host;
    // The properties file is in place before the address is announced, so whoever waits for
    // the announcement (a script, a test) finds it.
    setup::write_wskprops(api_host, &server.guest);
    println!("wisp: listening on {api_host}");
    println!("wisp: guest credentials {}", server.guest);
    println!("wisp: data directory {}", config.data_dir.display());
    if let wisp_store::Backend::Postgres(_) = config.store {
        println!("wisp: entities and activations in {}", config.store);
    }
    match config.invoker.sandbox {
        SandboxMode::Off => println!(
            "wisp: WARNING: the function sandbox is off (--sandbox=off): functions run as this \
             server's user, with everything it can reach, the data directory included"
        ),
        _ => println!("wisp: function sandbox: {}", server.layers),
    }
    if config.invoker.network == FunctionNetwork::Host {
        println!(
            "wisp: WARNING: functions share the host's network (--function-network=host), \
             its loopback services included"
        );
    }
    println!(
        "wisp: sites at {} and {api_host}/sites/{{namespace}}/",
        server.site_url
    );
    if let Some(address) = server.kv_address {
        println!("wisp: key-value store (RESP) on {address}");
    }
    if let Some(address) = server.s3_address {
        println!("wisp: object storage (S3) on http://{address}");
    }
    if let Some(listen) = config.metrics.listen {
        if let Some(address) = serve_metrics(listen, &server.controller, config.read_timeout).await
        {
            println!("wisp: metrics on http://{address}/metrics");
        }
    }

    wisp_api::serve(
        server.listener,
        wisp_api::router(server.app),
        config.read_timeout,
        shutdown_signal(),
    )
    .await;
    println!("wisp: shutting down");
    server.controller.shutdown(config.shutdown_grace).await;
    Ok(())
}

/// Serves `/metrics` on `address` until the server ends; `None` (and a warning) if it cannot
/// listen there.
async fn serve_metrics(
    address: SocketAddr,
    controller: &Controller,
    read_timeout: Duration,
) -> Option<SocketAddr> {
    let listener = match wisp_services::listen::bind(address).await {
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
        read_timeout,
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

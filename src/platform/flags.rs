//! The flags of the server roles, in groups by the part of the platform they configure. Each
//! role takes the groups of the parts it runs: `wisp serve` all but the cluster's, `wisp
//! controller` the API's, `wisp invoker` the runtimes'; both roles the state stores' and the
//! cluster's. Each group resolves into its part of the configuration (`config.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wisp_invoker::{FunctionNetwork, Outbound, SandboxMode};
use wisp_services::{KvBackend, ObjectsBackend};

use super::config::{
    ApiSettings, ClusterSettings, Common, ControllerSettings, InvokerSettings, LogFormat,
    MetricsSettings, RuntimeSettings, SiteSettings, StateSettings,
};

/// What every role takes: where it keeps its files, its log, its timings and its metrics.
#[derive(Args)]
pub struct CommonFlags {
    /// Where runtime files and every namespace's secrets are kept, and entities and activations
    /// on SQLite [default: ~/.local/share/wisp].
    #[arg(long, env = "WISP_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
    #[arg(long, env = "WISP_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
}

/// What the API and the controller behind it take.
#[derive(Args)]
pub struct ApiFlags {
    /// Address and port to listen on.
    #[arg(long, env = "WISP_LISTEN", default_value = "127.0.0.1:3233")]
    listen: SocketAddr,
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
    /// Largest object (in MB) one upload through the REST API may carry.
    #[arg(long, env = "WISP_OBJECTS_MAX_UPLOAD_MB", default_value_t = 1024)]
    objects_max_upload_mb: u64,
    /// Memory (MB) for the small files of the sites and their compressed forms.
    #[arg(long, env = "WISP_SITE_CACHE_MB", default_value_t = 64)]
    site_cache_mb: usize,
}

/// Where the namespaces' state is kept: what the API and the runtimes both reach.
#[derive(Args)]
pub struct StateFlags {
    /// Where the key-value data lives: `embedded` (in memory and under the data directory)
    /// or a Redis URL, `redis://[[user]:password@]host[:port][/db]`, that servers share.
    #[arg(long, env = "WISP_KV_BACKEND", hide_env_values = true, default_value = "embedded", value_parser = crate::secret_flag::SecretParser::<KvBackend>::new("--kv-backend (WISP_KV_BACKEND)"))]
    kv_backend: KvBackend,
    /// Bytes (in MB) of keys and values each namespace may keep in the key-value store.
    #[arg(long, env = "WISP_KV_QUOTA_MB", default_value_t = 32)]
    kv_quota_mb: usize,
    /// Where the namespaces' objects are kept: `local` (under --objects-dir) or an S3 bucket that
    /// servers share, `s3://BUCKET[/prefix]`, reached as the AWS_* variables say
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL).
    #[arg(long, env = "WISP_OBJECTS_BACKEND", hide_env_values = true, default_value = "local", value_parser = crate::secret_flag::SecretParser::<ObjectsBackend>::new("--objects-backend (WISP_OBJECTS_BACKEND)"))]
    objects_backend: ObjectsBackend,
    /// Where the namespaces' objects are kept with `--objects-backend local` [default: <data
    /// dir>/objects].
    #[arg(long, env = "WISP_OBJECTS_DIR")]
    objects_dir: Option<PathBuf>,
    /// Bytes (in MB) of objects each namespace may keep.
    #[arg(long, env = "WISP_OBJECTS_QUOTA_MB", default_value_t = 1024)]
    objects_quota_mb: u64,
    /// A domain whose subdomains are the namespaces' sites (`<namespace>.<domain>`), beside
    /// `localhost` and the API host's name; it needs a wildcard DNS record.
    #[arg(long, env = "WISP_SITE_DOMAIN")]
    site_domain: Option<String>,
}

/// What the runtimes, their sandboxes and the functions' endpoints take.
#[derive(Args)]
pub struct RuntimeFlags {
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
    /// Where the key-value store serves RESP2. Nimbella's SDKs always dial port 6379, so the
    /// default is a loopback address of its own, clear of a local Redis.
    #[arg(long, env = "WISP_KV_LISTEN", default_value = "127.0.0.2:6379")]
    kv_listen: SocketAddr,
    /// Where the S3-compatible endpoint functions use (`__NIM_STORAGE_KEY`) listens: a
    /// loopback address of its own by default, like the key-value store's.
    #[arg(long, env = "WISP_S3_LISTEN", default_value = "127.0.0.2:9000")]
    s3_listen: SocketAddr,
    /// Bytes (in MB) of declared files this host keeps copies of (least recently used go
    /// first), under `<data dir>/state-cache`.
    #[arg(long, env = "WISP_STATE_CACHE_MB", default_value_t = 1024)]
    state_cache_mb: u64,
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

/// How a role finds the rest of its cluster.
#[derive(Args)]
pub struct ClusterFlags {
    /// How controllers reach invokers: a NATS server with JetStream, `nats://host[:port]`,
    /// that every controller and invoker of the cluster shares (`local`, the default, is
    /// `wisp serve`'s in-process hand-over, which a lone role has no use for).
    #[arg(
        long,
        env = "WISP_BUS",
        hide_env_values = true,
        default_value = "local"
    )]
    bus: String,
    /// The cluster's name: every NATS subject and stream of the cluster starts with it, and
    /// every Redis key (`wisp:<cluster>:…`; the default cluster's keys are `wisp:…`, as `wisp
    /// serve` keeps them), so two clusters can share the engines. Letters, digits, `-`, `_`.
    #[arg(long, env = "WISP_CLUSTER", default_value = "wisp", value_parser = parse_token)]
    cluster: String,
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

/// A name that can stand in a NATS subject: a non-empty token of letters, digits, `-`, `_`.
pub fn parse_token(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a valid name: use 1 to 64 letters, digits, `-` and `_`"
        ))
    }
}

impl CommonFlags {
    pub fn settings(self) -> Common {
        Common {
            data_dir: self.data_dir.unwrap_or_else(crate::paths::default_data_dir),
            read_timeout: Duration::from_secs(self.read_timeout),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            log_format: match self.log_format {
                LogArg::Text => LogFormat::Text,
                LogArg::Json => LogFormat::Json,
            },
            metrics: MetricsSettings {
                listen: self.metrics_listen.0,
                per_action: self.metrics_per_action,
            },
        }
    }
}

impl ApiFlags {
    pub fn settings(self) -> ApiSettings {
        ApiSettings {
            listen: self.listen,
            api_host: self.api_host,
            store: self.store,
            guest_key_file: self.guest_key_file,
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
            max_upload_bytes: self.objects_max_upload_mb << 20,
            sites: SiteSettings {
                cache_bytes: self.site_cache_mb << 20,
            },
        }
    }
}

impl StateFlags {
    /// `data_dir`: where objects are kept unless `--objects-dir` says otherwise.
    pub fn settings(self, data_dir: &std::path::Path) -> StateSettings {
        StateSettings {
            kv_backend: self.kv_backend,
            kv_quota_bytes: self.kv_quota_mb << 20,
            objects_backend: self.objects_backend,
            objects_dir: self.objects_dir.unwrap_or_else(|| data_dir.join("objects")),
            objects_quota_bytes: self.objects_quota_mb << 20,
            site_domain: self.site_domain,
        }
    }
}

impl RuntimeFlags {
    pub fn settings(self) -> RuntimeSettings {
        RuntimeSettings {
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
            kv_listen: self.kv_listen,
            s3_listen: self.s3_listen,
            state_cache_bytes: self.state_cache_mb << 20,
        }
    }
}

impl ClusterFlags {
    /// The cluster as `role` (`controller`, `invoker`) named `id` joins it; an error unless
    /// the bus is a NATS server.
    pub fn settings(self, role: &str, id: String) -> anyhow::Result<ClusterSettings> {
        if !self.bus.starts_with("nats://") {
            anyhow::bail!(
                "`wisp {role}` runs beside other roles and reaches them through NATS: give \
                 --bus nats://HOST:PORT (WISP_BUS); `wisp serve` runs the whole platform in one \
                 process"
            );
        }
        Ok(ClusterSettings {
            bus: self.bus,
            cluster: self.cluster,
            id,
        })
    }
}

/// This machine's host name, as a token (`.` and other signs become `-`): a role's id when
/// none is given. A pod's host name is its name, stable for a StatefulSet's pods.
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let token: String = name
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if token.is_empty() {
        "wisp".to_owned()
    } else {
        token
    }
}

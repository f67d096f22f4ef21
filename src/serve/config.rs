//! `wisp serve`'s configuration: what the operator chose, resolved once from the flags
//! (`ServeArgs::into_config`) into plain data that `build` reads. Sizes are in bytes and
//! times are durations here, whatever unit the flag takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wisp_core::SystemLimits;
use wisp_invoker::{FunctionNetwork, Outbound, SandboxMode};
use wisp_services::KvBackend;
use wisp_store::Backend;

/// Everything `wisp serve` is told.
pub struct Config {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The API URL functions and clients are told; `None`: `http://` and the address the
    /// API listens on.
    pub api_host: Option<String>,
    /// Where entities, keys and activation records are kept: SQLite files under
    /// `<data dir>/db`, or a PostgreSQL database.
    pub store: Backend,
    /// Where runtime files and every namespace's secrets are kept, and, on SQLite, entities
    /// and activations.
    pub data_dir: PathBuf,
    /// A file holding the guest namespace's key (`uuid:key`); `None`: `WISP_GUEST_KEY`, else
    /// the key kept in `<data dir>/guest.key`, else a new one.
    pub guest_key_file: Option<PathBuf>,
    /// How long a client of the API or the S3 endpoint may take to send each part of a
    /// request before its connection is closed.
    pub read_timeout: Duration,
    /// How long running activations get to finish on shutdown.
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub controller: ControllerSettings,
    pub invoker: InvokerSettings,
    pub kv: KvSettings,
    pub objects: ObjectSettings,
    /// Bytes of declared files this host keeps copies of, under `<data dir>/state-cache`.
    pub state_cache_bytes: u64,
    pub sites: SiteSettings,
    pub metrics: MetricsSettings,
}

/// The server log's format on stderr.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One object per line, with the spans it happened in, for log collectors.
    Json,
}

/// Limits and timings of the controller.
pub struct ControllerSettings {
    pub limits: SystemLimits,
    /// Activation records older than this are pruned.
    pub activation_retention: Duration,
    /// Longest a blocking invoke or web action call waits before answering 202.
    pub max_blocking_wait: Duration,
    /// How long a looked-up key, with its namespace's limits, is trusted.
    pub identity_ttl: Duration,
}

/// The runtimes: processes, wasm instances and the sandbox around them.
pub struct InvokerSettings {
    /// The Node.js interpreter.
    pub node: PathBuf,
    /// The Python 3 interpreter.
    pub python: PathBuf,
    /// Pre-started runtime processes kept ready per kind.
    pub stem_cells: usize,
    /// Memory (MB) that specialised runtime processes may reserve in total.
    pub memory_budget_mb: u64,
    /// Activations that may wait for room; more are refused at once.
    pub max_queued: usize,
    /// How long an idle warm process is kept.
    pub idle_timeout: Duration,
    /// Enforce memory limits with memory cgroups where the host has them (else by polling).
    pub memory_cgroups: bool,
    /// Most bytes a zip action may unpack to.
    pub max_unpacked_bytes: u64,
    /// WebAssembly instances that may run at once.
    pub wasm_instances: u32,
    /// Warm component instances kept idle for reuse, at most.
    pub wasm_idle_instances: usize,
    pub sandbox: SandboxMode,
    pub network: FunctionNetwork,
    /// What functions in isolated networks reach beyond the platform.
    pub outbound: Outbound,
    /// Size (MB) of each sandbox's private `/tmp`.
    pub tmp_mb: u64,
    /// Most processes and threads one sandbox may have.
    pub pids_max: u64,
}

/// The key-value store.
pub struct KvSettings {
    /// Where RESP2 is served.
    pub listen: SocketAddr,
    pub backend: KvBackend,
    /// Bytes of keys and values each namespace may keep.
    pub quota_bytes: usize,
}

/// Object storage and its S3 endpoint.
pub struct ObjectSettings {
    /// Where the namespaces' objects are kept.
    pub dir: PathBuf,
    /// Whether they are kept there or in an S3 bucket.
    pub backend: wisp_services::ObjectsBackend,
    /// Bytes of objects each namespace may keep.
    pub quota_bytes: u64,
    /// Largest object one upload through the REST API may carry.
    pub max_upload_bytes: u64,
    /// Where the S3 endpoint listens.
    pub s3_listen: SocketAddr,
}

/// The namespaces' static sites.
pub struct SiteSettings {
    /// A domain whose subdomains are the namespaces' sites, beside `localhost` and the API
    /// host's name.
    pub domain: Option<String>,
    /// Memory for the sites' small files and their compressed forms.
    pub cache_bytes: usize,
}

/// Prometheus metrics.
pub struct MetricsSettings {
    /// Where `/metrics` is served; `None`: nothing is recorded.
    pub listen: Option<SocketAddr>,
    /// Count activations per action too.
    pub per_action: bool,
}

//! The server roles' configuration: what the operator chose, resolved once from the flags
//! (`flags.rs`) into plain data that `build` reads, one part per part of the platform. Sizes
//! are in bytes and times are durations here, whatever unit the flag takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wisp_core::SystemLimits;
use wisp_invoker::{FunctionNetwork, Outbound, SandboxMode};
use wisp_services::KvBackend;
use wisp_store::Backend;

/// What every role has.
pub struct Common {
    /// Where runtime files and every namespace's secrets are kept, and, on SQLite, entities
    /// and activations.
    pub data_dir: PathBuf,
    /// How long a client of the API or the S3 endpoint may take to send each part of a
    /// request before its connection is closed.
    pub read_timeout: Duration,
    /// How long running activations get to finish on shutdown.
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub metrics: MetricsSettings,
}

/// The API and the controller behind it.
pub struct ApiSettings {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The API URL functions and clients are told; `None`: `http://` and the address the
    /// API listens on.
    pub api_host: Option<String>,
    /// Where entities, keys and activation records are kept: SQLite files under
    /// `<data dir>/db`, or a PostgreSQL database.
    pub store: Backend,
    /// A file holding the guest namespace's key (`uuid:key`); `None`: `WISP_GUEST_KEY`, else
    /// the key kept in `<data dir>/guest.key`, else a new one.
    pub guest_key_file: Option<PathBuf>,
    pub controller: ControllerSettings,
    /// Largest object one upload through the REST API may carry.
    pub max_upload_bytes: u64,
    pub sites: SiteSettings,
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

/// Where the namespaces' state is kept.
pub struct StateSettings {
    pub kv_backend: KvBackend,
    /// Bytes of keys and values each namespace may keep.
    pub kv_quota_bytes: usize,
    /// Whether objects are kept under `objects_dir` or in an S3 bucket.
    pub objects_backend: wisp_services::ObjectsBackend,
    /// Where the namespaces' objects are kept on the local backend.
    pub objects_dir: PathBuf,
    /// Bytes of objects each namespace may keep.
    pub objects_quota_bytes: u64,
    /// A domain whose subdomains are the namespaces' sites, beside `localhost` and the API
    /// host's name.
    pub site_domain: Option<String>,
}

/// The runtimes and the endpoints their functions reach.
pub struct RuntimeSettings {
    pub invoker: InvokerSettings,
    /// Where the key-value store serves RESP2.
    pub kv_listen: SocketAddr,
    /// Where the S3 endpoint listens.
    pub s3_listen: SocketAddr,
    /// Bytes of declared files this host keeps copies of, under `<data dir>/state-cache`.
    pub state_cache_bytes: u64,
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

/// The namespaces' static sites.
pub struct SiteSettings {
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

/// A role's place in its cluster.
pub struct ClusterSettings {
    /// The NATS server's URL (it may hold a password: never printed).
    pub bus: String,
    /// The prefix of the cluster's subjects and streams.
    pub cluster: String,
    /// This controller's or invoker's name in the cluster.
    pub id: String,
}

//! The invoker's operator settings, read by both runtime families.

use std::path::PathBuf;
use std::time::Duration;

use wisp_sandbox::{Bind, Mode, Network, Outbound};

/// Operator settings of the invoker.
#[derive(Debug, Clone)]
pub struct InvokerConfig {
    /// Where launchers and the bundled npm modules are written, zip actions unpacked and
    /// processes run.
    pub runtime_dir: PathBuf,
    pub node: PathBuf,
    pub python: PathBuf,
    /// Stem cells kept ready per kind.
    pub stem_cells: usize,
    /// Total `limits.memory` of live specialised processes, in MB.
    pub memory_budget_mb: u64,
    /// A warm process idle this long is stopped.
    pub idle_timeout: Duration,
    /// Activations that may wait for room in the pool before new ones are refused.
    pub max_queued: usize,
    /// Results larger than this are truncated into an application error.
    pub max_result_bytes: usize,
    /// Bytes a zip action may unpack to; a larger archive is refused (a developer error at
    /// initialisation) before it fills the disk.
    pub max_unpacked_bytes: u64,
    /// The API base URL handed to functions as `__OW_API_HOST`.
    pub api_host: String,
    /// Enforce `limits.memory` with memory cgroups where the host allows it (otherwise, and
    /// when false, resident memory is polled).
    pub memory_cgroups: bool,
    /// WebAssembly instances that may exist at once; more `wasm` activations wait.
    pub wasm_instances: u32,
    /// Warm component instances kept idle at most (each holds one of `wasm_instances`).
    pub wasm_idle_instances: usize,
    /// The largest `limits.memory` a `wasm` action may have, in MB.
    pub wasm_max_memory_mb: u64,
    /// How runtime processes are sandboxed.
    pub sandbox: SandboxSettings,
}

impl InvokerConfig {
    /// How often each family looks for what has been idle past `idle_timeout`.
    pub(crate) fn idle_check_period(&self) -> Duration {
        (self.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
    }
}

/// Operator settings of the sandbox every runtime process runs in.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub mode: Mode,
    pub network: Network,
    /// The platform's endpoints (API, key-value, S3) functions in isolated networks reach.
    pub endpoints: Vec<std::net::SocketAddr>,
    /// What functions in isolated networks reach beyond the platform.
    pub outbound: Outbound,
    /// The `wisp` binary, run as each sandbox's init.
    pub init_program: PathBuf,
    /// Size of each sandbox's `/tmp`, in MB.
    pub tmp_mb: u64,
    /// Most processes and threads one sandbox may have.
    pub pids_max: u64,
    /// Host directories every sandbox sees read-only (the declared-file cache).
    pub shared: Vec<Bind>,
}

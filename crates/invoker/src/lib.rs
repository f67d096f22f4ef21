//! The invoker: runs activations in runtime processes.
//!
//! A pool of pre-started, unspecialised launcher processes ("stem cells") is kept per kind; a
//! cold activation takes one and injects the action's code, a warm one reuses a process already
//! specialised for that exact action revision. The pool enforces a memory budget (each process
//! reserves its action's `limits.memory`), evicts idle processes, and queues work when full.
//!
//! [`Invoker`] implements `wisp_core::invoke::Invoke`, the trait the controller calls it
//! through. This crate knows nothing of HTTP or storage.

mod bundle;
mod logs;
mod process;
mod wasm;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use wisp_core::invoke::{CodeError, InvokeError, RunOutcome, RunRequest, StartKind};

pub use process::Invoker;
pub use wasm::FRESH_INSTANCE;
pub use wisp_sandbox::{
    Bind as SandboxBind, Cidr, Layers as SandboxLayers, Mode as SandboxMode,
    Network as FunctionNetwork, Outbound,
};
/// What `wasm` components' state imports reach, implemented by the server over its stores.
pub use wisp_wasm::{GuestState, ObjectPage, StateError};

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

/// Operator settings of the sandbox every runtime process runs in.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub mode: SandboxMode,
    pub network: FunctionNetwork,
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
    pub shared: Vec<SandboxBind>,
}

//! The wasm family's state, [`Wasm`]: the engine (made on first use), the programs compiled for
//! action revisions, the instance slots with the warm instances idling in them, and what
//! components' state imports reach. Code is compiled when the action is written ([`prepare`]),
//! and the program kept under that revision; an activation only looks its program up
//! ([`program`]), by revision, and loads it from the engine's disk cache the first time after a
//! restart (that load is the activation's `initTime`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use base64::Engine as _;
use wisp_core::invoke::{CodeError, RunRequest};
use wisp_core::{Action, CodeExec};
use wisp_wasm::{GuestState, Instance, Program, WasmConfig, WasmEngine, WasmError};

use super::instance_pool::InstancePool;
use crate::config::InvokerConfig;

const MB: u64 = 1024 * 1024;

/// The wasm family's state, beside the process pool in the `Invoker`.
pub(crate) struct Wasm {
    /// Made on first use: the pooling allocator reserves address space for every slot, which a
    /// server without wasm actions should not pay for.
    engine: OnceLock<Result<WasmEngine, WasmError>>,
    config: WasmConfig,
    /// Programs by action revision, so that an activation never hashes or decodes its code.
    programs: Mutex<HashMap<String, Arc<Program>>>,
    /// The instance slots, and the warm component instances idling in them: activations past
    /// the pool's size wait there, not fail.
    pub(crate) pool: InstancePool<Instance>,
    /// What components' `kv` and `objects` imports reach (given to `Invoker::new`).
    state: Option<Arc<dyn GuestState>>,
    /// The API base URL handed to functions as `__OW_API_HOST`.
    pub(crate) api_host: String,
    /// Results larger than this are truncated into an application error.
    pub(crate) max_result_bytes: usize,
}

impl Wasm {
    /// The family's state, and the task that drops instances idle too long.
    pub(crate) fn start(config: &InvokerConfig, state: Option<Arc<dyn GuestState>>) -> Arc<Wasm> {
        let wasm = Arc::new(Wasm::new(config, state));
        let weak = Arc::downgrade(&wasm);
        let period = config.idle_check_period();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(wasm) = weak.upgrade() else { return };
                wasm.pool.sweep();
            }
        });
        wasm
    }

    fn new(config: &InvokerConfig, state: Option<Arc<dyn GuestState>>) -> Wasm {
        Wasm {
            engine: OnceLock::new(),
            config: WasmConfig {
                cache_dir: config.runtime_dir.join("wasm"),
                max_instances: config.wasm_instances,
                max_memory_bytes: config.wasm_max_memory_mb * MB,
            },
            programs: Mutex::new(HashMap::new()),
            pool: InstancePool::new(
                config.wasm_instances,
                config.wasm_idle_instances,
                config.idle_timeout,
            ),
            state,
            api_host: config.api_host.clone(),
            max_result_bytes: config.max_result_bytes,
        }
    }

    pub(crate) fn engine(&self) -> Result<&WasmEngine, WasmError> {
        self.engine
            .get_or_init(|| WasmEngine::new(self.config.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) fn shutdown(&self) {
        self.pool.close();
    }

    pub(crate) fn state(&self) -> Option<Arc<dyn GuestState>> {
        self.state.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Program>>> {
        self.programs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Validates and compiles a `wasm` action's code (at create/update). The program is kept under
/// the revision being written, so that its first invoke finds it as a warm one does: no
/// decoding, hashing or extra thread hop on the invoke path.
pub(crate) async fn prepare(wasm: &Arc<Wasm>, action: &Action) -> Result<(), CodeError> {
    let Some(exec) = action.exec.code() else {
        return Ok(());
    };
    let bytes = decode(exec).map_err(CodeError::Invalid)?;
    let wasm2 = wasm.clone();
    let compiled = tokio::task::spawn_blocking(move || wasm2.engine()?.prepare(&bytes))
        .await
        .map_err(|e| CodeError::Engine(e.to_string()))?;
    let program = compiled.map_err(|e| match e {
        WasmError::Invalid(message) => CodeError::Invalid(message),
        WasmError::Engine(message) => CodeError::Engine(message),
    })?;
    // A write that then fails leaves an entry no activation asks for: harmless.
    wasm.lock().insert(action.revision_key(), program);
    Ok(())
}

fn decode(exec: &CodeExec) -> Result<Vec<u8>, String> {
    let bytes = if exec.binary {
        base64::engine::general_purpose::STANDARD
            .decode(exec.code.trim())
            .ok()
    } else {
        None
    };
    bytes.ok_or_else(|| "the code of a wasm action must be the base64 of a .wasm file".into())
}

/// The action revision's program, and the milliseconds it took when it had to be loaded from
/// the engine's disk cache (or, for code written before this server had an engine, compiled).
pub(crate) async fn program(
    wasm: &Arc<Wasm>,
    req: &RunRequest,
) -> Result<(Arc<Program>, Option<u64>), String> {
    let key = req.action.revision_key();
    if let Some(program) = wasm.lock().get(&key) {
        return Ok((program.clone(), None));
    }
    let exec = req
        .action
        .exec
        .code()
        .ok_or("the action has no code")?
        .clone();
    let started = Instant::now();
    let wasm2 = wasm.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let bytes = decode(&exec)?;
        let engine = wasm2.engine().map_err(|e| e.to_string())?;
        engine.load(&bytes).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("Initialization has failed due to: {e}"))?;
    let init_time = loaded.loaded.then(|| started.elapsed().as_millis() as u64);
    wasm.lock().insert(key, loaded.program.clone());
    Ok((loaded.program, init_time))
}

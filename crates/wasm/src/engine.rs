//! The one shared wasmtime engine: its configuration, the epoch ticker that enforces timeouts,
//! the WASI linker, and the programs compiled so far.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::PoolingAllocationConfig;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module};

use crate::artifact::Cache;
use crate::command::Guest;
use crate::validate::{check_header, check_module};
use crate::{Completion, Invocation, WasmError};

/// How often the engine's epoch advances: the granularity of timeouts.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Operator settings of the engine.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// Where compiled modules are kept across restarts.
    pub cache_dir: PathBuf,
    /// Instances that may exist at once (slots of the pooling allocator).
    pub max_instances: u32,
    /// The largest memory any instance may have: the largest `limits.memory` an action can set.
    pub max_memory_bytes: u64,
}

/// A module compiled and linked, ready to be instantiated for each activation.
pub struct Program {
    pub(crate) pre: InstancePre<Guest>,
}

/// A program and whether getting it cost a load from disk or a compile.
pub struct Loaded {
    pub program: Arc<Program>,
    /// False when the program was already in memory.
    pub loaded: bool,
}

/// The shared engine; cloning shares it.
#[derive(Clone)]
pub struct WasmEngine {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    linker: Linker<Guest>,
    cache: Cache,
    /// Programs by code digest: a module is compiled or loaded once per server.
    programs: Mutex<HashMap<String, Arc<Program>>>,
    compilations: AtomicU64,
    max_instances: u32,
}

impl WasmEngine {
    pub fn new(config: WasmConfig) -> Result<WasmEngine, WasmError> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(config.max_instances)
            .total_memories(config.max_instances)
            .total_tables(config.max_instances)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| WasmError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |guest: &mut Guest| &mut guest.wasi)
            .map_err(|e| WasmError::Engine(e.to_string()))?;
        let cache = Cache::open(&config.cache_dir, &engine)?;
        let shared = Arc::new(Shared {
            engine,
            linker,
            cache,
            programs: Mutex::new(HashMap::new()),
            compilations: AtomicU64::new(0),
            max_instances: config.max_instances,
        });
        start_ticker(Arc::downgrade(&shared));
        Ok(WasmEngine { shared })
    }

    /// Validates and compiles `wasm` unless it already was, keeping the artifact on disk: what
    /// an action write does, so that no invoke ever compiles.
    pub fn prepare(&self, wasm: &[u8]) -> Result<Arc<Program>, WasmError> {
        check_header(wasm)?;
        Ok(self.load(wasm)?.program)
    }

    /// The program of `wasm`: from memory, else from the disk cache, else compiled (a code
    /// written before this engine existed, or whose artifact was lost).
    pub fn load(&self, wasm: &[u8]) -> Result<Loaded, WasmError> {
        let digest = hex(&Sha256::digest(wasm));
        if let Some(program) = self.lock().get(&digest) {
            return Ok(Loaded {
                program: program.clone(),
                loaded: false,
            });
        }
        let s = &self.shared;
        let module = match s.cache.load(&s.engine, &digest) {
            Some(module) => module,
            None => {
                check_header(wasm)?;
                let module = Module::new(&s.engine, wasm).map_err(|e| {
                    WasmError::Invalid(format!("the module is not valid WebAssembly: {}", root(&e)))
                })?;
                check_module(&module)?;
                s.compilations.fetch_add(1, Ordering::Relaxed);
                s.cache.store(&digest, &module);
                module
            }
        };
        let pre = s.linker.instantiate_pre(&module).map_err(|e| {
            WasmError::Invalid(format!(
                "the module cannot be linked with WASI preview 1: {}",
                root(&e)
            ))
        })?;
        let program = Arc::new(Program { pre });
        self.lock().insert(digest, program.clone());
        Ok(Loaded {
            program,
            loaded: true,
        })
    }

    /// Runs `program` once in a fresh instance. Blocks the calling thread for up to the
    /// invocation's timeout: call it from a thread that may block.
    pub fn run(&self, program: &Program, invocation: Invocation) -> Completion {
        crate::command::run(&self.shared.engine, program, invocation)
    }

    /// Creates an instance of `program` and drops it without running it: instantiation alone,
    /// for the benchmark's floor.
    pub fn instantiate(&self, program: &Program) -> Result<(), WasmError> {
        crate::command::instantiate_only(&self.shared.engine, program)
    }

    /// Modules compiled by this engine since it started (not loaded from the cache).
    pub fn compilations(&self) -> u64 {
        self.shared.compilations.load(Ordering::Relaxed)
    }

    /// Instances that may run at once; callers queue beyond it.
    pub fn max_instances(&self) -> u32 {
        self.shared.max_instances
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Program>>> {
        self.shared
            .programs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Advances the epoch every `TICK` while the engine lives; a store whose deadline (in ticks)
/// passes traps with `Trap::Interrupt`, which is how a guest's timeout stops it.
fn start_ticker(shared: Weak<Shared>) {
    let spawned = std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            match shared.upgrade() {
                Some(s) => s.engine.increment_epoch(),
                None => return,
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the wasm epoch ticker did not start: wasm timeouts will not fire");
    }
}

/// The innermost cause, which is what names the problem (wasmtime wraps it in context).
pub(crate) fn root(e: &wasmtime::Error) -> String {
    e.root_cause().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

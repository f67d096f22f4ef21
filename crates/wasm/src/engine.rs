//! The one shared wasmtime engine: its configuration, the epoch ticker that enforces timeouts,
//! the linkers (WASI preview 1 for commands, WASI 0.2 and Wisp's world for components), and the
//! programs compiled so far.
//!
//! Guests run as futures on the caller's async executor (wasmtime's async support: each call
//! runs on a fiber stack of its own), the isolate model: an activation's wasm runs on the task
//! that handles the activation, with no thread hop, and host calls (the state imports, WASI)
//! are awaited like any other IO. A guest that computes yields to the executor at every epoch
//! tick, so it shares its thread with the server's other work, and stops at its deadline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::PoolingAllocationConfig;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module};

use crate::artifact::{Cache, Compiled};
use crate::command::Guest;
use crate::component::{FunctionPre, Handled, Host, Instance, InstanceSetup};
use crate::stop::root;
use crate::validate::{check_header, check_module, Format};
use crate::{Completion, Invocation, WasmError};

/// How often the engine's epoch advances: the granularity of timeouts.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// What one instance slot may hold of a component: the toolchains here build components of
/// up to 14 core instances (componentize-py), 2 memories and 2 tables (componentize-qjs).
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 8;
/// Elements a table may have: CPython's function table is large.
const TABLE_ELEMENTS: usize = 100_000;

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

/// Code compiled and linked, ready to be instantiated.
pub struct Program {
    pub(crate) linked: Linked,
}

pub(crate) enum Linked {
    /// A WASI preview-1 command: one fresh instance per run ([`WasmEngine::run`]).
    Command(InstancePre<Guest>),
    /// A component of Wisp's world: instances that serve many calls
    /// ([`WasmEngine::instantiate_component`]).
    Component(FunctionPre<Host>),
}

impl Program {
    /// A component (instances may be kept and called again), not a command.
    pub fn is_component(&self) -> bool {
        matches!(self.linked, Linked::Component(_))
    }
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
    components: wasmtime::component::Linker<Host>,
    cache: Cache,
    /// Programs by code digest: a module is compiled or loaded once per server.
    programs: Mutex<HashMap<String, Arc<Program>>>,
    compilations: AtomicU64,
    max_instances: u32,
}

impl WasmEngine {
    pub fn new(config: WasmConfig) -> Result<WasmEngine, WasmError> {
        // Each slot can hold the largest component allowed, so that a caller holding one of
        // `max_instances` slots always finds room in the pool.
        let slots = config.max_instances;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
            .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
            // A running guest's fiber stack: one per slot.
            .total_stacks(slots)
            .table_elements(TABLE_ELEMENTS)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| WasmError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |guest: &mut Guest| &mut guest.wasi)
            .map_err(|e| WasmError::Engine(e.to_string()))?;
        let components = crate::component::linker(&engine)?;
        let cache = Cache::open(&config.cache_dir, &engine)?;
        let shared = Arc::new(Shared {
            engine,
            linker,
            components,
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
        let format = check_header(wasm)?;
        let compiled = match s.cache.load(&s.engine, &digest, format) {
            Some(compiled) => compiled,
            None => {
                let compiled = self.compile(wasm, format)?;
                s.compilations.fetch_add(1, Ordering::Relaxed);
                s.cache.store(&digest, &compiled);
                compiled
            }
        };
        let linked = match compiled {
            Compiled::Module(module) => {
                Linked::Command(s.linker.instantiate_pre(&module).map_err(|e| {
                    WasmError::Invalid(format!(
                        "the module cannot be linked with WASI preview 1: {}",
                        root(&e)
                    ))
                })?)
            }
            Compiled::Component(component) => {
                Linked::Component(crate::component::link(&s.components, &component)?)
            }
        };
        let program = Arc::new(Program { linked });
        self.lock().insert(digest, program.clone());
        Ok(Loaded {
            program,
            loaded: true,
        })
    }

    /// Checks and compiles code the cache did not have.
    fn compile(&self, wasm: &[u8], format: Format) -> Result<Compiled, WasmError> {
        let engine = &self.shared.engine;
        match format {
            Format::Module => {
                let module = Module::new(engine, wasm).map_err(|e| {
                    WasmError::Invalid(format!("the module is not valid WebAssembly: {}", root(&e)))
                })?;
                check_module(&module)?;
                Ok(Compiled::Module(module))
            }
            Format::Component => Component::new(engine, wasm)
                .map(Compiled::Component)
                .map_err(|e| {
                    WasmError::Invalid(format!(
                        "the code is not a valid WebAssembly component: {}",
                        root(&e)
                    ))
                }),
        }
    }

    /// Runs a command `program` once in a fresh instance, for up to the invocation's timeout.
    /// Dropping the future stops the guest.
    pub async fn run(&self, program: &Program, invocation: Invocation) -> Completion {
        match &program.linked {
            Linked::Command(pre) => crate::command::run(&self.shared.engine, pre, invocation).await,
            Linked::Component(_) => Completion {
                exit: crate::Exit::Failed("a component is not run as a command".into()),
                stdout: Vec::new(),
                stdout_dropped: 0,
                stderr: Vec::new(),
                stderr_dropped: 0,
            },
        }
    }

    /// A new instance of a component `program`, to be called once or many times; the
    /// component's start may take up to `setup.timeout`. `Err` says how it failed, with what
    /// the guest wrote meanwhile.
    pub async fn instantiate_component(
        &self,
        program: &Program,
        setup: InstanceSetup,
    ) -> Result<Instance, Handled> {
        match &program.linked {
            Linked::Component(pre) => {
                crate::component::instantiate(&self.shared.engine, pre, setup).await
            }
            Linked::Command(_) => Err(Handled {
                ended: crate::Ended::Stopped(crate::Exit::Failed(
                    "a command is not a component".into(),
                )),
                stdout: Vec::new(),
                stdout_dropped: 0,
                stderr: Vec::new(),
                stderr_dropped: 0,
            }),
        }
    }

    /// Creates an instance of `program` and drops it without running it: instantiation alone,
    /// for the benchmark's floor.
    pub async fn instantiate(&self, program: &Program) -> Result<(), WasmError> {
        match &program.linked {
            Linked::Command(pre) => {
                crate::command::instantiate_only(&self.shared.engine, pre).await
            }
            Linked::Component(pre) => {
                crate::component::instantiate_only(&self.shared.engine, pre).await
            }
        }
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

/// Advances the epoch every `TICK` while the engine lives: each tick calls the callback of
/// every running guest's store ([`run_for`]).
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! One run of a WASI preview-1 command in a fresh instance: stdin in, stdout and stderr out,
//! under a time limit (epoch deadline, [`run_for`]) and a memory limit (a resource limiter).

use wasmtime::{Engine, InstancePre, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::capture::Capture;
use crate::stop::{root, run_for};
use crate::{Completion, Exit, Invocation, WasmError};

/// Most table elements an instance may have (C and Rust guests use a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What a store holds for its guest.
pub(crate) struct Guest {
    pub(crate) wasi: WasiP1Ctx,
    memory: MemoryLimit,
}

/// Refuses memory growth past the action's limit, and remembers that it did so that the
/// activation can say why it stopped. The limit is on the sum of the instance's memories: a
/// component has several.
pub(crate) struct MemoryLimit {
    pub(crate) limit: usize,
    /// Bytes of all the memories of the store so far.
    total: usize,
    pub(crate) exceeded: bool,
}

impl MemoryLimit {
    pub(crate) fn new(bytes: u64) -> MemoryLimit {
        MemoryLimit {
            limit: usize::try_from(bytes).unwrap_or(usize::MAX),
            total: 0,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A new memory comes here too, growing from 0 to its initial size.
        let total = self.total.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            self.exceeded = true;
            // A trap rather than `memory.grow` returning -1: a guest that ignores a failed
            // allocation would otherwise carry on in undefined ways; the activation stops here.
            return Err(wasmtime::format_err!("memory limit exceeded"));
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

pub(crate) async fn run(engine: &Engine, pre: &InstancePre<Guest>, inv: Invocation) -> Completion {
    let stdout = Capture::new(inv.stdout_limit);
    let stderr = Capture::new(inv.stderr_limit);
    // No preopened directories and no sockets: the guest sees stdio, clocks, random and the
    // environment given here, nothing of the host.
    let wasi = WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(inv.stdin))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .args(&inv.args)
        .envs(&inv.env)
        .build_p1();
    let guest = Guest {
        wasi,
        memory: MemoryLimit::new(inv.memory_bytes),
    };
    let mut store = Store::new(engine, guest);
    store.limiter(|g| &mut g.memory);
    run_for(&mut store, inv.timeout);

    let exit = match pre.instantiate_async(&mut store).await {
        Err(e) if store.data().memory.exceeded => {
            let _ = e;
            Exit::OutOfMemory
        }
        Err(e) => Exit::Failed(root(&e)),
        Ok(instance) => match instance.get_typed_func::<(), ()>(&mut store, "_start") {
            Err(e) => Exit::Failed(root(&e)),
            Ok(start) => match start.call_async(&mut store, ()).await {
                Ok(()) => Exit::Code(0),
                Err(e) => ended(&e, store.data().memory.exceeded),
            },
        },
    };
    drop(store);
    let (stdout, stdout_dropped) = stdout.take();
    let (stderr, stderr_dropped) = stderr.take();
    Completion {
        exit,
        stdout,
        stdout_dropped,
        stderr,
        stderr_dropped,
    }
}

/// An instance made and dropped, with no stdio and no limits beyond the pool's.
pub(crate) async fn instantiate_only(
    engine: &Engine,
    pre: &InstancePre<Guest>,
) -> Result<(), WasmError> {
    let guest = Guest {
        wasi: WasiCtxBuilder::new().build_p1(),
        memory: MemoryLimit::new(u64::MAX),
    };
    let mut store = Store::new(engine, guest);
    pre.instantiate_async(&mut store)
        .await
        .map(|_| ())
        .map_err(|e| WasmError::Engine(root(&e)))
}

/// Why `_start` returned an error: an exit call, a limit, or a trap.
pub(crate) fn ended(e: &wasmtime::Error, memory_exceeded: bool) -> Exit {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return Exit::Code(exit.0);
    }
    if memory_exceeded {
        return Exit::OutOfMemory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Exit::TimedOut,
        Some(trap) => Exit::Trap(trap.to_string()),
        None => Exit::Trap(root(e)),
    }
}

//! A live component instance: made once, then called for activation after activation (one at a
//! time), its globals kept between calls, until a call breaks it or its owner drops it.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::{Function, FunctionPre, Host};
use crate::capture::Capture;
use crate::command::{ended, MemoryLimit};
use crate::state_imports::GuestState;
use crate::stop::{root, run_for};
use crate::{Exit, WasmError};

/// What an instance is made with; fixed for its life.
pub struct InstanceSetup {
    /// `argv`, program name first.
    pub args: Vec<String>,
    /// The only environment the guest sees (read by most runtimes once, when they start).
    pub env: Vec<(String, String)>,
    /// The namespace its `kv` and `objects` imports reach.
    pub namespace: String,
    pub state: Option<Arc<dyn GuestState>>,
    /// The sum of its memories may not grow past this.
    pub memory_bytes: u64,
    /// Bytes of stdout and stderr kept per call; the rest is counted and dropped.
    pub stdout_limit: usize,
    pub stderr_limit: usize,
    /// How long instantiation (the component's start functions) may take.
    pub timeout: Duration,
}

/// One activation's call of `handle`.
#[derive(Debug, Clone)]
pub struct Call {
    /// The params JSON.
    pub params: String,
    pub timeout: Duration,
}

/// How a call (or an instantiation) ended, and what the guest wrote meanwhile.
#[derive(Debug, Clone)]
pub struct Handled {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stdout_dropped: usize,
    pub stderr: Vec<u8>,
    pub stderr_dropped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// `handle` returned `ok` with this text.
    Ok(String),
    /// `handle` returned `err` with this text: an application error.
    Err(String),
    /// The guest did not return: a limit, a trap, an exit, or a failure to instantiate.
    Stopped(Exit),
}

/// A component instance and its store.
pub struct Instance {
    store: Store<Host>,
    bindings: Function,
    /// False once a call was stopped: a trapped instance is not entered again.
    usable: bool,
}

impl Instance {
    /// Calls `handle` once, for up to the call's timeout. Dropping the future stops the
    /// guest, and the instance is not entered again.
    pub async fn handle(&mut self, call: Call) -> Handled {
        if !self.usable {
            return self.output(Ended::Stopped(Exit::Failed(
                "the instance was stopped by an earlier call".into(),
            )));
        }
        run_for(&mut self.store, call.timeout);
        // Unusable until the call returns: a call whose future is dropped never does, and a
        // call that was stopped leaves the instance unusable too.
        self.usable = false;
        let returned = self
            .bindings
            .call_handle(&mut self.store, &call.params)
            .await;
        self.usable = returned.is_ok();
        let ended = match returned {
            Ok(Ok(result)) => Ended::Ok(result),
            Ok(Err(error)) => Ended::Err(error),
            Err(e) => Ended::Stopped(ended(&e, self.store.data().memory.exceeded)),
        };
        self.output(ended)
    }

    /// Whether the instance may serve another call.
    pub fn reusable(&self) -> bool {
        self.usable
    }

    fn output(&mut self, ended: Ended) -> Handled {
        let (stdout, stdout_dropped) = self.store.data().stdout.take();
        let (stderr, stderr_dropped) = self.store.data().stderr.take();
        Handled {
            ended,
            stdout,
            stdout_dropped,
            stderr,
            stderr_dropped,
        }
    }
}

pub(crate) async fn instantiate(
    engine: &Engine,
    pre: &FunctionPre<Host>,
    setup: InstanceSetup,
) -> Result<Instance, Handled> {
    let stdout = Capture::new(setup.stdout_limit);
    let stderr = Capture::new(setup.stderr_limit);
    // No preopened directories, no sockets, no name lookups: the guest sees clocks, random,
    // the environment given here and its own stdio, nothing of the host.
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .args(&setup.args)
        .envs(&setup.env)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let host = Host {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryLimit::new(setup.memory_bytes),
        state: setup.state,
        namespace: setup.namespace,
        stdout,
        stderr,
    };
    let mut store = Store::new(engine, host);
    store.limiter(|host| &mut host.memory);
    run_for(&mut store, setup.timeout);
    match pre.instantiate_async(&mut store).await {
        Ok(bindings) => Ok(Instance {
            store,
            bindings,
            usable: true,
        }),
        Err(e) => {
            let guest_fault = store.data().memory.exceeded
                || e.downcast_ref::<Trap>().is_some()
                || e.downcast_ref::<I32Exit>().is_some();
            let exit = if guest_fault {
                ended(&e, store.data().memory.exceeded)
            } else {
                // The pool is full or the host failed: not the guest's doing.
                Exit::Failed(root(&e))
            };
            let host = store.into_data();
            let (stdout, stdout_dropped) = host.stdout.take();
            let (stderr, stderr_dropped) = host.stderr.take();
            Err(Handled {
                ended: Ended::Stopped(exit),
                stdout,
                stdout_dropped,
                stderr,
                stderr_dropped,
            })
        }
    }
}

/// An instance made and dropped with nothing behind its imports: instantiation alone, for the
/// benchmark's floor.
pub(crate) async fn instantiate_only(
    engine: &Engine,
    pre: &FunctionPre<Host>,
) -> Result<(), WasmError> {
    let setup = InstanceSetup {
        args: Vec::new(),
        env: Vec::new(),
        namespace: String::new(),
        state: None,
        memory_bytes: u64::MAX,
        stdout_limit: 0,
        stderr_limit: 0,
        timeout: Duration::from_secs(60),
    };
    instantiate(engine, pre, setup)
        .await
        .map(drop)
        .map_err(|handled| match handled.ended {
            Ended::Stopped(exit) => WasmError::Engine(format!("{exit:?}")),
            _ => WasmError::Engine("unexpected".into()),
        })
}

//! [`Invoker`]: the two runtime families side by side, and the one place that decides which of
//! them runs an activation — `wasm` on the wasm engine, the other kinds in runtime processes.

use std::path::PathBuf;
use std::sync::Arc;

use wisp_core::invoke::{
    BoxFuture, CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest,
};
use wisp_core::{Action, Kind};
use wisp_wasm::GuestState;

use crate::config::InvokerConfig;
use crate::{process, wasm};

/// Runs activations: holds the process pool and the wasm engine, and implements `Invoke`.
#[derive(Clone)]
pub struct Invoker {
    processes: Arc<process::Pool>,
    wasm: Arc<wasm::Wasm>,
}

impl Invoker {
    /// `wasm_state` is what the state imports of `wasm` components (`kv`, `objects`) reach;
    /// without it they fail.
    pub fn new(
        config: InvokerConfig,
        wasm_state: Option<Arc<dyn GuestState>>,
    ) -> std::io::Result<Invoker> {
        let wasm = wasm::Wasm::start(&config, wasm_state);
        let processes = process::Pool::start(config)?;
        Ok(Invoker { processes, wasm })
    }

    /// Where runtime processes see a host directory bound into every sandbox.
    pub fn seen_by_functions(&self, bind: &wisp_sandbox::Bind) -> PathBuf {
        self.processes.seen_by_functions(bind)
    }

    /// The sandbox layers runtime processes get.
    pub fn sandbox_layers(&self) -> wisp_sandbox::Layers {
        self.processes.sandbox_layers()
    }
}

impl Invoke for Invoker {
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        Box::pin(async move {
            let kind = request
                .action
                .exec
                .code()
                .ok_or(InvokeError::NotRunnable)?
                .kind;
            match kind {
                Kind::Wasm => wasm::run(&self.wasm, request).await,
                Kind::Nodejs20 | Kind::Python3 => process::run(&self.processes, request).await,
            }
        })
    }

    /// A `wasm` module is validated and compiled here, ready for the new revision's first
    /// invoke. Other kinds pass as they are: a runtime process loads its code at init.
    fn prepare<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        Box::pin(async move {
            match action.exec.code() {
                Some(code) if code.kind == Kind::Wasm => wasm::prepare(&self.wasm, action).await,
                _ => Ok(()),
            }
        })
    }

    /// Both families stop at once (`shutdown`), so the process pool answers for both.
    fn accepting(&self) -> bool {
        self.processes.accepting()
    }

    /// Processes by kind and state (`stem_cell`, `warm` idle, `busy`), and the memory they
    /// reserve.
    fn pool(&self) -> PoolSnapshot {
        self.processes.snapshot()
    }

    fn shutdown(&self) {
        self.processes.shutdown();
        self.wasm.shutdown();
    }
}

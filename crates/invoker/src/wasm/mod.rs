//! The wasm family: `wasm` actions on the wasm engine (`crates/wasm`, the only crate that knows
//! wasmtime), no process and no stem cell.
//!
//! [`Wasm`] (`engine.rs`) is the family's state: the engine, the compiled programs, the
//! instance pool and the guest state. [`run`] sends a component (its header says so) to
//! `component.rs`, which calls it on a warm instance, and a WASI preview-1 command to
//! `command.rs`, which runs it in a fresh one. `instance_pool.rs` holds the engine's instance
//! slots and the warm instances idling in them.

mod command;
mod component;
mod engine;
mod instance_pool;

use std::sync::Arc;

use wisp_core::invoke::{InvokeError, RunOutcome, RunRequest};

pub use component::FRESH_INSTANCE;
pub(crate) use engine::{prepare, Wasm};

/// Runs a `wasm` activation: a component on a warm instance, a command in a fresh one.
pub(crate) async fn run(wasm: &Arc<Wasm>, req: RunRequest) -> Result<RunOutcome, InvokeError> {
    let code = req.action.exec.code().ok_or(InvokeError::NotRunnable)?;
    if component::is_component(&code.code) {
        component::run(wasm, req).await
    } else {
        command::run(wasm, req).await
    }
}

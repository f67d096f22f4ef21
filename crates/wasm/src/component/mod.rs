//! Components of Wisp's own world (`wit/wisp-function.wit`): `handle(params) -> result`, with
//! the namespace's key-value store, data objects and log as imports, and WASI 0.2 (the
//! toolchains' runtimes import it) with nothing of the host behind it.
//!
//! Unlike a WASI preview-1 command, whose `_start` runs once, a component is a library: one
//! instance can serve call after call ([`Instance::handle`]), which is what lets the invoker
//! keep warm instances.

mod host;
mod instance;
#[cfg(test)]
mod tests;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::Engine;

pub(crate) use host::Host;
pub(crate) use instance::{instantiate, instantiate_only};
pub use instance::{Call, Ended, Handled, Instance, InstanceSetup};

use crate::stop::root;
use crate::WasmError;

wasmtime::component::bindgen!({
    path: "../../wit/wisp-function.wit",
    world: "function",
    // The state imports await the stores; `handle` runs on the caller's executor.
    imports: { default: async },
    exports: { default: async },
});

/// The one world this server serves, as guests name it.
pub(crate) const WORLD: &str = "wisp:function/function@0.1.0";

/// WASI 0.2 in its async form (a guest's host calls are awaited on the executor that runs it)
/// and the world's own imports.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<Host>, WasmError> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| WasmError::Engine(root(&e)))?;
    Function::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |host| host)
        .map_err(|e| WasmError::Engine(root(&e)))?;
    Ok(linker)
}

/// Links a compiled component: every import must be one this server provides and `handle`
/// must be exported with the world's type; wasmtime names what is wrong.
pub(crate) fn link(
    linker: &Linker<Host>,
    component: &Component,
) -> Result<FunctionPre<Host>, WasmError> {
    // The whole chain: its outer message names the import, the root only what is wrong with it.
    let pre = linker.instantiate_pre(component).map_err(|e| {
        WasmError::Invalid(format!(
            "the component cannot be linked: {e:#}; a wasm component may import only the {WORLD} world's interfaces (kv, objects, log) and WASI 0.2 (cli, clocks, filesystem, io, random, sockets)"
        ))
    })?;
    FunctionPre::new(pre).map_err(|e| {
        WasmError::Invalid(format!(
            "the component does not export `handle: func(params: string) -> result<string, string>` of the {WORLD} world: {}",
            root(&e)
        ))
    })
}

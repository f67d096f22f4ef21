//! The invoker: runs activations, in two runtime families behind one dispatch.
//!
//! - The process family (`process/`): Node.js and Python actions in sandboxed runtime
//!   processes. A pool of pre-started, unspecialised launcher processes ("stem cells") is kept
//!   per kind; a cold activation takes one and injects the action's code, a warm one reuses a
//!   process already specialised for that exact action revision. The pool enforces a memory
//!   budget (each process reserves its action's `limits.memory`), evicts idle processes, and
//!   queues work when full.
//! - The wasm family (`wasm/`): `wasm` actions on the wasm engine (`crates/wasm`), no process: a
//!   command in a fresh instance, a component on a warm one, within a fixed number of instance
//!   slots.
//!
//! [`Invoker`] (`invoker.rs`) holds both families side by side and is the one place that picks
//! a family by the action's kind; it implements `wisp_core::invoke::Invoke`, the trait the
//! controller calls it through. The families share only what sits at the top (`config.rs`,
//! `logs.rs`, `bundle.rs`) and never import each other. This crate knows nothing of HTTP or
//! storage.

mod bundle;
mod config;
mod invoker;
mod logs;
mod process;
mod wasm;

pub use config::{InvokerConfig, SandboxSettings};
pub use invoker::Invoker;
pub use wasm::FRESH_INSTANCE;
pub use wisp_sandbox::{
    Bind as SandboxBind, Cidr, Layers as SandboxLayers, Mode as SandboxMode,
    Network as FunctionNetwork, Outbound,
};
/// What `wasm` components' state imports reach, implemented by the server over its stores.
pub use wisp_wasm::{GuestState, ObjectPage, StateError};

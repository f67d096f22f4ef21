//! Wisp's WebAssembly engine: the only crate that knows wasmtime.
//!
//! A `wasm` action's code is compiled once, when the action is written ([`WasmEngine::prepare`]),
//! and the compiled artifact is kept on disk keyed by the code's digest and the engine's
//! configuration, so a restarted server deserializes it instead of compiling again
//! ([`WasmEngine::load`]). Instantiation from the pooling allocator costs microseconds.
//!
//! Two kinds of guest, told apart by the binary's header:
//! - **WASI preview-1 commands**: `_start` reads the params JSON on stdin and writes the result
//!   JSON on stdout; stderr is the activation's log. `_start` runs once, so each run is a fresh
//!   instance ([`WasmEngine::run`]).
//! - **Components of Wisp's world** (`wit/wisp-function.wit`): `handle(params) -> result`, with
//!   the namespace's key-value store and data objects as imports ([`GuestState`], which the
//!   server implements over its stores) and a log. An [`Instance`] serves call after call
//!   ([`WasmEngine::instantiate_component`], [`Instance::handle`]).
//!
//! Guests see no files (no preopens), no sockets and only the environment the caller gives.
//!
//! This crate knows nothing of actions, activations, their records or the stores: it takes
//! bytes and limits and returns what the guest wrote and how it ended. The invoker turns that
//! into an outcome and decides which instances to keep.

mod artifact;
mod capture;
mod command;
mod component;
mod engine;
mod state_imports;
mod stop;
#[cfg(test)]
mod tests;
mod validate;

use std::time::Duration;

pub use component::{Call, Ended, Handled, Instance, InstanceSetup};
pub use engine::{Loaded, Program, WasmConfig, WasmEngine};
pub use state_imports::{GuestState, ObjectPage, StateError};

/// Why code cannot become a runnable program. The messages name what is wrong for the developer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WasmError {
    /// The bytes are not a module Wisp can run; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The engine or its artifact cache failed (not the developer's fault).
    #[error("the WebAssembly engine failed: {0}")]
    Engine(String),
}

/// One activation's run of a command.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The guest's stdin (the params JSON).
    pub stdin: Vec<u8>,
    /// `argv`, program name first.
    pub args: Vec<String>,
    /// The only environment the guest sees.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_bytes: u64,
    /// Bytes of stdout kept; the rest is counted and dropped.
    pub stdout_limit: usize,
    /// Bytes of stderr kept; the rest is counted and dropped.
    pub stderr_limit: usize,
}

/// How a run ended and what the guest wrote.
#[derive(Debug, Clone)]
pub struct Completion {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    /// Bytes written to stdout past `stdout_limit`.
    pub stdout_dropped: usize,
    pub stderr: Vec<u8>,
    /// Bytes written to stderr past `stderr_limit`.
    pub stderr_dropped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `_start` returned (0) or the guest called `proc_exit`.
    Code(i32),
    /// Stopped at the invocation's timeout.
    TimedOut,
    /// Tried to grow its memory past `memory_bytes`.
    OutOfMemory,
    /// A trap or a failed host call, with its message.
    Trap(String),
    /// The instance could not be created (the platform's fault, not the guest's).
    Failed(String),
}

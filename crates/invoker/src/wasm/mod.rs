//! The wasm family: `wasm` actions on the wasm engine (`crates/wasm`), no process.
//!
//! `command.rs` runs a WASI preview-1 command in a fresh instance, `component.rs` calls a
//! component of Wisp's world on a warm instance, and `instance_pool.rs` holds the engine's
//! instance slots and the warm instances idling in them.

mod command;
mod component;
mod instance_pool;

pub(crate) use command::{prepare, run, Wasm};
pub use component::FRESH_INSTANCE;

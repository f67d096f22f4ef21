//! The process family: Node.js and Python actions in sandboxed runtime processes.
//!
//! `pool.rs` keeps stem cells per kind and warm processes per action revision within a memory
//! budget; `run.rs` runs one activation on a leased process; `runtime_process.rs` starts and
//! drives one process (the only place in the invoker that starts processes), `demux.rs` routes
//! what it writes, `protocol.rs` is what is said on its pipes, `launcher.rs` the launchers it
//! runs and `code.rs` the action code they load.

mod code;
mod demux;
mod launcher;
mod pool;
mod protocol;
mod run;
mod runtime_process;

pub(crate) use pool::Inner;
pub use pool::Invoker;

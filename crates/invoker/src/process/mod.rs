//! The process family: Node.js and Python actions in sandboxed runtime processes.
//!
//! [`Pool`] (`pool.rs`) is the family's state: stem cells per kind and warm processes per action
//! revision within a memory budget, queueing and idle reaping. [`run`] (`run.rs`) runs one
//! activation on a leased process. `runtime_process.rs` starts and drives one process (the only
//! place in the invoker that starts processes), `demux.rs` routes what it writes,
//! `protocol.rs` is what is said on its pipes, `launcher.rs` the launchers it runs and `code.rs`
//! the action code they load.

mod code;
mod demux;
mod launcher;
mod pool;
mod protocol;
mod run;
mod runtime_process;

pub(crate) use pool::Pool;
pub(crate) use run::run;

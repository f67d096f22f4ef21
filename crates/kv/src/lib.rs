//! Wisp's key-value store: one keyspace per namespace, spoken to over RESP2 so that functions
//! using Nimbella's SDK (`__NIM_REDIS_IP`, `__NIM_REDIS_PASSWORD`, port 6379) or any Redis
//! client work unchanged.
//!
//! - [`resp`] parses requests and encodes replies; [`command`] turns a request into a typed
//!   [`Command`] (pure, with Redis's error texts).
//! - [`KvStore`] is what a backend implements, at the level of parsed commands;
//!   [`EmbeddedKv`] keeps the data in memory and in SQLite (`<dir>/kv.db`), [`RedisKv`] in a
//!   Redis that several servers share.
//! - [`server`] is the TCP endpoint: AUTH with a namespace's password ([`Passwords`]) selects
//!   the keyspace; connection commands (AUTH, SELECT, MULTI ...) are answered there.
//!
//! This crate knows nothing of the platform's entities or HTTP; the binary wires it in.

pub mod command;
mod counted;
mod db;
pub mod embedded;
pub mod glob;
pub mod keys;
mod passwords;
pub mod redis;
pub mod resp;
pub mod server;

pub use command::{Command, Refusal};
pub use counted::{Counted, Observer};
pub use embedded::{EmbeddedKv, KvConfig};
pub use keys::{Keys, KeysError};
pub use passwords::Passwords;
pub use redis::{RedisConfig, RedisKv};
pub use resp::{Bytes, Reply};
pub use server::{serve, ServerConfig};

pub use wisp_core::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv storage failure: {0}")]
    Backend(String),
    #[error("corrupt kv row: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for KvError {
    fn from(e: rusqlite::Error) -> Self {
        KvError::Backend(e.to_string())
    }
}

/// A key-value backend: one keyspace per namespace, driven by parsed data commands.
///
/// Every command is atomic, and its reply is sent only once its effect is durable. Errors a
/// client should see (WRONGTYPE, quota ...) are [`Reply::Error`]s, not Rust errors: a backend
/// failure is also reported to the client as a reply.
///
/// [`RedisKv`] maps onto this trait by prefixing every key with its namespace
/// (`wisp:{<namespace>}:<key>`, the braces keep a namespace on one cluster slot): reads are
/// sent as they are, and writes, KEYS, SCAN, DBSIZE and FLUSH run in one Lua script that
/// keeps a per-namespace index of keys and their byte counts beside the data (the quota, and
/// listings that never cross namespaces); [`KvStore::transaction`] and [`KvStore::swap`] are
/// one script call each. See `redis/mod.rs`.
pub trait KvStore: Send + Sync {
    /// Runs one command on `namespace`'s keyspace.
    ///
    /// Commands take their place in line when this is called, not when the future is first
    /// polled (as `ActivationStore::save_session` does): the server calls it for each command
    /// of a pipelined burst in order, then awaits the replies, so one commit can carry them.
    fn execute(&self, namespace: &str, command: Command) -> BoxFuture<'_, Reply>;

    /// Runs commands as one atomic unit (MULTI/EXEC): no other command sees a state between
    /// them. As in Redis, a command that fails does not undo the others; the reply is the
    /// array of their replies. Ordered at the call, as [`KvStore::execute`].
    fn transaction(&self, namespace: &str, commands: Vec<Command>) -> BoxFuture<'_, Reply>;

    /// Applies `swap.write` only if every key of `swap.expect` still holds the string given
    /// (`None`: absent), all in one atomic step: `Ok(true)` when written, `Ok(false)` (nothing
    /// written) when a key changed. Declared state commits through this (optimistic
    /// concurrency). A key of another type, a write past the quota or a backend failure is an
    /// `Err` with the reply a client would get, and nothing is written.
    fn swap(&self, namespace: &str, swap: Swap) -> BoxFuture<'_, Result<bool, Reply>>;
}

/// A compare-and-swap over string keys (see [`KvStore::swap`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swap {
    /// Each key and the value it must still hold (`None`: absent).
    pub expect: Vec<(Bytes, Option<Bytes>)>,
    /// Each key and its new value (`None`: delete). A written key keeps its expiry.
    pub write: Vec<(Bytes, Option<Bytes>)>,
}

/// A fresh directory under the system's temporary directory, for tests; removed when dropped.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wisp-kv-{name}-"))
        .tempdir()
        .unwrap()
}

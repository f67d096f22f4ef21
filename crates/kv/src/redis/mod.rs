//! The Redis backend: every namespace in one Redis (or one Redis Cluster slot each), for
//! servers that share their state.
//!
//! - Keys: namespace `ns`'s key `k` is `wisp:{ns}:k` (`rewrite.rs`), or `wisp:<cluster>:{ns}:k`
//!   for a cluster not named `wisp`; the braces are a hash tag, so a namespace's keys and its
//!   bookkeeping keys share one cluster slot.
//! - Reads go to Redis as they are and their replies come back unchanged; writes run inside
//!   one Lua script (`wisp.lua`, called as `scripts.rs` says) that keeps the quota's count,
//!   so a client sees Redis's own replies and error texts, plus `ERR quota exceeded: ...`.
//! - Bookkeeping beside the data: `wisp:{ns}#keys`, a hash of every key the namespace wrote
//!   to the bytes it was counted for (the embedded backend's measure: key plus value, plus
//!   each member, field and element), and `wisp:{ns}#used`, their sum. The count is exact for
//!   every command: a write's growth is known before it runs (SET, APPEND, SADD, HSET,
//!   pushes: the script checks members and fields first) or it is undone when past the quota
//!   (INCRBY, INCRBYFLOAT, HINCRBY), so nothing is ever half-written. A conditional SET
//!   (NX/XX) is checked as if it wrote. The index also answers KEYS, SCAN,
//!   DBSIZE and FLUSHDB/FLUSHALL, which therefore cost the namespace's size, not the whole
//!   Redis's, and never see another namespace. Keys written to Redis behind Wisp's back are
//!   readable but not listed.
//! - TTLs: Redis expires keys by itself and the script is not told. An expired key's bytes
//!   stay counted (and its name in the index) until the key is next written, listed (KEYS,
//!   SCAN, DBSIZE drop what is gone), or a write would go past the quota: the script then
//!   walks the index once and drops every key that is gone, at most once per 5 s per
//!   namespace. So a namespace is refused only when its live keys are at the limit, or keys
//!   expired in the last 5 s of a sweep.
//! - MULTI/EXEC ([`KvStore::transaction`]) is one script call running the commands in order:
//!   atomic, as Redis runs a script, with each command's quota checked as it runs.
//! - Ordering: a namespace's requests go down one upstream connection in the order they were
//!   handed over (`pool.rs`). Durability is Redis's own (its AOF and fsync settings).
//! - Limits: the script hands a command's arguments to Redis through Lua's stack, which holds
//!   fewer than 8,000; a write with more than [`MAX_SCRIPT_ARGS`] (an MSET of ~3,900 pairs)
//!   is refused with an error that says so. Reads have no such limit.

mod pool;
mod rewrite;
mod scripts;

use std::future::Future;
use std::sync::Arc;

use crate::command::Command;
use crate::resp::Reply;
use crate::{BoxFuture, KvError, KvStore, Swap};
use pool::{Pool, Target};
use rewrite::Plan;
use scripts::Call;

pub use rewrite::prefix;

/// Most arguments (the command's name included) of a command the script runs.
pub const MAX_SCRIPT_ARGS: usize = 7_900;

fn too_many_args(argv: &[crate::Bytes]) -> Option<Reply> {
    (argv.len() > MAX_SCRIPT_ARGS).then(|| {
        Reply::err(format!(
            "too many arguments for '{}' on the redis backend ({} at most)",
            String::from_utf8_lossy(&argv[0]).to_lowercase(),
            MAX_SCRIPT_ARGS
        ))
    })
}

/// The Redis backend's settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[[user]:password@]host[:port][/db]`.
    pub url: String,
    /// Bytes of keys and values one namespace may hold (as the embedded backend counts).
    pub quota_bytes: usize,
    /// Upstream connections; each namespace always uses the same one.
    pub connections: usize,
    /// What every key starts with: `wisp`, or `wisp:<cluster>` for a cluster of another name
    /// ([`RedisConfig::for_cluster`]), so clusters can share one Redis.
    pub root: String,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>, quota_bytes: usize) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            quota_bytes,
            connections: 4,
            root: DEFAULT_CLUSTER.to_owned(),
        }
    }

    /// The keys of cluster `cluster`: `wisp:{ns}:…` for the default cluster (`wisp`), as a
    /// lone server has always kept them, `wisp:<cluster>:{ns}:…` for any other.
    pub fn for_cluster(mut self, cluster: &str) -> RedisConfig {
        self.root = if cluster == DEFAULT_CLUSTER {
            DEFAULT_CLUSTER.to_owned()
        } else {
            format!("{DEFAULT_CLUSTER}:{cluster}")
        };
        self
    }
}

/// The name of a cluster no one named, and the root of its keys.
const DEFAULT_CLUSTER: &str = "wisp";

pub struct RedisKv {
    pool: Pool,
    sha: String,
    quota: usize,
    root: String,
}

impl RedisKv {
    /// Checks that Redis answers (and loads the script) before serving: a wrong URL is an
    /// error at start, not at the first command.
    pub async fn connect(config: RedisConfig) -> Result<Arc<RedisKv>, KvError> {
        let target = Target::parse(&config.url).map_err(KvError::Backend)?;
        let (_, sha) = pool::connect(&target, scripts::SOURCE)
            .await
            .map_err(|e| KvError::Backend(format!("{target}: {e}")))?;
        Ok(Arc::new(RedisKv {
            pool: Pool::start(target, scripts::SOURCE, config.connections),
            sha,
            quota: config.quota_bytes,
            root: config.root,
        }))
    }

    fn call<'a>(&'a self, namespace: &'a str) -> Call<'a> {
        Call {
            sha: &self.sha,
            root: &self.root,
            namespace,
            quota: self.quota,
        }
    }

    /// Queues `request` on the namespace's connection now; the future waits for the reply.
    fn send(&self, namespace: &str, request: Vec<u8>) -> impl Future<Output = Reply> + 'static {
        self.pool.send(namespace, request)
    }
}

fn bad_namespace(namespace: &str) -> Reply {
    Reply::err(format!("namespace '{namespace}' cannot be stored in redis"))
}

/// The first reply of a script's array of replies.
fn first(reply: Reply) -> Reply {
    match reply {
        Reply::Array(Some(mut items)) if !items.is_empty() => items.swap_remove(0),
        other => other,
    }
}

impl KvStore for RedisKv {
    fn execute(&self, namespace: &str, command: Command) -> BoxFuture<'_, Reply> {
        if !scripts::valid_namespace(namespace) {
            return Box::pin(std::future::ready(bad_namespace(namespace)));
        }
        match rewrite::plan(&prefix(&self.root, namespace), command) {
            Plan::Read(argv) => Box::pin(self.send(namespace, scripts::direct(&argv))),
            Plan::Script(argv) => {
                if let Some(refused) = too_many_args(&argv) {
                    return Box::pin(std::future::ready(refused));
                }
                let request = self.call(namespace).run(std::slice::from_ref(&argv));
                let reply = self.send(namespace, request);
                Box::pin(async move { rewrite::from_script(&argv, first(reply.await)) })
            }
        }
    }

    fn transaction(&self, namespace: &str, commands: Vec<Command>) -> BoxFuture<'_, Reply> {
        if !scripts::valid_namespace(namespace) {
            return Box::pin(std::future::ready(bad_namespace(namespace)));
        }
        let prefix = prefix(&self.root, namespace);
        let argvs: Vec<_> = commands
            .into_iter()
            .map(|command| match rewrite::plan(&prefix, command) {
                Plan::Read(argv) | Plan::Script(argv) => argv,
            })
            .collect();
        if let Some(refused) = argvs.iter().find_map(|argv| too_many_args(argv)) {
            // EXECABORT, as Redis answers a transaction it refused to start.
            let Reply::Error(text) = refused else {
                unreachable!("too_many_args builds an error")
            };
            return Box::pin(std::future::ready(Reply::Error(format!(
                "EXECABORT Transaction discarded because of: {}",
                text.trim_start_matches("ERR ")
            ))));
        }
        let reply = self.send(namespace, self.call(namespace).run(&argvs));
        Box::pin(async move {
            match reply.await {
                Reply::Array(Some(items)) => Reply::array(
                    argvs
                        .iter()
                        .zip(items)
                        .map(|(argv, item)| rewrite::from_script(argv, item)),
                ),
                // An empty transaction: Lua's empty table comes back as an empty array.
                other => other,
            }
        })
    }

    fn swap(&self, namespace: &str, swap: Swap) -> BoxFuture<'_, Result<bool, Reply>> {
        if !scripts::valid_namespace(namespace) {
            return Box::pin(std::future::ready(Err(bad_namespace(namespace))));
        }
        let reply = self.send(namespace, self.call(namespace).swap(&swap));
        Box::pin(async move {
            match reply.await {
                Reply::Integer(1) => Ok(true),
                Reply::Integer(0) => Ok(false),
                Reply::Error(e) => Err(Reply::Error(e)),
                other => Err(Reply::err(format!("unexpected swap reply {other:?}"))),
            }
        })
    }
}

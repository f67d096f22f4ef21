//! The embedded backend: every namespace's keys in memory, persisted to `<dir>/kv.db`.
//!
//! A command runs under one lock: it is applied to memory in a journaled [`keyspace::Tx`], its
//! row changes are numbered and queued to the writer thread (`persist.rs`) before the lock is
//! released, so the order on disk is the order of application. The command then waits, without
//! the lock, until the writer reports its number durable, and only then replies. A read waits
//! for the number current when it ran, so no client is ever shown a value that a crash could
//! take back.

mod collections;
mod keyspace;
mod persist;
mod strings;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use crate::command::{Command, Set, PERSISTENCE_FAILED, QUOTA_EXCEEDED};
use crate::resp::Reply;
use crate::{BoxFuture, KvError, KvStore, Swap};
use keyspace::{Keyspace, Tx};
use persist::{Batch, Durable, RowChange};

/// The embedded backend's settings.
#[derive(Debug, Clone)]
pub struct KvConfig {
    /// Bytes of keys and values one namespace may hold.
    pub quota_bytes: usize,
    /// How often expired keys are swept (they are also deleted when touched).
    pub sweep_every: Duration,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            quota_bytes: 32 << 20,
            sweep_every: Duration::from_secs(1),
        }
    }
}

pub struct EmbeddedKv {
    state: Mutex<State>,
    durable: watch::Receiver<Durable>,
    quota: usize,
}

struct State {
    spaces: HashMap<String, Keyspace>,
    writer: mpsc::UnboundedSender<Batch>,
    /// The number of the last batch queued.
    seq: u64,
}

impl EmbeddedKv {
    /// Opens `<dir>/kv.db` (creating it), loads every live key and starts the writer thread
    /// and the expiry sweep. Both end by themselves when the store is dropped.
    pub fn open(dir: &Path, config: KvConfig) -> Result<Arc<EmbeddedKv>, KvError> {
        let conn = persist::open(&dir.join(crate::db::FILE))?;
        let spaces = persist::load(&conn, now_ms())?;
        let (writer, durable) = persist::start_writer(conn)?;
        let kv = Arc::new(EmbeddedKv {
            state: Mutex::new(State {
                spaces,
                writer,
                seq: 0,
            }),
            durable,
            quota: config.quota_bytes,
        });
        let weak = Arc::downgrade(&kv);
        std::thread::Builder::new()
            .name("kv-expiry".into())
            .spawn(move || sweep_loop(weak, config.sweep_every))
            .map_err(|e| KvError::Backend(e.to_string()))?;
        Ok(kv)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `commands` in order under the lock and queues their row changes as one batch;
    /// returns the replies and the batch number to wait for.
    fn apply(&self, namespace: &str, commands: Vec<Command>, now: u64) -> (Vec<Reply>, u64) {
        let mut state = self.lock();
        let ks = state.spaces.entry(namespace.to_owned()).or_default();
        let mut rows = Vec::new();
        let replies = commands
            .into_iter()
            .map(|command| {
                if command == Command::Flush {
                    ks.clear();
                    rows.push(RowChange::Clear(namespace.to_owned()));
                    return Reply::ok();
                }
                let mut tx = Tx::new(ks, now);
                let reply = run(&mut tx, command);
                match tx.finish(self.quota) {
                    Ok(changes) => {
                        rows.extend(rows_of(namespace, changes));
                        reply
                    }
                    Err(would_use) => self.over_quota(namespace, would_use),
                }
            })
            .collect();
        if ks.len() == 0 {
            state.spaces.remove(namespace);
        }
        (replies, state.queue(rows))
    }

    /// Checks `swap.expect` and, when it holds, applies `swap.write`, in one journaled step
    /// under the lock; returns the verdict and the batch number to wait for.
    fn apply_swap(&self, namespace: &str, swap: Swap, now: u64) -> (Result<bool, Reply>, u64) {
        let mut state = self.lock();
        let ks = state.spaces.entry(namespace.to_owned()).or_default();
        let mut tx = Tx::new(ks, now);
        let mut verdict = Ok(true);
        for (key, expected) in &swap.expect {
            match tx.typed::<crate::Bytes>(key) {
                Ok(current) if current == expected.as_ref() => {}
                Ok(_) => verdict = Ok(false),
                Err(e) => verdict = Err(e),
            }
            if verdict != Ok(true) {
                break;
            }
        }
        if verdict == Ok(true) {
            for (key, value) in swap.write {
                match value {
                    // SET with KEEPTTL replaces a value of any type and cannot fail.
                    Some(value) => drop(strings::set(&mut tx, Set::keeping_ttl(key, value))),
                    None => drop(tx.remove(&key)),
                }
            }
        }
        let rows = match tx.finish(self.quota) {
            Ok(changes) => rows_of(namespace, changes),
            Err(would_use) => {
                verdict = Err(self.over_quota(namespace, would_use));
                Vec::new()
            }
        };
        if ks.len() == 0 {
            state.spaces.remove(namespace);
        }
        (verdict, state.queue(rows))
    }

    fn over_quota(&self, namespace: &str, would_use: usize) -> Reply {
        Reply::err(format!(
            "{QUOTA_EXCEEDED}: namespace '{namespace}' would hold {would_use} bytes, its limit \
             is {}",
            self.quota
        ))
    }

    /// Waits until batch `seq` is on disk.
    async fn durable(&self, seq: u64) -> Result<(), Reply> {
        let mut rx = self.durable.clone();
        let done = rx.wait_for(|d| d.seq >= seq || d.failed.is_some()).await;
        match done.as_deref() {
            Ok(Durable { failed: None, .. }) => Ok(()),
            Ok(Durable {
                failed: Some(e), ..
            }) => Err(Reply::err(format!("{PERSISTENCE_FAILED} failed: {e}"))),
            Err(_) => Err(Reply::err(format!("{PERSISTENCE_FAILED} stopped"))),
        }
    }

    /// Deletes every expired key, durably (queued like any command's changes).
    fn sweep(&self, now: u64) {
        let mut state = self.lock();
        let mut rows = Vec::new();
        for (namespace, ks) in state.spaces.iter_mut() {
            let mut tx = Tx::new(ks, now);
            for key in tx.keyspace().expired_keys(now) {
                tx.remove(&key);
            }
            let changes = tx.finish(usize::MAX).unwrap_or_default();
            rows.extend(
                changes
                    .into_iter()
                    .map(|(k, _)| RowChange::Delete(namespace.clone(), k)),
            );
        }
        state.spaces.retain(|_, ks| ks.len() > 0);
        state.queue(rows);
    }

    /// Bytes of keys and values the namespace holds (what the quota counts).
    pub fn used_bytes(&self, namespace: &str) -> usize {
        self.lock().spaces.get(namespace).map_or(0, Keyspace::used)
    }
}

impl State {
    /// Numbers `rows` as the next batch and queues it to the writer; returns the number a
    /// reply must wait for (with no rows, the last one queued: a read waits for what it may
    /// have seen).
    fn queue(&mut self, rows: Vec<RowChange>) -> u64 {
        if !rows.is_empty() {
            self.seq += 1;
            // A closed channel means the writer is gone; `durable` reports it.
            let _ = self.writer.send(Batch {
                seq: self.seq,
                changes: rows,
            });
        }
        self.seq
    }
}

/// The rows to write for a command's changes.
fn rows_of(namespace: &str, changes: keyspace::Changes) -> Vec<RowChange> {
    changes
        .into_iter()
        .map(|(key, entry)| match entry {
            Some(e) => RowChange::Put(namespace.to_owned(), key, e),
            None => RowChange::Delete(namespace.to_owned(), key),
        })
        .collect()
}

fn sweep_loop(kv: Weak<EmbeddedKv>, every: Duration) {
    loop {
        std::thread::sleep(every);
        match kv.upgrade() {
            Some(kv) => kv.sweep(now_ms()),
            None => return,
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl KvStore for EmbeddedKv {
    fn execute(&self, namespace: &str, command: Command) -> BoxFuture<'_, Reply> {
        // Applied now, under the lock; the future only waits for the commit.
        let (mut replies, seq) = self.apply(namespace, vec![command], now_ms());
        Box::pin(async move {
            match self.durable(seq).await {
                Ok(()) => replies.pop().unwrap_or_else(Reply::nil),
                Err(e) => e,
            }
        })
    }

    fn transaction(&self, namespace: &str, commands: Vec<Command>) -> BoxFuture<'_, Reply> {
        let (replies, seq) = self.apply(namespace, commands, now_ms());
        Box::pin(async move {
            match self.durable(seq).await {
                Ok(()) => Reply::array(replies),
                Err(e) => e,
            }
        })
    }

    fn swap(&self, namespace: &str, swap: Swap) -> BoxFuture<'_, Result<bool, Reply>> {
        let (verdict, seq) = self.apply_swap(namespace, swap, now_ms());
        Box::pin(async move {
            self.durable(seq).await?;
            verdict
        })
    }
}

/// Runs one data command (other than FLUSH, which `apply` handles).
fn run(tx: &mut Tx, command: Command) -> Reply {
    use collections as c;
    use strings as s;
    match command {
        Command::Get(k) => s::get(tx, &k),
        Command::Set(set) => s::set(tx, set),
        Command::SetNx(k, v) => s::setnx(tx, k, v),
        Command::GetSet(k, v) => s::getset(tx, k, v),
        Command::MGet(keys) => s::mget(tx, keys),
        Command::MSet(pairs) => s::mset(tx, pairs),
        Command::IncrBy(k, by) => s::incr_by(tx, &k, by),
        Command::IncrByFloat(k, by) => s::incr_by_float(tx, &k, by),
        Command::Append(k, v) => s::append(tx, &k, v),
        Command::Strlen(k) => s::strlen(tx, &k),
        Command::Del(keys) => s::del(tx, keys),
        Command::Exists(keys) => s::exists(tx, keys),
        Command::Expire(k, ms, name) => s::expire(tx, &k, ms, name),
        Command::Ttl(k, millis) => s::ttl(tx, &k, millis),
        Command::Persist(k) => s::persist(tx, &k),
        Command::Type(k) => s::type_of(tx, &k),
        Command::Keys(pattern) => s::keys(tx, &pattern),
        Command::Scan {
            cursor,
            pattern,
            count,
        } => s::scan(tx, cursor, pattern.as_deref(), count),
        Command::DbSize => Reply::Integer(tx.keyspace().live(tx.now).count() as i64),
        Command::Flush => Reply::err("FLUSH is applied by the store"),
        Command::SAdd(k, members) => c::sadd(tx, &k, members),
        Command::SRem(k, members) => c::srem(tx, &k, members),
        Command::SMembers(k) => c::smembers(tx, &k),
        Command::SIsMember(k, m) => c::sismember(tx, &k, &m),
        Command::SCard(k) => c::scard(tx, &k),
        Command::Push { key, left, values } => c::push(tx, &key, left, values),
        Command::Pop { key, left, count } => c::pop(tx, &key, left, count),
        Command::LRange(k, start, stop) => c::lrange(tx, &k, start, stop),
        Command::LLen(k) => c::llen(tx, &k),
        Command::LIndex(k, i) => c::lindex(tx, &k, i),
        Command::LRem(k, count, v) => c::lrem(tx, &k, count, &v),
        Command::HSet { key, pairs, hmset } => c::hset(tx, &key, pairs, hmset),
        Command::HGet(k, f) => c::hget(tx, &k, &f),
        Command::HMGet(k, fields) => c::hmget(tx, &k, fields),
        Command::HGetAll(k) => c::hgetall(tx, &k),
        Command::HDel(k, fields) => c::hdel(tx, &k, fields),
        Command::HExists(k, f) => c::hexists(tx, &k, &f),
        Command::HKeys(k) => c::hkeys(tx, &k),
        Command::HVals(k) => c::hvals(tx, &k),
        Command::HLen(k) => c::hlen(tx, &k),
        Command::HIncrBy(k, f, by) => c::hincrby(tx, &k, f, by),
    }
}

#[cfg(test)]
mod tests;

//! `kv.db`: one row per key, written by one thread that group-commits whatever is queued.
//!
//! Commands send their row changes here in the order they were applied (the send happens under
//! the keyspace lock). The writer takes everything queued, commits it in one transaction and
//! then publishes the highest sequence number that is durable; a command replies once its own
//! number is durable. WAL with `synchronous=NORMAL`, as `activations.db`: a commit survives the
//! process being killed; only a power loss can take the last commits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use rusqlite::{params, Connection};
use tokio::sync::{mpsc, watch};

use super::keyspace::{Entry, Keyspace, Value};
use crate::resp::Bytes;
use crate::KvError;

/// Most queued batches one transaction carries.
const MAX_BATCH: usize = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    namespace  TEXT    NOT NULL,
    key        BLOB    NOT NULL,
    type       TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
";

/// One row change.
#[derive(Debug)]
pub enum RowChange {
    Put(String, Bytes, Entry),
    Delete(String, Bytes),
    /// FLUSHALL: every row of the namespace.
    Clear(String),
}

/// The row changes of one command (or transaction), numbered in apply order.
pub struct Batch {
    pub seq: u64,
    pub changes: Vec<RowChange>,
}

/// What is on disk: every batch up to `seq`; `failed` once a commit has failed (from then on
/// memory and disk may differ, so the store refuses to acknowledge anything more).
#[derive(Debug, Clone, Default)]
pub struct Durable {
    pub seq: u64,
    pub failed: Option<String>,
}

/// The writer's connection to `kv.db`.
pub fn open(path: &Path) -> Result<Connection, KvError> {
    crate::db::open(path, "NORMAL", SCHEMA)
}

/// Reads every live key, deleting the rows of keys that expired while the store was closed.
pub fn load(conn: &Connection, now: u64) -> Result<HashMap<String, Keyspace>, KvError> {
    conn.execute("DELETE FROM kv WHERE expires_at <= ?1", [now as i64])?;
    let mut stmt = conn.prepare("SELECT namespace, key, type, value, expires_at FROM kv")?;
    let mut rows = stmt.query([])?;
    let mut spaces: HashMap<String, Keyspace> = HashMap::new();
    while let Some(row) = rows.next()? {
        let namespace: String = row.get(0)?;
        let key: Bytes = row.get(1)?;
        let kind: String = row.get(2)?;
        let blob: Bytes = row.get(3)?;
        let expires_at: Option<i64> = row.get(4)?;
        let value = decode(&kind, &blob)
            .ok_or_else(|| KvError::Corrupt(format!("key {:?} in {namespace}", key)))?;
        let entry = Entry::new(value, expires_at.map(|at| at as u64));
        spaces.entry(namespace).or_default().load(key, entry);
    }
    Ok(spaces)
}

/// Starts the writer thread; it ends when every sender is dropped, after committing what was
/// queued.
pub fn start_writer(
    conn: Connection,
) -> Result<(mpsc::UnboundedSender<Batch>, watch::Receiver<Durable>), KvError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (durable_tx, durable_rx) = watch::channel(Durable::default());
    std::thread::Builder::new()
        .name("kv-writer".into())
        .spawn(move || run_writer(conn, rx, durable_tx))
        .map_err(|e| KvError::Backend(e.to_string()))?;
    Ok((tx, durable_rx))
}

fn run_writer(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Batch>,
    durable: watch::Sender<Durable>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(b) => batch.push(b),
                Err(_) => break,
            }
        }
        let last = batch.last().map_or(0, |b| b.seq);
        let outcome = commit(&mut conn, &batch);
        durable.send_modify(|d| {
            d.seq = last;
            if let Err(e) = outcome {
                tracing::error!(error = %e, "kv commit failed; the store refuses writes from now on");
                d.failed.get_or_insert(e.to_string());
            }
        });
    }
}

fn commit(conn: &mut Connection, batch: &[Batch]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for change in batch.iter().flat_map(|b| &b.changes) {
        match change {
            RowChange::Put(ns, key, entry) => {
                let (kind, blob) = encode(&entry.value);
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO kv (namespace, key, type, value, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    ns,
                    key,
                    kind,
                    blob,
                    entry.expires_at.map(|at| at as i64)
                ])?;
            }
            RowChange::Delete(ns, key) => {
                tx.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")?
                    .execute(params![ns, key])?;
            }
            RowChange::Clear(ns) => {
                tx.execute("DELETE FROM kv WHERE namespace = ?1", [ns])?;
            }
        }
    }
    tx.commit()
}

/// A value as (type, blob): a string as itself; a collection as its elements (a hash: field,
/// value, field, value ...), each a 4-byte little-endian length then the bytes.
fn encode(value: &Value) -> (&'static str, Bytes) {
    fn elements<'a>(items: impl Iterator<Item = &'a Bytes>) -> Bytes {
        let mut out = Vec::new();
        for item in items {
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item);
        }
        out
    }
    let blob = match value {
        Value::Str(s) => s.clone(),
        Value::List(l) => elements(l.iter()),
        Value::Set(s) => elements(s.iter()),
        Value::Hash(h) => elements(h.iter().flat_map(|(f, v)| [f, v])),
    };
    (value.type_name(), blob)
}

fn decode(kind: &str, blob: &[u8]) -> Option<Value> {
    fn elements(mut blob: &[u8]) -> Option<Vec<Bytes>> {
        let mut items = Vec::new();
        while !blob.is_empty() {
            let len = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
            items.push(blob.get(4..4 + len)?.to_vec());
            blob = &blob[4 + len..];
        }
        Some(items)
    }
    Some(match kind {
        "string" => Value::Str(blob.to_vec()),
        "list" => Value::List(elements(blob)?.into_iter().collect::<VecDeque<_>>()),
        "set" => Value::Set(elements(blob)?.into_iter().collect::<HashSet<_>>()),
        "hash" => {
            let items = elements(blob)?;
            if items.len() % 2 != 0 {
                return None;
            }
            let mut it = items.into_iter();
            Value::Hash(std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_blob() {
        let values = [
            Value::Str(b"a\0b".to_vec()),
            Value::List([b"x".to_vec(), Vec::new(), b"yz".to_vec()].into()),
            Value::Set([b"m".to_vec(), b"n".to_vec()].into()),
            Value::Hash([(b"f".to_vec(), b"v".to_vec()), (Vec::new(), b"".to_vec())].into()),
        ];
        for value in values {
            let (kind, blob) = encode(&value);
            assert_eq!(decode(kind, &blob), Some(value));
        }
        assert_eq!(decode("list", &[9, 0, 0, 0, b'a']), None);
        assert_eq!(decode("zset", b""), None);
    }
}

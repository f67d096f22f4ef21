//! `ActivationStore` on `activations.db`: one writer thread that group-commits, and a reader
//! connection.
//!
//! Every write is a message to the writer; the writer takes everything queued, commits it in
//! one transaction and then answers each message. Under load one commit carries many records,
//! so the cost of a commit is shared instead of paid per activation.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};
use wisp_core::{Activation, ActivationId};

use super::{open_connection, schema};
use crate::{from_json, to_json, ActivationQuery, ActivationStore, BoxFuture, Result, StoreError};

/// Most operations one transaction carries.
const MAX_BATCH: usize = 1024;

enum WriteOp {
    Accept(Activation),
    Session(ActivationId, String),
    Complete(Activation),
    Prune(u64),
    Flush,
}

type Ack = oneshot::Sender<Result<u64>>;

pub struct SqliteActivations {
    writer: mpsc::UnboundedSender<(WriteOp, Ack)>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteActivations {
    pub(super) fn open(path: &Path) -> Result<SqliteActivations> {
        // NORMAL in WAL mode: a commit survives the process being killed; only a power loss can
        // take the last commits, which is the trade every WAL database makes for throughput.
        let writer = open_connection(path, "NORMAL")?;
        let reader = open_connection(path, "NORMAL")?;
        SqliteActivations::start(Arc::new(Mutex::new(writer)), Arc::new(Mutex::new(reader)))
    }

    /// Migrates the database behind `writer` and starts the writer thread on it. `reader`
    /// may be the same connection (an in-memory database has only one).
    pub(super) fn start(
        writer: Arc<Mutex<Connection>>,
        reader: Arc<Mutex<Connection>>,
    ) -> Result<SqliteActivations> {
        schema::migrate(&lock(&writer), schema::ACTIVATION_MIGRATIONS)?;
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("activation-writer".into())
            .spawn(move || run_writer(&writer, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(SqliteActivations { writer: tx, reader })
    }

    async fn write(&self, op: WriteOp) -> Result<u64> {
        let (ack, done) = oneshot::channel();
        self.writer
            .send((op, ack))
            .map_err(|_| StoreError::Backend("activation writer stopped".into()))?;
        done.await
            .map_err(|_| StoreError::Backend("activation writer stopped".into()))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&lock(&conn)))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

fn run_writer(conn: &Mutex<Connection>, mut rx: mpsc::UnboundedReceiver<(WriteOp, Ack)>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = apply_batch(&mut lock(conn), &batch);
        for (index, (_, ack)) in batch.into_iter().enumerate() {
            let reply = match &outcome {
                Ok(counts) => Ok(counts[index]),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            };
            let _ = ack.send(reply);
        }
    }
}

fn apply_batch(conn: &mut Connection, batch: &[(WriteOp, Ack)]) -> Result<Vec<u64>> {
    let tx = conn.transaction()?;
    let mut counts = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        let n = match op {
            WriteOp::Accept(a) => {
                tx.prepare_cached("INSERT OR REPLACE INTO pending (id, doc) VALUES (?1, ?2)")?
                    .execute(params![a.activation_id.as_str(), to_json(a)?])?;
                1
            }
            WriteOp::Session(id, doc) => {
                tx.prepare_cached("INSERT OR REPLACE INTO sessions (id, doc) VALUES (?1, ?2)")?
                    .execute(params![id.as_str(), doc])?;
                1
            }
            WriteOp::Complete(a) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO activations (id, namespace, name, start, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    a.activation_id.as_str(),
                    a.namespace,
                    a.local_path(),
                    a.start as i64,
                    to_json(a)?
                ])?;
                // Statements are cached: this runs for every activation.
                tx.prepare_cached("DELETE FROM pending WHERE id = ?1")?
                    .execute([a.activation_id.as_str()])?;
                tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                    .execute([a.activation_id.as_str()])?;
                1
            }
            WriteOp::Prune(before) => {
                tx.execute("DELETE FROM activations WHERE start < ?1", [*before as i64])? as u64
            }
            WriteOp::Flush => 0,
        };
        counts.push(n);
    }
    tx.commit()?;
    Ok(counts)
}

impl ActivationStore for SqliteActivations {
    fn accept(&self, pending: Activation) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.write(WriteOp::Accept(pending)).await.map(drop) })
    }

    fn save_session(&self, id: ActivationId, doc: String) -> BoxFuture<'_, Result<()>> {
        // Sent now, not on first poll: the order of saves is the order of calls.
        let (ack, done) = oneshot::channel();
        let sent = self.writer.send((WriteOp::Session(id, doc), ack));
        Box::pin(async move {
            sent.map_err(|_| StoreError::Backend("activation writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Backend("activation writer stopped".into()))?
                .map(drop)
        })
    }

    fn sessions(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(self.read(|conn| {
            let mut stmt = conn.prepare("SELECT doc FROM sessions")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.map(|doc| Ok(doc?)).collect()
        }))
    }

    fn complete(&self, activation: Activation) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.write(WriteOp::Complete(activation)).await.map(drop) })
    }

    fn get(
        &self,
        namespace: String,
        id: ActivationId,
    ) -> BoxFuture<'_, Result<Option<Activation>>> {
        Box::pin(self.read(move |conn| {
            let doc: Option<String> = conn
                .query_row(
                    "SELECT doc FROM activations WHERE id = ?1 AND namespace = ?2",
                    params![id.as_str(), namespace],
                    |row| row.get(0),
                )
                .optional()?;
            doc.map(|d| from_json(&d)).transpose()
        }))
    }

    fn list(&self, query: ActivationQuery) -> BoxFuture<'_, Result<Vec<Activation>>> {
        Box::pin(self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT doc FROM activations
                 WHERE namespace = ?1 AND (?2 IS NULL OR name = ?2)
                   AND (?3 IS NULL OR start >= ?3) AND (?4 IS NULL OR start <= ?4)
                 ORDER BY start DESC, rowid DESC LIMIT ?5 OFFSET ?6",
            )?;
            let rows = stmt.query_map(
                params![
                    query.namespace,
                    query.name,
                    query.since.map(|v| v as i64),
                    query.upto.map(|v| v as i64),
                    query.limit as i64,
                    query.skip as i64
                ],
                |row| row.get::<_, String>(0),
            )?;
            rows.map(|doc| from_json(&doc?)).collect()
        }))
    }

    fn count(&self, query: ActivationQuery) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.read(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM (SELECT 1 FROM activations
                 WHERE namespace = ?1 AND (?2 IS NULL OR name = ?2)
                   AND (?3 IS NULL OR start >= ?3) AND (?4 IS NULL OR start <= ?4)
                 LIMIT -1 OFFSET ?5)",
                params![
                    query.namespace,
                    query.name,
                    query.since.map(|v| v as i64),
                    query.upto.map(|v| v as i64),
                    query.skip as i64
                ],
                |row| row.get(0),
            )?;
            Ok(n as u64)
        }))
    }

    fn take_orphans(&self) -> BoxFuture<'_, Result<Vec<Activation>>> {
        Box::pin(self.read(|conn| {
            let mut stmt = conn.prepare("SELECT doc FROM pending")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.map(|doc| from_json(&doc?)).collect()
        }))
    }

    /// One server owns a SQLite store.
    fn other_owners(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn adopt(&self, _owner: String) -> BoxFuture<'_, Result<crate::Adopted>> {
        Box::pin(async { Ok(crate::Adopted::default()) })
    }

    fn prune(&self, before_ms: u64) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.write(WriteOp::Prune(before_ms)))
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.write(WriteOp::Flush).await.map(drop) })
    }
}

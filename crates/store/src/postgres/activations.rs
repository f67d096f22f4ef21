//! `ActivationStore` on PostgreSQL: one writer task that group-commits, reads on the pool.
//!
//! As in the SQLite store, every write is a message to the writer; the writer takes
//! everything queued, commits it in one transaction and then answers each message, so under
//! load one commit (one fsync on the server) carries many records. The batch is written as
//! its net effect with one statement per table (`batch.rs`), not one round trip per write.
//!
//! Pending markers and sessions carry this store's owner id: `take_orphans` and `sessions`
//! read only the owner's own, because in a cluster the others' belong to controllers that
//! are running them now. A controller started again with its id takes its own back; one that
//! is gone for good has them adopted (`adopt`) by a live one.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};
use wisp_core::{Activation, ActivationId};

use super::batch::{Columns, Net, Op, Record};
use super::column;
use crate::{
    from_json, to_json, ActivationQuery, ActivationStore, Adopted, BoxFuture, Result, StoreError,
};

/// Most writes one transaction carries.
const MAX_BATCH: usize = 1024;

/// Times a batch is tried when the connection fails or the server aborts it: its writes are
/// upserts and deletes by id, so a try that did commit is harmless to repeat.
const ATTEMPTS: u32 = 3;

type Ack = oneshot::Sender<Result<()>>;

pub struct PostgresActivations {
    writer: mpsc::UnboundedSender<(Op, Ack)>,
    pool: PgPool,
    owner: Arc<str>,
}

impl PostgresActivations {
    /// Starts the writer task (on the current tokio runtime); it ends with the last handle.
    pub(super) fn start(pool: PgPool, owner: &str) -> PostgresActivations {
        let owner: Arc<str> = owner.into();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_writer(pool.clone(), owner.clone(), rx));
        PostgresActivations {
            writer: tx,
            pool,
            owner,
        }
    }

    /// Queues `op` now; the future resolves when it is committed.
    fn send(&self, op: Op) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let (ack, done) = oneshot::channel();
        let sent = self.writer.send((op, ack));
        async move {
            sent.map_err(|_| stopped())?;
            done.await.map_err(|_| stopped())?
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("activation writer stopped".into())
}

async fn run_writer(pool: PgPool, owner: Arc<str>, mut rx: mpsc::UnboundedReceiver<(Op, Ack)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let columns = Net::of(batch.iter().map(|(op, _)| op)).into_columns();
        let mut attempt = 1;
        let outcome = loop {
            match commit(&pool, &owner, &columns).await {
                Err(e) if attempt < ATTEMPTS && transient(&e) => {
                    tracing::warn!(error = %e, attempt, "activation batch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        for (_, ack) in batch {
            let reply = match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            };
            let _ = ack.send(reply);
        }
    }
}

/// A failure that may pass: the connection's, or a deadlock or serialization failure the
/// server rolled back.
fn transient(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) || super::retryable(e)
}

/// Writes one batch in one transaction, a statement per table and kind (none for an empty
/// array).
async fn commit(pool: &PgPool, owner: &str, columns: &Columns) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let records = &columns.records;
    if !records.ids.is_empty() {
        // A replaced record takes a new `seq`, as a replaced row takes a new rowid in SQLite.
        sqlx::query(
            "INSERT INTO activations (id, namespace, name, start, doc)
             SELECT id, namespace, name, start, doc
             FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[])
                 WITH ORDINALITY AS r (id, namespace, name, start, doc, n)
             ORDER BY n
             ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace,
                 name = EXCLUDED.name, start = EXCLUDED.start, doc = EXCLUDED.doc,
                 seq = DEFAULT",
        )
        .bind(&records.ids)
        .bind(&records.namespaces)
        .bind(&records.names)
        .bind(&records.starts)
        .bind(&records.docs)
        .execute(&mut *tx)
        .await?;
    }
    // A finished activation's marker goes whichever controller wrote it.
    let statements: [(&Vec<String>, &'static str); 2] = [
        (
            &columns.pending.delete_ids,
            "DELETE FROM pending WHERE id = ANY($1)",
        ),
        (
            &columns.sessions.delete_ids,
            "DELETE FROM sessions WHERE id = ANY($1)",
        ),
    ];
    for (ids, sql) in statements {
        if !ids.is_empty() {
            sqlx::query(sql).bind(ids).execute(&mut *tx).await?;
        }
    }
    let upserts: [(&super::batch::Split, &'static str); 2] = [
        (
            &columns.pending,
            "INSERT INTO pending (id, owner, doc)
             SELECT id, $3, doc FROM unnest($1::text[], $2::text[]) AS p (id, doc)
             ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, doc = EXCLUDED.doc",
        ),
        (
            &columns.sessions,
            "INSERT INTO sessions (id, owner, doc)
             SELECT id, $3, doc FROM unnest($1::text[], $2::text[]) AS s (id, doc)
             ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, doc = EXCLUDED.doc",
        ),
    ];
    for (split, sql) in upserts {
        if !split.upsert_ids.is_empty() {
            sqlx::query(sql)
                .bind(&split.upsert_ids)
                .bind(&split.upsert_docs)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A listing's filters, bound in order: the namespace, the name when it is given, then the
/// start window (whole when open) — always bound, so each statement has one plan, which
/// reads its index in order.
fn bind_filters<'q>(statement: Query<'q>, query: &ActivationQuery) -> Query<'q> {
    let statement = statement.bind(query.namespace.clone());
    let statement = match &query.name {
        Some(name) => statement.bind(name.clone()),
        None => statement,
    };
    statement
        .bind(query.since.map_or(0, column))
        .bind(query.upto.map_or(i64::MAX, column))
}

/// `list` without and with a name; skip and limit follow the filters.
const LIST: &str = "SELECT doc FROM activations
     WHERE namespace = $1 AND start BETWEEN $2 AND $3
     ORDER BY start DESC, seq DESC OFFSET $4 LIMIT $5";
const LIST_NAMED: &str = "SELECT doc FROM activations
     WHERE namespace = $1 AND name = $2 AND start BETWEEN $3 AND $4
     ORDER BY start DESC, seq DESC OFFSET $5 LIMIT $6";
/// `count` of the records past the skipped ones, as the SQLite store counts.
const COUNT: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM activations
     WHERE namespace = $1 AND start BETWEEN $2 AND $3 OFFSET $4) AS listed";
const COUNT_NAMED: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM activations
     WHERE namespace = $1 AND name = $2 AND start BETWEEN $3 AND $4 OFFSET $5) AS listed";

impl ActivationStore for PostgresActivations {
    fn accept(&self, pending: Activation) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let op = Op::Accept {
                id: pending.activation_id.as_str().to_string(),
                doc: to_json(&pending)?,
            };
            self.send(op).await
        })
    }

    fn save_session(&self, id: ActivationId, doc: String) -> BoxFuture<'_, Result<()>> {
        // Sent now, not on first poll: the order of saves is the order of calls.
        Box::pin(self.send(Op::Session {
            id: id.as_str().to_string(),
            doc,
        }))
    }

    fn sessions(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT doc FROM sessions WHERE owner = $1")
                    .bind(&*self.owner)
                    .fetch_all(&self.pool)
                    .await?,
            )
        })
    }

    fn complete(&self, activation: Activation) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let record = Record {
                id: activation.activation_id.as_str().to_string(),
                namespace: activation.namespace.clone(),
                name: activation.local_path(),
                start: column(activation.start),
                doc: to_json(&activation)?,
            };
            self.send(Op::Complete(record)).await
        })
    }

    fn get(
        &self,
        namespace: String,
        id: ActivationId,
    ) -> BoxFuture<'_, Result<Option<Activation>>> {
        Box::pin(async move {
            let doc: Option<String> =
                sqlx::query_scalar("SELECT doc FROM activations WHERE id = $1 AND namespace = $2")
                    .bind(id.as_str())
                    .bind(namespace)
                    .fetch_optional(&self.pool)
                    .await?;
            doc.map(|d| from_json(&d)).transpose()
        })
    }

    fn list(&self, query: ActivationQuery) -> BoxFuture<'_, Result<Vec<Activation>>> {
        Box::pin(async move {
            let sql = if query.name.is_some() {
                LIST_NAMED
            } else {
                LIST
            };
            let docs: Vec<String> = bind_filters(sqlx::query(sql), &query)
                .bind(column(query.skip))
                .bind(column(query.limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<sqlx::Result<_>>()?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
    }

    fn count(&self, query: ActivationQuery) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let sql = if query.name.is_some() {
                COUNT_NAMED
            } else {
                COUNT
            };
            let n: i64 = bind_filters(sqlx::query(sql), &query)
                .bind(column(query.skip))
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            Ok(n as u64)
        })
    }

    fn take_orphans(&self) -> BoxFuture<'_, Result<Vec<Activation>>> {
        Box::pin(async move {
            let docs: Vec<String> = sqlx::query_scalar("SELECT doc FROM pending WHERE owner = $1")
                .bind(&*self.owner)
                .fetch_all(&self.pool)
                .await?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
    }

    fn other_owners(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT owner FROM pending WHERE owner <> $1
                 UNION SELECT owner FROM sessions WHERE owner <> $1",
            )
            .bind(&*self.owner)
            .fetch_all(&self.pool)
            .await?)
        })
    }

    fn adopt(&self, owner: String) -> BoxFuture<'_, Result<Adopted>> {
        Box::pin(async move {
            // Row locks make concurrent takers queue; the first takes the rows, the others
            // find them owned by it and take nothing.
            let mut tx = self.pool.begin().await?;
            let orphans: Vec<String> =
                sqlx::query_scalar("UPDATE pending SET owner = $1 WHERE owner = $2 RETURNING doc")
                    .bind(&*self.owner)
                    .bind(&owner)
                    .fetch_all(&mut *tx)
                    .await?;
            let sessions: Vec<String> =
                sqlx::query_scalar("UPDATE sessions SET owner = $1 WHERE owner = $2 RETURNING doc")
                    .bind(&*self.owner)
                    .bind(&owner)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(Adopted {
                orphans: orphans
                    .iter()
                    .map(|doc| from_json(doc))
                    .collect::<Result<_>>()?,
                sessions,
            })
        })
    }

    fn prune(&self, before_ms: u64) -> BoxFuture<'_, Result<u64>> {
        // Not through the writer: a large delete must not hold up the records being written,
        // and PostgreSQL lets both run at once.
        Box::pin(async move {
            Ok(sqlx::query("DELETE FROM activations WHERE start < $1")
                .bind(column(before_ms))
                .execute(&self.pool)
                .await?
                .rows_affected())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.send(Op::Flush))
    }
}

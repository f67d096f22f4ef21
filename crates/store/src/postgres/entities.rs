//! `EntityStore` on PostgreSQL: the SQLite store's queries, with the row locks and retries
//! that writers on several connections (and controllers) need.
//!
//! `apply` reads each row it writes `FOR UPDATE`, so a read-modify-write sees the version it
//! replaces; a create races another create with `ON CONFLICT DO NOTHING` and decides again on
//! what the winner wrote. A batch that deadlocks with another is retried whole.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use wisp_core::{Collection, EntityName, EntityPath, NamespaceLimits};

use super::{column, retryable, PostgresStore};
use crate::{
    BoxFuture, EntityStore, Expect, FeedRecord, KeyRecord, Page, Result, StoreError, Write,
};

/// Times a batch is tried when PostgreSQL aborts it for a deadlock or a serialization failure.
const ATTEMPTS: usize = 5;

impl EntityStore for PostgresStore {
    fn find_key(&self, uuid: String) -> BoxFuture<'_, Result<Option<KeyRecord>>> {
        Box::pin(async move {
            sqlx::query("SELECT uuid, key_sha256, namespace, subject FROM keys WHERE uuid = $1")
                .bind(uuid)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| key_from_row(&row))
                .transpose()
        })
    }

    fn put_key(&self, key: KeyRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO keys (uuid, key_sha256, namespace, subject) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (uuid) DO UPDATE SET key_sha256 = EXCLUDED.key_sha256,
                     namespace = EXCLUDED.namespace, subject = EXCLUDED.subject",
            )
            .bind(key.uuid)
            .bind(key.key_sha256)
            .bind(key.namespace.as_str())
            .bind(key.subject)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<KeyRecord>>> {
        Box::pin(async move {
            sqlx::query(
                "SELECT uuid, key_sha256, namespace, subject FROM keys ORDER BY namespace, uuid",
            )
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
        })
    }

    fn delete_namespace(&self, namespace: EntityName) -> BoxFuture<'_, Result<usize>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let keys = sqlx::query("DELETE FROM keys WHERE namespace = $1")
                .bind(namespace.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Everything else a namespace owns goes with its keys.
            for delete in [
                "DELETE FROM entities WHERE namespace = $1",
                "DELETE FROM namespace_limits WHERE namespace = $1",
                "DELETE FROM feeds WHERE namespace = $1",
            ] {
                sqlx::query(delete)
                    .bind(namespace.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(keys as usize)
        })
    }

    fn get_limits(&self, namespace: EntityName) -> BoxFuture<'_, Result<NamespaceLimits>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT invocations_per_minute, concurrent_invocations, fires_per_minute
                 FROM namespace_limits WHERE namespace = $1",
            )
            .bind(namespace.as_str())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Ok(NamespaceLimits::default());
            };
            Ok(NamespaceLimits {
                invocations_per_minute: count(row.try_get(0)?),
                concurrent_invocations: count(row.try_get(1)?),
                fires_per_minute: count(row.try_get(2)?),
            })
        })
    }

    fn put_limits(
        &self,
        namespace: EntityName,
        limits: NamespaceLimits,
    ) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if limits.is_empty() {
                sqlx::query("DELETE FROM namespace_limits WHERE namespace = $1")
                    .bind(namespace.as_str())
                    .execute(&self.pool)
                    .await?;
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO namespace_limits
                     (namespace, invocations_per_minute, concurrent_invocations, fires_per_minute)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (namespace) DO UPDATE SET
                     invocations_per_minute = EXCLUDED.invocations_per_minute,
                     concurrent_invocations = EXCLUDED.concurrent_invocations,
                     fires_per_minute = EXCLUDED.fires_per_minute",
            )
            .bind(namespace.as_str())
            .bind(limits.invocations_per_minute.map(column))
            .bind(limits.concurrent_invocations.map(column))
            .bind(limits.fires_per_minute.map(column))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn get(
        &self,
        collection: Collection,
        path: EntityPath,
    ) -> BoxFuture<'_, Result<Option<String>>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT doc FROM entities WHERE namespace = $1 AND name = $2 AND collection = $3",
            )
            .bind(path.namespace.as_str())
            .bind(path.local())
            .bind(collection.as_str())
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
    }

    fn list(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT doc FROM entities
                 WHERE namespace = $1 AND collection = $2 AND ($3::text IS NULL OR package = $3)
                 ORDER BY updated DESC, name LIMIT $4 OFFSET $5",
            )
            .bind(namespace.as_str())
            .bind(collection.as_str())
            .bind(package.as_ref().map(|p| p.as_str()))
            .bind(column(page.limit))
            .bind(column(page.skip))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<sqlx::Result<_>>()?)
        })
    }

    fn count(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM entities
                 WHERE namespace = $1 AND collection = $2 AND ($3::text IS NULL OR package = $3)",
            )
            .bind(namespace.as_str())
            .bind(collection.as_str())
            .bind(package.as_ref().map(|p| p.as_str()))
            .fetch_one(&self.pool)
            .await?;
            Ok(n as u64)
        })
    }

    fn apply(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<Vec<Option<String>>>> {
        Box::pin(async move {
            let mut attempt = 1;
            loop {
                match self.apply_once(&writes).await {
                    Err(Abort::Database(e)) if attempt < ATTEMPTS && retryable(&e) => {
                        attempt += 1;
                    }
                    Err(Abort::Database(e)) => return Err(e.into()),
                    Err(Abort::Refused(e)) => return Err(e),
                    Ok(deleted) => return Ok(deleted),
                }
            }
        })
    }

    fn put_feed(&self, feed: FeedRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO feeds (provider, namespace, trigger, doc) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (provider, namespace, trigger) DO UPDATE SET doc = EXCLUDED.doc",
            )
            .bind(feed.provider)
            .bind(feed.trigger.namespace.as_str())
            .bind(feed.trigger.name.as_str())
            .bind(feed.doc)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn claim_feed(&self, feed: FeedRecord, expected: String) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let changed = sqlx::query(
                "UPDATE feeds SET doc = $1
                 WHERE provider = $2 AND namespace = $3 AND trigger = $4 AND doc = $5",
            )
            .bind(feed.doc)
            .bind(feed.provider)
            .bind(feed.trigger.namespace.as_str())
            .bind(feed.trigger.name.as_str())
            .bind(expected)
            .execute(&self.pool)
            .await?
            .rows_affected();
            Ok(changed > 0)
        })
    }

    fn delete_feed(&self, trigger: EntityPath) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let deleted = sqlx::query("DELETE FROM feeds WHERE namespace = $1 AND trigger = $2")
                .bind(trigger.namespace.as_str())
                .bind(trigger.name.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
            Ok(deleted > 0)
        })
    }

    fn list_feeds(&self, provider: String) -> BoxFuture<'_, Result<Vec<FeedRecord>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT namespace, trigger, doc FROM feeds WHERE provider = $1
                 ORDER BY namespace, trigger",
            )
            .bind(&provider)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let parse = |raw: String| {
                        EntityName::parse(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))
                    };
                    Ok(FeedRecord {
                        provider: provider.clone(),
                        trigger: EntityPath::new(
                            parse(row.try_get(0)?)?,
                            None,
                            parse(row.try_get(1)?)?,
                        ),
                        doc: row.try_get(2)?,
                    })
                })
                .collect()
        })
    }
}

/// Why one try at a batch ended without a commit.
enum Abort {
    /// A write's expectation did not hold: the answer, not worth another try.
    Refused(StoreError),
    /// The database failed it (perhaps only this time).
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Abort {
    fn from(e: sqlx::Error) -> Self {
        Abort::Database(e)
    }
}

impl PostgresStore {
    /// Every write in one transaction; dropping it on an error rolls the batch back.
    async fn apply_once(
        &self,
        writes: &[Write],
    ) -> std::result::Result<Vec<Option<String>>, Abort> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = Vec::with_capacity(writes.len());
        for write in writes {
            deleted.push(apply_one(&mut tx, write).await?);
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

/// One write inside a transaction.
async fn apply_one(
    tx: &mut PgConnection,
    write: &Write,
) -> std::result::Result<Option<String>, Abort> {
    match write {
        Write::Put {
            collection,
            path,
            updated,
            doc,
            expect,
        } => {
            let package = path.package.as_ref().map_or("", |p| p.as_str());
            loop {
                // Locks the row until the commit: nobody changes what was checked.
                let existing: Option<(String, i64)> = sqlx::query_as(
                    "SELECT collection, updated FROM entities
                     WHERE namespace = $1 AND name = $2 FOR UPDATE",
                )
                .bind(path.namespace.as_str())
                .bind(path.local())
                .fetch_optional(&mut *tx)
                .await?;
                check(existing.as_ref(), *collection, *expect).map_err(Abort::Refused)?;
                if existing.is_some() {
                    sqlx::query(
                        "UPDATE entities SET collection = $3, package = $4, updated = $5, doc = $6
                         WHERE namespace = $1 AND name = $2",
                    )
                    .bind(path.namespace.as_str())
                    .bind(path.local())
                    .bind(collection.as_str())
                    .bind(package)
                    .bind(*updated as i64)
                    .bind(doc)
                    .execute(&mut *tx)
                    .await?;
                    return Ok(None);
                }
                let inserted = sqlx::query(
                    "INSERT INTO entities (namespace, name, collection, package, updated, doc)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (namespace, name) DO NOTHING",
                )
                .bind(path.namespace.as_str())
                .bind(path.local())
                .bind(collection.as_str())
                .bind(package)
                .bind(*updated as i64)
                .bind(doc)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 1 {
                    return Ok(None);
                }
                // Another transaction created it since the check: check again against it.
            }
        }
        Write::Delete { collection, path } => Ok(sqlx::query_scalar(
            "DELETE FROM entities WHERE namespace = $1 AND name = $2 AND collection = $3
             RETURNING doc",
        )
        .bind(path.namespace.as_str())
        .bind(path.local())
        .bind(collection.as_str())
        .fetch_optional(&mut *tx)
        .await?),
    }
}

/// Whether a put may replace what it found (`collection` and `updated` of the row).
fn check(existing: Option<&(String, i64)>, collection: Collection, expect: Expect) -> Result<()> {
    match (existing, expect) {
        (Some((found, _)), _) if found != collection.as_str() => Err(StoreError::WrongCollection),
        (Some(_), Expect::Absent) => Err(StoreError::Conflict),
        (Some((_, found)), Expect::Updated(read)) if *found as u64 != read => {
            Err(StoreError::Modified)
        }
        (None, Expect::Updated(_)) => Err(StoreError::Modified),
        _ => Ok(()),
    }
}

fn key_from_row(row: &PgRow) -> Result<KeyRecord> {
    let namespace: String = row.try_get(2)?;
    Ok(KeyRecord {
        uuid: row.try_get(0)?,
        key_sha256: row.try_get(1)?,
        namespace: EntityName::parse(&namespace).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        subject: row.try_get(3)?,
    })
}

fn count(column: Option<i64>) -> Option<u64> {
    column.map(|c| u64::try_from(c).unwrap_or(0))
}

//! `EntityStore` on `entities.db`.

use rusqlite::{params, OptionalExtension};
use wisp_core::{Collection, EntityName, EntityPath, NamespaceLimits};

use super::SqliteStore;
use crate::{
    BoxFuture, EntityStore, Expect, FeedRecord, KeyRecord, Page, Result, StoreError, Write,
};

impl EntityStore for SqliteStore {
    fn find_key(&self, uuid: String) -> BoxFuture<'_, Result<Option<KeyRecord>>> {
        Box::pin(self.with_conn(move |conn| {
            conn.query_row(
                "SELECT uuid, key_sha256, namespace, subject FROM keys WHERE uuid = ?1",
                [&uuid],
                key_from_row,
            )
            .optional()?
            .transpose()
        }))
    }

    fn put_key(&self, key: KeyRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO keys (uuid, key_sha256, namespace, subject)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    key.uuid,
                    key.key_sha256,
                    key.namespace.as_str(),
                    key.subject
                ],
            )?;
            Ok(())
        }))
    }

    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<KeyRecord>>> {
        Box::pin(self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT uuid, key_sha256, namespace, subject FROM keys ORDER BY namespace, uuid",
            )?;
            let rows = stmt.query_map([], key_from_row)?;
            rows.map(|r| r?).collect()
        }))
    }

    fn delete_namespace(&self, namespace: EntityName) -> BoxFuture<'_, Result<usize>> {
        Box::pin(self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let keys = tx.execute(
                "DELETE FROM keys WHERE namespace = ?1",
                [namespace.as_str()],
            )?;
            // Everything else a namespace owns goes with its keys.
            for table in ["entities", "namespace_limits", "feeds"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE namespace = ?1"),
                    [namespace.as_str()],
                )?;
            }
            tx.commit()?;
            Ok(keys)
        }))
    }

    fn get_limits(&self, namespace: EntityName) -> BoxFuture<'_, Result<NamespaceLimits>> {
        Box::pin(self.with_conn(move |conn| {
            let limits = conn
                .prepare_cached(
                    "SELECT invocations_per_minute, concurrent_invocations, fires_per_minute
                     FROM namespace_limits WHERE namespace = ?1",
                )?
                .query_row([namespace.as_str()], |row| {
                    Ok(NamespaceLimits {
                        invocations_per_minute: count(row.get(0)?),
                        concurrent_invocations: count(row.get(1)?),
                        fires_per_minute: count(row.get(2)?),
                    })
                })
                .optional()?;
            Ok(limits.unwrap_or_default())
        }))
    }

    fn put_limits(
        &self,
        namespace: EntityName,
        limits: NamespaceLimits,
    ) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.with_conn(move |conn| {
            if limits.is_empty() {
                conn.execute(
                    "DELETE FROM namespace_limits WHERE namespace = ?1",
                    [namespace.as_str()],
                )?;
                return Ok(());
            }
            conn.execute(
                "INSERT OR REPLACE INTO namespace_limits
                 (namespace, invocations_per_minute, concurrent_invocations, fires_per_minute)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    namespace.as_str(),
                    limits.invocations_per_minute.map(column),
                    limits.concurrent_invocations.map(column),
                    limits.fires_per_minute.map(column)
                ],
            )?;
            Ok(())
        }))
    }

    fn get(
        &self,
        collection: Collection,
        path: EntityPath,
    ) -> BoxFuture<'_, Result<Option<String>>> {
        Box::pin(self.with_conn(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT doc FROM entities WHERE namespace = ?1 AND name = ?2 AND collection = ?3",
                )?
                .query_row(
                    params![path.namespace.as_str(), path.local(), collection.as_str()],
                    |row| row.get(0),
                )
                .optional()?)
        }))
    }

    fn list(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT doc FROM entities
                 WHERE namespace = ?1 AND collection = ?2 AND (?3 IS NULL OR package = ?3)
                 ORDER BY updated DESC, name LIMIT ?4 OFFSET ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    namespace.as_str(),
                    collection.as_str(),
                    package.as_ref().map(|p| p.as_str()),
                    page.limit as i64,
                    page.skip as i64
                ],
                |row| row.get::<_, String>(0),
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        }))
    }

    fn count(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.with_conn(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM entities
                 WHERE namespace = ?1 AND collection = ?2 AND (?3 IS NULL OR package = ?3)",
                params![
                    namespace.as_str(),
                    collection.as_str(),
                    package.as_ref().map(|p| p.as_str())
                ],
                |row| row.get(0),
            )?;
            Ok(n as u64)
        }))
    }

    fn apply(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<Vec<Option<String>>>> {
        Box::pin(self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut deleted = Vec::with_capacity(writes.len());
            for write in &writes {
                deleted.push(apply_one(&tx, write)?);
            }
            tx.commit()?;
            Ok(deleted)
        }))
    }

    fn put_feed(&self, feed: FeedRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO feeds (provider, namespace, trigger, doc)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    feed.provider,
                    feed.trigger.namespace.as_str(),
                    feed.trigger.name.as_str(),
                    feed.doc
                ],
            )?;
            Ok(())
        }))
    }

    fn claim_feed(&self, feed: FeedRecord, expected: String) -> BoxFuture<'_, Result<bool>> {
        Box::pin(self.with_conn(move |conn| {
            let changed = conn.execute(
                "UPDATE feeds SET doc = ?1
                 WHERE provider = ?2 AND namespace = ?3 AND trigger = ?4 AND doc = ?5",
                params![
                    feed.doc,
                    feed.provider,
                    feed.trigger.namespace.as_str(),
                    feed.trigger.name.as_str(),
                    expected
                ],
            )?;
            Ok(changed > 0)
        }))
    }

    fn delete_feed(&self, trigger: EntityPath) -> BoxFuture<'_, Result<bool>> {
        Box::pin(self.with_conn(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM feeds WHERE namespace = ?1 AND trigger = ?2",
                params![trigger.namespace.as_str(), trigger.name.as_str()],
            )?;
            Ok(deleted > 0)
        }))
    }

    fn list_feeds(&self, provider: String) -> BoxFuture<'_, Result<Vec<FeedRecord>>> {
        Box::pin(self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT namespace, trigger, doc FROM feeds WHERE provider = ?1
                 ORDER BY namespace, trigger",
            )?;
            let rows = stmt.query_map([&provider], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (namespace, trigger, doc) = row?;
                let parse = |raw: &str| {
                    EntityName::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                Ok(FeedRecord {
                    provider: provider.clone(),
                    trigger: EntityPath::new(parse(&namespace)?, None, parse(&trigger)?),
                    doc,
                })
            })
            .collect()
        }))
    }
}

/// One write inside a transaction; an error rolls the whole batch back.
fn apply_one(tx: &rusqlite::Transaction<'_>, write: &Write) -> Result<Option<String>> {
    match write {
        Write::Put {
            collection,
            path,
            updated,
            doc,
            expect,
        } => {
            let existing: Option<(String, i64)> = tx
                .prepare_cached(
                    "SELECT collection, updated FROM entities WHERE namespace = ?1 AND name = ?2",
                )?
                .query_row(params![path.namespace.as_str(), path.local()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            match (&existing, expect) {
                (Some((found, _)), _) if found != collection.as_str() => {
                    return Err(StoreError::WrongCollection)
                }
                (Some(_), Expect::Absent) => return Err(StoreError::Conflict),
                (Some((_, found)), Expect::Updated(read)) if *found as u64 != *read => {
                    return Err(StoreError::Modified)
                }
                (None, Expect::Updated(_)) => return Err(StoreError::Modified),
                _ => {}
            }
            let package = path.package.as_ref().map_or("", |p| p.as_str());
            tx.prepare_cached(
                "INSERT OR REPLACE INTO entities (namespace, name, collection, package, updated, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                path.namespace.as_str(),
                path.local(),
                collection.as_str(),
                package,
                *updated as i64,
                doc
            ])?;
            Ok(None)
        }
        Write::Delete { collection, path } => Ok(tx
            .prepare_cached(
                "DELETE FROM entities WHERE namespace = ?1 AND name = ?2 AND collection = ?3
                 RETURNING doc",
            )?
            .query_row(
                params![path.namespace.as_str(), path.local(), collection.as_str()],
                |row| row.get(0),
            )
            .optional()?),
    }
}

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<KeyRecord>> {
    let namespace: String = row.get(2)?;
    Ok(EntityName::parse(&namespace)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
        .and_then(|namespace| {
            Ok(KeyRecord {
                uuid: row.get(0)?,
                key_sha256: row.get(1)?,
                namespace,
                subject: row.get(3)?,
            })
        }))
}

/// A count as SQLite stores it (signed); counts past `i64::MAX` mean "no limit" anyway.
fn column(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count(column: Option<i64>) -> Option<u64> {
    column.map(|c| u64::try_from(c).unwrap_or(0))
}

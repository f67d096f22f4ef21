//! `EntityStore` on `entities.db`.

use rusqlite::{params, OptionalExtension};
use wisp_core::{Action, EntityName, EntityPath};

use super::{from_json, to_json, SqliteStore};
use crate::{BoxFuture, EntityStore, KeyRecord, Page, Result, StoreError};

const ACTION: &str = "action";

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
            tx.execute(
                "DELETE FROM entities WHERE namespace = ?1",
                [namespace.as_str()],
            )?;
            tx.commit()?;
            Ok(keys)
        }))
    }

    fn get_action(&self, path: EntityPath) -> BoxFuture<'_, Result<Option<Action>>> {
        Box::pin(self.with_conn(move |conn| {
            let doc: Option<String> = conn
                .query_row(
                    "SELECT doc FROM entities WHERE namespace = ?1 AND name = ?2 AND collection = ?3",
                    params![path.namespace.as_str(), path.local(), ACTION],
                    |row| row.get(0),
                )
                .optional()?;
            doc.map(|d| from_json(&d)).transpose()
        }))
    }

    fn put_action(&self, action: Action, overwrite: bool) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.with_conn(move |conn| {
            let doc = to_json(&action)?;
            let path = &action.path;
            let package = path.package.as_ref().map_or("", |p| p.as_str());
            let verb = if overwrite {
                "INSERT OR REPLACE"
            } else {
                "INSERT"
            };
            let result = conn.execute(
                &format!(
                    "{verb} INTO entities (namespace, name, collection, package, updated, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    path.namespace.as_str(),
                    path.local(),
                    ACTION,
                    package,
                    action.updated as i64,
                    doc
                ],
            );
            match result {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Conflict)
                }
                Err(e) => Err(e.into()),
            }
        }))
    }

    fn delete_action(&self, path: EntityPath) -> BoxFuture<'_, Result<Option<Action>>> {
        Box::pin(self.with_conn(move |conn| {
            let doc: Option<String> = conn
                .query_row(
                    "DELETE FROM entities WHERE namespace = ?1 AND name = ?2 AND collection = ?3
                     RETURNING doc",
                    params![path.namespace.as_str(), path.local(), ACTION],
                    |row| row.get(0),
                )
                .optional()?;
            doc.map(|d| from_json(&d)).transpose()
        }))
    }

    fn list_actions(
        &self,
        namespace: EntityName,
        package: Option<EntityName>,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Action>>> {
        Box::pin(self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT doc FROM entities
                 WHERE namespace = ?1 AND collection = ?2 AND (?3 IS NULL OR package = ?3)
                 ORDER BY updated DESC LIMIT ?4 OFFSET ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    namespace.as_str(),
                    ACTION,
                    package.as_ref().map(|p| p.as_str()),
                    page.limit as i64,
                    page.skip as i64
                ],
                |row| row.get::<_, String>(0),
            )?;
            rows.map(|doc| from_json(&doc?)).collect()
        }))
    }

    fn count_actions(
        &self,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.with_conn(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM entities
                 WHERE namespace = ?1 AND collection = ?2 AND (?3 IS NULL OR package = ?3)",
                params![
                    namespace.as_str(),
                    ACTION,
                    package.as_ref().map(|p| p.as_str())
                ],
                |row| row.get(0),
            )?;
            Ok(n as u64)
        }))
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

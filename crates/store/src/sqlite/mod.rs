//! The embedded store: two SQLite databases in WAL mode under the data directory.
//!
//! `entities.db` holds namespaces, keys and entities and commits with `synchronous=FULL`, so an
//! entity write is on disk before its 200. `activations.db` is written by one background thread
//! that group-commits records, so the invoke path never waits for a disk write of its own.

mod activations;
mod entities;
mod schema;

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::{Result, StoreError};

pub use activations::SqliteActivations;

/// Entities and keys in `entities.db`, plus the activation store.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) both databases under `dir`.
    pub fn open(dir: &Path) -> Result<(SqliteStore, SqliteActivations)> {
        // Owner-only: the databases hold every namespace's keys and activations.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let conn = open_connection(&dir.join("entities.db"), "FULL")?;
        schema::migrate(&conn, schema::ENTITY_MIGRATIONS)?;
        let activations = SqliteActivations::open(&dir.join("activations.db"))?;
        Ok((
            SqliteStore {
                conn: Arc::new(Mutex::new(conn)),
            },
            activations,
        ))
    }

    /// Both databases in memory, gone when the last handle is dropped: for tests, which get
    /// the same SQL as a server without touching the disk.
    pub fn in_memory() -> Result<(SqliteStore, SqliteActivations)> {
        let entities = Connection::open_in_memory()?;
        entities.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&entities, schema::ENTITY_MIGRATIONS)?;
        let activations = Arc::new(Mutex::new(Connection::open_in_memory()?));
        Ok((
            SqliteStore {
                conn: Arc::new(Mutex::new(entities)),
            },
            SqliteActivations::start(activations.clone(), activations)?,
        ))
    }

    /// Runs `f` on the connection off the async runtime.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

pub(crate) fn open_connection(path: &Path, synchronous: &str) -> Result<Connection> {
    create_private(path).map_err(|e| StoreError::Backend(e.to_string()))?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Creates the database file readable by its owner only before SQLite opens it: SQLite would
/// make it 0644, and it gives the `-wal` and `-shm` files the database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

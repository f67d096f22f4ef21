//! Opening `kv.db`, shared by the embedded backend's writer and the password registry.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rusqlite::Connection;

use crate::KvError;

/// The name of the database file under the store's directory.
pub const FILE: &str = "kv.db";

/// Opens `path` in WAL mode with the given `synchronous` level and creates `schema`'s tables.
pub fn open(path: &Path, synchronous: &str, schema: &str) -> Result<Connection, KvError> {
    // Owner-only: the file holds every namespace's keys and values and their passwords.
    // SQLite would make the file 0644, and gives `-wal` and `-shm` the database file's mode.
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| KvError::Backend(e.to_string()))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .and_then(|file| file.set_permissions(std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| KvError::Backend(e.to_string()))?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

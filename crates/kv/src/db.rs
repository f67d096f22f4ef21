//! Opening `kv.db`, shared by the embedded backend's writer and the password registry.

use std::path::Path;

use rusqlite::Connection;

use crate::KvError;

/// The name of the database file under the store's directory.
pub const FILE: &str = "kv.db";

/// Opens `path` in WAL mode with the given `synchronous` level and creates `schema`'s tables.
pub fn open(path: &Path, synchronous: &str, schema: &str) -> Result<Connection, KvError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| KvError::Backend(e.to_string()))?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

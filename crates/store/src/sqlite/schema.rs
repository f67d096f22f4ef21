//! Schema migrations, applied in order and tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::Result;

pub const ENTITY_MIGRATIONS: &[&str] = &[
    // 1: keys and entities. `name` is the path inside the namespace (`[pkg/]name`); all
    // collections share it, as OpenWhisk's names do.
    "CREATE TABLE keys (
        uuid TEXT PRIMARY KEY,
        key_sha256 BLOB NOT NULL,
        namespace TEXT NOT NULL,
        subject TEXT NOT NULL
    );
    CREATE INDEX keys_by_namespace ON keys(namespace);
    CREATE TABLE entities (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        collection TEXT NOT NULL,
        package TEXT NOT NULL DEFAULT '',
        updated INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    );
    CREATE INDEX entities_by_updated ON entities(namespace, collection, updated DESC);",
    // 2: an administrator's throttle overrides per namespace; NULL keeps the system value.
    "CREATE TABLE namespace_limits (
        namespace TEXT PRIMARY KEY,
        invocations_per_minute INTEGER,
        concurrent_invocations INTEGER,
        fires_per_minute INTEGER
    );",
    // 3: what feed providers hosted by the server keep per trigger (alarm schedules).
    "CREATE TABLE feeds (
        provider TEXT NOT NULL,
        namespace TEXT NOT NULL,
        trigger TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (provider, namespace, trigger)
    );",
];

pub const ACTIVATION_MIGRATIONS: &[&str] = &[
    // 1: finished records, and markers for accepted activations still running.
    "CREATE TABLE activations (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        start INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX activations_by_start ON activations(namespace, start DESC);
    CREATE INDEX activations_by_name ON activations(namespace, name, start DESC);
    CREATE TABLE pending (
        id TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );",
    // 2: the progress of compositions (sequences, conductors) still running.
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );",
];

pub fn migrate(conn: &Connection, migrations: &[&str]) -> Result<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in migrations.iter().enumerate().skip(current) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))?;
    }
    Ok(())
}

//! The shared store: entities and activation records in one PostgreSQL database, which the
//! controllers of a cluster can share (`--store postgres://…`).
//!
//! It keeps the SQLite store's tables and behaviour: the same SQL shapes through sqlx's
//! `query(..).bind(..)`, entity writes committed before their future resolves, activation
//! writes group-committed by one writer task. A commit waits for the server's
//! `synchronous_commit` (on by default), so an acknowledged write survives a crash of this
//! process and of the database server.
//!
//! Unlike SQLite, several controllers write at once: entity writes lock the rows they check
//! (`apply` in `entities.rs`), and what a running controller leaves behind (pending markers,
//! composition sessions) carries its owner id, so a controller that restarts fails or resumes
//! only its own (`activations.rs`).
//!
//! Connections are plain TCP: sqlx is built without TLS, so a URL asking for it
//! (`sslmode=require`) fails to connect. Keep the database on loopback or a private network
//! until a TLS feature earns its dependencies.

mod activations;
mod batch;
mod entities;
mod schema;

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::{Result, StoreError};

pub use activations::PostgresActivations;

/// Most connections one store opens: a PostgreSQL server allows 100 in all (by default) to
/// every controller sharing it.
const MAX_CONNECTIONS: u32 = 10;

/// Entities, keys, limits and feed records.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://[user[:password]@]host[:port]/database`;
    /// libpq's `PGPASSWORD` and `~/.pgpass` are read too), brings its schema up to date and
    /// starts the activation writer.
    ///
    /// `owner` names this controller among those sharing the database: pending markers and
    /// sessions are written under it and only its own are read back after a restart, so it
    /// must be stable across restarts of one controller and distinct between controllers.
    pub async fn connect(url: &str, owner: &str) -> Result<(PostgresStore, PostgresActivations)> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        PostgresStore::connect_with(options, owner).await
    }

    /// [`PostgresStore::connect`] with parsed options.
    pub async fn connect_with(
        options: PgConnectOptions,
        owner: &str,
    ) -> Result<(PostgresStore, PostgresActivations)> {
        // Named in `pg_stat_activity`, for whoever looks at the database's connections.
        let options = options.application_name(&format!("wisp {owner}"));
        // One connection first, which fails at once with the cause (refused, no such
        // database, authentication) where a pool would retry until its timeout; it migrates.
        let mut first = options.connect().await?;
        schema::migrator()
            .run(&mut first)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot migrate the schema: {e}")))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_lazy_with(options);
        let activations = PostgresActivations::start(pool.clone(), owner);
        Ok((PostgresStore { pool }, activations))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// A count as PostgreSQL stores it (BIGINT, signed); counts past `i64::MAX` mean "no limit"
/// anyway.
fn column(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A deadlock or serialization failure: the server rolled the transaction back, and it may
/// succeed if run again.
fn retryable(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

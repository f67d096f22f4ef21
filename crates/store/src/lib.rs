//! Durable storage for Wisp: entities, namespaces and keys, and activation records.
//!
//! The controller sees only the [`EntityStore`] and [`ActivationStore`] traits; this crate is
//! the only place that knows SQL. The embedded implementation is SQLite in WAL mode
//! ([`sqlite`]); a PostgreSQL implementation is meant to sit beside it with the same traits.

use std::future::Future;
use std::pin::Pin;

use wisp_core::{Action, Activation, ActivationId, EntityName, EntityPath};

pub mod sqlite;

pub use sqlite::SqliteStore;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("resource already exists")]
    Conflict,
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("corrupt stored document: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One page of a listing.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub skip: u64,
    pub limit: u64,
}

/// A stored API key: the key itself is kept only as a SHA-256 digest.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub uuid: String,
    pub key_sha256: Vec<u8>,
    pub namespace: EntityName,
    pub subject: String,
}

/// Namespaces, keys and entities. Every write is durable when its future resolves.
pub trait EntityStore: Send + Sync {
    fn find_key(&self, uuid: String) -> BoxFuture<'_, Result<Option<KeyRecord>>>;
    fn put_key(&self, key: KeyRecord) -> BoxFuture<'_, Result<()>>;
    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<KeyRecord>>>;
    /// Deletes a namespace's keys and entities; returns how many keys went.
    fn delete_namespace(&self, namespace: EntityName) -> BoxFuture<'_, Result<usize>>;

    fn get_action(&self, path: EntityPath) -> BoxFuture<'_, Result<Option<Action>>>;
    /// Creates (`overwrite` false, fails with `Conflict` if present) or replaces an action.
    fn put_action(&self, action: Action, overwrite: bool) -> BoxFuture<'_, Result<()>>;
    fn delete_action(&self, path: EntityPath) -> BoxFuture<'_, Result<Option<Action>>>;
    /// Actions of a namespace (including those in its packages), or of one package, most
    /// recently updated first.
    fn list_actions(
        &self,
        namespace: EntityName,
        package: Option<EntityName>,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Action>>>;
    fn count_actions(
        &self,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> BoxFuture<'_, Result<u64>>;
}

/// Filters of an activation listing.
#[derive(Debug, Clone, Default)]
pub struct ActivationQuery {
    pub namespace: String,
    /// `[pkg/]name` of the action.
    pub name: Option<String>,
    pub since: Option<u64>,
    pub upto: Option<u64>,
    pub skip: u64,
    pub limit: u64,
}

/// Activation records. Writes are group-committed by a background writer; a write's future
/// resolves when its record is durable.
pub trait ActivationStore: Send + Sync {
    /// Records that an activation was accepted, so that it ends in a record even if the
    /// server dies before it completes.
    fn accept(&self, pending: Activation) -> BoxFuture<'_, Result<()>>;
    /// Stores a finished activation (replacing its pending marker).
    fn complete(&self, activation: Activation) -> BoxFuture<'_, Result<()>>;
    fn get(&self, namespace: String, id: ActivationId)
        -> BoxFuture<'_, Result<Option<Activation>>>;
    fn list(&self, query: ActivationQuery) -> BoxFuture<'_, Result<Vec<Activation>>>;
    fn count(&self, query: ActivationQuery) -> BoxFuture<'_, Result<u64>>;
    /// Pending markers left by a previous run that died; the caller turns them into records.
    fn take_orphans(&self) -> BoxFuture<'_, Result<Vec<Activation>>>;
    /// Deletes records that started before `before_ms`; returns how many went.
    fn prune(&self, before_ms: u64) -> BoxFuture<'_, Result<u64>>;
    /// Waits until every write handed in so far is durable.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;
}

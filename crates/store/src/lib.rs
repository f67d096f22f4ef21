//! Durable storage for Wisp: entities, namespaces and keys, and activation records.
//!
//! The controller sees only the [`EntityStore`] and [`ActivationStore`] traits; this crate is
//! the only place that knows SQL. Two implementations behave alike and pass one test suite
//! (`tests/store`): SQLite in WAL mode under the data directory ([`sqlite`], the embedded
//! default) and PostgreSQL ([`postgres`], a database controllers can share). [`Backend`]
//! picks one from the URL an operator gives.
//!
//! It must not know HTTP, the controller's model beyond storage documents, or the runtimes.

use wisp_core::{
    Activation, ActivationId, Collection, Entity, EntityName, EntityPath, NamespaceLimits,
};

mod backend;
pub mod postgres;
pub mod sqlite;

pub use backend::{Backend, Stores};
pub use postgres::{PostgresActivations, PostgresStore};
pub use sqlite::{SqliteActivations, SqliteStore};

pub use wisp_core::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("resource already exists")]
    Conflict,
    #[error("Resource by this name exists but is not in this collection.")]
    WrongCollection,
    #[error("Concurrent modification to resource detected.")]
    Modified,
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

impl Page {
    /// Everything (the limit stays within SQL's signed 64-bit range).
    pub const ALL: Page = Page {
        skip: 0,
        limit: i64::MAX as u64,
    };
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
    /// Deletes a namespace's keys, limits and entities; returns how many keys went.
    fn delete_namespace(&self, namespace: EntityName) -> BoxFuture<'_, Result<usize>>;

    /// A namespace's throttle overrides (empty when it has none).
    fn get_limits(&self, namespace: EntityName) -> BoxFuture<'_, Result<NamespaceLimits>>;
    /// Replaces a namespace's throttle overrides; empty ones remove them.
    fn put_limits(
        &self,
        namespace: EntityName,
        limits: NamespaceLimits,
    ) -> BoxFuture<'_, Result<()>>;

    /// The stored document of an entity.
    fn get(
        &self,
        collection: Collection,
        path: EntityPath,
    ) -> BoxFuture<'_, Result<Option<String>>>;
    /// Documents of a namespace (for actions including those in its packages), or of one
    /// package, most recently updated first.
    fn list(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<String>>>;
    fn count(
        &self,
        collection: Collection,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> BoxFuture<'_, Result<u64>>;
    /// Applies every write or none, durably; returns, per write, the document a delete removed.
    fn apply(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<Vec<Option<String>>>>;

    /// Stores what a feed provider hosted by the server keeps for one trigger, replacing it.
    fn put_feed(&self, feed: FeedRecord) -> BoxFuture<'_, Result<()>>;
    /// Replaces a record only if it still holds `expected`; returns whether it did. Of several
    /// controllers acting on one record (an alarm's tick), exactly one wins.
    fn claim_feed(&self, feed: FeedRecord, expected: String) -> BoxFuture<'_, Result<bool>>;
    /// Removes a trigger's record from every provider; returns whether there was one.
    fn delete_feed(&self, trigger: EntityPath) -> BoxFuture<'_, Result<bool>>;
    /// Every record of a provider.
    fn list_feeds(&self, provider: String) -> BoxFuture<'_, Result<Vec<FeedRecord>>>;
}

/// A feed provider's document for one trigger (an alarm's schedule, say). A namespace's
/// records go with the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    pub provider: String,
    pub trigger: EntityPath,
    pub doc: String,
}

/// What a put expects to find where it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: a create (`Conflict` otherwise).
    Absent,
    /// Anything of the same collection, or nothing.
    Any,
    /// The version last read, by its `updated` (`Modified` otherwise): a read-modify-write.
    Updated(u64),
}

impl Expect {
    /// For a write that replaces `old` (the version last read), or creates when there is none.
    pub fn replacing<T: Entity>(old: Option<&T>) -> Expect {
        old.map_or(Expect::Absent, |o| Expect::Updated(o.updated()))
    }
}

/// One write of an atomic batch.
#[derive(Debug, Clone)]
pub enum Write {
    Put {
        collection: Collection,
        path: EntityPath,
        updated: u64,
        doc: String,
        expect: Expect,
    },
    Delete {
        collection: Collection,
        path: EntityPath,
    },
}

impl Write {
    pub fn put<T: Entity>(entity: &T, expect: Expect) -> Result<Write> {
        Ok(Write::Put {
            collection: T::COLLECTION,
            path: entity.path().clone(),
            updated: entity.updated(),
            doc: serde_json::to_string(entity).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            expect,
        })
    }

    pub fn delete<T: Entity>(path: &EntityPath) -> Write {
        Write::Delete {
            collection: T::COLLECTION,
            path: path.clone(),
        }
    }
}

/// Typed access on top of the document methods.
impl dyn EntityStore {
    pub async fn get_entity<T: Entity>(&self, path: &EntityPath) -> Result<Option<T>> {
        self.get(T::COLLECTION, path.clone())
            .await?
            .map(|doc| parse(&doc))
            .transpose()
    }

    pub async fn list_entities<T: Entity>(
        &self,
        namespace: &EntityName,
        package: Option<&EntityName>,
        page: Page,
    ) -> Result<Vec<T>> {
        let docs = self
            .list(T::COLLECTION, namespace.clone(), package.cloned(), page)
            .await?;
        docs.iter().map(|doc| parse(doc)).collect()
    }

    pub async fn count_entities<T: Entity>(
        &self,
        namespace: &EntityName,
        package: Option<&EntityName>,
    ) -> Result<u64> {
        self.count(T::COLLECTION, namespace.clone(), package.cloned())
            .await
    }

    pub async fn put_entity<T: Entity>(&self, entity: &T, expect: Expect) -> Result<()> {
        self.apply(vec![Write::put(entity, expect)?]).await?;
        Ok(())
    }

    pub async fn delete_entity<T: Entity>(&self, path: &EntityPath) -> Result<Option<T>> {
        let mut deleted = self.apply(vec![Write::delete::<T>(path)]).await?;
        deleted.pop().flatten().map(|doc| parse(&doc)).transpose()
    }
}

/// Reads a stored document.
pub fn parse<T: Entity>(doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
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

/// What a controller takes over from one that is gone: its pending markers and its
/// composition sessions' documents, all now the taker's.
#[derive(Debug, Default)]
pub struct Adopted {
    pub orphans: Vec<Activation>,
    pub sessions: Vec<String>,
}

/// Activation records. Writes are group-committed by a background writer; a write's future
/// resolves when its record is durable.
pub trait ActivationStore: Send + Sync {
    /// Records that an activation was accepted, so that it ends in a record even if the
    /// server dies before it completes.
    fn accept(&self, pending: Activation) -> BoxFuture<'_, Result<()>>;
    /// Stores the progress of a running composition (its primary activation `id`), replacing
    /// the last. The write is queued when this is called, so saves of one session land in
    /// call order whether or not their futures are awaited. Completing the record `id`
    /// removes it in the same commit.
    fn save_session(&self, id: ActivationId, doc: String) -> BoxFuture<'_, Result<()>>;
    /// Every stored session: compositions a previous run left unfinished.
    fn sessions(&self) -> BoxFuture<'_, Result<Vec<String>>>;
    /// Stores a finished activation (replacing its pending marker).
    fn complete(&self, activation: Activation) -> BoxFuture<'_, Result<()>>;
    fn get(&self, namespace: String, id: ActivationId)
        -> BoxFuture<'_, Result<Option<Activation>>>;
    fn list(&self, query: ActivationQuery) -> BoxFuture<'_, Result<Vec<Activation>>>;
    fn count(&self, query: ActivationQuery) -> BoxFuture<'_, Result<u64>>;
    /// Pending markers left by a previous run that died; the caller turns them into records.
    fn take_orphans(&self) -> BoxFuture<'_, Result<Vec<Activation>>>;
    /// The other controllers with work recorded here (pending markers, sessions): in a
    /// cluster, those whose work another adopts once they are gone. A store one controller
    /// owns alone has none.
    fn other_owners(&self) -> BoxFuture<'_, Result<Vec<String>>>;
    /// Takes over what controller `owner` left running, in one transaction: each marker and
    /// session goes to exactly one taker, however many try at once.
    fn adopt(&self, owner: String) -> BoxFuture<'_, Result<Adopted>>;
    /// Deletes records that started before `before_ms`; returns how many went.
    fn prune(&self, before_ms: u64) -> BoxFuture<'_, Result<u64>>;
    /// Waits until every write handed in so far is durable.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;
}

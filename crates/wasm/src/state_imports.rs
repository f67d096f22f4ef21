//! What a component's `kv` and `objects` imports reach: a namespace's keys and data objects,
//! behind a trait this crate defines and the server implements over its stores
//! (`src/guest_stores.rs`), so that this crate knows no store and the stores know no wasmtime.
//!
//! The namespace is the activation's, set by the host when the instance is made; a guest names
//! only keys, so it can never reach another namespace's.

/// Why a state operation was refused; each becomes the `error` variant of the same name in the
/// guest (`wit/wisp-function.wit`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Quota(String),
    #[error("{0}")]
    WrongType(String),
    #[error("{0}")]
    NotANumber(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Failed(String),
}

/// One page of an object listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    pub keys: Vec<String>,
    pub truncated: bool,
}

/// A namespace's key-value store and data bucket, as a guest's imports use them. The guest
/// waits for each call; its future runs on the executor that runs the guest.
#[async_trait::async_trait]
pub trait GuestState: Send + Sync {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    async fn kv_set(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), StateError>;
    /// Whether the key existed.
    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError>;
    /// The new value.
    async fn kv_incr(&self, namespace: &str, key: &str, by: i64) -> Result<i64, StateError>;
    /// Keys starting with `prefix`, taken literally.
    async fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, StateError>;

    /// The object's bytes, refused with [`StateError::TooLarge`] past `max_bytes` (the guest
    /// could not hold them).
    async fn object_get(
        &self,
        namespace: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, StateError>;
    async fn object_put(
        &self,
        namespace: &str,
        key: &str,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<(), StateError>;
    /// Whether the object existed.
    async fn object_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError>;
    async fn object_list(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StateError>;
}

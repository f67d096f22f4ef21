//! What a component's `kv` and `objects` imports reach: a namespace's keys and data objects,
//! behind a trait this crate defines and the server implements over its stores
//! (`src/wasm_state.rs`), so that this crate knows no store and the stores know no wasmtime.
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

/// A namespace's key-value store and data bucket, as a guest's imports use them.
///
/// Every method is called on the guest's own thread, which may block until the store answers
/// (the guest waits for its host call in any case); never from an async task.
pub trait GuestState: Send + Sync {
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    fn kv_set(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), StateError>;
    /// Whether the key existed.
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError>;
    /// The new value.
    fn kv_incr(&self, namespace: &str, key: &str, by: i64) -> Result<i64, StateError>;
    /// Keys starting with `prefix`, taken literally.
    fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, StateError>;

    /// The object's bytes, refused with [`StateError::TooLarge`] past `max_bytes` (the guest
    /// could not hold them).
    fn object_get(
        &self,
        namespace: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, StateError>;
    fn object_put(
        &self,
        namespace: &str,
        key: &str,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<(), StateError>;
    /// Whether the object existed.
    fn object_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError>;
    fn object_list(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StateError>;
}

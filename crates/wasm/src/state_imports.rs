//! What a component's `kv` and `objects` imports reach: a namespace's keys and data objects,
//! behind a trait this crate defines and the state services implement over their stores
//! (`crates/services/src/guest_stores.rs`), so that this crate knows no store and the stores
//! know no wasmtime.
//!
//! The namespace is the activation's, set by the host when the instance is made; a guest names
//! only keys, so it can never reach another namespace's.

use wisp_core::BoxFuture;

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
pub trait GuestState: Send + Sync {
    fn kv_get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>>;
    fn kv_set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> BoxFuture<'a, Result<(), StateError>>;
    /// Whether the key existed.
    fn kv_delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>>;
    /// The new value.
    fn kv_incr<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        by: i64,
    ) -> BoxFuture<'a, Result<i64, StateError>>;
    /// Keys starting with `prefix`, taken literally.
    fn kv_keys<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>>;

    /// The object's bytes, refused with [`StateError::TooLarge`] past `max_bytes` (the guest
    /// could not hold them).
    fn object_get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>>;
    fn object_put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> BoxFuture<'a, Result<(), StateError>>;
    /// Whether the object existed.
    fn object_delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>>;
    fn object_list<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ObjectPage, StateError>>;
}

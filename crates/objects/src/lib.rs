//! Per-namespace object storage: the files functions, the CLI and signed URLs read and write.
//!
//! Every namespace has two buckets ([`Bucket::Data`], private; [`Bucket::Web`], the public
//! static front end of its projects). The rest of the platform sees them only through the
//! [`Objects`] trait: keys in, metadata and byte streams out. [`StoreObjects`] implements it
//! over the `object_store` crate: on the local filesystem by default, in an S3 bucket
//! ([`S3Location`]) for a cluster, whose processes all share it.
//!
//! This crate knows no HTTP: the REST routes (`wisp-api`) and the S3 endpoint (`wisp-s3`) are
//! built on the trait.

mod counted;
mod key;
mod s3;
mod signing;
mod store;
mod types;

use std::ops::Range;

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use counted::{Counted, Observer};
pub use key::{validate_key, MAX_KEY_BYTES};
pub use s3::S3Location;
pub use signing::{UrlSigner, MAX_URL_SECONDS};
pub use store::{ObjectsConfig, StoreObjects};
pub use types::guess_content_type;

pub use wisp_core::BoxFuture;

/// Bytes flowing in (a put) or out (a get), chunk by chunk: an object is never held whole.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// The two buckets of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Private: the SDK, `wisp object`, signed URLs.
    Data,
    /// Public: the static web content of the namespace's projects.
    Web,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Data => "data",
            Bucket::Web => "web",
        }
    }
}

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// The object's version: it changes whenever the bytes change (locally with every put; on
    /// S3 equal bytes may keep it), so a cache keyed by it never serves stale bytes.
    pub etag: String,
    pub last_modified_ms: u64,
    /// As given when the object was put, else guessed from the key's extension. `None` in
    /// list results, which do not read it.
    pub content_type: Option<String>,
}

/// Which bytes of an object a get wants (HTTP `Range` semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end` (end exclusive; an end past the object is clamped).
    Bounded(Range<u64>),
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The concrete, non-empty range this names within an object of `size` bytes (an end past
    /// the object is clamped); an error when it names no byte of it (HTTP's 416).
    pub fn within(self, size: u64) -> Result<Range<u64>, ObjectError> {
        let range = match self {
            ByteRange::Bounded(r) => r.start..r.end.min(size),
            ByteRange::From(start) => start..size,
            ByteRange::Suffix(n) => size.saturating_sub(n)..size,
        };
        if range.start >= range.end {
            return Err(ObjectError::Range { size });
        }
        Ok(range)
    }
}

/// An object being read: its metadata, the range of bytes the stream carries, and the stream.
pub struct ObjectBody {
    pub meta: ObjectMeta,
    pub range: Range<u64>,
    pub stream: ByteStream,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    /// More keys match after the last one returned.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The key breaks the key rules; the text says which.
    #[error("{0}")]
    InvalidKey(String),
    /// A requested range outside the object.
    #[error("the range is not satisfiable: the object has {size} bytes")]
    Range { size: u64 },
    /// The put would take the namespace past its quota; nothing was written.
    #[error("quota exceeded: namespace '{namespace}' may keep {quota} bytes of objects")]
    Quota { namespace: String, quota: u64 },
    /// The key cannot be stored beside an existing one (on a filesystem, `a` and `a/b`).
    #[error("{0}")]
    Conflict(String),
    /// The body stream failed while it was read; nothing was written.
    #[error("the upload was interrupted: {0}")]
    Body(std::io::Error),
    #[error("object storage failed: {0}")]
    Storage(String),
}

/// A namespace's objects. Namespaces never see each other's keys.
pub trait Objects: Send + Sync {
    /// A count that changes whenever anything in the namespace's `bucket` changes, when the
    /// backend can tell (it is the store's only writer): a cache of the bucket stays valid
    /// while the count does, with no request to the store. `None` when writes may come from
    /// elsewhere (a store shared by several servers); then ask [`Objects::version`].
    fn generation(&self, _namespace: &str, _bucket: Bucket) -> Option<u64> {
        None
    }

    /// Metadata only: one stat (and the content type's small sidecar) on the local backend.
    fn head<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>>;

    /// The object's version (its ETag) alone, `None` when absent: what a cache checks on
    /// every use, so a backend may answer it more cheaply than [`Objects::head`].
    fn version<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        Box::pin(async move { Ok(self.head(namespace, bucket, key).await?.map(|m| m.etag)) })
    }

    /// The object's bytes as a stream (all of them, or `range`); `None` when absent.
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<Option<ObjectBody>, ObjectError>>;

    /// Stores `body` under `key`, replacing what was there atomically: a reader sees the old
    /// object or the new one, never part of one.
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        body: ByteStream,
        content_type: Option<String>,
    ) -> BoxFuture<'a, Result<ObjectMeta, ObjectError>>;

    /// Copies an object within the namespace (either bucket to either); `None` when `from`
    /// is absent.
    fn copy<'a>(
        &'a self,
        namespace: &'a str,
        from: (Bucket, &'a str),
        to: (Bucket, &'a str),
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>>;

    /// Whether there was such an object.
    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, ObjectError>>;

    /// Keys starting with `prefix`, after `start_after`, in byte order, at most `limit`. The
    /// web bucket's platform keys (`wisp_core::site::RESERVED_PREFIX`) are not listed.
    fn list<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, ObjectError>>;
}

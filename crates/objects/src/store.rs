//! [`StoreObjects`]: the [`Objects`] trait over an `object_store::ObjectStore`, on the local
//! filesystem or in an S3 bucket.
//!
//! Layout inside the store (`layout.rs`): `<namespace>/<bucket>/<key>` holds an object's bytes.
//!
//! On the local filesystem a put streams into a staging file beside the target and renames it
//! into place, which is what makes replacement atomic; the etag is `object_store`'s
//! `inode-mtime-size`, new for every put since the renamed file is new. The content type an
//! object was put with is a small sidecar, `<namespace>/<bucket>.types/<key>` (none when it was
//! put without one, then the type is guessed from the key), written just after the bytes are in
//! place, so a reader racing a put may briefly see the new bytes with the old type, never a
//! partial object. This server is the only writer of its directory, so it counts each
//! namespace's bytes once and then keeps the count, and counts each bucket's changes
//! ([`Objects::generation`]) for caches.
//!
//! On S3, every controller and invoker of a cluster writes the same bucket, so nothing here may
//! depend on this process having seen every write:
//! - A put is one PUT (a body up to one part) or a multipart upload, both atomic on S3; the
//!   etag is S3's, which changes whenever the bytes do (equal bytes may keep it).
//! - The content type is the object's own `Content-Type`, written with the bytes in the same
//!   request (the guess from the key when the put gave none), so it never pairs with another
//!   writer's bytes, and a copy carries it.
//! - Quota: the bytes a namespace keeps are listed from the bucket before every write, not
//!   counted in memory, so a write made by another process is always seen. It costs one LIST
//!   per 1000 objects of the namespace per write; the alternative, a count kept in the bucket
//!   and moved by conditional puts, costs two requests per write however few objects there are,
//!   but drifts for good whenever a process dies between an object's write and the count's.
//!   As locally, concurrent puts to one namespace can overshoot the quota by what they race for.
//! - No generation is kept: caches ask for the version ([`Objects::version`]).
//! - `a` and `a/b` can both be objects (a filesystem refuses one of them).
//!
//! Nothing here needs a conditional write: a put replaces, a delete removes, and a get reads
//! exactly the version it looked up (`If-Match`), on both backends.

mod layout;
mod upload;

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt, PutPayload,
};
use wisp_core::site::RESERVED_PREFIX;

use crate::s3::S3Location;
use crate::{
    guess_content_type, BoxFuture, Bucket, ByteRange, ByteStream, Listing, ObjectBody, ObjectError,
    ObjectMeta, Objects,
};
use layout::{bucket_path, check, check_namespace, convert, key_of, object_path, type_path};

/// How a [`StoreObjects`] behaves.
#[derive(Debug, Clone)]
pub struct ObjectsConfig {
    /// Bytes of objects (both buckets) each namespace may keep. Checked as a put streams, so
    /// an upload is stopped as soon as it would cross it; concurrent puts to one namespace
    /// can overshoot by what they race for.
    pub quota_bytes: u64,
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        ObjectsConfig {
            quota_bytes: 1024 << 20,
        }
    }
}

pub struct StoreObjects {
    store: Arc<dyn ObjectStore>,
    config: ObjectsConfig,
    backend: Backend,
}

/// What differs between where objects are kept (see the module's docs).
enum Backend {
    /// The local filesystem, which this process alone writes.
    Local {
        /// Bytes each namespace keeps, counted by a listing on first use and then kept up to
        /// date by puts and deletes.
        usage: Mutex<HashMap<String, u64>>,
        /// Changes made per namespace and bucket.
        generations: Mutex<HashMap<(String, Bucket), u64>>,
    },
    /// An S3 bucket that every process of a cluster writes.
    S3,
}

impl Backend {
    /// The size of an upload's parts, and the largest body sent in one plain put. S3 refuses
    /// parts under 5 MiB (all but the last).
    fn part_bytes(&self) -> usize {
        match self {
            Backend::Local { .. } => 1 << 20,
            Backend::S3 => 5 << 20,
        }
    }
}

impl StoreObjects {
    /// Objects kept under `dir` on the local filesystem (created if missing).
    pub fn local(dir: &FsPath, config: ObjectsConfig) -> Result<StoreObjects, ObjectError> {
        // Owner-only: every namespace's objects are under it. (The files and folders in it
        // are `object_store`'s to make; no one else can reach them through this one.)
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ObjectError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(storage)?
            // Deleting the last object of a folder removes the folder, so a later key may
            // use that name for an object.
            .with_automatic_cleanup(true)
            // A put that answered is on disk (the file, then its directory, before the
            // rename is reported), as entity writes are.
            .with_fsync(true);
        Ok(StoreObjects {
            store: Arc::new(fs),
            config,
            backend: Backend::Local {
                usage: Mutex::new(HashMap::new()),
                generations: Mutex::new(HashMap::new()),
            },
        })
    }

    /// Objects kept in an S3 bucket under `location`'s prefix, reached as the `AWS_*`
    /// variables among `env` say (`crate::s3`). Sends nothing: [`StoreObjects::reachable`]
    /// tells whether the bucket answers.
    pub fn s3(
        location: &S3Location,
        env: impl IntoIterator<Item = (String, String)>,
        config: ObjectsConfig,
    ) -> Result<StoreObjects, ObjectError> {
        Ok(StoreObjects {
            store: crate::s3::open(location, env)?,
            config,
            backend: Backend::S3,
        })
    }

    /// Whether the store answers a listing (of a prefix no one writes: a missing bucket or a
    /// refused credential fails it, where a read of a missing key could not tell) within 30 s,
    /// not the minutes the client's retries may take; the error has the store's own text, for
    /// the operator who configured it.
    pub async fn reachable(&self) -> Result<(), ObjectError> {
        let probe = Path::from("wisp-reachable");
        let mut listing = self.store.list(Some(&probe));
        match tokio::time::timeout(std::time::Duration::from_secs(30), listing.next()).await {
            Ok(None | Some(Ok(_))) => Ok(()),
            Ok(Some(Err(e))) => Err(ObjectError::Storage(e.to_string())),
            Err(_) => Err(ObjectError::Storage("no answer within 30 s".into())),
        }
    }

    /// Counts a change (made or attempted) to the bucket; called after the change, so a reader
    /// that saw the old count re-reads.
    fn changed(&self, namespace: &str, bucket: Bucket) {
        if let Backend::Local { generations, .. } = &self.backend {
            *generations
                .lock()
                .expect("generations lock")
                .entry((namespace.to_string(), bucket))
                .or_default() += 1;
        }
    }

    /// The content type a stored object has: the sidecar's (locally), the object's own (on
    /// S3, from the response that carried `attributes`), else the guess from its key.
    async fn content_type(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        attributes: &Attributes,
    ) -> String {
        let found = match self.backend {
            Backend::Local { .. } => match self.store.get(&type_path(namespace, bucket, key)).await
            {
                Ok(found) => found
                    .bytes()
                    .await
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                Err(_) => None,
            },
            Backend::S3 => attributes
                .get(&Attribute::ContentType)
                .map(|t| t.as_ref().to_string()),
        };
        found.unwrap_or_else(|| guess_content_type(key).to_string())
    }

    /// Metadata with the content type: on S3 one HEAD, which carries the `Content-Type`.
    async fn stat(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
    ) -> Result<Option<ObjectMeta>, ObjectError> {
        let path = object_path(namespace, bucket, key);
        let (raw, attributes) = match self.backend {
            Backend::Local { .. } => match self.raw_head(&path).await? {
                Some(raw) => (raw, Attributes::new()),
                None => return Ok(None),
            },
            Backend::S3 => {
                let head = GetOptions {
                    head: true,
                    ..GetOptions::default()
                };
                match self.store.get_opts(&path, head).await {
                    Ok(GetResult {
                        meta, attributes, ..
                    }) => (meta, attributes),
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(storage(e)),
                }
            }
        };
        let content_type = self.content_type(namespace, bucket, key, &attributes).await;
        Ok(Some(ObjectMeta {
            content_type: Some(content_type),
            ..convert(key.to_string(), raw)
        }))
    }

    /// One attempt at a get: the metadata, then the bytes of exactly that version.
    async fn read(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<Read, ObjectError> {
        let path = object_path(namespace, bucket, key);
        let Some(raw) = self.raw_head(&path).await? else {
            return Ok(Read::Absent);
        };
        let options = GetOptions {
            range: range
                .map(|r| r.within(raw.size).map(GetRange::Bounded))
                .transpose()?,
            // The bytes read are those of the version the metadata describes.
            if_match: raw.e_tag.clone(),
            ..GetOptions::default()
        };
        let found = match self.store.get_opts(&path, options).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. })
            | Err(object_store::Error::Precondition { .. }) => return Ok(Read::Changed),
            Err(e) => return Err(storage(e)),
        };
        let range = found.range.clone();
        let content_type = self
            .content_type(namespace, bucket, key, &found.attributes)
            .await;
        let meta = ObjectMeta {
            content_type: Some(content_type),
            ..convert(key.to_string(), found.meta.clone())
        };
        let stream = found
            .into_stream()
            .map(|chunk| chunk.map_err(read_failed))
            .boxed();
        Ok(Read::Found(ObjectBody {
            meta,
            range,
            stream,
        }))
    }

    async fn raw_head(&self, path: &Path) -> Result<Option<object_store::ObjectMeta>, ObjectError> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // `a/b` where `a` is an object: there is no such key.
            Err(e) if under_an_object(&e) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// The bytes `namespace` keeps now: locally a listing the first time it is asked, on S3
    /// a listing every time.
    async fn usage(&self, namespace: &str) -> Result<u64, ObjectError> {
        let counted = match &self.backend {
            Backend::Local { usage, .. } => Some(usage),
            Backend::S3 => None,
        };
        if let Some(used) =
            counted.and_then(|c| c.lock().expect("usage lock").get(namespace).copied())
        {
            return Ok(used);
        }
        let mut used = 0;
        for bucket in [Bucket::Data, Bucket::Web] {
            let mut list = self.store.list(Some(&bucket_path(namespace, bucket)));
            while let Some(meta) = list.next().await {
                used += meta.map_err(storage)?.size;
            }
        }
        Ok(match counted {
            Some(counted) => *counted
                .lock()
                .expect("usage lock")
                .entry(namespace.to_string())
                .or_insert(used),
            None => used,
        })
    }

    /// Moves this process's count of the namespace's bytes, where it keeps one.
    fn account(&self, namespace: &str, removed: u64, added: u64) {
        if let Backend::Local { usage, .. } = &self.backend {
            if let Some(used) = usage.lock().expect("usage lock").get_mut(namespace) {
                *used = used.saturating_sub(removed) + added;
            }
        }
    }

    fn over_quota(&self, used: u64, removed: u64, added: u64) -> bool {
        used.saturating_sub(removed) + added > self.config.quota_bytes
    }

    fn quota_error(&self, namespace: &str) -> ObjectError {
        ObjectError::Quota {
            namespace: namespace.to_string(),
            quota: self.config.quota_bytes,
        }
    }

    /// Records the content type a put or copy gave, or forgets an old one: the local backend's
    /// sidecar (on S3 the type went with the bytes).
    async fn set_type(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        content_type: Option<String>,
    ) -> Result<(), ObjectError> {
        if let Backend::S3 = self.backend {
            return Ok(());
        }
        let path = type_path(namespace, bucket, key);
        match content_type {
            Some(t) => self
                .store
                .put(&path, PutPayload::from(t.into_bytes()))
                .await
                .map(drop)
                .map_err(storage),
            None => ignore_absent(self.store.delete(&path).await),
        }
    }

    /// What a failed write means: on a filesystem, a key colliding with a folder of keys (or
    /// the reverse) is the caller's to fix; anything else is the storage's.
    async fn write_failed(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        e: object_store::Error,
    ) -> ObjectError {
        if let Backend::S3 = self.backend {
            return storage(e);
        }
        let mut prefix = String::new();
        for segment in key.split('/') {
            if !prefix.is_empty() {
                if let Ok(Some(_)) = self
                    .raw_head(&object_path(namespace, bucket, &prefix))
                    .await
                {
                    return ObjectError::Conflict(format!(
                        "The key '{key}' cannot be stored: '{prefix}' is an object, so it cannot also be a folder of keys."
                    ));
                }
                prefix.push('/');
            }
            prefix.push_str(segment);
        }
        let inside = self
            .store
            .list(Some(&object_path(namespace, bucket, key)))
            .next()
            .await;
        if let Some(Ok(_)) = inside {
            return ObjectError::Conflict(format!(
                "The key '{key}' cannot be stored: other keys start with '{key}/'."
            ));
        }
        storage(e)
    }
}

impl Objects for StoreObjects {
    fn generation(&self, namespace: &str, bucket: Bucket) -> Option<u64> {
        let Backend::Local { generations, .. } = &self.backend else {
            return None;
        };
        let generations = generations.lock().expect("generations lock");
        Some(
            generations
                .get(&(namespace.to_string(), bucket))
                .copied()
                .unwrap_or(0),
        )
    }

    fn head<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>> {
        Box::pin(async move {
            check(namespace, key)?;
            self.stat(namespace, bucket, key).await
        })
    }

    fn version<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        // One stat: the content type's sidecar is not needed for the version.
        Box::pin(async move {
            check(namespace, key)?;
            let raw = self.raw_head(&object_path(namespace, bucket, key)).await?;
            Ok(raw.map(|raw| convert(key.to_string(), raw).etag))
        })
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<Option<ObjectBody>, ObjectError>> {
        Box::pin(async move {
            check(namespace, key)?;
            // A replace between the stat and the open is rare; reading again settles it.
            for _ in 0..3 {
                match self.read(namespace, bucket, key, range.clone()).await? {
                    Read::Found(body) => return Ok(Some(body)),
                    Read::Absent => return Ok(None),
                    Read::Changed => continue,
                }
            }
            Err(ObjectError::Storage(format!(
                "the object '{key}' kept changing while it was read; try again"
            )))
        })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        body: ByteStream,
        content_type: Option<String>,
    ) -> BoxFuture<'a, Result<ObjectMeta, ObjectError>> {
        Box::pin(async move {
            check(namespace, key)?;
            let mut attributes = Attributes::new();
            if let Backend::S3 = self.backend {
                let content_type =
                    (content_type.clone()).unwrap_or_else(|| guess_content_type(key).to_string());
                attributes.insert(Attribute::ContentType, content_type.into());
            }
            let written = async {
                self.write(namespace, bucket, key, body, attributes).await?;
                self.set_type(namespace, bucket, key, content_type).await
            }
            .await;
            self.changed(namespace, bucket);
            written?;
            self.head(namespace, bucket, key).await?.ok_or_else(|| {
                ObjectError::Storage(format!("the object '{key}' vanished after it was put"))
            })
        })
    }

    fn copy<'a>(
        &'a self,
        namespace: &'a str,
        from: (Bucket, &'a str),
        to: (Bucket, &'a str),
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>> {
        Box::pin(async move {
            check(namespace, from.1)?;
            check(namespace, to.1)?;
            let Some(source) = self.head(namespace, from.0, from.1).await? else {
                return Ok(None);
            };
            if from == to {
                return Ok(Some(source));
            }
            let target = object_path(namespace, to.0, to.1);
            let old = self.raw_head(&target).await?.map_or(0, |m| m.size);
            let used = self.usage(namespace).await?;
            if self.over_quota(used, old, source.size) {
                return Err(self.quota_error(namespace));
            }
            let source_path = object_path(namespace, from.0, from.1);
            let copied = self.store.copy(&source_path, &target).await;
            self.changed(namespace, to.0);
            if let Err(e) = copied {
                return Err(match e {
                    object_store::Error::NotFound { .. } => return Ok(None),
                    e => self.write_failed(namespace, to.0, to.1, e).await,
                });
            }
            self.account(namespace, old, source.size);
            let typed = self
                .set_type(namespace, to.0, to.1, source.content_type)
                .await;
            self.changed(namespace, to.0);
            typed?;
            self.head(namespace, to.0, to.1).await
        })
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, ObjectError>> {
        Box::pin(async move {
            check(namespace, key)?;
            let path = object_path(namespace, bucket, key);
            let Some(raw) = self.raw_head(&path).await? else {
                return Ok(false);
            };
            let deleted = self.store.delete(&path).await;
            self.changed(namespace, bucket);
            match deleted {
                Ok(()) => {}
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(storage(e)),
            }
            self.account(namespace, raw.size, 0);
            let untyped = self.set_type(namespace, bucket, key, None).await;
            self.changed(namespace, bucket);
            untyped?;
            Ok(true)
        })
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, ObjectError>> {
        Box::pin(async move {
            check_namespace(namespace)?;
            // The store lists whole folders; the folder part of the prefix narrows the walk
            // and the rest is matched here.
            let folder = match prefix.rsplit_once('/') {
                Some((folder, _)) if !folder.is_empty() => object_path(namespace, bucket, folder),
                _ => bucket_path(namespace, bucket),
            };
            let mut stream = self.store.list(Some(&folder));
            let mut objects = Vec::new();
            while let Some(raw) = stream.next().await {
                let raw = raw.map_err(storage)?;
                let key = key_of(&raw.location);
                // The site's own records (settings, what the deployer uploaded) are read by
                // key, never listed: users, their SDKs and their deployers see only their files.
                if bucket == Bucket::Web && key.starts_with(RESERVED_PREFIX) {
                    continue;
                }
                let after = start_after.is_none_or(|after| key.as_str() > after);
                if key.starts_with(prefix) && after {
                    objects.push(convert(key, raw));
                }
            }
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            let truncated = objects.len() > limit;
            objects.truncate(limit);
            Ok(Listing { objects, truncated })
        })
    }
}

/// What one attempt at a get found.
enum Read {
    Found(ObjectBody),
    Absent,
    /// Deleted or replaced between the stat and the read.
    Changed,
}

/// Whether a filesystem error says a folder of the path is a file.
fn under_an_object(e: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::NotADirectory;
        }
        source = error.source();
    }
    false
}

fn ignore_absent(result: object_store::Result<()>) -> Result<(), ObjectError> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(storage(e)),
    }
}

/// A failure of the store itself. Its text (which names files on the server) is logged here;
/// the error says only what kind of failure it was, since it reaches clients and functions.
fn storage(e: object_store::Error) -> ObjectError {
    tracing::error!(error = %e, "object storage failed");
    ObjectError::Storage(kind_of(&e))
}

/// A failure while an object's bytes were read, as [`storage`] reports it.
fn read_failed(e: object_store::Error) -> std::io::Error {
    tracing::error!(error = %e, "reading an object failed");
    std::io::Error::other(kind_of(&e))
}

/// What kind of failure `e` is, without its paths: the kind of the I/O error under it.
fn kind_of(e: &object_store::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        source = error.source();
    }
    "see the server's log".to_string()
}

//! [`StoreObjects`]: the [`Objects`] trait over an `object_store::ObjectStore`.
//!
//! Layout inside the store: `<namespace>/<bucket>/<key>` holds an object's bytes and
//! `<namespace>/<bucket>.types/<key>` the content type it was put with (a small sidecar; none
//! when it was put without one, then the type is guessed from the key). The sidecar is written
//! just after the bytes are in place, so a reader racing a put may briefly see the new bytes
//! with the old type, never a partial object.
//!
//! On the local filesystem a put streams into a staging file beside the target and renames it
//! into place (`object_store`'s multipart upload), which is what makes replacement atomic; the
//! etag is `object_store`'s `inode-mtime-size`, new for every put since the renamed file is new.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use percent_encoding::percent_decode_str;
use wisp_core::site::RESERVED_PREFIX;

use crate::{
    guess_content_type, validate_key, BoxFuture, Bucket, ByteRange, ByteStream, Listing,
    ObjectBody, ObjectError, ObjectMeta, Objects,
};

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

/// Parts of an upload held in memory at once: chunk size × (in flight + the one filling).
const CHUNK_BYTES: usize = 1 << 20;
const CHUNKS_IN_FLIGHT: usize = 2;

pub struct StoreObjects {
    store: Arc<dyn ObjectStore>,
    config: ObjectsConfig,
    /// Bytes each namespace keeps, counted by a listing on first use and then kept up to date
    /// by puts and deletes.
    usage: Mutex<HashMap<String, u64>>,
    /// Changes made through this value, per namespace and bucket: kept only when nothing else
    /// writes the store (the local filesystem backend), so that readers may trust them.
    generations: Option<Mutex<HashMap<(String, Bucket), u64>>>,
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
        let mut objects = StoreObjects::new(Arc::new(fs), config);
        // This server is the only writer of its directory: its own count of changes is the
        // whole story.
        objects.generations = Some(Mutex::new(HashMap::new()));
        Ok(objects)
    }

    /// Objects kept in any `object_store` backend (an S3-compatible store for a cluster).
    pub fn new(store: Arc<dyn ObjectStore>, config: ObjectsConfig) -> StoreObjects {
        StoreObjects {
            store,
            config,
            usage: Mutex::new(HashMap::new()),
            generations: None,
        }
    }

    /// Counts a change (made or attempted) to the bucket; called after the change, so a reader
    /// that saw the old count re-reads.
    fn changed(&self, namespace: &str, bucket: Bucket) {
        if let Some(generations) = &self.generations {
            *generations
                .lock()
                .unwrap()
                .entry((namespace.to_string(), bucket))
                .or_default() += 1;
        }
    }

    async fn meta_of(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        raw: object_store::ObjectMeta,
    ) -> ObjectMeta {
        let content_type = match self.store.get(&type_path(namespace, bucket, key)).await {
            Ok(found) => found
                .bytes()
                .await
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            Err(_) => None,
        };
        let content_type = content_type.unwrap_or_else(|| guess_content_type(key).to_string());
        ObjectMeta {
            content_type: Some(content_type),
            ..convert(key.to_string(), raw)
        }
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
        let meta = self
            .meta_of(namespace, bucket, key, found.meta.clone())
            .await;
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

    /// The bytes `namespace` keeps now; a listing the first time it is asked.
    async fn usage(&self, namespace: &str) -> Result<u64, ObjectError> {
        if let Some(used) = self.usage.lock().expect("usage lock").get(namespace) {
            return Ok(*used);
        }
        let mut used = 0;
        for bucket in [Bucket::Data, Bucket::Web] {
            let mut list = self.store.list(Some(&bucket_path(namespace, bucket)));
            while let Some(meta) = list.next().await {
                used += meta.map_err(storage)?.size;
            }
        }
        Ok(*self
            .usage
            .lock()
            .expect("usage lock")
            .entry(namespace.to_string())
            .or_insert(used))
    }

    fn account(&self, namespace: &str, removed: u64, added: u64) {
        if let Some(used) = self.usage.lock().expect("usage lock").get_mut(namespace) {
            *used = used.saturating_sub(removed) + added;
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

    /// Records the content type a put or copy gave, or forgets an old one.
    async fn set_type(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        content_type: Option<String>,
    ) -> Result<(), ObjectError> {
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

    /// What a failed write means: a key colliding with a folder of keys (or the reverse) is
    /// the caller's to fix; anything else is the storage's.
    async fn write_failed(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        e: object_store::Error,
    ) -> ObjectError {
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

    async fn write(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        mut body: ByteStream,
    ) -> Result<(), ObjectError> {
        let path = object_path(namespace, bucket, key);
        let old = self.raw_head(&path).await?.map_or(0, |m| m.size);
        let used = self.usage(namespace).await?;
        let upload = match self.store.put_multipart(&path).await {
            Ok(upload) => upload,
            Err(e) => return Err(self.write_failed(namespace, bucket, key, e).await),
        };
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK_BYTES);
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let failure = match chunk {
                Err(e) => Some(ObjectError::Body(e)),
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    if self.over_quota(used, old, written) {
                        Some(self.quota_error(namespace))
                    } else {
                        match writer.wait_for_capacity(CHUNKS_IN_FLIGHT).await {
                            Ok(()) => {
                                writer.put(chunk);
                                None
                            }
                            Err(e) => Some(storage(e)),
                        }
                    }
                }
            };
            if let Some(failure) = failure {
                // The staging file goes; the old object was never touched.
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, key, "cannot remove an aborted upload");
                }
                return Err(failure);
            }
        }
        if let Err(e) = writer.finish().await {
            return Err(self.write_failed(namespace, bucket, key, e).await);
        }
        self.account(namespace, old, written);
        Ok(())
    }
}

impl Objects for StoreObjects {
    fn generation(&self, namespace: &str, bucket: Bucket) -> Option<u64> {
        let generations = self.generations.as_ref()?;
        let generations = generations.lock().unwrap();
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
            match self.raw_head(&object_path(namespace, bucket, key)).await? {
                Some(raw) => Ok(Some(self.meta_of(namespace, bucket, key, raw).await)),
                None => Ok(None),
            }
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
            let written = async {
                self.write(namespace, bucket, key, body).await?;
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
            let untyped = self.store.delete(&type_path(namespace, bucket, key)).await;
            self.changed(namespace, bucket);
            ignore_absent(untyped)?;
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

fn check(namespace: &str, key: &str) -> Result<(), ObjectError> {
    check_namespace(namespace)?;
    validate_key(key)
}

/// Namespaces come validated from the controller; this keeps a bad one from naming a folder
/// outside its own all the same.
fn check_namespace(namespace: &str) -> Result<(), ObjectError> {
    if namespace.is_empty()
        || namespace.contains('/')
        || namespace.starts_with('.')
        || crate::key::stored_len(namespace) > crate::key::MAX_SEGMENT_BYTES
    {
        return Err(ObjectError::InvalidKey(format!(
            "'{namespace}' is not a namespace name."
        )));
    }
    Ok(())
}

fn bucket_path(namespace: &str, bucket: Bucket) -> Path {
    Path::from_iter([namespace, bucket.as_str()])
}

fn object_path(namespace: &str, bucket: Bucket, key: &str) -> Path {
    Path::from_iter(
        [namespace, bucket.as_str()]
            .into_iter()
            .chain(key.split('/')),
    )
}

fn type_path(namespace: &str, bucket: Bucket, key: &str) -> Path {
    let types = format!("{}.types", bucket.as_str());
    Path::from_iter(
        [namespace, types.as_str()]
            .into_iter()
            .chain(key.split('/')),
    )
}

/// The key of a stored object's path (`<namespace>/<bucket>/<key>`); `Path` percent-encodes
/// characters it does not allow in a segment, so each segment is decoded back.
fn key_of(location: &Path) -> String {
    location
        .parts()
        .skip(2)
        .map(|part| {
            percent_decode_str(part.as_ref())
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn convert(key: String, raw: object_store::ObjectMeta) -> ObjectMeta {
    let last_modified_ms = u64::try_from(raw.last_modified.timestamp_millis()).unwrap_or(0);
    ObjectMeta {
        key,
        size: raw.size,
        etag: raw
            .e_tag
            .map(|t| t.trim_matches('"').to_string())
            .unwrap_or_default(),
        last_modified_ms,
        content_type: None,
    }
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

#[cfg(test)]
mod tests;

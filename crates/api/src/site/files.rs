//! The files of the sites, held in memory while they are small and current.
//!
//! When the store counts its own changes (the local backend: `Objects::generation`), a cached
//! file, or the absence of one, is used as long as the namespace's web bucket has not changed:
//! a request touches no file at all, and a redeploy is served at once. On a store written by
//! others as well, a cached file costs one stat (`Objects::version`) to check. A file's gzip
//! and brotli forms are made the first time a client asks for them and kept with it,
//! so compression is paid once per version, not per request. Large files are not cached; they
//! stream from storage (with ranges).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures_util::TryStreamExt;
use wisp_objects::{guess_content_type, Bucket, ObjectError, ObjectMeta, Objects};

/// The type a site file is served as: as uploaded, unless the uploader gave none or the
/// generic `application/octet-stream` (what S3 clients send for a file they did not type,
/// `nim web create` among them); then guessed from its name.
pub fn served_type(stored: Option<&str>, key: &str) -> String {
    match stored {
        Some(t)
            if !t.is_empty()
                && !t.starts_with("application/octet-stream")
                && !t.starts_with("binary/octet-stream") =>
        {
            t.to_owned()
        }
        _ => guess_content_type(key).to_string(),
    }
}

use super::negotiate::{compressible, Coding};

/// Files up to this size are cached (and compressed); larger ones stream.
const MAX_CACHED_FILE: u64 = 1024 * 1024;
/// Compressing smaller files saves less than the header costs.
const MIN_COMPRESSED: usize = 512;

/// A file of a site as it is served.
pub enum SiteFile {
    /// Small: its bytes are here.
    Cached(Arc<CachedFile>),
    /// Large: its bytes are read from storage for each request.
    Large(ObjectMeta),
}

impl SiteFile {
    pub fn version(&self) -> &str {
        match self {
            SiteFile::Cached(file) => &file.version,
            SiteFile::Large(meta) => &meta.etag,
        }
    }
}

pub struct CachedFile {
    pub version: String,
    pub modified_ms: u64,
    pub content_type: String,
    pub body: Bytes,
    gzip: OnceLock<Option<Bytes>>,
    brotli: OnceLock<Option<Bytes>>,
}

impl CachedFile {
    /// The body in `coding`, `None` when that coding is not worth it for this file.
    pub fn encoded(&self, coding: Coding) -> Option<Bytes> {
        let slot = match coding {
            Coding::Identity => return Some(self.body.clone()),
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        };
        slot.get_or_init(|| {
            if self.body.len() < MIN_COMPRESSED || !compressible(&self.content_type) {
                return None;
            }
            let packed = compress(&self.body, coding)?;
            // Kept only when it is clearly smaller: a packed image is no gain.
            (packed.len() < self.body.len() * 9 / 10).then(|| Bytes::from(packed))
        })
        .clone()
    }
}

fn compress(body: &[u8], coding: Coding) -> Option<Vec<u8>> {
    match coding {
        Coding::Identity => None,
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            // Quality 9 of 11: near the best size, at a cost paid once per version.
            let params = brotli::enc::BrotliEncoderParams {
                quality: 9,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(out)
        }
    }
}

/// Cached files of every namespace's web bucket, bounded in bytes.
pub struct SiteFiles {
    objects: Arc<dyn Objects>,
    max_bytes: usize,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    files: HashMap<(String, String), Entry>,
    /// Insertion order, for eviction (oldest first).
    order: VecDeque<(String, String)>,
    bytes: usize,
}

/// What was found under a key, and when.
#[derive(Clone)]
struct Entry {
    /// The bucket's generation when it was read (`Objects::generation`), if the store keeps one.
    generation: Option<u64>,
    /// `None`: no such (small) file. Kept only with a generation, which says when to look again.
    file: Option<Arc<CachedFile>>,
}

impl Entry {
    fn cost(&self, key: &(String, String)) -> usize {
        // The compressed forms are at most about as large again as the body.
        let body = self.file.as_ref().map_or(0, |f| f.body.len() * 2);
        body + key.0.len() + key.1.len() + 64
    }
}

impl SiteFiles {
    pub fn new(objects: Arc<dyn Objects>, max_bytes: usize) -> SiteFiles {
        SiteFiles {
            objects,
            max_bytes,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn objects(&self) -> &Arc<dyn Objects> {
        &self.objects
    }

    /// The current version of `key` in the namespace's web bucket, `None` when absent.
    ///
    /// When the store counts its changes (`Objects::generation`), a cached answer — a file or
    /// its absence — is current while the count is: no request to the store at all. Otherwise
    /// a cached file is checked against the stored version (one stat).
    pub async fn file(&self, namespace: &str, key: &str) -> Result<Option<SiteFile>, ObjectError> {
        let id = (namespace.to_string(), key.to_string());
        let generation = self.objects.generation(namespace, Bucket::Web);
        let cached = self.cache.lock().unwrap().files.get(&id).cloned();
        match (generation, cached) {
            (Some(now), Some(entry)) if entry.generation == Some(now) => {
                return Ok(entry.file.map(SiteFile::Cached));
            }
            (
                None,
                Some(Entry {
                    file: Some(file), ..
                }),
            ) => {
                let version = self.objects.version(namespace, Bucket::Web, key).await?;
                match version {
                    None => return Ok(None),
                    Some(version) if version == file.version => {
                        return Ok(Some(SiteFile::Cached(file)));
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
        // The version read is the one the body carries; a large file's stream is dropped
        // unread and opened again, with its range, by the request that serves it.
        let Some(found) = self.objects.get(namespace, Bucket::Web, key, None).await? else {
            if generation.is_some() {
                self.keep(
                    id,
                    Entry {
                        generation,
                        file: None,
                    },
                );
            }
            return Ok(None);
        };
        if found.meta.size > MAX_CACHED_FILE {
            return Ok(Some(SiteFile::Large(found.meta)));
        }
        let chunks: Vec<Bytes> = found
            .stream
            .try_collect()
            .await
            .map_err(|e| ObjectError::Storage(e.to_string()))?;
        let body = Bytes::from(chunks.concat());
        let meta = found.meta;
        let content_type = served_type(meta.content_type.as_deref(), key);
        let file = Arc::new(CachedFile {
            version: meta.etag,
            modified_ms: meta.last_modified_ms,
            content_type,
            body,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        });
        self.keep(
            id,
            Entry {
                generation,
                file: Some(file.clone()),
            },
        );
        Ok(Some(SiteFile::Cached(file)))
    }

    fn keep(&self, id: (String, String), entry: Entry) {
        let mut cache = self.cache.lock().unwrap();
        let cost = entry.cost(&id);
        if let Some(old) = cache.files.insert(id.clone(), entry) {
            cache.bytes -= old.cost(&id);
        } else {
            cache.order.push_back(id);
        }
        cache.bytes += cost;
        while cache.bytes > self.max_bytes {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            if let Some(gone) = cache.files.remove(&oldest) {
                cache.bytes -= gone.cost(&oldest);
            }
        }
    }
}

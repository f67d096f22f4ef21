//! The files of the sites, held in memory while they are small and current.
//!
//! A request costs one stat of the file (`Objects::version`) when its bytes are cached: the
//! version in the cache is compared with the stored one, so a redeploy is served at once. A
//! file's gzip and brotli forms are made the first time a client asks for them and kept with it,
//! so compression is paid once per version, not per request. Large files are not cached; they
//! stream from storage (with ranges).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures_util::TryStreamExt;
use wisp_objects::{guess_content_type, Bucket, ObjectError, ObjectMeta, Objects};

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
    files: HashMap<(String, String), Arc<CachedFile>>,
    /// Insertion order, for eviction (oldest first).
    order: VecDeque<(String, String)>,
    bytes: usize,
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
    pub async fn file(&self, namespace: &str, key: &str) -> Result<Option<SiteFile>, ObjectError> {
        let Some(version) = self.objects.version(namespace, Bucket::Web, key).await? else {
            return Ok(None);
        };
        let id = (namespace.to_string(), key.to_string());
        if let Some(file) = self.cache.lock().unwrap().files.get(&id) {
            if file.version == version {
                return Ok(Some(SiteFile::Cached(file.clone())));
            }
        }
        // The version read is the one the body carries; a large file's stream is dropped
        // unread and opened again, with its range, by the request that serves it.
        let Some(found) = self.objects.get(namespace, Bucket::Web, key, None).await? else {
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
        let content_type = meta
            .content_type
            .clone()
            .unwrap_or_else(|| guess_content_type(key).to_string());
        let file = Arc::new(CachedFile {
            version: meta.etag,
            modified_ms: meta.last_modified_ms,
            content_type,
            body,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        });
        self.keep(id, file.clone());
        Ok(Some(SiteFile::Cached(file)))
    }

    fn keep(&self, id: (String, String), file: Arc<CachedFile>) {
        let mut cache = self.cache.lock().unwrap();
        // The compressed forms are at most about as large again as the body.
        let cost = file.body.len() * 2;
        if let Some(old) = cache.files.insert(id.clone(), file) {
            cache.bytes -= old.body.len() * 2;
        } else {
            cache.order.push_back(id);
        }
        cache.bytes += cost;
        while cache.bytes > self.max_bytes {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            if let Some(gone) = cache.files.remove(&oldest) {
                cache.bytes -= gone.body.len() * 2;
            }
        }
    }
}

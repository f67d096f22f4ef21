//! Declared state's `StateBackend` over the platform's state services: declared keys live in
//! the key-value store (the same keyspace functions reach over RESP), declared files in the
//! namespace's data objects.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use wisp_core::BoxFuture;
use wisp_declared_state::{KeyValues, StateBackend, StateBackendError};
use wisp_kv::Swap;
use wisp_objects::{Bucket, Objects};

use wisp_kv::{Keys, KeysError};

/// Declared state in the namespace's keys and data objects.
pub struct StateStores {
    pub keys: Keys,
    pub objects: Arc<dyn Objects>,
}

impl StateBackend for StateStores {
    fn load<'a>(
        &'a self,
        namespace: &'a str,
        keys: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StateBackendError>> {
        // One snapshot: the values are of one moment, and a key of another type is named.
        Box::pin(async move {
            self.keys
                .snapshot(namespace, &keys)
                .await
                .map_err(|e| match e {
                    KeysError::Key { key, error } => StateBackendError::Key {
                        key,
                        message: error.to_string(),
                    },
                    other => StateBackendError::Keys(other.to_string()),
                })
        })
    }

    fn commit<'a>(
        &'a self,
        namespace: &'a str,
        expect: KeyValues,
        write: KeyValues,
    ) -> BoxFuture<'a, Result<bool, StateBackendError>> {
        let bytes = |pairs: KeyValues| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), v))
                .collect()
        };
        let swap = Swap {
            expect: bytes(expect),
            write: bytes(write),
        };
        Box::pin(async move {
            self.keys
                .swap(namespace, swap)
                .await
                .map_err(|e| StateBackendError::Keys(e.to_string()))
        })
    }

    fn object_version<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateBackendError>> {
        Box::pin(async move {
            self.objects
                .version(namespace, Bucket::Data, name)
                .await
                .map_err(|e| StateBackendError::Object(e.to_string()))
        })
    }

    fn download<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<(String, u64), StateBackendError>> {
        Box::pin(async move {
            let body = self
                .objects
                .get(namespace, Bucket::Data, name, None)
                .await
                .map_err(|e| StateBackendError::Object(e.to_string()))?
                .ok_or_else(|| {
                    StateBackendError::Object(
                        "the object was deleted while it was fetched".to_string(),
                    )
                })?;
            // Readable by the server's user only until the cache makes it read-only.
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(dest)
                .await
                .map_err(|e| cannot_keep(dest, e))?;
            let mut stream = body.stream;
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    StateBackendError::Object(format!("reading the object failed: {e}"))
                })?;
                written += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| cannot_keep(dest, e))?;
            }
            file.flush().await.map_err(|e| cannot_keep(dest, e))?;
            Ok((body.meta.etag, written))
        })
    }
}

/// The copy of a declared file could not be written: the record says so, the server's log
/// says where (a path under the data directory is none of a function's business).
fn cannot_keep(dest: &Path, e: std::io::Error) -> StateBackendError {
    tracing::error!(path = %dest.display(), error = %e, "cannot write a declared file's copy");
    StateBackendError::LocalCopy(e.kind())
}

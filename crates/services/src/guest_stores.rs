//! `GuestState` (the state imports of `wasm` components) over the platform's stores: the same
//! key-value store functions reach over RESP and users through `/kv`, and the namespace's data
//! bucket. A guest's calls are awaited on the task that runs the guest.

use std::sync::Arc;

use futures_util::StreamExt;
use wisp_core::BoxFuture;
use wisp_kv::Refusal;
use wisp_objects::{Bucket, ObjectError, Objects};
use wisp_wasm::{GuestState, ObjectPage, StateError};

use wisp_kv::{Keys, KeysError};

/// What components' `kv` and `objects` imports reach.
pub struct GuestStores {
    /// `None` when the server runs without its key-value store.
    pub keys: Option<Keys>,
    pub objects: Arc<dyn Objects>,
}

impl GuestStores {
    fn keys(&self) -> Result<&Keys, StateError> {
        self.keys.as_ref().ok_or_else(|| {
            StateError::Failed("this server runs without its key-value store".into())
        })
    }
}

/// A key-value error as the guest's error variant.
fn refused(error: KeysError) -> StateError {
    match error {
        KeysError::Refused(text) => match Refusal::of(&text) {
            Refusal::WrongType => StateError::WrongType(text),
            Refusal::Quota => StateError::Quota(text),
            Refusal::NotANumber => StateError::NotANumber(text),
            Refusal::Failed => StateError::Failed(text),
            Refusal::Invalid => StateError::Invalid(text),
        },
        // The guest's ttl is a u32: only 0 is refused.
        KeysError::BadExpiry => StateError::Invalid("a ttl must be at least 1 second".into()),
        // Logged where it was met.
        _ => StateError::Failed("unexpected reply from the key-value store".into()),
    }
}

fn object_error(e: ObjectError) -> StateError {
    match e {
        ObjectError::InvalidKey(m) | ObjectError::Conflict(m) => StateError::Invalid(m),
        e @ ObjectError::Quota { .. } => StateError::Quota(e.to_string()),
        other => StateError::Failed(other.to_string()),
    }
}

impl GuestState for GuestStores {
    fn kv_get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        Box::pin(async move { self.keys()?.get(namespace, key).await.map_err(refused) })
    }

    fn kv_set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            self.keys()?
                .set(namespace, key, value, ttl_seconds.map(u64::from))
                .await
                .map_err(refused)
        })
    }

    fn kv_delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async move { self.keys()?.delete(namespace, key).await.map_err(refused) })
    }

    fn kv_incr<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        by: i64,
    ) -> BoxFuture<'a, Result<i64, StateError>> {
        Box::pin(async move { self.keys()?.incr(namespace, key, by).await.map_err(refused) })
    }

    fn kv_keys<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            let keys = self
                .keys()?
                .keys(namespace, prefix)
                .await
                .map_err(refused)?;
            Ok(keys
                .into_iter()
                .map(|key| String::from_utf8_lossy(&key).into_owned())
                .collect())
        })
    }

    fn object_get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        Box::pin(async move {
            let body = self
                .objects
                .get(namespace, Bucket::Data, key, None)
                .await
                .map_err(object_error)?;
            let Some(body) = body else { return Ok(None) };
            let too_large = |size: u64| {
                StateError::TooLarge(format!(
                    "the object '{key}' has {size} bytes, more than the action's memory limit of {max_bytes} bytes"
                ))
            };
            if body.meta.size > max_bytes {
                return Err(too_large(body.meta.size));
            }
            let mut data = Vec::with_capacity(body.meta.size as usize);
            let mut stream = body.stream;
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| StateError::Failed(format!("reading '{key}': {e}")))?;
                data.extend_from_slice(&chunk);
                if data.len() as u64 > max_bytes {
                    return Err(too_large(data.len() as u64));
                }
            }
            Ok(Some(data))
        })
    }

    fn object_put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let body = futures_util::stream::once(async move { Ok(data.into()) }).boxed();
            self.objects
                .put(namespace, Bucket::Data, key, body, content_type)
                .await
                .map(drop)
                .map_err(object_error)
        })
    }

    fn object_delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async move {
            self.objects
                .delete(namespace, Bucket::Data, key)
                .await
                .map_err(object_error)
        })
    }

    fn object_list<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ObjectPage, StateError>> {
        Box::pin(async move {
            let listing = self
                .objects
                .list(namespace, Bucket::Data, prefix, start_after, limit)
                .await
                .map_err(object_error)?;
            Ok(ObjectPage {
                keys: listing.objects.into_iter().map(|o| o.key).collect(),
                truncated: listing.truncated,
            })
        })
    }
}

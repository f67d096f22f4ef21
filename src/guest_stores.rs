//! `GuestState` (the state imports of `wasm` components) over the platform's stores: the same
//! key-value store functions reach over RESP and users through `/kv`, and the namespace's data
//! bucket. A guest's calls are awaited on the task that runs the guest.

use std::sync::Arc;

use futures_util::StreamExt;
use wisp_core::BoxFuture;
use wisp_invoker::{GuestState, ObjectPage, StateError};
use wisp_kv::{Command, KvStore, Refusal, Reply};
use wisp_objects::{Bucket, ObjectError, Objects};

pub struct WasmState {
    /// `None` when the server runs without its key-value store.
    pub kv: Option<Arc<dyn KvStore>>,
    pub objects: Arc<dyn Objects>,
}

impl WasmState {
    async fn kv(&self, namespace: &str, command: Command) -> Result<Reply, StateError> {
        let kv = self.kv.as_ref().ok_or_else(|| {
            StateError::Failed("this server runs without its key-value store".into())
        })?;
        match kv.execute(namespace, command).await {
            Reply::Error(e) => Err(refused(&e)),
            reply => Ok(reply),
        }
    }
}

/// An error reply as the guest's error variant.
fn refused(error: &str) -> StateError {
    let text = error.to_string();
    match Refusal::of(error) {
        Refusal::WrongType => StateError::WrongType(text),
        Refusal::Quota => StateError::Quota(text),
        Refusal::NotANumber => StateError::NotANumber(text),
        Refusal::Failed => StateError::Failed(text),
        Refusal::Invalid => StateError::Invalid(text),
    }
}

fn unexpected(reply: Reply) -> StateError {
    tracing::error!(?reply, "unexpected reply from the key-value store");
    StateError::Failed("unexpected reply from the key-value store".into())
}

fn object_error(e: ObjectError) -> StateError {
    match e {
        ObjectError::InvalidKey(m) | ObjectError::Conflict(m) => StateError::Invalid(m),
        e @ ObjectError::Quota { .. } => StateError::Quota(e.to_string()),
        other => StateError::Failed(other.to_string()),
    }
}

impl GuestState for WasmState {
    fn kv_get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        Box::pin(async move {
            match self
                .kv(namespace, Command::Get(key.as_bytes().to_vec()))
                .await?
            {
                Reply::Bulk(value) => Ok(value),
                other => Err(unexpected(other)),
            }
        })
    }

    fn kv_set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let command = Command::set(key.as_bytes().to_vec(), value, ttl_seconds.map(u64::from))
                .ok_or_else(|| StateError::Invalid("a ttl must be at least 1 second".into()))?;
            self.kv(namespace, command).await.map(drop)
        })
    }

    fn kv_delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async move {
            match self
                .kv(namespace, Command::Del(vec![key.as_bytes().to_vec()]))
                .await?
            {
                Reply::Integer(n) => Ok(n > 0),
                other => Err(unexpected(other)),
            }
        })
    }

    fn kv_incr<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        by: i64,
    ) -> BoxFuture<'a, Result<i64, StateError>> {
        Box::pin(async move {
            match self
                .kv(namespace, Command::IncrBy(key.as_bytes().to_vec(), by))
                .await?
            {
                Reply::Integer(n) => Ok(n),
                other => Err(unexpected(other)),
            }
        })
    }

    fn kv_keys<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            match self
                .kv(namespace, Command::keys_with_prefix(prefix.as_bytes()))
                .await?
            {
                Reply::Array(Some(items)) => Ok(items
                    .into_iter()
                    .filter_map(|item| match item {
                        Reply::Bulk(Some(key)) => Some(String::from_utf8_lossy(&key).into_owned()),
                        _ => None,
                    })
                    .collect()),
                other => Err(unexpected(other)),
            }
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

//! `GuestState` (the state imports of `wasm` components) over the platform's stores: the same
//! key-value store functions reach over RESP and users through `/kv`, and the namespace's data
//! bucket. A guest's calls are awaited on the task that runs the guest.

use std::sync::Arc;

use futures_util::StreamExt;
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

#[async_trait::async_trait]
impl GuestState for WasmState {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        match self
            .kv(namespace, Command::Get(key.as_bytes().to_vec()))
            .await?
        {
            Reply::Bulk(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    async fn kv_set(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), StateError> {
        let command = Command::set(key.as_bytes().to_vec(), value, ttl_seconds.map(u64::from))
            .ok_or_else(|| StateError::Invalid("a ttl must be at least 1 second".into()))?;
        self.kv(namespace, command).await.map(drop)
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError> {
        match self
            .kv(namespace, Command::Del(vec![key.as_bytes().to_vec()]))
            .await?
        {
            Reply::Integer(n) => Ok(n > 0),
            other => Err(unexpected(other)),
        }
    }

    async fn kv_incr(&self, namespace: &str, key: &str, by: i64) -> Result<i64, StateError> {
        match self
            .kv(namespace, Command::IncrBy(key.as_bytes().to_vec(), by))
            .await?
        {
            Reply::Integer(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    async fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, StateError> {
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
    }

    async fn object_get(
        &self,
        namespace: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, StateError> {
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
            let chunk = chunk.map_err(|e| StateError::Failed(format!("reading '{key}': {e}")))?;
            data.extend_from_slice(&chunk);
            if data.len() as u64 > max_bytes {
                return Err(too_large(data.len() as u64));
            }
        }
        Ok(Some(data))
    }

    async fn object_put(
        &self,
        namespace: &str,
        key: &str,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<(), StateError> {
        let body = futures_util::stream::once(async move { Ok(data.into()) }).boxed();
        self.objects
            .put(namespace, Bucket::Data, key, body, content_type)
            .await
            .map(drop)
            .map_err(object_error)
    }

    async fn object_delete(&self, namespace: &str, key: &str) -> Result<bool, StateError> {
        self.objects
            .delete(namespace, Bucket::Data, key)
            .await
            .map_err(object_error)
    }

    async fn object_list(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StateError> {
        let listing = self
            .objects
            .list(namespace, Bucket::Data, prefix, start_after, limit)
            .await
            .map_err(object_error)?;
        Ok(ObjectPage {
            keys: listing.objects.into_iter().map(|o| o.key).collect(),
            truncated: listing.truncated,
        })
    }
}

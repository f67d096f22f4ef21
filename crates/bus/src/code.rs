//! What is too large for a NATS message (1 MiB by default) travels beside it: stored in
//! chunks in a stream of the cluster's, the message carrying a reference.
//!
//! - Action code (a zip with its `node_modules` is often over the limit) is stored once per
//!   revision ([`CodeStore::detach`]), and invokers keep what they read back for the next
//!   activations ([`CodeStore::attach`]).
//! - Any other message still too large (an activation's arguments or a result near
//!   OpenWhisk's 1 MiB limits, with the rest of the message) is stored whole and replaced by
//!   a reference ([`CodeStore::wrap`], [`CodeStore::unwrap`]).
//!
//! Stored bytes are addressed by their SHA-256, so storing them again is harmless and a
//! reference can never name other bytes. The stream keeps one message per chunk subject and
//! drops what is older than [`KEPT_FOR`]; a controller stores code again when its last store
//! is older than half that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wisp_core::{Action, Exec};

use crate::{BusError, Subjects};

/// Code up to this size rides in the message itself.
pub(crate) const INLINE_LIMIT: usize = 256 * 1024;

/// Messages up to this size go as they are; larger ones are stored (NATS's default limit is
/// 1 MiB, and a server may be configured lower, rarely below this).
const MESSAGE_LIMIT: usize = 512 * 1024;

/// What a wrapped message's payload starts with: no message of the bus does.
const WRAPPED: &[u8] = b"{\"stored\":";

/// Bytes per stored chunk: well under NATS's default message limit.
const CHUNK: usize = 512 * 1024;

/// How long the stream keeps code.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// Code an invoker keeps in memory, in bytes, most recently used first.
const CACHED_BYTES: usize = 256 * 1024 * 1024;

/// Where an action's code was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodeRef {
    digest: String,
    chunks: u32,
}

/// A message stored instead of sent.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    stored: CodeRef,
}

/// The cluster's stored code, as a controller writes it and an invoker reads it.
pub(crate) struct CodeStore {
    jetstream: jetstream::Context,
    stream: stream::Stream,
    subjects: Subjects,
    /// When this process last stored each digest.
    stored: Mutex<HashMap<String, Instant>>,
    /// Code read back, with when it was last used.
    cache: Mutex<HashMap<String, (std::sync::Arc<str>, Instant)>>,
}

impl CodeStore {
    pub async fn open(
        jetstream: jetstream::Context,
        subjects: Subjects,
    ) -> Result<CodeStore, BusError> {
        let stream = jetstream
            .get_or_create_stream(stream::Config {
                name: subjects.code_stream(),
                subjects: vec![subjects.code_all()],
                retention: stream::RetentionPolicy::Limits,
                max_messages_per_subject: 1,
                max_age: KEPT_FOR,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        Ok(CodeStore {
            jetstream,
            stream,
            subjects,
            stored: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// `action` as it crosses the bus: its code moved out (stored first) when too large.
    pub async fn detach(&self, action: &Action) -> Result<(Action, Option<CodeRef>), BusError> {
        let code = match &action.exec {
            Exec::Code(exec) if exec.code.len() > INLINE_LIMIT => &exec.code,
            _ => return Ok((action.clone(), None)),
        };
        let reference = self.store(code.as_bytes(), true).await?;
        let mut light = action.clone();
        if let Exec::Code(exec) = &mut light.exec {
            exec.code = String::new();
        }
        Ok((light, Some(reference)))
    }

    /// `payload` as it can be sent: itself, or a reference to it once stored.
    pub async fn wrap(&self, payload: Vec<u8>) -> Result<Bytes, BusError> {
        if payload.len() <= MESSAGE_LIMIT {
            return Ok(Bytes::from(payload));
        }
        let reference = self.store(&payload, false).await?;
        let wrapped = serde_json::to_vec(&Wrapped { stored: reference })
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        Ok(Bytes::from(wrapped))
    }

    /// Whether `payload` is a reference to a stored message.
    pub fn is_wrapped(payload: &[u8]) -> bool {
        payload.starts_with(WRAPPED)
    }

    /// The payload a received one stands for.
    pub async fn unwrap(&self, payload: &Bytes) -> Result<Bytes, BusError> {
        if !CodeStore::is_wrapped(payload) {
            return Ok(payload.clone());
        }
        let wrapped: Wrapped = serde_json::from_slice(payload)
            .map_err(|e| BusError::JetStream(format!("an unreadable reference: {e}")))?;
        Ok(Bytes::from(self.fetch(&wrapped.stored).await?))
    }

    /// Puts the code `reference` names back into `action`.
    pub async fn attach(&self, action: &mut Action, reference: &CodeRef) -> Result<(), BusError> {
        let code = self.load(reference).await?;
        if let Exec::Code(exec) = &mut action.exec {
            exec.code = code.to_string();
        }
        Ok(())
    }

    /// Stores `bytes` in chunks; `reused` (code): remembers it, so that the next store of the
    /// same bytes within half their keeping time costs nothing.
    async fn store(&self, bytes: &[u8], reused: bool) -> Result<CodeRef, BusError> {
        let digest = hex(&Sha256::digest(bytes));
        let chunks = bytes.len().div_ceil(CHUNK) as u32;
        let reference = CodeRef {
            digest: digest.clone(),
            chunks,
        };
        let fresh = {
            let stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
            stored
                .get(&digest)
                .is_some_and(|at| at.elapsed() < KEPT_FOR / 2)
        };
        if fresh {
            return Ok(reference);
        }
        for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
            let subject = self.subjects.code_chunk(&digest, n);
            self.jetstream
                .publish(subject, Bytes::copy_from_slice(chunk))
                .await
                .map_err(|e| BusError::JetStream(e.to_string()))?
                .await
                .map_err(|e| BusError::JetStream(e.to_string()))?;
        }
        if reused {
            self.stored
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest, Instant::now());
        }
        Ok(reference)
    }

    async fn load(&self, reference: &CodeRef) -> Result<std::sync::Arc<str>, BusError> {
        if let Some((code, used)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&reference.digest)
        {
            *used = Instant::now();
            return Ok(code.clone());
        }
        let bytes = self.fetch(reference).await?;
        let code: std::sync::Arc<str> = String::from_utf8(bytes)
            .map_err(|_| BusError::JetStream("the action's code is not text".into()))?
            .into();
        self.remember(&reference.digest, code.clone());
        Ok(code)
    }

    /// The bytes `reference` names, read back chunk by chunk and checked.
    async fn fetch(&self, reference: &CodeRef) -> Result<Vec<u8>, BusError> {
        let mut bytes = Vec::new();
        for n in 0..reference.chunks as usize {
            let subject = self.subjects.code_chunk(&reference.digest, n);
            let chunk = self
                .stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .map_err(|e| BusError::JetStream(format!("stored bytes are gone: {e}")))?;
            bytes.extend_from_slice(&chunk.payload);
        }
        if hex(&Sha256::digest(&bytes)) != reference.digest {
            return Err(BusError::JetStream("stored bytes were damaged".into()));
        }
        Ok(bytes)
    }

    /// Keeps `code`, forgetting the least recently used beyond [`CACHED_BYTES`].
    fn remember(&self, digest: &str, code: std::sync::Arc<str>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(digest.to_owned(), (code, Instant::now()));
        let mut total: usize = cache.values().map(|(c, _)| c.len()).sum();
        while total > CACHED_BYTES && cache.len() > 1 {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(d, _)| d.clone())
                .expect("a non-empty cache");
            if let Some((code, _)) = cache.remove(&oldest) {
                total -= code.len();
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

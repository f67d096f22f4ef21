//! API keys: generation, hashing, authentication and the administrative operations.
//!
//! Keys are stored as SHA-256 digests. A key is 64 random alphanumerics, so a fast digest is
//! enough: there is nothing to brute-force that a slow hash would protect.
//!
//! An identity carries its namespace's throttle overrides, read with the key and cached with
//! it (`ControllerConfig::identity_ttl`, 5 s by default), so keys and limits changed by
//! `wisp admin` on a running server take effect within that time, and an invoke reads neither.

use std::time::Instant;

use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use wisp_core::{EntityName, Identity, NamespaceLimits};
use wisp_store::{EntityStore, KeyRecord};

use super::Entities;
use crate::cache::SharedMap;
use crate::{ControllerError, Result};

/// A namespace's credentials, as shown to the administrator once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceKey {
    pub namespace: EntityName,
    pub uuid: String,
    pub key: String,
}

impl NamespaceKey {
    /// `uuid:key`, the form clients send.
    pub fn auth(&self) -> String {
        format!("{}:{}", self.uuid, self.key)
    }
}

/// A fresh `(uuid, key)` pair: a random version-4 UUID and a 64-character alphanumeric key.
pub fn generate_key() -> (String, String) {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    (uuid, Alphanumeric.sample_string(&mut rand::rng(), 64))
}

fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Looked-up keys by uuid (unknown ones too, as `None`), with their namespace's limits and the
/// time of the lookup.
pub type KeyCache = SharedMap<String, (Option<(KeyRecord, NamespaceLimits)>, Instant)>;

/// Most uuids remembered; beyond it the cache starts over.
pub const KEY_CACHE_BOUND: usize = 10_000;

/// Looked-up namespace owners (unknown namespaces too, as `None`) with the time of the lookup.
pub type OwnerCache = SharedMap<EntityName, (Option<Identity>, Instant)>;

impl Entities {
    /// The identity behind `uuid:key`, or `None` when the pair is unknown.
    pub async fn authenticate(&self, uuid: &str, key: &str) -> Result<Option<Identity>> {
        let found = self.lookup_key(uuid).await?;
        Ok(found.and_then(|(r, limits)| {
            constant_time_eq(&r.key_sha256, &hash_key(key)).then(|| Identity {
                subject: r.subject,
                namespace: r.namespace,
                uuid: r.uuid,
                api_key: format!("{uuid}:{key}"),
                limits,
            })
        }))
    }

    /// The identity that owns `namespace` (its first key), or `None` when the namespace has no
    /// key. Web actions run as this identity. Its `api_key` is empty: keys are stored only as
    /// digests, so the owner's key cannot be handed to an action.
    pub async fn identity_of_namespace(&self, namespace: &EntityName) -> Result<Option<Identity>> {
        if let Some((identity, at)) = self.owners.get(namespace) {
            if at.elapsed() < self.identity_ttl {
                return Ok(identity);
            }
        }
        // The store has no lookup by namespace; a scan is fine while keys are few and the
        // result is cached like a key.
        let store = &self.store;
        let owner = store
            .list_keys()
            .await?
            .into_iter()
            .find(|k| &k.namespace == namespace);
        let identity = match owner {
            Some(k) => Some(Identity {
                limits: store.get_limits(k.namespace.clone()).await?,
                subject: k.subject,
                namespace: k.namespace,
                uuid: k.uuid,
                api_key: String::new(),
            }),
            None => None,
        };
        self.owners
            .insert(namespace.clone(), (identity.clone(), Instant::now()));
        Ok(identity)
    }

    async fn lookup_key(&self, uuid: &str) -> Result<Option<(KeyRecord, NamespaceLimits)>> {
        if let Some((found, at)) = self.keys.get(uuid) {
            if at.elapsed() < self.identity_ttl {
                return Ok(found);
            }
        }
        let store = &self.store;
        let found = match store.find_key(uuid.to_string()).await? {
            Some(record) => {
                let limits = store.get_limits(record.namespace.clone()).await?;
                Some((record, limits))
            }
            None => None,
        };
        self.keys
            .insert(uuid.to_string(), (found.clone(), Instant::now()));
        Ok(found)
    }
}

/// Adds a key to `namespace` (creating the namespace), generating one when `key` is `None`.
pub async fn add_key(
    store: &dyn EntityStore,
    namespace: EntityName,
    key: Option<(String, String)>,
) -> Result<NamespaceKey> {
    let (uuid, key) = key.unwrap_or_else(generate_key);
    if let Some(existing) = store.find_key(uuid.clone()).await? {
        if existing.namespace != namespace {
            return Err(ControllerError::Conflict(format!(
                "the key {uuid} already belongs to namespace {}",
                existing.namespace
            )));
        }
    }
    store
        .put_key(KeyRecord {
            uuid: uuid.clone(),
            key_sha256: hash_key(&key),
            subject: namespace.to_string(),
            namespace: namespace.clone(),
        })
        .await?;
    Ok(NamespaceKey {
        namespace,
        uuid,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_openwhisk_shape() {
        let (uuid, key) = generate_key();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.matches('-').count(), 4);
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn digests_compare_exactly() {
        assert!(constant_time_eq(&hash_key("a"), &hash_key("a")));
        assert!(!constant_time_eq(&hash_key("a"), &hash_key("b")));
        assert!(!constant_time_eq(b"a", b"ab"));
    }
}

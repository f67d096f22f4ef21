//! Each namespace's S3 key pair: an access key id and a secret, made on first use and kept in
//! a small JSON file. The access key id *is* the namespace's identity on the endpoint: a
//! request signed with it may touch that namespace's buckets and no others.
//!
//! The file is rewritten whole (to a temporary file, fsynced, renamed) when a namespace gets
//! its pair; namespaces are few and pairs are never changed, so that is rare.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

/// One namespace's pair, as `__NIM_STORAGE_KEY` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub struct S3Credentials {
    file: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_namespace: HashMap<String, KeyPair>,
    /// access key id → namespace.
    by_key: HashMap<String, String>,
}

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    namespaces: HashMap<String, KeyPair>,
}

impl S3Credentials {
    /// The pairs kept in `file` (none yet when it does not exist).
    pub fn open(file: &Path) -> std::io::Result<S3Credentials> {
        let stored: Stored = match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!("{} is not valid: {e}", file.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => return Err(e),
        };
        let mut inner = Inner::default();
        for (namespace, pair) in stored.namespaces {
            inner
                .by_key
                .insert(pair.access_key_id.clone(), namespace.clone());
            inner.by_namespace.insert(namespace, pair);
        }
        Ok(S3Credentials {
            file: file.to_path_buf(),
            inner: Mutex::new(inner),
        })
    }

    /// The namespace's pair if it has one already: no IO, for the hot path of an invoke.
    pub fn known(&self, namespace: &str) -> Option<KeyPair> {
        self.lock().by_namespace.get(namespace).cloned()
    }

    /// The namespace's pair, made and stored (a blocking write) when it has none.
    pub fn pair_for(&self, namespace: &str) -> std::io::Result<KeyPair> {
        let mut inner = self.lock();
        if let Some(pair) = inner.by_namespace.get(namespace) {
            return Ok(pair.clone());
        }
        let pair = KeyPair {
            access_key_id: format!(
                "WISP{}",
                Alphanumeric
                    .sample_string(&mut rand::rng(), 16)
                    .to_ascii_uppercase()
            ),
            secret_access_key: Alphanumeric.sample_string(&mut rand::rng(), 40),
        };
        let mut namespaces = inner.by_namespace.clone();
        namespaces.insert(namespace.to_string(), pair.clone());
        // On disk before anyone is told: a function handed this pair must find it valid
        // after a crash.
        self.write(&Stored { namespaces })?;
        inner
            .by_key
            .insert(pair.access_key_id.clone(), namespace.to_string());
        inner
            .by_namespace
            .insert(namespace.to_string(), pair.clone());
        Ok(pair)
    }

    /// The namespace an access key id belongs to, with its secret.
    pub fn lookup(&self, access_key_id: &str) -> Option<(String, String)> {
        let inner = self.lock();
        let namespace = inner.by_key.get(access_key_id)?;
        let pair = inner.by_namespace.get(namespace)?;
        Some((namespace.clone(), pair.secret_access_key.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, stored: &Stored) -> std::io::Result<()> {
        let mut temporary = self.file.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        // A temporary file left by a crash keeps its mode through `open`.
        out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        out.write_all(&serde_json::to_vec_pretty(stored).map_err(std::io::Error::other)?)?;
        out.sync_all()?;
        std::fs::rename(&temporary, &self.file)?;
        if let Some(dir) = self.file.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_made_once_kept_and_map_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s3.json");
        let credentials = S3Credentials::open(&file).unwrap();
        assert_eq!(credentials.known("guest"), None);
        let guest = credentials.pair_for("guest").unwrap();
        assert!(guest.access_key_id.starts_with("WISP"));
        assert_eq!(guest.access_key_id.len(), 20);
        assert_eq!(guest.secret_access_key.len(), 40);
        assert_eq!(credentials.pair_for("guest").unwrap(), guest);
        let other = credentials.pair_for("other").unwrap();
        assert_ne!(other, guest);

        let reopened = S3Credentials::open(&file).unwrap();
        assert_eq!(reopened.known("guest"), Some(guest.clone()));
        assert_eq!(
            reopened.lookup(&other.access_key_id),
            Some(("other".to_string(), other.secret_access_key))
        );
        assert_eq!(reopened.lookup("WISPNOSUCHKEY"), None);
    }
}

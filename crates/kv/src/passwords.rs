//! The password that opens a namespace's keyspace: what a function gets as
//! `__NIM_REDIS_PASSWORD`, and what the server maps back to a namespace at `AUTH`.
//!
//! Kept in `kv.db` (table `kv_passwords`) whatever backend holds the data: the RESP server is
//! always Wisp's, so a Redis backend would use this registry unchanged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rand::distr::{Alphanumeric, SampleString};
use rusqlite::Connection;

use crate::KvError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv_passwords (
    namespace TEXT PRIMARY KEY,
    password  TEXT NOT NULL UNIQUE
);
";

/// Length of a generated password (alphanumeric: about 238 bits).
const PASSWORD_LEN: usize = 40;

pub struct Passwords {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    by_namespace: HashMap<String, String>,
    by_password: HashMap<String, String>,
}

impl Passwords {
    /// Opens the registry in `<dir>/kv.db`.
    pub fn open(dir: &Path) -> Result<Passwords, KvError> {
        // FULL: a password handed to a function must still open its keyspace after a crash.
        let conn = crate::db::open(&dir.join(crate::db::FILE), "FULL", SCHEMA)?;
        let pairs: Vec<(String, String)> = {
            let mut stmt = conn.prepare("SELECT namespace, password FROM kv_passwords")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let by_password = pairs.iter().map(|(n, p)| (p.clone(), n.clone())).collect();
        Ok(Passwords {
            inner: Mutex::new(Inner {
                conn,
                by_namespace: pairs.into_iter().collect(),
                by_password,
            }),
        })
    }

    /// The namespace's password if it has one already: memory only, never blocks on disk.
    pub fn known(&self, namespace: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.by_namespace.get(namespace).cloned()
    }

    /// The namespace's password, created (and stored before it is returned) on first use.
    /// The first call for a namespace writes to disk: call it off the async runtime's hot path
    /// or accept one short blocking write per namespace.
    pub fn password_for(&self, namespace: &str) -> Result<String, KvError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(password) = inner.by_namespace.get(namespace) {
            return Ok(password.clone());
        }
        let password = Alphanumeric.sample_string(&mut rand::rng(), PASSWORD_LEN);
        inner.conn.execute(
            "INSERT INTO kv_passwords (namespace, password) VALUES (?1, ?2)",
            [namespace, &password],
        )?;
        inner
            .by_namespace
            .insert(namespace.to_owned(), password.clone());
        inner
            .by_password
            .insert(password.clone(), namespace.to_owned());
        Ok(password)
    }

    /// The namespace a password opens.
    pub fn namespace_for(&self, password: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.by_password.get(password).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_made_once_per_namespace_and_kept() {
        let dir = crate::test_dir("passwords");
        let passwords = Passwords::open(dir.path()).unwrap();
        assert_eq!(passwords.known("alice"), None);
        let a = passwords.password_for("alice").unwrap();
        assert!(a.len() >= 32);
        assert_eq!(passwords.known("alice"), Some(a.clone()));
        assert_eq!(passwords.password_for("alice").unwrap(), a);
        let b = passwords.password_for("bob").unwrap();
        assert_ne!(a, b);
        assert_eq!(passwords.namespace_for(&a).as_deref(), Some("alice"));
        assert_eq!(passwords.namespace_for("guess"), None);
        drop(passwords);
        let reopened = Passwords::open(dir.path()).unwrap();
        assert_eq!(reopened.namespace_for(&b).as_deref(), Some("bob"));
        assert_eq!(reopened.password_for("alice").unwrap(), a);
    }
}

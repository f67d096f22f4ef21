//! Signed URLs: a time-limited grant to GET or PUT one object without credentials.
//!
//! The signature is HMAC-SHA256 over the method, the namespace, the key and the expiry (unix
//! seconds), with a server secret made on first start and kept in a file of its own. It is
//! checked in constant time; changing the secret file revokes every URL handed out.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::ObjectError;

/// The longest a signed URL may live, as S3's presigned URLs: 7 days.
pub const MAX_URL_SECONDS: u64 = 7 * 24 * 3600;

const SECRET_BYTES: usize = 32;

pub struct UrlSigner {
    secret: Vec<u8>,
}

impl UrlSigner {
    /// The secret kept in `file`, made (mode 0600) when there is none.
    pub fn open(file: &Path) -> Result<UrlSigner, ObjectError> {
        let failed = |e: std::io::Error| {
            ObjectError::Storage(format!(
                "cannot keep the URL signing key in {}: {e}",
                file.display()
            ))
        };
        match std::fs::read(file) {
            Ok(secret) if secret.len() >= SECRET_BYTES => return Ok(UrlSigner { secret }),
            Ok(_) => {
                return Err(ObjectError::Storage(format!(
                    "the URL signing key in {} is too short; delete the file to make a new one",
                    file.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let mut secret = vec![0; SECRET_BYTES];
        rand::rng().fill_bytes(&mut secret);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(failed)?;
        out.write_all(&secret)
            .and_then(|()| out.sync_all())
            .map_err(failed)?;
        Ok(UrlSigner { secret })
    }

    /// A signer with a given secret: the one every server of a cluster is given, or a test's.
    pub fn with_secret(secret: &[u8]) -> UrlSigner {
        UrlSigner {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, method: &str, namespace: &str, key: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any size");
        // Newlines cannot occur in a method or a namespace, and a key may not contain control
        // characters, so the fields cannot run into each other.
        mac.update(format!("{method}\n{namespace}\n{key}\n{expires}").as_bytes());
        mac
    }

    /// The signature (hex) granting `method` on the object until `expires` (unix seconds).
    pub fn sign(&self, method: &str, namespace: &str, key: &str, expires: u64) -> String {
        let tag = self
            .mac(method, namespace, key, expires)
            .finalize()
            .into_bytes();
        tag.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` is the one [`UrlSigner::sign`] gives; compared in constant time.
    pub fn verify(
        &self,
        method: &str,
        namespace: &str,
        key: &str,
        expires: u64,
        signature: &str,
    ) -> bool {
        let Some(tag) = unhex(signature) else {
            return false;
        };
        self.mac(method, namespace, key, expires)
            .verify_slice(&tag)
            .is_ok()
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? << 4) | digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_grants_exactly_what_it_names() {
        let signer = UrlSigner::with_secret(b"0123456789abcdef0123456789abcdef");
        let sig = signer.sign("GET", "ns", "a/b", 100);
        assert_eq!(sig.len(), 64);
        assert!(signer.verify("GET", "ns", "a/b", 100, &sig));
        assert!(!signer.verify("PUT", "ns", "a/b", 100, &sig));
        assert!(!signer.verify("GET", "other", "a/b", 100, &sig));
        assert!(!signer.verify("GET", "ns", "a/c", 100, &sig));
        assert!(!signer.verify("GET", "ns", "a/b", 101, &sig));
        assert!(!signer.verify("GET", "ns", "a/b", 100, &sig[..62]));
        assert!(!signer.verify("GET", "ns", "a/b", 100, "zz"));
        let other = UrlSigner::with_secret(b"another secret, another server!!");
        assert!(!other.verify("GET", "ns", "a/b", 100, &sig));
    }

    #[test]
    fn the_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        let first = UrlSigner::open(&file).unwrap().sign("GET", "n", "k", 1);
        let again = UrlSigner::open(&file).unwrap().sign("GET", "n", "k", 1);
        assert_eq!(first, again);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! Content digests of entities: what decides whether a deploy sends an entity at all.
//!
//! The digest covers the whole body the deployer would send (code, kind, main, parameters,
//! environment, annotations, limits, publish) and the project's name, so any change to any of
//! them — including a `.env` value substituted into project.yml — makes a new digest. JSON
//! objects are hashed with their keys sorted, so the order keys were written in does not matter.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The SHA-256 of `body` and `project`, as 64 hex digits.
pub fn digest(body: &Value, project: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(project.as_bytes());
    hasher.update([0]);
    canonical(body, &mut hasher);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Feeds a canonical encoding of `value`: JSON with object keys sorted.
fn canonical(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for key in keys {
                hasher.update(Value::String(key.clone()).to_string().as_bytes());
                hasher.update(b":");
                canonical(&map[key], hasher);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                canonical(item, hasher);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_but_content_does() {
        let a = json!({"exec": {"kind": "nodejs:default", "code": "x"}, "limits": {}});
        let b = json!({"limits": {}, "exec": {"code": "x", "kind": "nodejs:default"}});
        assert_eq!(digest(&a, "p"), digest(&b, "p"));
        assert_eq!(digest(&a, "p").len(), 64);
        let c = json!({"exec": {"kind": "nodejs:default", "code": "y"}, "limits": {}});
        assert_ne!(digest(&a, "p"), digest(&c, "p"));
        assert_ne!(
            digest(&a, "p"),
            digest(&a, "q"),
            "the project is part of it"
        );
    }

    #[test]
    fn arrays_keep_their_order() {
        assert_ne!(digest(&json!([1, 2]), "p"), digest(&json!([2, 1]), "p"));
        assert_ne!(digest(&json!(["a,"]), "p"), digest(&json!(["a", ""]), "p"));
    }
}

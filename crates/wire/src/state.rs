//! The answers of Wisp's own state routes: `/kv` (the namespace's key-value store) and
//! `/objects` (its buckets). OpenWhisk has neither, so only Wisp's client reads them.
//!
//! A key-value store holds bytes: a key or value is a JSON string when it is UTF-8, else
//! `{"base64": "..."}`. A TTL is whole seconds, written as `null` (never left out) for a key
//! that never expires.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /kv`: keys in byte order, and whether more match than the limit let through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvKeys {
    /// Each a string, or `{"base64": ...}`.
    pub keys: Vec<Value>,
    pub truncated: bool,
}

/// `GET /kv/{key}`: one key with its contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvEntry {
    pub key: String,
    /// `string`, `list`, `set` or `hash`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A string's bytes; a list's items in order or a set's sorted, as an array; a hash's
    /// fields as an object. Each bytes as the module says.
    pub value: Value,
    /// Seconds left; `null` when the key never expires.
    pub ttl: Option<u64>,
}

/// `{key, ttl}`: the answer to `GET ?op=ttl`, a PUT and `POST ?op=expire`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTtl {
    pub key: String,
    /// Seconds left; `null` when the key never expires.
    pub ttl: Option<u64>,
}

/// `POST ?op=incr`: the number the key holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvIncr {
    pub key: String,
    pub value: i64,
}

/// `DELETE /kv`: how many keys the namespace's store held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvFlushed {
    pub deleted: u64,
}

/// `{key}`: the answer to deleting a key-value key or an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deleted {
    pub key: String,
}

/// An object as a PUT answers it and a listing shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Changes whenever the content is replaced.
    pub etag: String,
    /// Epoch milliseconds.
    pub last_modified: u64,
    /// As given on upload; absent in listings, which do not read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// `GET /objects`: a page of objects in key order, and whether more match after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectList {
    pub objects: Vec<ObjectMeta>,
    pub truncated: bool,
}

/// `POST /objects/{key}?op=url`: a URL that grants `method` on the object without
/// credentials until `expires`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignedUrl {
    pub url: String,
    /// `GET` or `PUT`.
    pub method: String,
    /// Unix seconds.
    pub expires: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_ttl_that_never_runs_out_is_written_as_null() {
        let entry = KvEntry {
            key: "k".into(),
            kind: "string".into(),
            value: json!("v"),
            ttl: None,
        };
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"key": "k", "type": "string", "value": "v", "ttl": null})
        );
        let ttl = KvTtl {
            key: "k".into(),
            ttl: None,
        };
        assert_eq!(
            serde_json::to_value(&ttl).unwrap(),
            json!({"key": "k", "ttl": null})
        );
    }

    #[test]
    fn an_objects_content_type_is_left_out_when_unknown() {
        let listed = ObjectMeta {
            key: "a.txt".into(),
            size: 3,
            etag: "e".into(),
            last_modified: 7,
            content_type: None,
        };
        assert_eq!(
            serde_json::to_value(&listed).unwrap(),
            json!({"key": "a.txt", "size": 3, "etag": "e", "lastModified": 7})
        );
        let stored = ObjectMeta {
            content_type: Some("text/plain".into()),
            ..listed
        };
        assert_eq!(
            serde_json::to_value(&stored).unwrap()["contentType"],
            "text/plain"
        );
    }
}

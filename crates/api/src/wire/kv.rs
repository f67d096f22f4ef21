//! The key-value routes' answers as `wisp-wire` documents: keys and values are JSON strings
//! when they are UTF-8, else `{"base64": "..."}`; a TTL is whole seconds, `null` for a key
//! that never expires.

use base64::Engine;
use serde_json::{json, Map, Value};
use wisp_kv::keys::{Entry, Value as Contents};
use wisp_kv::Bytes;
use wisp_wire::{KvEntry, KvKeys};

use crate::wire::malformed;
use crate::ApiError;

/// Bytes as a JSON string, or `{"base64": ...}` when they are not UTF-8.
pub fn bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
    }
}

/// A page of keys, in the order given.
pub fn keys(keys: &[Bytes], truncated: bool) -> KvKeys {
    KvKeys {
        keys: keys.iter().map(|k| bytes(k)).collect(),
        truncated,
    }
}

/// A key read whole.
pub fn entry(key: &str, entry: Entry) -> KvEntry {
    let kind = entry.value.kind().to_string();
    let value = match entry.value {
        Contents::String(contents) => bytes(&contents),
        Contents::List(items) => Value::Array(items.iter().map(|b| bytes(b)).collect()),
        Contents::Set(mut items) => {
            // Sets have no order; a sorted answer is a stable one.
            items.sort();
            Value::Array(items.iter().map(|b| bytes(b)).collect())
        }
        Contents::Hash(pairs) => hash(&pairs),
    };
    KvEntry {
        key: key.to_string(),
        kind,
        value,
        ttl: entry.ttl.seconds(),
    }
}

/// A hash's fields and values as an object.
fn hash(pairs: &[(Bytes, Bytes)]) -> Value {
    let mut object = Map::new();
    for (field, value) in pairs {
        object.insert(String::from_utf8_lossy(field).into_owned(), bytes(value));
    }
    Value::Object(object)
}

/// The body of a PUT: `{"value": "<string>", "ttl": <seconds>?}`.
#[derive(Debug, PartialEq)]
pub struct KvPut {
    pub value: String,
    pub ttl: Option<u64>,
}

pub fn kv_put(body: Map<String, Value>) -> Result<KvPut, ApiError> {
    let value = match body.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(malformed(
                "'value' must be a string (send structured data as JSON text)",
            ))
        }
        None => return Err(malformed("the body needs a 'value'")),
    };
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|&s| s > 0) {
            Some(s) => Some(s),
            None => return Err(malformed("'ttl' must be a positive number of seconds")),
        },
    };
    Ok(KvPut { value, ttl })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_strings_or_base64() {
        assert_eq!(bytes(b"hello"), json!("hello"));
        assert_eq!(bytes(&[0xff, 0x00]), json!({"base64": "/wA="}));
        let pairs = [
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
        ];
        assert_eq!(hash(&pairs), json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn put_bodies_need_a_string_value_and_a_positive_ttl() {
        assert_eq!(
            kv_put(body(json!({"value": "v"}))).unwrap(),
            KvPut {
                value: "v".into(),
                ttl: None
            }
        );
        assert_eq!(
            kv_put(body(json!({"value": "v", "ttl": 5}))).unwrap().ttl,
            Some(5)
        );
        for bad in [
            json!({}),
            json!({"value": 1}),
            json!({"value": {"a": 1}}),
            json!({"value": "v", "ttl": 0}),
            json!({"value": "v", "ttl": -3}),
            json!({"value": "v", "ttl": "10"}),
        ] {
            let err = kv_put(body(bad.clone())).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
        }
    }
}

//! The object routes' JSON: an object's metadata, a listing page, a signed URL.

use serde_json::{json, Value};
use wisp_objects::{Listing, ObjectMeta};

/// `{"key", "size", "etag", "lastModified" (ms), "contentType"?}`.
pub fn meta(meta: &ObjectMeta) -> Value {
    let mut value = json!({
        "key": meta.key,
        "size": meta.size,
        "etag": meta.etag,
        "lastModified": meta.last_modified_ms,
    });
    if let Some(content_type) = &meta.content_type {
        value["contentType"] = json!(content_type);
    }
    value
}

/// `{"objects": [meta...], "truncated": bool}`, in key order.
pub fn listing(listing: &Listing) -> Value {
    let objects: Vec<Value> = listing.objects.iter().map(meta).collect();
    json!({"objects": objects, "truncated": listing.truncated})
}

/// `{"url", "method", "expires" (unix seconds)}`.
pub fn signed_url(url: &str, method: &str, expires: u64) -> Value {
    json!({"url": url, "method": method, "expires": expires})
}

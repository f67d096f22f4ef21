//! The object routes' answers as `wisp-wire` documents: an object's metadata, a listing page,
//! a signed URL.

use wisp_objects::{Listing, ObjectMeta};
use wisp_wire::{ObjectList, SignedUrl};

/// `{"key", "size", "etag", "lastModified" (ms), "contentType"?}`.
pub fn meta(meta: &ObjectMeta) -> wisp_wire::ObjectMeta {
    wisp_wire::ObjectMeta {
        key: meta.key.clone(),
        size: meta.size,
        etag: meta.etag.clone(),
        last_modified: meta.last_modified_ms,
        content_type: meta.content_type.clone(),
    }
}

/// `{"objects": [meta...], "truncated": bool}`, in key order.
pub fn listing(listing: &Listing) -> ObjectList {
    ObjectList {
        objects: listing.objects.iter().map(meta).collect(),
        truncated: listing.truncated,
    }
}

/// `{"url", "method", "expires" (unix seconds)}`.
pub fn signed_url(url: String, method: String, expires: u64) -> SignedUrl {
    SignedUrl {
        url,
        method,
        expires,
    }
}

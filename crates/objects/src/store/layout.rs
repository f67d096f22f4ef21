//! Where [`StoreObjects`](super::StoreObjects) keeps things in its store, and the checks on
//! names before any path is made of them.

use object_store::path::Path;
use percent_encoding::percent_decode_str;

use crate::{validate_key, Bucket, ObjectError, ObjectMeta};

pub(super) fn check(namespace: &str, key: &str) -> Result<(), ObjectError> {
    check_namespace(namespace)?;
    validate_key(key)
}

/// Namespaces come validated from the controller; this keeps a bad one from naming a folder
/// outside its own all the same.
pub(super) fn check_namespace(namespace: &str) -> Result<(), ObjectError> {
    if namespace.is_empty()
        || namespace.contains('/')
        || namespace.starts_with('.')
        || crate::key::stored_len(namespace) > crate::key::MAX_SEGMENT_BYTES
    {
        return Err(ObjectError::InvalidKey(format!(
            "'{namespace}' is not a namespace name."
        )));
    }
    Ok(())
}

pub(super) fn bucket_path(namespace: &str, bucket: Bucket) -> Path {
    Path::from_iter([namespace, bucket.as_str()])
}

pub(super) fn object_path(namespace: &str, bucket: Bucket, key: &str) -> Path {
    Path::from_iter(
        [namespace, bucket.as_str()]
            .into_iter()
            .chain(key.split('/')),
    )
}

pub(super) fn type_path(namespace: &str, bucket: Bucket, key: &str) -> Path {
    let types = format!("{}.types", bucket.as_str());
    Path::from_iter(
        [namespace, types.as_str()]
            .into_iter()
            .chain(key.split('/')),
    )
}

/// The key of a stored object's path (`<namespace>/<bucket>/<key>`); `Path` percent-encodes
/// characters it does not allow in a segment, so each segment is decoded back.
pub(super) fn key_of(location: &Path) -> String {
    location
        .parts()
        .skip(2)
        .map(|part| {
            percent_decode_str(part.as_ref())
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn convert(key: String, raw: object_store::ObjectMeta) -> ObjectMeta {
    let last_modified_ms = u64::try_from(raw.last_modified.timestamp_millis()).unwrap_or(0);
    ObjectMeta {
        key,
        size: raw.size,
        etag: raw
            .e_tag
            .map(|t| t.trim_matches('"').to_string())
            .unwrap_or_default(),
        last_modified_ms,
        content_type: None,
    }
}

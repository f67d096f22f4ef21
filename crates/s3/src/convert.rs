//! Wisp's values in S3's shapes and back: listing entries, ETags, timestamps, bodies, and one
//! S3 error per object storage or upload error.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3s::dto::{CommonPrefix, ETag, EncodingType, Object, StreamingBlob, Timestamp};
use s3s::{S3Error, S3ErrorCode};
use wisp_objects::{ByteStream, ObjectError, ObjectMeta};

use crate::multipart::UploadError;

/// `encoding-type=url` (boto3 asks for it by default): keys and prefixes in a listing come
/// percent-encoded, so any character survives XML.
#[derive(Clone, Copy)]
pub struct Encoding {
    url: bool,
}

/// What stays as it is in an encoded key: RFC 3986's unreserved characters and `/`.
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

impl Encoding {
    pub fn of(requested: Option<&EncodingType>) -> Encoding {
        Encoding {
            url: requested.is_some_and(|e| e.as_str() == EncodingType::URL),
        }
    }

    pub fn text(self, text: String) -> String {
        if self.url {
            utf8_percent_encode(&text, KEY).to_string()
        } else {
            text
        }
    }
}

pub fn object(meta: &ObjectMeta, encode: Encoding) -> Object {
    Object {
        key: Some(encode.text(meta.key.clone())),
        size: Some(meta.size as i64),
        e_tag: Some(etag(meta)),
        last_modified: Some(timestamp(meta)),
        ..Object::default()
    }
}

pub fn common_prefixes(prefixes: Vec<String>, encode: Encoding) -> Vec<CommonPrefix> {
    prefixes
        .into_iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(encode.text(prefix)),
        })
        .collect()
}

pub fn etag(meta: &ObjectMeta) -> ETag {
    ETag::Strong(meta.etag.clone())
}

pub fn timestamp(meta: &ObjectMeta) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(meta.last_modified_ms))
}

/// A request body as object storage reads it.
pub fn body_of(blob: Option<StreamingBlob>) -> ByteStream {
    match blob {
        Some(blob) => blob
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed(),
        None => futures_util::stream::empty().boxed(),
    }
}

pub fn upload_error(e: UploadError) -> S3Error {
    let code = match &e {
        UploadError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
        UploadError::InvalidPart(_) => S3ErrorCode::InvalidPart,
        UploadError::TooLarge => S3ErrorCode::EntityTooLarge,
        UploadError::Body(_) => S3ErrorCode::IncompleteBody,
        UploadError::Io(_) => {
            tracing::error!(error = %e, "staging a multipart upload failed");
            S3ErrorCode::InternalError
        }
    };
    S3Error::with_message(code, e.to_string())
}

/// Each object storage error as the S3 error a client expects.
pub fn object_error(e: ObjectError) -> S3Error {
    let code = match &e {
        ObjectError::InvalidKey(_) | ObjectError::Conflict(_) => S3ErrorCode::InvalidArgument,
        ObjectError::Range { .. } => S3ErrorCode::InvalidRange,
        ObjectError::Quota { .. } => S3ErrorCode::EntityTooLarge,
        ObjectError::Body(_) => S3ErrorCode::IncompleteBody,
        ObjectError::Storage(_) => {
            tracing::error!(error = %e, "object storage failed");
            S3ErrorCode::InternalError
        }
    };
    S3Error::with_message(code, e.to_string())
}

/// s3s wants a response body that is `Sync`; a stream is only ever polled by one task, so a
/// mutex that is never contended makes it so.
pub struct SyncStream(Mutex<ByteStream>);

impl SyncStream {
    pub fn new(stream: ByteStream) -> SyncStream {
        SyncStream(Mutex::new(stream))
    }
}

impl Stream for SyncStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let stream = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        stream.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved_characters() {
        let url = Encoding::of(Some(&EncodingType::from_static(EncodingType::URL)));
        assert_eq!(url.text("a b/c+d%ü.txt".into()), "a%20b/c%2Bd%25%C3%BC.txt");
        let plain = Encoding::of(None);
        assert_eq!(plain.text("a b".into()), "a b");
    }
}

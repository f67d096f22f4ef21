//! `/namespaces/{ns}/objects[/{key}]`: the namespace's data bucket from outside functions, or
//! its web bucket (the files of its site) with `?bucket=web`.
//!
//! A key is the rest of the path, percent-decoded (`objects/models/tiny.bin` is the key
//! `models/tiny.bin`). Bodies stream both ways: a PUT goes to storage chunk by chunk (bounded by
//! `ObjectsApi::max_upload_bytes`, not by the 1 MB that an invoke may carry) and a GET streams
//! the file back, with `Range` support.
//!
//! GET, HEAD and PUT of one object also accept a signed URL instead of credentials
//! (`?expires=<unix seconds>&signature=<hex>`, made by `POST ...?op=url`): it grants that method
//! on that object until it expires. A signed GET URL also serves HEAD.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query as QueryParams, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use wisp_objects::{validate_key, Bucket, ObjectMeta, MAX_URL_SECONDS};
use wisp_wire::{Deleted, ObjectList, SignedUrl};

use crate::auth::Caller;
use crate::query::{bounded, listing_limit, Query};
use crate::wire::objects as objects_wire;
use crate::{ApiError, AppState, ObjectsApi};

/// Objects a list answers by default, and at most (S3's page size).
pub const DEFAULT_LIST_LIMIT: usize = 1000;
pub const MAX_LIST_LIMIT: usize = 1000;
/// Life of a signed URL when the request names none.
pub const DEFAULT_URL_SECONDS: u64 = 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/objects", get(list))
        .route(
            "/namespaces/{ns}/objects/{*key}",
            get(download)
                .head(head)
                .put(upload)
                .delete(delete)
                .post(sign),
        )
}

/// One object and the right to use it: an entitled caller, or a signed URL for this method.
struct ObjectRequest {
    api: ObjectsApi,
    namespace: String,
    bucket: Bucket,
    key: String,
}

/// `?bucket=data` (the default) or `?bucket=web`.
fn bucket_of(query: &Query) -> Result<Bucket, ApiError> {
    match query.get("bucket").map(String::as_str) {
        None | Some("data") => Ok(Bucket::Data),
        Some("web") => Ok(Bucket::Web),
        Some(other) => Err(ApiError::bad_request(format!(
            "The bucket '{other}' does not exist; a namespace has 'data' and 'web'."
        ))),
    }
}

impl FromRequestParts<AppState> for ObjectRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let api = state
            .objects
            .clone()
            .ok_or_else(ApiError::objects_unavailable)?;
        let Path((ns, key)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let query = QueryParams::<Query>::from_request_parts(parts, state)
            .await
            .map(|q| q.0)
            .unwrap_or_default();
        let bucket = bucket_of(&query)?;
        let namespace = if query.contains_key("signature") {
            // Signatures cover the data bucket only: the web bucket is public to read.
            if bucket != Bucket::Data {
                return Err(ApiError::forbidden(
                    "Signed URLs reach the data bucket only.",
                ));
            }
            check_signature(&api, &parts.method, &ns, &key, &query)?;
            ns
        } else {
            let caller = Caller::from_request_parts(parts, state).await?;
            caller
                .entitled_namespace(state, &ns, &format!("objects/{key}"))?
                .to_string()
        };
        validate_key(&key)?;
        Ok(ObjectRequest {
            api,
            namespace,
            bucket,
            key,
        })
    }
}

/// A signed URL grants its method on its object until it expires; anything else is a 403.
fn check_signature(
    api: &ObjectsApi,
    method: &Method,
    namespace: &str,
    key: &str,
    query: &Query,
) -> Result<(), ApiError> {
    // A URL signed for GET may also ask for the headers alone.
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let expires = query
        .get("expires")
        .and_then(|raw| raw.parse::<u64>().ok())
        .ok_or_else(|| ApiError::forbidden("The signed URL has no valid 'expires'."))?;
    let signature = query.get("signature").map_or("", String::as_str);
    if !api
        .signer
        .verify(method, namespace, key, expires, signature)
    {
        return Err(ApiError::forbidden(format!(
            "The signature does not match this URL and method ({method})."
        )));
    }
    if expires < unix_seconds() {
        return Err(ApiError::forbidden("The signed URL has expired."));
    }
    Ok(())
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `?prefix=P&after=K&limit=N`: `{"objects": [...], "truncated": bool}`, in key order.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<ObjectList>, ApiError> {
    let namespace = caller.entitled_namespace(&state, &ns, "objects")?;
    let api = state
        .objects
        .clone()
        .ok_or_else(ApiError::objects_unavailable)?;
    let limit = list_limit(&query)?;
    let bucket = bucket_of(&query)?;
    let prefix = query.get("prefix").map_or("", String::as_str);
    let after = query.get("after").map(String::as_str);
    let listing = api
        .store
        .list(namespace.as_str(), bucket, prefix, after, limit)
        .await?;
    Ok(Json(objects_wire::listing(&listing)))
}

fn list_limit(query: &Query) -> Result<usize, ApiError> {
    listing_limit(query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, "objects")
}

/// The object's bytes (206 with `Range: bytes=...`).
async fn download(req: ObjectRequest, headers: HeaderMap) -> Result<Response, ApiError> {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::range::parse_range);
    let partial = range.is_some();
    let found = req
        .api
        .store
        .get(&req.namespace, req.bucket, &req.key, range)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = (status, Body::from_stream(found.stream)).into_response();
    let length = found.range.end - found.range.start;
    object_headers(response.headers_mut(), &found.meta, length);
    if partial {
        let value = format!(
            "bytes {}-{}/{}",
            found.range.start,
            found.range.end - 1,
            found.meta.size
        );
        insert(response.headers_mut(), header::CONTENT_RANGE, &value);
    }
    Ok(response)
}

/// The object's headers only: no file is opened.
async fn head(req: ObjectRequest) -> Result<Response, ApiError> {
    let meta = req
        .api
        .store
        .head(&req.namespace, req.bucket, &req.key)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut response = StatusCode::OK.into_response();
    object_headers(response.headers_mut(), &meta, meta.size);
    Ok(response)
}

fn object_headers(headers: &mut HeaderMap, meta: &ObjectMeta, length: u64) {
    let content_type = meta
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    insert(headers, header::CONTENT_TYPE, content_type);
    insert(headers, header::CONTENT_LENGTH, &length.to_string());
    insert(headers, header::ETAG, &format!("\"{}\"", meta.etag));
    let modified = UNIX_EPOCH + Duration::from_millis(meta.last_modified_ms);
    insert(
        headers,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(modified),
    );
    insert(headers, header::ACCEPT_RANGES, "bytes");
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Stores the body under the key: `{"key", "size", "etag", ...}`. The `Content-Type` sent is
/// kept; without one the type is guessed from the key when the object is read.
async fn upload(
    req: ObjectRequest,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<wisp_wire::ObjectMeta>, ApiError> {
    let max = req.api.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut seen = 0u64;
    let stream = body
        .into_data_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len() as u64;
            if seen > max {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    too_large(max).message,
                ));
            }
            Ok(chunk)
        })
        .boxed();
    let meta = req
        .api
        .store
        .put(&req.namespace, req.bucket, &req.key, stream, content_type)
        .await?;
    Ok(Json(objects_wire::meta(&meta)))
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The object is larger than the {max} bytes one upload may carry."),
    )
}

/// `{"key"}`, or 404 when there was no such object.
async fn delete(req: ObjectRequest) -> Result<Json<Deleted>, ApiError> {
    if req
        .api
        .store
        .delete(&req.namespace, req.bucket, &req.key)
        .await?
    {
        Ok(Json(Deleted { key: req.key }))
    } else {
        Err(ApiError::not_found())
    }
}

/// `?op=url[&method=GET|PUT][&expires=<seconds>]`: a signed URL for the object,
/// `{"url", "method", "expires"}` (the object need not exist: a PUT URL creates it).
async fn sign(
    req: ObjectRequest,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<SignedUrl>, ApiError> {
    match query.get("op").map(String::as_str) {
        Some("url") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unknown op '{other}'; POST on an object takes op=url."
            )))
        }
        None => return Err(ApiError::bad_request("POST on an object needs op=url.")),
    }
    if req.bucket != Bucket::Data {
        return Err(ApiError::bad_request(
            "Signed URLs are for the data bucket; the web bucket's files are public on the site.",
        ));
    }
    let method = match query.get("method").map(|m| m.to_ascii_uppercase()) {
        None => "GET".to_string(),
        Some(m) if m == "GET" || m == "PUT" => m,
        Some(m) => {
            return Err(ApiError::bad_request(format!(
                "A signed URL is for GET or PUT, not '{m}'."
            )))
        }
    };
    let seconds = bounded(
        &query,
        "expires",
        1..=MAX_URL_SECONDS,
        DEFAULT_URL_SECONDS,
        |_| format!("'expires' must be a number of seconds from 1 to {MAX_URL_SECONDS} (7 days)."),
    )?;
    let expires = unix_seconds() + seconds;
    let signature = req
        .api
        .signer
        .sign(&method, &req.namespace, &req.key, expires);
    let url = format!(
        "{}/api/v1/namespaces/{}/objects/{}?expires={expires}&signature={signature}",
        req.api.public_url.trim_end_matches('/'),
        utf8_percent_encode(&req.namespace, SEGMENT),
        key_path(&req.key),
    );
    Ok(Json(objects_wire::signed_url(url, method, expires)))
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The key as URL path segments: each percent-encoded, `/` kept between them.
fn key_path(key: &str) -> String {
    key.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_encoded_segments() {
        assert_eq!(key_path("a/b c/ü?#.txt"), "a/b%20c/%C3%BC%3F%23.txt");
    }

    #[test]
    fn list_limits_are_bounded() {
        let query = |limit: &str| Query::from([("limit".to_string(), limit.to_string())]);
        assert_eq!(list_limit(&Query::new()).unwrap(), DEFAULT_LIST_LIMIT);
        assert_eq!(list_limit(&query("7")).unwrap(), 7);
        for bad in ["0", "1001", "x"] {
            assert_eq!(list_limit(&query(bad)).unwrap_err().status, 400, "{bad}");
        }
    }
}

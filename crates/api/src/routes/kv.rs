//! `/namespaces/{ns}/kv[/{key}]`: the namespace's key-value store from outside functions.
//!
//! A key is the rest of the path (`kv/users/1:name` is the key `users/1:name`), percent-decoded,
//! so keys with `/` and `:` need no encoding and any other character can be percent-encoded.
//! Handlers call `wisp_kv::Keys`, which decodes the store's replies; what a refusal means
//! is decided by `wisp_kv::Refusal` and mapped to a status in `error.rs`.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query as QueryParams, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use wisp_kv::keys::Ttl;
use wisp_kv::{Keys, KeysError};
use wisp_wire::{Deleted, KvFlushed, KvIncr, KvKeys, KvTtl};

use crate::auth::Caller;
use crate::query::{listing_limit, Query};
use crate::wire::{self, kv as kv_wire};
use crate::{ApiError, AppState};

/// Keys a list answers by default, and at most.
pub const DEFAULT_LIST_LIMIT: usize = 1000;
pub const MAX_LIST_LIMIT: usize = 10_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/kv", get(list).delete(flush))
        .route(
            "/namespaces/{ns}/kv/{*key}",
            get(read).put(put).delete(delete).post(update),
        )
}

/// The store and the caller's namespace, entitled for `resource`.
fn store(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    resource: &str,
) -> Result<(Keys, String), ApiError> {
    let namespace = caller.entitled_namespace(state, ns, resource)?;
    let kv = state.kv.clone().ok_or_else(ApiError::kv_unavailable)?;
    Ok((kv, namespace.to_string()))
}

/// The key routes' request: the authenticated caller's entitled namespace in the store, and
/// the key (the rest of the path, percent-decoded).
struct KeyRequest {
    kv: Keys,
    namespace: String,
    key: String,
}

impl FromRequestParts<AppState> for KeyRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Path((ns, key)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let (kv, namespace) = store(state, &caller, &ns, &format!("kv/{key}"))?;
        Ok(KeyRequest { kv, namespace, key })
    }
}

/// `?prefix=P&limit=N`: `{"keys": [...], "truncated": bool}`, keys in byte order.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<KvKeys>, ApiError> {
    let (kv, namespace) = store(&state, &caller, &ns, "kv")?;
    let limit = list_limit(&query)?;
    let prefix = query.get("prefix").map_or("", String::as_str);
    let mut keys = kv.keys(&namespace, prefix).await?;
    keys.sort();
    let truncated = keys.len() > limit;
    keys.truncate(limit);
    Ok(Json(kv_wire::keys(&keys, truncated)))
}

fn list_limit(query: &Query) -> Result<usize, ApiError> {
    listing_limit(query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, "kv")
}

/// Empties the namespace's store: `{"deleted": <keys there were>}`.
async fn flush(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
) -> Result<Json<KvFlushed>, ApiError> {
    let (kv, namespace) = store(&state, &caller, &ns, "kv")?;
    let deleted = kv.flush(&namespace).await?;
    Ok(Json(KvFlushed {
        deleted: u64::try_from(deleted).unwrap_or_default(),
    }))
}

/// `{"key", "type", "value", "ttl"}`; with `?op=ttl` only `{"key", "ttl"}`.
async fn read(
    KeyRequest { kv, namespace, key }: KeyRequest,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    match query.get("op").map(String::as_str) {
        None => match kv.entry(&namespace, &key).await? {
            Some(entry) => Ok(Json(kv_wire::entry(&key, entry)).into_response()),
            None => Err(ApiError::not_found()),
        },
        Some("ttl") => match kv.ttl(&namespace, &key).await? {
            Ttl::Absent => Err(ApiError::not_found()),
            ttl => {
                let ttl = ttl.seconds();
                Ok(Json(KvTtl { key, ttl }).into_response())
            }
        },
        Some(other) => Err(unknown_op(other, "ttl")),
    }
}

fn unknown_op(op: &str, known: &str) -> ApiError {
    ApiError::bad_request(format!("Unknown op '{op}'; this method takes {known}."))
}

/// `{"value": "<string>", "ttl": <seconds>?}` → SET: `{"key", "ttl"}`.
async fn put(
    KeyRequest { kv, namespace, key }: KeyRequest,
    body: Bytes,
) -> Result<Json<KvTtl>, ApiError> {
    let put = kv_wire::kv_put(wire::object_body(&body, false)?.unwrap_or_default())?;
    kv.set(&namespace, &key, put.value.into_bytes(), put.ttl)
        .await
        .map_err(|e| match e {
            KeysError::BadExpiry => ApiError::bad_request("'ttl' is too large."),
            e => e.into(),
        })?;
    Ok(Json(KvTtl { key, ttl: put.ttl }))
}

/// DEL: `{"key"}`, or 404 when there was no such key.
async fn delete(KeyRequest { kv, namespace, key }: KeyRequest) -> Result<Json<Deleted>, ApiError> {
    if kv.delete(&namespace, &key).await? {
        Ok(Json(Deleted { key }))
    } else {
        Err(ApiError::not_found())
    }
}

/// `?op=incr[&by=N]` → `{"key", "value": <new number>}`;
/// `?op=expire&seconds=N` → `{"key", "ttl": N}` (404 when there is no such key).
async fn update(
    KeyRequest { kv, namespace, key }: KeyRequest,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    match query.get("op").map(String::as_str) {
        Some("incr") => {
            let by = match query.get("by") {
                None => 1,
                Some(raw) => raw.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("The value '{raw}' of 'by' is not an integer."))
                })?,
            };
            let value = kv.incr(&namespace, &key, by).await?;
            Ok(Json(KvIncr { key, value }).into_response())
        }
        Some("expire") => {
            let seconds = query
                .get("seconds")
                .and_then(|raw| raw.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("'seconds' must be a number of seconds (0 or more).")
                })?;
            let found = kv
                .expire(&namespace, &key, seconds)
                .await
                .map_err(|e| match e {
                    KeysError::BadExpiry => ApiError::bad_request("'seconds' is too large."),
                    e => e.into(),
                })?;
            if found {
                let ttl = Some(seconds);
                Ok(Json(KvTtl { key, ttl }).into_response())
            } else {
                Err(ApiError::not_found())
            }
        }
        Some(other) => Err(unknown_op(other, "op=incr or op=expire")),
        None => Err(ApiError::bad_request(
            "POST on a key needs op=incr or op=expire.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_limits_are_bounded() {
        assert_eq!(list_limit(&query(&[])).unwrap(), DEFAULT_LIST_LIMIT);
        assert_eq!(list_limit(&query(&[("limit", "5")])).unwrap(), 5);
        for bad in ["0", "-1", "x", "10001"] {
            assert_eq!(
                list_limit(&query(&[("limit", bad)])).unwrap_err().status,
                400,
                "{bad}"
            );
        }
    }
}

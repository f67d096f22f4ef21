//! `/namespaces/{ns}/kv[/{key}]`: the namespace's key-value store from outside functions.
//!
//! A key is the rest of the path (`kv/users/1:name` is the key `users/1:name`), percent-decoded,
//! so keys with `/` and `:` need no encoding and any other character can be percent-encoded.
//! Handlers build `wisp_kv::Command`s and read the `Reply`s; what a refusal means is decided by
//! `wisp_kv::Refusal` and mapped to a status in `error.rs`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query as QueryParams, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use wisp_kv::{Command, KvStore, Reply};

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
) -> Result<(Arc<dyn KvStore>, String), ApiError> {
    let namespace = caller.entitled_namespace(state, ns, resource)?;
    let kv = state.kv.clone().ok_or_else(ApiError::kv_unavailable)?;
    Ok((kv, namespace.to_string()))
}

/// The key routes' request: the authenticated caller's entitled namespace in the store, and
/// the key (the rest of the path, percent-decoded).
struct KeyRequest {
    kv: Arc<dyn KvStore>,
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

/// A reply that is not an error.
fn answer(reply: Reply) -> Result<Reply, ApiError> {
    match reply {
        Reply::Error(e) => Err(ApiError::kv_refusal(&e)),
        other => Ok(other),
    }
}

fn unexpected(reply: &Reply) -> ApiError {
    tracing::error!(?reply, "unexpected reply from the key-value store");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "unexpected reply from the key-value store",
    )
}

/// `?prefix=P&limit=N`: `{"keys": [...], "truncated": bool}`, keys in byte order.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<Value>, ApiError> {
    let (kv, namespace) = store(&state, &caller, &ns, "kv")?;
    let limit = list_limit(&query)?;
    let prefix = query.get("prefix").map_or("", String::as_str);
    let reply = answer(
        kv.execute(&namespace, Command::keys_with_prefix(prefix.as_bytes()))
            .await,
    )?;
    let Reply::Array(Some(items)) = reply else {
        return Err(unexpected(&reply));
    };
    let mut keys: Vec<Vec<u8>> = items
        .into_iter()
        .filter_map(|item| match item {
            Reply::Bulk(Some(key)) => Some(key),
            _ => None,
        })
        .collect();
    keys.sort();
    let truncated = keys.len() > limit;
    keys.truncate(limit);
    let keys: Vec<Value> = keys.iter().map(|k| kv_wire::bytes(k)).collect();
    Ok(Json(json!({"keys": keys, "truncated": truncated})))
}

fn list_limit(query: &Query) -> Result<usize, ApiError> {
    listing_limit(query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, "kv")
}

/// Empties the namespace's store: `{"deleted": <keys there were>}`.
async fn flush(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (kv, namespace) = store(&state, &caller, &ns, "kv")?;
    let reply = kv
        .transaction(&namespace, vec![Command::DbSize, Command::Flush])
        .await;
    match answer(reply)? {
        Reply::Array(Some(replies)) => match replies.as_slice() {
            [Reply::Integer(n), Reply::Simple(_)] => Ok(Json(json!({"deleted": n}))),
            [_, Reply::Error(e)] | [Reply::Error(e), _] => Err(ApiError::kv_refusal(e)),
            _ => Err(unexpected(&Reply::Array(Some(replies)))),
        },
        other => Err(unexpected(&other)),
    }
}

/// `{"key", "type", "value", "ttl"}`; with `?op=ttl` only `{"key", "ttl"}`.
async fn read(
    KeyRequest { kv, namespace, key }: KeyRequest,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<Value>, ApiError> {
    match query.get("op").map(String::as_str) {
        None => read_entry(kv.as_ref(), &namespace, &key).await.map(Json),
        Some("ttl") => {
            let reply = answer(
                kv.execute(&namespace, Command::Ttl(key.clone().into_bytes(), false))
                    .await,
            )?;
            match reply {
                Reply::Integer(-2) => Err(ApiError::not_found()),
                Reply::Integer(n) => Ok(Json(json!({"key": key, "ttl": kv_wire::ttl(n)}))),
                other => Err(unexpected(&other)),
            }
        }
        Some(other) => Err(unknown_op(other, "ttl")),
    }
}

fn unknown_op(op: &str, known: &str) -> ApiError {
    ApiError::bad_request(format!("Unknown op '{op}'; this method takes {known}."))
}

/// Reads the type, the contents and the TTL of a key in one transaction. The command that
/// reads the contents depends on the type, so a key whose type changed between the guess and
/// the read is read again.
async fn read_entry(kv: &dyn KvStore, namespace: &str, key: &str) -> Result<Value, ApiError> {
    let k = || key.as_bytes().to_vec();
    let mut guess = "string".to_string();
    for _ in 0..3 {
        let contents = match guess.as_str() {
            "list" => Command::LRange(k(), 0, -1),
            "set" => Command::SMembers(k()),
            "hash" => Command::HGetAll(k()),
            _ => Command::Get(k()),
        };
        let reply = kv
            .transaction(
                namespace,
                vec![Command::Type(k()), contents, Command::Ttl(k(), false)],
            )
            .await;
        let replies = match answer(reply)? {
            Reply::Array(Some(replies)) => replies,
            other => return Err(unexpected(&other)),
        };
        let [Reply::Simple(kind), contents, Reply::Integer(ttl)] = replies.as_slice() else {
            return Err(unexpected(&Reply::Array(Some(replies))));
        };
        if kind == "none" {
            return Err(ApiError::not_found());
        }
        if *kind != guess {
            guess = kind.clone();
            continue;
        }
        let value = match contents {
            Reply::Error(e) => return Err(ApiError::kv_refusal(e)),
            Reply::Bulk(Some(b)) => kv_wire::bytes(b),
            Reply::Array(Some(items)) => {
                let mut items: Vec<Vec<u8>> = items
                    .iter()
                    .filter_map(|i| match i {
                        Reply::Bulk(Some(b)) => Some(b.clone()),
                        _ => None,
                    })
                    .collect();
                match kind.as_str() {
                    "hash" => kv_wire::hash(&items),
                    kind => {
                        if kind == "set" {
                            // Sets have no order; a sorted answer is a stable one.
                            items.sort();
                        }
                        Value::Array(items.iter().map(|b| kv_wire::bytes(b)).collect())
                    }
                }
            }
            other => return Err(unexpected(other)),
        };
        return Ok(kv_wire::entry(key, kind, value, *ttl));
    }
    Err(ApiError::new(
        axum::http::StatusCode::CONFLICT,
        format!("The key '{key}' kept changing type while it was read; try again."),
    ))
}

/// `{"value": "<string>", "ttl": <seconds>?}` → SET: `{"key", "ttl"}`.
async fn put(
    KeyRequest { kv, namespace, key }: KeyRequest,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let put = kv_wire::kv_put(wire::object_body(&body, false)?.unwrap_or_default())?;
    let command = Command::set(key.clone().into_bytes(), put.value.into_bytes(), put.ttl)
        .ok_or_else(|| ApiError::bad_request("'ttl' is too large."))?;
    answer(kv.execute(&namespace, command).await)?;
    let ttl = put.ttl.map_or(Value::Null, |s| json!(s));
    Ok(Json(json!({"key": key, "ttl": ttl})))
}

/// DEL: `{"key"}`, or 404 when there was no such key.
async fn delete(KeyRequest { kv, namespace, key }: KeyRequest) -> Result<Json<Value>, ApiError> {
    let reply = kv
        .execute(&namespace, Command::Del(vec![key.clone().into_bytes()]))
        .await;
    match answer(reply)? {
        Reply::Integer(0) => Err(ApiError::not_found()),
        Reply::Integer(_) => Ok(Json(json!({"key": key}))),
        other => Err(unexpected(&other)),
    }
}

/// `?op=incr[&by=N]` → `{"key", "value": <new number>}`;
/// `?op=expire&seconds=N` → `{"key", "ttl": N}` (404 when there is no such key).
async fn update(
    KeyRequest { kv, namespace, key }: KeyRequest,
    QueryParams(query): QueryParams<Query>,
) -> Result<Json<Value>, ApiError> {
    let k = key.clone().into_bytes();
    match query.get("op").map(String::as_str) {
        Some("incr") => {
            let by = match query.get("by") {
                None => 1,
                Some(raw) => raw.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("The value '{raw}' of 'by' is not an integer."))
                })?,
            };
            match answer(kv.execute(&namespace, Command::IncrBy(k, by)).await)? {
                Reply::Integer(n) => Ok(Json(json!({"key": key, "value": n}))),
                other => Err(unexpected(&other)),
            }
        }
        Some("expire") => {
            let seconds = query
                .get("seconds")
                .and_then(|raw| raw.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("'seconds' must be a number of seconds (0 or more).")
                })?;
            let command = Command::expire(k, seconds)
                .ok_or_else(|| ApiError::bad_request("'seconds' is too large."))?;
            match answer(kv.execute(&namespace, command).await)? {
                Reply::Integer(0) => Err(ApiError::not_found()),
                Reply::Integer(_) => Ok(Json(json!({"key": key, "ttl": seconds}))),
                other => Err(unexpected(&other)),
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

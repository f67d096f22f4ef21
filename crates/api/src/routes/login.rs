//! Nimbella's token login, so `nim auth export` on one machine and `nim auth login <token>` on
//! another give a credential with object storage and the key-value store turned on:
//!
//! - `GET /api/v1/web/nimbella/user/tokenizer[?ttl=login|SECONDS]` (the caller's key) answers
//!   `{token}`: three dot-separated parts as the CLI expects of a JWT, the middle one naming
//!   the API host, the last a random secret;
//! - `GET /api/v1/web/nimbella/user/authorize.json?token=` (no key) answers, once per token and
//!   before it expires, `{statusCode, body: {status, namespace, apihost, uuid, key, storage,
//!   redis}}`.
//!
//! Keys are stored only as hashes, so the key is kept with the token, in memory, from the
//! tokenizer call that presented it until the token is used or expires: a restart forgets
//! pending tokens. The token is a bearer credential for that long; nothing of the key is in it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// A token for `nim auth login` on this machine (`ttl=login`) lives this long.
const LOGIN_TTL: Duration = Duration::from_secs(300);
/// Without a `ttl`, long enough to carry it to another machine.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The longest a caller may ask for.
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Pending tokens at most; the oldest expire first anyway.
const MAX_PENDING: usize = 10_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/web/nimbella/user/tokenizer", get(tokenizer))
        .route("/web/nimbella/user/authorize.json", get(authorize))
}

/// Tokens handed out and not yet used.
#[derive(Default)]
pub struct LoginTokens {
    pending: Mutex<HashMap<String, Pending>>,
}

struct Pending {
    api_key: String,
    namespace: String,
    expires: Instant,
}

impl LoginTokens {
    fn issue(&self, api_key: &str, namespace: &str, ttl: Duration) -> String {
        let secret = Alphanumeric.sample_string(&mut rand::rng(), 43);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now);
        if pending.len() >= MAX_PENDING {
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.expires)
                .map(|(k, _)| k.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            secret.clone(),
            Pending {
                api_key: api_key.to_owned(),
                namespace: namespace.to_owned(),
                expires: now + ttl,
            },
        );
        secret
    }

    /// The key and namespace a live token stands for; the token is spent.
    fn redeem(&self, secret: &str) -> Option<(String, String)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let found = pending.remove(secret)?;
        (found.expires > Instant::now()).then_some((found.api_key, found.namespace))
    }
}

fn ttl_of(query: &HashMap<String, String>) -> Result<Duration, ApiError> {
    match query.get("ttl").map(String::as_str) {
        None => Ok(DEFAULT_TTL),
        Some("login") => Ok(LOGIN_TTL),
        Some(seconds) => seconds
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
            .filter(|ttl| !ttl.is_zero() && *ttl <= MAX_TTL)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "ttl must be 'login' or 1 to {} seconds.",
                    MAX_TTL.as_secs()
                ))
            }),
    }
}

async fn tokenizer(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ttl = ttl_of(&query)?;
    let identity = caller.0;
    let secret = state
        .logins
        .issue(&identity.api_key, identity.namespace.as_str(), ttl);
    let part =
        |value: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let token = format!(
        "{}.{}.{secret}",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(json!({"apihost": state.api_host, "namespace": identity.namespace.as_str()})),
    );
    Ok(Json(json!({"token": token})))
}

async fn authorize(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let redeemed = query
        .get("token")
        .and_then(|token| token.rsplit('.').next())
        .and_then(|secret| state.logins.redeem(secret));
    let Some((api_key, namespace)) = redeemed else {
        return Json(json!({
            "statusCode": 403,
            "body": {"status": "failed", "error": "The token is unknown, used or expired."}
        }));
    };
    let (uuid, key) = api_key.split_once(':').unwrap_or((api_key.as_str(), ""));
    let env = state.controller.namespace_environment(&namespace).await;
    let storage = env
        .iter()
        .find(|(name, _)| name == "__NIM_STORAGE_KEY")
        .map(|(_, value)| value.clone());
    let redis = env.iter().any(|(name, _)| name == "__NIM_REDIS_PASSWORD");
    Json(json!({
        "statusCode": 200,
        "body": {
            "status": "success",
            "namespace": namespace,
            "apihost": state.api_host,
            "uuid": uuid,
            "key": key,
            "storage": storage,
            "redis": redis,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_redeemed_once_and_not_after_it_expires() {
        let tokens = LoginTokens::default();
        let secret = tokens.issue("u:k", "guest", Duration::from_secs(60));
        assert_eq!(tokens.redeem(&secret), Some(("u:k".into(), "guest".into())));
        assert_eq!(tokens.redeem(&secret), None, "spent");
        let expired = tokens.issue("u:k", "guest", Duration::ZERO);
        assert_eq!(tokens.redeem(&expired), None);
        assert_eq!(tokens.redeem("made-up"), None);
    }

    #[test]
    fn ttls_are_login_seconds_or_refused() {
        let q = |v: &str| HashMap::from([("ttl".to_owned(), v.to_owned())]);
        assert_eq!(ttl_of(&HashMap::new()).unwrap(), DEFAULT_TTL);
        assert_eq!(ttl_of(&q("login")).unwrap(), LOGIN_TTL);
        assert_eq!(ttl_of(&q("90")).unwrap(), Duration::from_secs(90));
        for bad in ["0", "-1", "soon", "99999999"] {
            assert!(ttl_of(&q(bad)).is_err(), "{bad}");
        }
    }
}

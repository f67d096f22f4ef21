//! `/healthz` and `/readyz` for load balancers and Kubernetes probes: no credentials, and
//! nothing in the answer but yes or no (which dependency failed goes to the server's log).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

/// The namespace the probes read in; no key is ever written there.
const PROBE_NAMESPACE: &str = "wisp-readiness-probe";

/// The process answers.
pub async fn alive() -> Json<Value> {
    Json(json!({"alive": true}))
}

/// The entity and activation store, the key-value store, object storage and the invoker
/// all answer.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut failing = Vec::new();
    if !state.controller.ready().await {
        failing.push("store or invoker");
    }
    if let Some(kv) = &state.kv {
        if kv.count(PROBE_NAMESPACE).await.is_err() {
            failing.push("key-value store");
        }
    }
    if let Some(objects) = &state.objects {
        let probe = objects
            .store
            .head(PROBE_NAMESPACE, wisp_objects::Bucket::Data, "probe")
            .await;
        if probe.is_err() {
            failing.push("object storage");
        }
    }
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({"ready": true})))
    } else {
        tracing::warn!(failing = ?failing, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false})),
        )
    }
}

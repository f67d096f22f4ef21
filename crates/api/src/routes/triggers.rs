//! `/namespaces/{ns}/triggers[/{name}]`: triggers, and firing them.

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use wisp_core::EntityPath;

use crate::auth::Caller;
use crate::middleware::transaction_id;
use crate::query::{flag, list_params, Query};
use crate::routes::{own_entity, payload_too_large};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/triggers", get(list))
        .route(
            "/namespaces/{ns}/triggers/{name}",
            get(get_trigger).put(put).delete(delete).post(fire),
        )
}

fn trigger_path(
    caller: &Caller,
    state: &AppState,
    ns: &str,
    name: &str,
) -> Result<EntityPath, ApiError> {
    own_entity(caller, state, ns, "triggers", name)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    caller.entitled_namespace(&state, &ns, "triggers")?;
    let params = list_params(&query, "triggers")?;
    if params.count {
        let n = state.controller.count_triggers(&caller.0).await?;
        return Ok(Json(json!({"triggers": n})).into_response());
    }
    let triggers = state
        .controller
        .list_triggers(&caller.0, params.page())
        .await?;
    Ok(Json(
        triggers
            .iter()
            .map(wire::trigger_summary)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn get_trigger(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = trigger_path(&caller, &state, &ns, &name)?;
    let trigger = state.controller.get_trigger(&path).await?;
    Ok(Json(wire::trigger(&trigger)).into_response())
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = trigger_path(&caller, &state, &ns, &name)?;
    let put = wire::trigger_put(wire::object_body(&body, true)?.unwrap_or_default())?;
    let trigger = state
        .controller
        .put_trigger(path, put, flag(&query, "overwrite"))
        .await?;
    Ok(Json(wire::trigger(&trigger)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = trigger_path(&caller, &state, &ns, &name)?;
    let trigger = state.controller.delete_trigger(&path).await?;
    Ok(Json(wire::trigger(&trigger)).into_response())
}

/// 202 with the trigger's activation id, or 204 when no rule is active.
/// Request headers rule actions never see: the caller's credentials, which any action that
/// logs its input would otherwise write into its logs.
const WITHHELD: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

async fn fire(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = trigger_path(&caller, &state, &ns, &name)?;
    let max = state.controller.limits().max_payload_bytes;
    if body.len() > max {
        return Err(payload_too_large(body.len(), max));
    }
    let event = wire::object_body(&body, true)?.unwrap_or_default();
    let headers: Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| !WITHHELD.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((name.as_str().to_ascii_lowercase(), Value::from(value)))
        })
        .collect();
    let fired = state
        .controller
        .fire_trigger(&caller.0, &path, event, headers, transaction_id())
        .await?;
    Ok(match fired {
        Some(id) => (
            StatusCode::ACCEPTED,
            Json(json!({"activationId": id.as_str()})),
        )
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

//! `/namespaces/{ns}/rules[/{name}]`: rules, and enabling or disabling them.

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use wisp_controller::RuleView;
use wisp_core::{EntityPath, RuleStatus};

use crate::auth::Caller;
use crate::query::{flag, list_params, Query};
use crate::routes::own_entity;
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/rules", get(list))
        .route(
            "/namespaces/{ns}/rules/{name}",
            get(get_rule).put(put).delete(delete).post(set_status),
        )
}

fn rule_path(
    caller: &Caller,
    state: &AppState,
    ns: &str,
    name: &str,
) -> Result<EntityPath, ApiError> {
    own_entity(caller, state, ns, "rules", name)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    caller.entitled_namespace(&state, &ns, "rules")?;
    let params = list_params(&query, "rules")?;
    if params.count {
        let n = state.controller.count_rules(&caller.0).await?;
        return Ok(Json(json!({"rules": n})).into_response());
    }
    let rules = state
        .controller
        .list_rules(&caller.0, params.page())
        .await?;
    Ok(Json(
        rules
            .into_iter()
            .map(|rule| {
                let view = RuleView {
                    rule,
                    status: RuleStatus::Inactive,
                };
                wire::rule(&view, false)
            })
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = rule_path(&caller, &state, &ns, &name)?;
    let view = state.controller.get_rule(&path).await?;
    Ok(Json(wire::rule(&view, true)).into_response())
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = rule_path(&caller, &state, &ns, &name)?;
    let put = wire::rule_put(wire::object_body(&body, true)?.unwrap_or_default())?;
    let view = state
        .controller
        .put_rule(&caller.0, path, put, flag(&query, "overwrite"))
        .await?;
    Ok(Json(wire::rule(&view, true)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = rule_path(&caller, &state, &ns, &name)?;
    let view = state.controller.delete_rule(&path).await?;
    Ok(Json(wire::rule(&view, true)).into_response())
}

/// `{"status": "active" | "inactive"}`: 200 with an empty body.
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(), ApiError> {
    let path = rule_path(&caller, &state, &ns, &name)?;
    let body = wire::object_body(&body, true)?.unwrap_or_default();
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(RuleStatus::parse)
        .ok_or_else(|| ApiError::bad_request("status must be either 'active' or 'inactive'"))?;
    state.controller.set_rule_status(&path, status).await?;
    Ok(())
}

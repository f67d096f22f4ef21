//! `/namespaces/{ns}/activations`: records, their logs and results.

use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use wisp_controller::ActivationFilter;
use wisp_core::ActivationId;

use crate::auth::Caller;
use crate::query::{flag, list_params, millis, Query};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/activations", get(list))
        .route("/namespaces/{ns}/activations/{id}", get(get_one))
        .route("/namespaces/{ns}/activations/{id}/logs", get(logs))
        .route("/namespaces/{ns}/activations/{id}/result", get(result))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let namespace = caller.entitled_namespace(&state, &ns, "activations")?;
    let params = list_params(&query, "activations")?;
    let docs = flag(&query, "docs");
    if params.count && docs {
        return Err(ApiError::bad_request(
            "The parameter 'docs' is not permitted with 'count'.",
        ));
    }
    let name = match query.get("name") {
        Some(name) if name.split('/').count() > 2 => {
            return Err(ApiError::bad_request(
                "The name of the entity contains illegal characters.",
            ))
        }
        Some(name) => Some(name.trim_start_matches('/').to_string()),
        None => None,
    };
    let filter = ActivationFilter {
        name,
        since: millis(&query, "since", "activations")?,
        upto: millis(&query, "upto", "activations")?,
        skip: params.skip,
        limit: params.limit,
    };
    if params.count {
        let n = state.controller.records().count(&namespace, filter).await?;
        return Ok(Json(json!({"activations": n})).into_response());
    }
    let records = state.controller.records().list(&namespace, filter).await?;
    let render = if docs {
        wire::activation
    } else {
        wire::activation_summary
    };
    Ok(Json(records.iter().map(render).collect::<Vec<_>>()).into_response())
}

async fn find(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    id: &str,
) -> Result<wisp_core::Activation, ApiError> {
    let namespace = caller.entitled_namespace(state, ns, "activations")?;
    let id = ActivationId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(state.controller.records().get(&namespace, id).await?)
}

async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = find(&state, &caller, &ns, &id).await?;
    Ok(Json(wire::activation(&record)).into_response())
}

async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = find(&state, &caller, &ns, &id).await?;
    let logs = wisp_wire::ActivationLogs { logs: record.logs };
    Ok(Json(logs).into_response())
}

async fn result(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = find(&state, &caller, &ns, &id).await?;
    Ok(Json(wire::response(&record)).into_response())
}

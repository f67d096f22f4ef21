//! `/namespaces/{ns}/packages[/{name}]`: packages and bindings.

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use wisp_core::EntityPath;

use crate::auth::Caller;
use crate::query::{flag, list_params, Query};
use crate::routes::{entity_name, own_entity};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/packages", get(list))
        .route(
            "/namespaces/{ns}/packages/{name}",
            get(get_package).put(put).delete(delete),
        )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    // Another namespace's published packages are listed too, so no entitlement here.
    let namespace = caller.namespace(&ns)?;
    let params = list_params(&query, "packages")?;
    let controller = &state.controller;
    if params.count {
        let n = controller.count_packages(&caller.0, namespace).await?;
        return Ok(Json(json!({"packages": n})).into_response());
    }
    let packages = controller
        .list_packages(&caller.0, namespace, params.page())
        .await?;
    Ok(Json(
        packages
            .iter()
            .map(wire::package_summary)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

fn package_path(caller: &Caller, ns: &str, name: &str) -> Result<EntityPath, ApiError> {
    Ok(EntityPath::new(
        caller.namespace(ns)?,
        None,
        entity_name(name)?,
    ))
}

async fn get_package(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = package_path(&caller, &ns, &name)?;
    let view = state.controller.get_package(&caller.0, &path).await?;
    Ok(Json(wire::package_view(&view)).into_response())
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = own_entity(&caller, &state, &ns, "packages", &name)?;
    let body = wire::object_body(&body, true)?.unwrap_or_default();
    let put = wire::package_put(body, &caller.0.namespace)?;
    let package = state
        .controller
        .put_package(&caller.0, path, put, flag(&query, "overwrite"))
        .await?;
    Ok(Json(wire::package(&package)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let path = own_entity(&caller, &state, &ns, "packages", &name)?;
    let package = state
        .controller
        .delete_package(path, flag(&query, "force"))
        .await?;
    Ok(Json(wire::package(&package)).into_response())
}

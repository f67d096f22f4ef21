//! The handlers every entity collection shares: list (and count), read, write and delete, over
//! the controller's [`EntityKind`]. A collection adds only its wire shapes ([`Collection`]) and
//! whatever else its routes do (firing a trigger, enabling a rule). Actions, whose paths may
//! name a package, have routes of their own (`routes::actions`) over the same controller calls.

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use wisp_controller::EntityKind;
use wisp_core::{EntityPath, Identity};

use crate::auth::Caller;
use crate::query::{flag, list_params, Query};
use crate::routes::{entity_name, own_entity};
use crate::{wire, ApiError, AppState};

/// An entity collection's shapes on the wire.
pub trait Collection: EntityKind {
    /// A write's body; `caller` resolves `_` in the names it holds.
    fn put_from(body: Map<String, Value>, caller: &Identity) -> Result<Self::Put, ApiError>;

    /// What a read, a write and a delete answer.
    fn document(view: &Self::View) -> impl Serialize;

    /// A list entry.
    fn summary(view: &Self::View) -> impl Serialize;
}

/// `GET /namespaces/{ns}/{collection}`.
pub fn list<K: Collection>() -> MethodRouter<AppState> {
    get(list_or_count::<K>)
}

/// `GET`, `PUT` and `DELETE /namespaces/{ns}/{collection}/{name}`.
pub fn item<K: Collection>() -> MethodRouter<AppState> {
    get(read::<K>).put(write::<K>).delete(delete::<K>)
}

async fn list_or_count<K: Collection>(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let collection = K::COLLECTION.plural();
    let namespace = if K::SHARED {
        caller.namespace(&ns)?
    } else {
        caller.entitled_namespace(&state, &ns, collection)?
    };
    let params = list_params(&query, collection)?;
    let controller = &state.controller;
    if params.count {
        let n = controller.count::<K>(&caller.0, &namespace).await?;
        return Ok(Json(json!({ collection: n })).into_response());
    }
    let views = controller
        .list::<K>(&caller.0, &namespace, params.page())
        .await?;
    Ok(Json(views.iter().map(K::summary).collect::<Vec<_>>()).into_response())
}

/// Another namespace's shared entity is the controller's to allow or refuse; the rest must be
/// the caller's own.
async fn read<K: Collection>(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = if K::SHARED {
        EntityPath::new(caller.namespace(&ns)?, None, entity_name(&name)?)
    } else {
        own_entity(&caller, &state, &ns, K::COLLECTION.plural(), &name)?
    };
    let view = state.controller.get::<K>(&caller.0, &path).await?;
    Ok(Json(K::document(&view)).into_response())
}

async fn write<K: Collection>(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = own_entity(&caller, &state, &ns, K::COLLECTION.plural(), &name)?;
    let body = wire::object_body(&body, true)?.unwrap_or_default();
    let put = K::put_from(body, &caller.0)?;
    let view = state
        .controller
        .put::<K>(&caller.0, path, put, flag(&query, "overwrite"))
        .await?;
    Ok(Json(K::document(&view)).into_response())
}

/// `force` also deletes what the entity holds (a package's actions).
async fn delete<K: Collection>(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let path = own_entity(&caller, &state, &ns, K::COLLECTION.plural(), &name)?;
    let view = state
        .controller
        .delete::<K>(&path, flag(&query, "force"))
        .await?;
    Ok(Json(K::document(&view)).into_response())
}

//! `/namespaces/{ns}/actions[/{pkg}]/{name}`: create, read, list, delete and invoke.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use wisp_controller::{InvokeOptions, Invoked};
use wisp_core::{Action, EntityName, EntityPath, NameError, Outcome};
use wisp_wire::Accepted;

use crate::auth::Caller;
use crate::middleware::transaction_id;
use crate::query::{bounded, flag, list_params, Query};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/actions", get(list))
        .route(
            "/namespaces/{ns}/actions/{*path}",
            get(get_action).put(put).delete(delete).post(invoke),
        )
}

use crate::routes::{entity_name as name, payload_too_large};

/// What the path after `/actions/` names.
enum Target {
    Action(EntityPath),
    /// `pkg/`: the actions of a package.
    Package(EntityName),
}

/// Reads and invokes may reach into another namespace's published packages: the controller
/// decides; writes (`entitled`) must be in the caller's own namespace.
fn target(
    caller: &Caller,
    state: &AppState,
    ns: &str,
    rest: &str,
    entitled: bool,
) -> Result<Target, ApiError> {
    let namespace = if entitled {
        caller.entitled_namespace(state, ns, &format!("actions/{rest}"))?
    } else {
        caller.namespace(ns)?
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [action] => Ok(Target::Action(EntityPath::new(
            namespace,
            None,
            name(action)?,
        ))),
        [package, ""] => Ok(Target::Package(name(package)?)),
        [package, action] => Ok(Target::Action(EntityPath::new(
            namespace,
            Some(name(package)?),
            name(action)?,
        ))),
        _ => Err(ApiError::bad_request(
            NameError::IllegalCharacters.to_string(),
        )),
    }
}

fn action_path(
    caller: &Caller,
    state: &AppState,
    ns: &str,
    rest: &str,
    entitled: bool,
) -> Result<EntityPath, ApiError> {
    match target(caller, state, ns, rest, entitled)? {
        Target::Action(path) => Ok(path),
        Target::Package(_) => Err(ApiError::not_found()),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let namespace = caller.entitled_namespace(&state, &ns, "actions")?;
    list_in(&state, &caller, namespace, None, &query).await
}

async fn list_in(
    state: &AppState,
    caller: &Caller,
    namespace: EntityName,
    package: Option<EntityName>,
    query: &Query,
) -> Result<Response, ApiError> {
    let params = list_params(query, "actions")?;
    if params.count {
        let n = state
            .controller
            .entities()
            .count_actions(&caller.0, namespace, package)
            .await?;
        return Ok(Json(json!({"actions": n})).into_response());
    }
    let actions = state
        .controller
        .entities()
        .list_actions(&caller.0, namespace, package, params.skip, params.limit)
        .await?;
    Ok(Json(actions.iter().map(wire::action_summary).collect::<Vec<_>>()).into_response())
}

async fn get_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, rest)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
) -> Result<Response, ApiError> {
    match target(&caller, &state, &ns, &rest, false)? {
        Target::Package(package) => {
            list_in(
                &state,
                &caller,
                caller.namespace(&ns)?,
                Some(package),
                &query,
            )
            .await
        }
        Target::Action(path) => {
            let action = state.controller.get::<Action>(&caller.0, &path).await?;
            let code = query
                .get("code")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
            Ok(Json(wire::action(&action, code)).into_response())
        }
    }
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, rest)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let path = action_path(&caller, &state, &ns, &rest, true)?;
    let body = body.map_err(unread_body)?;
    let put = wire::action_put(wire::object_body(&body, false)?.unwrap_or_default())?;
    let action = state
        .controller
        .put::<Action>(&caller.0, path, put, flag(&query, "overwrite"))
        .await?;
    Ok(Json(wire::action(&action, true)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, rest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = action_path(&caller, &state, &ns, &rest, true)?;
    let action = state.controller.delete::<Action>(&path, false).await?;
    Ok(Json(wire::action(&action, true)).into_response())
}

/// A body that could not be read: past the size bound (413), or cut short or not sent in
/// time (400).
fn unread_body(rejection: BytesRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// The actions of Nimbella's hosted platform that `nim` invokes for remote builds, which Wisp
/// does not offer: answered with what to do instead of a bare 404.
fn nimbella_hosted_service(ns: &str, rest: &str) -> Option<&'static str> {
    if ns != "nimbella" {
        return None;
    }
    if rest.starts_with("builder/") {
        Some("The remote builder (/nimbella/builder)")
    } else if rest == "websupport/getSignedUrl" {
        Some("/nimbella/websupport/getSignedUrl")
    } else {
        None
    }
}

async fn invoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, rest)): Path<(String, String)>,
    QueryParams(query): QueryParams<Query>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if let Some(service) = nimbella_hosted_service(&ns, &rest) {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{service} is a service of Nimbella's hosted platform, not supported by this \
                 server: build locally (without --remote-build or remoteBuild)."
            ),
        ));
    }
    let path = action_path(&caller, &state, &ns, &rest, false)?;
    let max = state.controller.limits().max_payload_bytes;
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|size| *size > max) {
        return Err(payload_too_large(size, max));
    }
    let body = body.map_err(unread_body)?;
    if body.len() > max {
        return Err(payload_too_large(body.len(), max));
    }
    let payload = wire::object_body(&body, true)?;
    let blocking = flag(&query, "blocking");
    let result_only = flag(&query, "result");
    let max_wait =
        u64::try_from(state.controller.max_blocking_wait().as_millis()).unwrap_or(60_000);
    let wait = bounded(&query, "timeout", 1..=max_wait, max_wait, |_| {
        format!("Timeout must be number of milliseconds up to {max_wait}.")
    })?;
    let options = InvokeOptions {
        blocking,
        wait: Duration::from_millis(wait),
        transaction_id: transaction_id(),
    };
    let invoked = state
        .controller
        .invoke(&caller.0, &path, payload, options)
        .await?;
    Ok(invoke_response(invoked, result_only))
}

fn invoke_response(invoked: Invoked, result_only: bool) -> Response {
    let (id, mut response) = match invoked {
        Invoked::Accepted(id) => {
            let body = Accepted {
                activation_id: id.to_string(),
            };
            (id, (StatusCode::ACCEPTED, Json(body)).into_response())
        }
        Invoked::Completed(record) => {
            let status = match record.response.outcome {
                Outcome::Success => StatusCode::OK,
                Outcome::ApplicationError | Outcome::DeveloperError => StatusCode::BAD_GATEWAY,
                Outcome::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let result = &record.response.result;
            // An array result is the body itself, whatever was asked (OpenWhisk's code does so).
            let response = if result_only || result.is_array() {
                (status, Json(result)).into_response()
            } else {
                (status, Json(wire::activation(&record))).into_response()
            };
            (record.activation_id, response)
        }
    };
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response
            .headers_mut()
            .insert("x-openwhisk-activation-id", value);
    }
    response
}

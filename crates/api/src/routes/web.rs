//! `/web/{namespace}/{package|default}/{action}[.ext][/rest]`: web actions.
//!
//! Anyone may call a web action; it runs as the owner of its namespace. Unknown namespaces,
//! missing actions and actions without `web-export: true` are all the same 404, so nothing
//! about what exists leaks. The arguments and the response are built by `crate::web`.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Map, Value};
use wisp_controller::{InvokeOptions, Invoked};
use wisp_core::{Action, ActivationId, Identity};

use crate::auth::optional_caller;
use crate::middleware::transaction_id;
use crate::web::request::{arguments, WebRequest};
use crate::web::response::{project, Reply};
use crate::web::url::{self, WebUrl};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/web/{*rest}", any(handle))
}

const ACTIVATION_ID: HeaderName = HeaderName::from_static("x-openwhisk-activation-id");
const REQUIRE_WHISK_AUTH: &str = "x-require-whisk-auth";
const ALLOW_METHODS: &str = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH";
const ALLOW_HEADERS: &str =
    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent";

/// What the handler answers with, before the headers every web response may carry.
struct Answer {
    response: Response,
    activation: Option<ActivationId>,
}

impl From<ApiError> for Answer {
    fn from(e: ApiError) -> Self {
        let mut response = e.into_response();
        // A browser would pop up a login dialog; web callers authenticate in other ways.
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
        Answer {
            response,
            activation: None,
        }
    }
}

pub(crate) async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let allowed = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    if !allowed.contains(&parts.method) {
        return crate::error::method_not_allowed().await.into_response();
    }
    // Too large a request is refused before anything is looked up, as in OpenWhisk.
    let max = state.controller.limits().max_payload_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|size| *size > max) {
        return too_large(size, max).into_response();
    }
    let Some(target) = parts.uri.path().strip_prefix("/web/").and_then(url::parse) else {
        return ApiError::not_found().into_response();
    };
    let (owner, action) = match web_action(&state, &target).await {
        Ok(found) => found,
        Err(e) => return Answer::from(e).response,
    };
    let custom_options = action.annotations.is_true("web-custom-options");
    let mut answer = if !custom_options && parts.method == Method::OPTIONS {
        Answer {
            response: StatusCode::OK.into_response(),
            activation: None,
        }
    } else {
        let call = Call {
            state: &state,
            owner: &owner,
            action: &action,
            target: &target,
            method: &parts.method,
            headers: &parts.headers,
            query: parts.uri.query().unwrap_or(""),
            check_auth: !(custom_options && parts.method == Method::OPTIONS),
        };
        call.run(body).await.unwrap_or_else(Answer::from)
    };
    let headers = answer.response.headers_mut();
    if let Some(id) = answer.activation {
        if let Ok(value) = HeaderValue::from_str(id.as_str()) {
            headers.insert(ACTIVATION_ID, value);
        }
    }
    if !custom_options {
        add_cors(headers, &parts.headers);
    }
    answer.response
}

/// The owner of the namespace and the action, if it exists and is exported.
async fn web_action(
    state: &AppState,
    target: &WebUrl,
) -> Result<(Identity, std::sync::Arc<Action>), ApiError> {
    let controller = &state.controller;
    let owner = controller
        .entities()
        .identity_of_namespace(&target.action.namespace)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let action = controller
        .entities()
        .resolve_action(&owner, &target.action)
        .await?
        .action;
    if !action.annotations.is_true("web-export") {
        return Err(ApiError::not_found());
    }
    Ok((owner, action))
}

/// One request to run a web action.
struct Call<'a> {
    state: &'a AppState,
    owner: &'a Identity,
    action: &'a Action,
    target: &'a WebUrl,
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a str,
    /// False for an OPTIONS request the action answers itself.
    check_auth: bool,
}

impl Call<'_> {
    async fn run(&self, body: Body) -> Result<Answer, ApiError> {
        let caller = optional_caller(self.headers, self.state).await?;
        if self.check_auth && !self.authorized(caller.is_some()) {
            return Err(ApiError::unauthorized(
                "Authentication is possible but has failed or not yet been provided.",
            ));
        }
        let max = self.state.controller.limits().max_payload_bytes;
        let body: Bytes = axum::body::to_bytes(body, max)
            .await
            .map_err(|_| too_large(max + 1, max))?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .or_else(|| (!body.is_empty()).then(|| "application/octet-stream".to_string()));
        let request = WebRequest {
            method: self.method.as_str().to_ascii_lowercase(),
            headers: request_headers(self.headers, content_type.as_deref()),
            path: &self.target.rest,
            query: self.query,
            content_type: content_type.as_deref(),
            body: &body,
            user: caller.as_ref().map(|c| c.namespace.as_str()),
        };
        let args = arguments(&request, self.action.annotations.is_true("raw-http"))?;
        let options = InvokeOptions {
            blocking: true,
            wait: self.state.controller.max_blocking_wait(),
            transaction_id: transaction_id(),
        };
        let invoked = self
            .state
            .controller
            .invoke(self.owner, &self.target.action, Some(args), options)
            .await?;
        Ok(match invoked {
            Invoked::Accepted(id) => Answer {
                response: (
                    StatusCode::ACCEPTED,
                    axum::Json(
                        json!({"error": "Response not yet ready.", "code": transaction_id()}),
                    ),
                )
                    .into_response(),
                activation: Some(id),
            },
            Invoked::Completed(record) => {
                let response = match project(
                    self.target.extension,
                    record.response.outcome,
                    &record.response.result,
                ) {
                    Ok(reply) => into_response(reply),
                    Err(e) => Answer::from(e).response,
                };
                Answer {
                    response,
                    activation: Some(record.activation_id),
                }
            }
        })
    }

    /// `require-whisk-auth`: `true` wants a caller with valid credentials, a string or number
    /// wants that value in `X-Require-Whisk-Auth`; absent or `false` lets anyone in.
    fn authorized(&self, authenticated: bool) -> bool {
        let secret = |expected: &str| {
            self.headers
                .get(REQUIRE_WHISK_AUTH)
                .is_some_and(|v| v.as_bytes() == expected.as_bytes())
        };
        match self.action.annotations.get("require-whisk-auth") {
            None | Some(Value::Bool(false)) => true,
            Some(Value::Bool(true)) => authenticated,
            Some(Value::String(s)) => secret(s),
            Some(Value::Number(n)) => secret(&n.to_string()),
            Some(_) => false,
        }
    }
}

/// `__ow_headers`: every header but the framing ones, names lower-cased, plus the content type.
fn request_headers(headers: &HeaderMap, content_type: Option<&str>) -> Map<String, Value> {
    let mut map: Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_LENGTH && *name != header::TRANSFER_ENCODING)
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), Value::from(value))
        })
        .collect();
    if let Some(ct) = content_type {
        map.insert("content-type".into(), Value::from(ct));
    }
    map
}

fn into_response(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    if let Some(ct) = reply
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// The CORS headers of web actions, unless the action set its own.
fn add_cors(headers: &mut HeaderMap, request: &HeaderMap) {
    let allow_headers = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
    for (name, value) in [
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        ),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
}

fn too_large(size: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request larger than allowed: {size} > {max} bytes."),
    )
}

//! HTTP request counts for `/metrics`, by method, route template and status.
//!
//! Two layers: one inside `/api/v1`, where the matched route is the whole path's template,
//! and one around everything else (the server's own routes, sites, what matched nothing). The
//! inner one marks the responses it counted so the outer one does not count them again. Route
//! templates and a closed set of methods keep the label values bounded.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Set on responses the inner layer has counted.
#[derive(Clone, Copy)]
struct Counted;

pub async fn requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = route_label(&request);
    let mut response = next.run(request).await;
    state
        .controller
        .metrics()
        .http_request(method, &route, response.status().as_u16());
    response.extensions_mut().insert(Counted);
    response
}

pub async fn other_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    let route = route_label(&request);
    let response = next.run(request).await;
    if response.extensions().get::<Counted>().is_none() {
        state
            .controller
            .metrics()
            .http_request(method, &route, response.status().as_u16());
    }
    response
}

fn route_label(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `/metrics` endpoint (OpenMetrics text), served on a listener of its own so namespace
/// names are not published on the API's port.
pub fn metrics_router(controller: wisp_controller::Controller) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            controller.measure_pool();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                controller.metrics().encode(),
            )
        }),
    )
}

/// What an invoker of a cluster serves on its metrics listener: `/metrics` (its runtime pools
/// and state stores), and `/healthz` and `/readyz` for its probes, ready while `ready` says
/// it takes work.
pub fn invoker_router(
    metrics: std::sync::Arc<wisp_metrics::Metrics>,
    runtimes: std::sync::Arc<dyn wisp_core::invoke::Invoke>,
    ready: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Json;
    use serde_json::json;
    axum::Router::new()
        .route(
            "/metrics",
            get(move || async move {
                metrics.pool(&runtimes.pool());
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }),
        )
        .route("/healthz", get(crate::health::alive))
        .route(
            "/readyz",
            get(move || async move {
                if ready() {
                    (StatusCode::OK, Json(json!({"ready": true})))
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(json!({"ready": false})),
                    )
                }
            }),
        )
}

//! The HTTP API: OpenWhisk's `/api/v1` on axum.
//!
//! The only crate that knows HTTP server types. Handlers parse the wire format (`wire`), call
//! the controller, and turn its errors into OpenWhisk's `{"error", "code"}` bodies (`error`).

mod auth;
mod error;
mod health;
mod measure;
mod middleware;
mod query;
mod range;
mod routes;
mod server;
mod site;
mod web;
mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
pub use axum::Router;
use wisp_controller::Controller;

pub use error::ApiError;
pub use measure::{invoker_router, metrics_router};
pub use routes::login::LoginTokens;
pub use server::serve;
pub use site::{Sites, SitesConfig};

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub controller: Controller,
    pub build: BuildInfo,
    /// The namespaces' key-value store; `None` when the server runs without one (503).
    pub kv: Option<wisp_kv::Keys>,
    /// The namespaces' object storage; `None` when the server runs without it (503).
    pub objects: Option<ObjectsApi>,
    /// The namespaces' static sites (their web buckets); `None` without object storage.
    pub sites: Option<Arc<Sites>>,
    /// The API's public URL (`http://host:port`), as clients are told to reach it.
    pub api_host: String,
    /// Nimbella login tokens handed out and not yet used.
    pub logins: Arc<LoginTokens>,
}

/// Object storage as the API serves it.
#[derive(Clone)]
pub struct ObjectsApi {
    pub store: Arc<dyn wisp_objects::Objects>,
    /// Signs and checks the URLs that reach one object without credentials.
    pub signer: Arc<wisp_objects::UrlSigner>,
    /// The server's public URL (`http://host:port`), the base of signed URLs.
    pub public_url: String,
    /// Largest object one PUT may upload: far more than the 1 MB an invoke may carry, since
    /// the body streams to storage.
    pub max_upload_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: &'static str,
    pub build: String,
}

/// Largest request body read at all; entity-specific limits are checked with clearer errors.
const MAX_BODY: usize = 72 * 1024 * 1024;

/// The whole API as one router, testable without a socket.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/", get(routes::info::api_info))
        .route("/namespaces", get(routes::info::namespaces))
        .route("/namespaces/{ns}/limits", get(routes::info::limits))
        .merge(routes::actions::routes())
        .merge(routes::activations::routes())
        .merge(routes::packages::routes())
        .merge(routes::triggers::routes())
        .merge(routes::rules::routes())
        .merge(routes::kv::routes())
        .merge(routes::objects::routes())
        .merge(routes::login::routes())
        .merge(routes::web::routes())
        // Inside the nest, so the route template counted is the whole path's.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            measure::requests,
        ));
    Router::new()
        .route("/", get(routes::info::server_info))
        .route("/ping", get(|| async { "pong" }))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .nest("/api/v1", api)
        .merge(site::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        // A request for `<namespace>.<site domain>` is that site's, whatever its path.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            site::by_host,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            measure::other_requests,
        ))
        .layer(axum::middleware::from_fn(middleware::transaction))
        .with_state(state)
}

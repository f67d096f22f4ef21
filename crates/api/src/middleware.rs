//! Per-request transaction ids and the REST API's CORS headers.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};
use tracing::Instrument;

tokio::task_local! {
    static TRANSACTION_ID: String;
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's transaction id (inside a request), else a fresh one.
pub fn transaction_id() -> String {
    TRANSACTION_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_id())
}

fn new_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// Gives every request a transaction id (reusing the caller's `X-Request-ID`), answers CORS
/// preflights on the API and adds the CORS headers to every response. Web actions
/// (`/api/v1/web/...`) get only the id: their CORS behaviour is the action's (`routes/web.rs`).
pub async fn transaction(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(new_id, str::to_string);
    let path = request.uri().path();
    let web = path.starts_with("/api/v1/web/");
    let preflight = !web && request.method() == Method::OPTIONS && path.starts_with("/api/v1");
    let mut response = if preflight {
        StatusCode::OK.into_response()
    } else {
        let span = tracing::info_span!("request", tid = %id);
        TRANSACTION_ID
            .scope(id.clone(), next.run(request).instrument(span))
            .await
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    if web {
        return response;
    }
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, DELETE, POST, PUT, HEAD"),
    );
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
        ),
    );
    response
}

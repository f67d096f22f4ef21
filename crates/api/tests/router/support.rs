//! An app over a test controller, and requests in one line.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::Value;
use tower::ServiceExt;
use wisp_api::{AppState, BuildInfo};
use wisp_controller::testing::TestController;
use wisp_kv::Keys;
use wisp_kv::{EmbeddedKv, KvConfig, KvStore};

pub struct App {
    pub t: TestController,
    router: Router,
    auth: String,
    /// The key-value store behind `/kv`, when the app has one.
    pub kv: Option<Kv>,
}

/// An embedded key-value store in a directory of its own, removed when dropped.
pub struct Kv {
    pub store: Arc<dyn KvStore>,
    _dir: tempfile::TempDir,
}

/// What came back: the status and the body, parsed when it is JSON (else a string).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The message of an OpenWhisk error body, checking its shape: `error` and `code`, both
    /// strings.
    pub fn error(&self) -> &str {
        assert!(
            self.body["code"].is_string(),
            "an OpenWhisk error has a transaction id as its code: {}",
            self.body
        );
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("an OpenWhisk error body: {}", self.body))
    }
}

impl App {
    pub async fn start() -> App {
        App::start_with(None).await
    }

    /// An app whose `/kv` routes reach an embedded store holding at most `quota_bytes` per
    /// namespace.
    pub async fn with_kv(quota_bytes: usize) -> App {
        let dir = tempfile::Builder::new()
            .prefix("wisp-api-kv-")
            .tempdir()
            .expect("a temporary directory");
        let config = KvConfig {
            quota_bytes,
            ..KvConfig::default()
        };
        let store = EmbeddedKv::open(dir.path(), config).expect("an embedded store");
        App::start_with(Some(Kv { store, _dir: dir })).await
    }

    async fn start_with(kv: Option<Kv>) -> App {
        let t = TestController::start().await;
        let router = wisp_api::router(AppState {
            controller: t.controller.clone(),
            build: BuildInfo {
                version: "0.0.0",
                build: "test".into(),
            },
            kv: kv.as_ref().map(|kv| Keys::new(kv.store.clone())),
            objects: None,
            sites: None,
            api_host: "http://127.0.0.1:3233".into(),
            logins: Arc::default(),
        });
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(t.guest_key.auth())
        );
        App {
            t,
            router,
            auth,
            kv,
        }
    }

    /// The guest's `Authorization` header.
    pub fn auth(&self) -> &str {
        &self.auth
    }

    /// `method path` as the guest, with `body` as JSON when given.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string());
        self.raw(method, path, Some(&self.auth), body).await
    }

    /// `method path` with exactly these credentials and body text.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .expect("a valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}

//! Bad requests get OpenWhisk's error shape, `{"error", "code"}`, with the right status.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::App;

#[tokio::test]
async fn requests_without_valid_credentials_are_401() {
    let app = App::start().await;

    let anonymous = app
        .raw(Method::GET, "/api/v1/namespaces/_/actions", None, None)
        .await;
    let wrong = app
        .raw(
            Method::GET,
            "/api/v1/namespaces/_/actions",
            Some("Basic d3Jvbmc6a2V5"),
            None,
        )
        .await;

    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    anonymous.error();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.error(),
        "The supplied authentication is invalid",
        "OpenWhisk's message"
    );
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400_with_a_message_that_says_why() {
    let app = App::start().await;
    let put = |body: &str| {
        app.raw(
            Method::PUT,
            "/api/v1/namespaces/_/actions/x",
            Some(app.auth()),
            Some(body.to_owned()),
        )
    };
    for body in ["{not json", "[1,2]", "\"text\"", ""] {
        let reply = put(body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert!(
            reply
                .error()
                .starts_with("The request content was malformed"),
            "{body:?}: {}",
            reply.error()
        );
    }
    let cases = [
        (json!({}), "exec undefined"),
        (
            json!({"exec": {"kind": "nodejs:20", "code": 42}}),
            "'code' in 'exec' must be a string",
        ),
        (
            json!({"exec": {"kind": "java:8", "code": "x"}}),
            "The specified runtime 'java:8' is not supported by this platform.",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "limits": {"memory": 1024}}),
            "memory 1024 MB exceeds allowed threshold of 512 MB",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "parameters": {"a": 1}}),
            "'parameters' must be an array",
        ),
    ];
    for (body, expected) in cases {
        let reply = app
            .put("/api/v1/namespaces/_/actions/x", body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            reply.error().contains(expected),
            "{body}: {}",
            reply.error()
        );
    }
    let missing = app.get("/api/v1/namespaces/_/actions/x").await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "bad requests created nothing"
    );
}

#[tokio::test]
async fn missing_entities_conflicts_and_foreign_namespaces_have_their_codes() {
    let app = App::start().await;
    let action = json!({ "exec": { "kind": "nodejs:20", "code": "x" } });
    app.put("/api/v1/namespaces/_/actions/once", action.clone())
        .await;

    let missing = app.get("/api/v1/namespaces/_/actions/none").await;
    let again = app.put("/api/v1/namespaces/_/actions/once", action).await;
    let foreign = app.get("/api/v1/namespaces/someone/actions").await;

    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "The requested resource does not exist.");
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error(), "resource already exists");
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(foreign.error().contains("someone"), "{}", foreign.error());
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = App::start().await;

    let unknown = app.get("/api/v1/namespaces/_/nonsense").await;
    let patch = app
        .send(Method::PATCH, "/api/v1/namespaces/_/actions/x", None)
        .await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    unknown.error();
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
    patch.error();
}

#[tokio::test]
async fn a_list_past_its_limit_is_400() {
    let app = App::start().await;

    let reply = app.get("/api/v1/namespaces/_/actions?limit=500").await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "The value '500' is not in the range of 0 to 200 for actions."
    );
}

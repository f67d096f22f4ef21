//! Packages, triggers and rules over the API: one shape of create, read, list, count and delete
//! for each, and where they differ (rules carry a status, packages are shared when published).

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{App, Reply};

const CODE: &str = "function main(params) { return params }";

/// As `namespace`'s own key, with `body` as JSON when given.
async fn as_other(app: &App, method: Method, path: &str, body: Option<Value>) -> Reply {
    let (_, key) = app.t.namespace("other").await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key.auth())
    );
    app.raw(method, path, Some(&auth), body.map(|b| b.to_string()))
        .await
}

/// An app whose guest has an action `echo` and a trigger `t`, for rules to link.
async fn with_action_and_trigger() -> App {
    let app = App::start().await;
    let action = app
        .put(
            "/api/v1/namespaces/_/actions/echo",
            json!({ "exec": { "kind": "nodejs:default", "code": CODE } }),
        )
        .await;
    assert_eq!(action.status, StatusCode::OK, "{:?}", action.body);
    let trigger = app.put("/api/v1/namespaces/_/triggers/t", json!({})).await;
    assert_eq!(trigger.status, StatusCode::OK, "{:?}", trigger.body);
    app
}

#[tokio::test]
async fn each_collection_creates_reads_lists_counts_and_deletes() {
    let app = with_action_and_trigger().await;
    let bodies = [
        (
            "packages",
            "p",
            json!({ "parameters": [{ "key": "a", "value": 1 }] }),
        ),
        (
            "triggers",
            "t2",
            json!({ "parameters": [{ "key": "a", "value": 1 }] }),
        ),
        ("rules", "r", json!({ "trigger": "t", "action": "echo" })),
    ];
    for (collection, name, body) in bodies {
        let one = format!("/api/v1/namespaces/_/{collection}/{name}");
        let created = app.put(&one, body.clone()).await;
        assert_eq!(
            created.status,
            StatusCode::OK,
            "{collection}: {:?}",
            created.body
        );
        assert_eq!(created.body["name"], name, "{collection}");
        assert_eq!(created.body["namespace"], "guest", "{collection}");
        assert_eq!(created.body["version"], "0.0.1", "{collection}");

        let read = app.get(&one).await;
        assert_eq!(read.status, StatusCode::OK, "{collection}");
        assert_eq!(read.body["name"], name, "{collection}");

        let listed = app.get(&format!("/api/v1/namespaces/_/{collection}")).await;
        let names: Vec<&Value> = listed
            .body
            .as_array()
            .unwrap_or_else(|| panic!("{collection}: a list: {}", listed.body))
            .iter()
            .map(|e| &e["name"])
            .collect();
        assert!(names.contains(&&json!(name)), "{collection}: {names:?}");

        let counted = app
            .get(&format!("/api/v1/namespaces/_/{collection}?count=true"))
            .await;
        assert_eq!(
            counted.body[collection],
            json!(names.len()),
            "{collection}: {}",
            counted.body
        );

        let deleted = app.delete(&one).await;
        assert_eq!(deleted.status, StatusCode::OK, "{collection}");
        assert_eq!(deleted.body["name"], name, "{collection}");
        let gone = app.get(&one).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{collection}");
        assert_eq!(gone.error(), "The requested resource does not exist.");
    }
}

#[tokio::test]
async fn a_second_put_is_a_conflict_unless_it_overwrites() {
    let app = App::start().await;
    for (collection, name) in [("packages", "p"), ("triggers", "t")] {
        let one = format!("/api/v1/namespaces/_/{collection}/{name}");
        app.put(&one, json!({})).await;

        let again = app.put(&one, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{collection}");
        assert_eq!(again.error(), "resource already exists");

        let overwritten = app
            .put(
                &format!("{one}?overwrite=true"),
                json!({ "annotations": [{ "key": "k", "value": "v" }] }),
            )
            .await;
        assert_eq!(overwritten.status, StatusCode::OK, "{collection}");
        assert_eq!(overwritten.body["version"], "0.0.2", "{collection}");
        assert_eq!(
            overwritten.body["annotations"],
            json!([{ "key": "k", "value": "v" }]),
            "{collection}"
        );
    }
}

#[tokio::test]
async fn another_namespaces_triggers_and_rules_are_forbidden() {
    let app = App::start().await;
    app.put("/api/v1/namespaces/_/triggers/t", json!({})).await;

    for (method, body) in [(Method::GET, None), (Method::PUT, Some(json!({})))] {
        let reply = as_other(
            &app,
            method.clone(),
            "/api/v1/namespaces/guest/triggers/t",
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(
            reply.error(),
            "The supplied authentication is not authorized to access 'guest/triggers/t'."
        );
    }
    let listed = as_other(&app, Method::GET, "/api/v1/namespaces/guest/rules", None).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_rule_shows_its_status_and_changes_it() {
    let app = with_action_and_trigger().await;
    let created = app
        .put(
            "/api/v1/namespaces/_/rules/r",
            json!({ "trigger": "t", "action": "/_/echo" }),
        )
        .await;
    assert_eq!(created.body["status"], "active");
    assert_eq!(
        created.body["trigger"],
        json!({ "path": "guest", "name": "t" })
    );

    let disabled = app
        .post(
            "/api/v1/namespaces/_/rules/r",
            json!({ "status": "inactive" }),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK);
    let read = app.get("/api/v1/namespaces/_/rules/r").await;
    assert_eq!(read.body["status"], "inactive");
    let listed = app.get("/api/v1/namespaces/_/rules").await;
    assert_eq!(listed.body[0]["name"], "r");
    assert!(
        listed.body[0].get("status").is_none(),
        "a list leaves out the status, as OpenWhisk does: {}",
        listed.body
    );

    let missing = app
        .put(
            "/api/v1/namespaces/_/rules/r2",
            json!({ "trigger": "nope", "action": "echo" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error(), "trigger /guest/nope does not exist");
}

#[tokio::test]
async fn a_published_package_is_read_and_listed_from_another_namespace() {
    let app = App::start().await;
    app.put("/api/v1/namespaces/_/packages/private", json!({}))
        .await;
    app.put(
        "/api/v1/namespaces/_/packages/shared",
        json!({ "publish": true }),
    )
    .await;

    let hidden = as_other(
        &app,
        Method::GET,
        "/api/v1/namespaces/guest/packages/private",
        None,
    )
    .await;
    assert_eq!(hidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        hidden.error(),
        "The supplied authentication is not authorized to access 'guest/private'."
    );
    let shared = as_other(
        &app,
        Method::GET,
        "/api/v1/namespaces/guest/packages/shared",
        None,
    )
    .await;
    assert_eq!(shared.status, StatusCode::OK);
    assert_eq!(shared.body["actions"], json!([]));

    let listed = as_other(&app, Method::GET, "/api/v1/namespaces/guest/packages", None).await;
    let names: Vec<&Value> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, [&json!("shared")]);
    let counted = as_other(
        &app,
        Method::GET,
        "/api/v1/namespaces/guest/packages?count=true",
        None,
    )
    .await;
    assert_eq!(counted.body, json!({ "packages": 1 }));

    let written = as_other(
        &app,
        Method::PUT,
        "/api/v1/namespaces/guest/packages/shared?overwrite=true",
        Some(json!({})),
    )
    .await;
    assert_eq!(written.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_package_with_actions_is_deleted_only_by_force() {
    let app = App::start().await;
    app.put("/api/v1/namespaces/_/packages/p", json!({})).await;
    app.put(
        "/api/v1/namespaces/_/actions/p/echo",
        json!({ "exec": { "kind": "nodejs:default", "code": CODE } }),
    )
    .await;

    let refused = app.delete("/api/v1/namespaces/_/packages/p").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.error(),
        "Package not empty (contains 1 entities). Set force param or delete package contents."
    );

    let forced = app
        .delete("/api/v1/namespaces/_/packages/p?force=true")
        .await;
    assert_eq!(forced.status, StatusCode::OK);
    let action = app.get("/api/v1/namespaces/_/actions/p/echo").await;
    assert_eq!(action.status, StatusCode::NOT_FOUND);
}

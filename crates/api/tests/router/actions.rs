//! Actions over the API: the entity written, and what each kind of invoke answers.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::App;

const CODE: &str = "function main(params) { return params }";

async fn app_with_echo() -> App {
    let app = App::start().await;
    let created = app
        .put(
            "/api/v1/namespaces/_/actions/echo",
            json!({ "exec": { "kind": "nodejs:default", "code": CODE }, "parameters": [{ "key": "greeting", "value": "hi" }] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    app.t.invoker.on("echo", Value::clone);
    app
}

#[tokio::test]
async fn a_put_answers_the_stored_action_in_openwhisks_shape() {
    let app = App::start().await;

    let reply = app
        .put(
            "/api/v1/namespaces/_/actions/hello",
            json!({ "exec": { "kind": "nodejs:default", "code": CODE } }),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    let action = reply.body;
    assert_eq!(action["namespace"], "guest");
    assert_eq!(action["name"], "hello");
    assert_eq!(action["version"], "0.0.1");
    assert_eq!(action["publish"], false);
    assert_eq!(
        action["exec"]["kind"], "nodejs:20",
        "the default kind, resolved"
    );
    assert_eq!(action["exec"]["code"], CODE);
    assert_eq!(action["exec"]["binary"], false);
    assert_eq!(
        action["limits"],
        json!({ "timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1 })
    );
    let annotations = action["annotations"].as_array().unwrap();
    assert!(annotations.contains(&json!({ "key": "exec", "value": "nodejs:20" })));
}

#[tokio::test]
async fn a_blocking_invoke_for_the_result_answers_the_result_alone() {
    let app = app_with_echo().await;

    let reply = app
        .post(
            "/api/v1/namespaces/_/actions/echo?blocking=true&result=true",
            json!({ "name": "Ada" }),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({ "greeting": "hi", "name": "Ada" }));
}

#[tokio::test]
async fn a_blocking_invoke_answers_the_whole_activation_record() {
    let app = app_with_echo().await;

    let reply = app
        .post("/api/v1/namespaces/_/actions/echo?blocking=true", json!({}))
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    let record = &reply.body;
    assert_eq!(record["name"], "echo");
    assert_eq!(record["namespace"], "guest");
    assert_eq!(record["response"]["status"], "success");
    assert!(
        record["response"].get("statusCode").is_none(),
        "the API shows `status` and `success` instead"
    );
    assert_eq!(record["response"]["success"], true);
    assert_eq!(record["response"]["result"], json!({ "greeting": "hi" }));
    let id = record["activationId"].as_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");

    let fetched = app
        .get(&format!("/api/v1/namespaces/_/activations/{id}"))
        .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["activationId"], id);
    let result = app
        .get(&format!("/api/v1/namespaces/_/activations/{id}/result"))
        .await;
    assert_eq!(result.body["result"], json!({ "greeting": "hi" }));
}

#[tokio::test]
async fn an_application_error_is_a_502_carrying_the_record() {
    let app = App::start().await;
    app.put(
        "/api/v1/namespaces/_/actions/fail",
        json!({ "exec": { "kind": "nodejs:default", "code": CODE } }),
    )
    .await;
    app.t
        .invoker
        .on("fail", |_| json!({ "error": "bad input" }));

    let record = app
        .post("/api/v1/namespaces/_/actions/fail?blocking=true", json!({}))
        .await;
    let result = app
        .post(
            "/api/v1/namespaces/_/actions/fail?blocking=true&result=true",
            json!({}),
        )
        .await;

    assert_eq!(record.status, StatusCode::BAD_GATEWAY);
    assert_eq!(record.body["response"]["status"], "application error");
    assert_eq!(record.body["response"]["success"], false);
    assert_eq!(
        record.body["response"]["result"],
        json!({ "error": "bad input" })
    );
    assert_eq!(result.status, StatusCode::BAD_GATEWAY);
    assert_eq!(result.body, json!({ "error": "bad input" }));
}

#[tokio::test]
async fn a_non_blocking_invoke_answers_202_with_the_activation_id() {
    let app = app_with_echo().await;

    let reply = app
        .post("/api/v1/namespaces/_/actions/echo", json!({}))
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["activationId"]);
}

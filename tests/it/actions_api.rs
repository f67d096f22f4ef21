//! The actions API over HTTP: create, get, update, list, delete, and the server descriptions.

use serde_json::{json, Value};

use crate::support::{error_message, Server};

const HELLO: &str = "function main(p) { return {greeting: 'Hello ' + (p.name || 'World')} }";

#[tokio::test]
async fn create_get_update_list_delete() {
    let server = Server::start();
    let (status, created) = server
        .put(
            "namespaces/_/actions/hello",
            json!({"exec": {"kind": "nodejs:default", "code": HELLO},
                   "parameters": [{"key": "name", "value": "Ada"}]}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["namespace"], "guest");
    assert_eq!(created["version"], "0.0.1");
    assert_eq!(
        created["exec"]["kind"], "nodejs:20",
        "default kinds are stored concretely"
    );
    assert_eq!(created["exec"]["binary"], false);
    assert_eq!(
        created["limits"],
        json!({"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1})
    );
    let annotations = created["annotations"].as_array().unwrap();
    assert!(annotations.contains(&json!({"key": "exec", "value": "nodejs:20"})));
    assert!(annotations.contains(&json!({"key": "provide-api-key", "value": false})));

    // Creating again without overwrite is a conflict.
    let (status, body) = server
        .put(
            "namespaces/_/actions/hello",
            json!({"exec": {"kind": "nodejs:20", "code": HELLO}}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_message(&body), "resource already exists");

    // Update merges: limits per field, annotations added, version bumped, exec kept.
    let (status, updated) = server
        .put(
            "namespaces/guest/actions/hello?overwrite=true",
            json!({"limits": {"memory": 128}, "annotations": [{"key": "description", "value": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], "0.0.2");
    assert_eq!(updated["limits"]["memory"], 128);
    assert_eq!(updated["limits"]["timeout"], 60000);
    assert_eq!(updated["exec"]["code"], HELLO);
    assert_eq!(
        updated["parameters"],
        json!([{"key": "name", "value": "Ada"}])
    );

    let (status, got) = server.get("namespaces/_/actions/hello?code=false").await;
    assert_eq!(status, 200);
    assert!(got["exec"].get("code").is_none());
    let (_, got) = server.get("namespaces/_/actions/hello").await;
    assert_eq!(got["exec"]["code"], HELLO);

    server
        .action(
            "second",
            "python:3",
            "def main(a):\n    return a",
            json!({}),
        )
        .await;
    let (status, list) = server.get("namespaces/_/actions").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["second", "hello"], "most recently updated first");
    assert_eq!(
        list[0]["exec"],
        json!({"binary": false}),
        "summaries carry no code"
    );
    let (_, count) = server.get("namespaces/_/actions?count=true").await;
    assert_eq!(count, json!({"actions": 2}));
    let (_, page) = server.get("namespaces/_/actions?limit=1&skip=1").await;
    assert_eq!(page[0]["name"], "hello");

    let (status, deleted) = server.delete("namespaces/_/actions/hello").await;
    assert_eq!(status, 200);
    assert_eq!(deleted["name"], "hello");
    let (status, body) = server.get("namespaces/_/actions/hello").await;
    assert_eq!(status, 404);
    assert_eq!(
        error_message(&body),
        "The requested resource does not exist."
    );
    let (status, _) = server.delete("namespaces/_/actions/hello").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn server_describes_itself_and_its_runtimes() {
    let server = Server::start();
    let info: Value = reqwest::get(format!("{}/api/v1", server.api_host))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["api_version"], "1.0.0");
    let node = &info["runtimes"]["nodejs"][0];
    assert_eq!(node["kind"], "nodejs:20");
    assert_eq!(node["default"], true);
    assert_eq!(info["runtimes"]["python"][0]["kind"], "python:3");
    assert_eq!(info["limits"]["max_action_duration"], 300000);

    let root: Value = reqwest::get(&server.api_host)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["api_paths"], json!(["/api/v1"]));

    let (status, namespaces) = server.get("namespaces").await;
    assert_eq!(status, 200);
    assert_eq!(namespaces, json!(["guest"]));
    let (status, limits) = server.get("namespaces/_/limits").await;
    assert_eq!(status, 200);
    assert_eq!(limits["maxActionMemory"], 512);
}

#[tokio::test]
async fn wskprops_is_written_once_and_never_replaced() {
    let mut server = Server::start();
    let props = std::fs::read_to_string(server.home().join(".wskprops")).unwrap();
    assert!(props.contains(&format!("APIHOST={}", server.api_host)));
    assert!(props.contains(&format!("AUTH={}", server.auth)));

    // A restart on another port must not overwrite a file that now points elsewhere.
    server.kill9();
    server.launch(&[]);
    let after = std::fs::read_to_string(server.home().join(".wskprops")).unwrap();
    assert_eq!(after, props);
    // The guest key is kept in the data directory across restarts.
    assert!(props.contains(&server.auth));
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let server = Server::start();
    server
        .action("private", "nodejs:20", HELLO, json!({}))
        .await;
    let alice = crate::support::admin_namespace(&server, "alice");

    let (status, body) = server
        .send(server.request_as(
            &alice,
            reqwest::Method::GET,
            "namespaces/guest/actions/private",
        ))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        error_message(&body),
        "The supplied authentication is not authorized to access 'guest/actions/private'."
    );
    let (status, _) = server
        .send(server.request_as(
            &alice,
            reqwest::Method::POST,
            "namespaces/guest/actions/private",
        ))
        .await;
    assert_eq!(status, 403);
    let (status, list) = server
        .send(server.request_as(&alice, reqwest::Method::GET, "namespaces/_/actions"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([]), "alice sees only her own namespace");
    let (_, namespaces) = server
        .send(server.request_as(&alice, reqwest::Method::GET, "namespaces"))
        .await;
    assert_eq!(namespaces, json!(["alice"]));
}

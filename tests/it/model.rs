//! Packages, triggers and rules beyond what the npm client suite covers: sharing across
//! namespaces, the REST-only listing form, web actions in packages, and surviving `kill -9`.

use serde_json::{json, Value};

use crate::support::{admin_namespace, Server};

const ECHO: &str = "function main(p){ return p }";

async fn as_user(
    server: &Server,
    auth: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    server
        .send(server.request_as(auth, method, path).json(&body))
        .await
}

#[tokio::test]
async fn published_packages_are_shared_and_private_ones_are_not() {
    let server = Server::start();
    for (name, publish) in [("shared", true), ("private", false)] {
        let (status, body) = server
            .put(
                &format!("namespaces/_/packages/{name}"),
                json!({"publish": publish, "parameters": [{"key": "from", "value": name}]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        server
            .action(&format!("{name}/echo"), "nodejs:20", ECHO, json!({}))
            .await;
    }
    let (status, listed) = server.get("namespaces/_/actions/shared/").await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["namespace"], "guest/shared");

    let alice = admin_namespace(&server, "alice");
    let post = reqwest::Method::POST;
    let (status, record) = as_user(
        &server,
        &alice,
        post.clone(),
        "namespaces/guest/actions/shared/echo?blocking=true",
        json!({"v": 1}),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(
        record["response"]["result"],
        json!({"from": "shared", "v": 1})
    );
    assert_eq!(
        record["namespace"], "alice",
        "the caller's namespace owns the activation"
    );

    let (status, _) = as_user(
        &server,
        &alice,
        post,
        "namespaces/guest/actions/private/echo?blocking=true",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, packages) = as_user(
        &server,
        &alice,
        reqwest::Method::GET,
        "namespaces/guest/packages",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = packages
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["shared"],
        "only published packages of another namespace are listed"
    );

    // Alice binds guest's shared package in her own namespace, with her own parameters.
    let (status, body) = as_user(&server, &alice, reqwest::Method::PUT, "namespaces/_/packages/mine",
        json!({"binding": {"namespace": "guest", "name": "shared"}, "parameters": [{"key": "from", "value": "alice"}]})).await;
    assert_eq!(status, 200, "{body}");
    let (status, record) = as_user(
        &server,
        &alice,
        reqwest::Method::POST,
        "namespaces/_/actions/mine/echo?blocking=true&result=true",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(record, json!({"from": "alice"}));
    let (status, _) = as_user(
        &server,
        &alice,
        reqwest::Method::PUT,
        "namespaces/_/packages/sneaky",
        json!({"binding": {"namespace": "guest", "name": "private"}}),
    )
    .await;
    assert_eq!(
        status, 400,
        "a private package cannot be bound from another namespace"
    );
}

#[tokio::test]
async fn triggers_rules_and_acknowledged_fires_survive_kill_9() {
    let mut server = Server::start();
    server.action("target", "nodejs:20", ECHO, json!({})).await;
    let (status, _) = server.put("namespaces/_/triggers/t", json!({})).await;
    assert_eq!(status, 200);
    let (status, rule) = server
        .put(
            "namespaces/_/rules/r",
            json!({"trigger": "/_/t", "action": "/_/target"}),
        )
        .await;
    assert_eq!(status, 200, "{rule}");
    let (status, fired) = server
        .post("namespaces/_/triggers/t", json!({"n": 7}))
        .await;
    assert_eq!(status, 202);
    let trigger_activation = fired["activationId"].as_str().unwrap().to_string();

    server.kill9();
    server.launch(&[]);

    let (status, rule) = server.get("namespaces/_/rules/r").await;
    assert_eq!(status, 200);
    assert_eq!(rule["status"], "active");
    let record = server.wait_for_activation(&trigger_activation).await;
    let line: Value = serde_json::from_str(record["logs"][0].as_str().unwrap()).unwrap();
    let fired_id = line["activationId"].as_str().unwrap();
    let run = server.wait_for_activation(fired_id).await;
    assert_eq!(run["name"], "target");
    // It either ran before the kill or is recorded as interrupted: never lost.
    assert!(
        run["response"]["status"] == "success"
            || run["response"]["status"] == "whisk internal error",
        "{run}"
    );

    // The trigger still fires after the restart.
    let (status, fired) = server
        .post("namespaces/_/triggers/t", json!({"n": 8}))
        .await;
    assert_eq!(status, 202, "{fired}");
}

#[tokio::test]
async fn web_actions_in_packages_inherit_package_parameters() {
    let server = Server::start();
    let (status, _) = server
        .put(
            "namespaces/_/packages/site",
            json!({"parameters": [{"key": "who", "value": "package"}]}),
        )
        .await;
    assert_eq!(status, 200);
    server
        .action(
            "site/hi",
            "nodejs:20",
            "function main(p){ return {who: p.who, name: p.name} }",
            json!({"annotations": [{"key": "web-export", "value": true}]}),
        )
        .await;
    let response = reqwest::get(format!(
        "{}/api/v1/web/guest/site/hi.json?name=Ada",
        server.api_host
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"who": "package", "name": "Ada"}));

    let missing = reqwest::get(format!(
        "{}/api/v1/web/guest/site/nope.json",
        server.api_host
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_fire_hands_rule_actions_its_headers_but_never_credentials() {
    let server = Server::start();
    server.action("target", "nodejs:20", ECHO, json!({})).await;
    let (status, _) = server.put("namespaces/_/triggers/t", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = server
        .put(
            "namespaces/_/rules/r",
            json!({"trigger": "/_/t", "action": "/_/target"}),
        )
        .await;
    assert_eq!(status, 200);
    let request = server
        .request(reqwest::Method::POST, "namespaces/_/triggers/t")
        .header("x-trace", "t1")
        .header("cookie", "session=secret")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .json(&json!({"n": 1}));
    let (status, fired) = server.send(request).await;
    assert_eq!(status, 202, "{fired}");
    let record = server
        .wait_for_activation(fired["activationId"].as_str().unwrap())
        .await;
    let line: Value = serde_json::from_str(record["logs"][0].as_str().unwrap()).unwrap();
    let run = server
        .wait_for_activation(line["activationId"].as_str().unwrap())
        .await;
    let headers = &run["response"]["result"]["__ow_headers"];
    assert_eq!(headers["x-trace"], "t1", "{run}");
    for credential in ["authorization", "cookie", "proxy-authorization"] {
        assert!(
            headers.get(credential).is_none(),
            "{credential} reached the action: {headers}"
        );
    }
    let logs = serde_json::to_string(&run).unwrap();
    assert!(
        !logs.contains(server.auth.split(':').nth(1).unwrap()),
        "the key is nowhere in the record"
    );
}

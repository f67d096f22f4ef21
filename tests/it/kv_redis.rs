//! `wisp serve --kv-backend redis://...`: functions keep their keys in the machine's Redis
//! (127.0.0.1:6379), under their namespace's prefix, and find them again after the server
//! restarts, and declared state commits there. The namespace has a random name, so runs and parallel tests never share keys,
//! and its keys are deleted when the test ends.

use std::process::Command;

use serde_json::json;

use crate::support::{admin_namespace, create_resp_client, resp as run, Server};

const REDIS: &str = "redis://127.0.0.1:6379";

fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every Redis key of a namespace, deleted on drop.
struct Keys(String);

impl Keys {
    fn list(&self, what: &str) -> Vec<String> {
        let pattern = format!("wisp:{{{}}}{what}", self.0);
        let mut keys: Vec<String> = redis_cli(&["--scan", "--pattern", &pattern])
            .lines()
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let keys = self.list("*");
        if !keys.is_empty() {
            let mut args = vec!["DEL"];
            args.extend(keys.iter().map(String::as_str));
            redis_cli(&args);
        }
    }
}

#[tokio::test]
async fn a_functions_keys_live_in_redis_under_its_namespace_and_outlast_a_restart() {
    crate::tools::require_redis();
    let mut server = Server::start_with(&["--kv-backend", REDIS]);
    let namespace = format!("redis-it-{:012x}", rand::random::<u64>() >> 16);
    let keys = Keys(namespace.clone());
    let auth = admin_namespace(&server, &namespace);
    create_resp_client(&server, Some(&auth)).await;

    let replies = run(
        &server,
        Some(&auth),
        json!([
            ["SET", "greeting", "hello"],
            ["INCR", "counter"],
            ["SADD", "tags", "a", "b"],
            ["KEYS", "*"],
            ["NOSUCH"]
        ]),
    )
    .await;
    assert_eq!(replies[0], "OK");
    assert_eq!(replies[1], 1);
    assert_eq!(replies[2], 2);
    let mut listed: Vec<String> = serde_json::from_value(replies[3].clone()).unwrap();
    listed.sort();
    assert_eq!(listed, ["counter", "greeting", "tags"]);
    assert!(replies[4]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command"));

    // In Redis, under the namespace's prefix, with the quota's count beside them.
    let prefix = format!("wisp:{{{namespace}}}:");
    assert_eq!(
        keys.list(":*"),
        ["counter", "greeting", "tags"].map(|k| format!("{prefix}{k}"))
    );
    assert_eq!(redis_cli(&["GET", &format!("{prefix}greeting")]), "hello");
    let used = redis_cli(&["GET", &format!("wisp:{{{namespace}}}#used")]);
    assert_eq!(used, (13 + 8 + 6).to_string());

    // The guest namespace, on the same Redis, sees none of it.
    create_resp_client(&server, None).await;
    let guest = run(&server, None, json!([["GET", "greeting"]])).await;
    assert_eq!(guest, json!([null]));

    // A restart: the data is Redis's, the namespace's password is still the server's.
    server.kill9();
    server.launch(&["--kv-backend", REDIS]);
    let replies = run(
        &server,
        Some(&auth),
        json!([["GET", "greeting"], ["INCR", "counter"], ["SCARD", "tags"]]),
    )
    .await;
    assert_eq!(replies, json!(["hello", 2, 2]));

    // Declared state commits through the backend's compare-and-swap: concurrent runs of a
    // counter with no SDK code end at the exact count.
    let counter = r#"
function main(args) {
  const next = (args.__state.keys.visits || 0) + 1;
  return { count: next, __state: { keys: { visits: next } } };
}"#;
    let body = json!({
        "exec": {"kind": "nodejs:20", "code": counter},
        "annotations": [{"key": "state", "value": {"write": ["visits"]}}]
    });
    let put = server.request_by(
        Some(&auth),
        reqwest::Method::PUT,
        "namespaces/_/actions/visits?overwrite=true",
    );
    let (status, created) = server.send(put.json(&body)).await;
    assert_eq!(status, 200, "{created}");
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let invoke = server
            .request_by(
                Some(&auth),
                reqwest::Method::POST,
                "namespaces/_/actions/visits?blocking=true&result=true",
            )
            .json(&json!({}));
        runs.spawn(async move {
            let response = invoke.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        });
    }
    while let Some(run) = runs.join_next().await {
        let (status, body) = run.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(redis_cli(&["GET", &format!("{prefix}visits")]), "20");
    drop(keys);
}

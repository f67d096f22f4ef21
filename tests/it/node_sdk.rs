//! The `openwhisk` npm module bundled with the Node.js runtime: `require('openwhisk')` works in
//! every action, as in OpenWhisk's Node.js runtime, and talks back to the server with the
//! activation's environment; an action's own `node_modules` comes first.

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn an_action_calls_the_platform_with_the_bundled_client() {
    let server = Server::start();
    server
        .action(
            "double",
            "nodejs:20",
            "function main(p){ return {v: p.v * 2} }",
            json!({}),
        )
        .await;
    let caller = r#"
const openwhisk = require('openwhisk');
async function main(p) {
  const ow = openwhisk();
  const env = process.env;
  const context = {
    namespace: env.__OW_NAMESPACE, action: env.__OW_ACTION_NAME, id: env.__OW_ACTIVATION_ID,
    deadline: Number(env.__OW_DEADLINE), key: env.__OW_API_KEY, host: env.__OW_API_HOST,
  };
  const inner = await ow.actions.invoke({ name: 'double', params: { v: p.v }, blocking: true, result: true });
  const actions = await ow.actions.list();
  return { inner, names: actions.map(a => a.name).sort(), context };
}"#;
    server
        .action(
            "caller",
            "nodejs:20",
            caller,
            json!({"annotations": [{"key": "provide-api-key", "value": true}]}),
        )
        .await;

    let (status, record) = server.invoke("caller", json!({"v": 21})).await;
    assert_eq!(status, 200, "{record}");
    let result = &record["response"]["result"];
    assert_eq!(result["inner"], json!({"v": 42}), "{record}");
    assert_eq!(result["names"], json!(["caller", "double"]));
    let context = &result["context"];
    assert_eq!(context["namespace"], "guest");
    assert_eq!(context["action"], "/guest/caller");
    assert_eq!(context["id"], record["activationId"]);
    assert_eq!(context["key"], server.auth.as_str());
    assert_eq!(context["host"], server.api_host.as_str());
    let deadline = context["deadline"]
        .as_u64()
        .expect("__OW_DEADLINE is epoch ms");
    // Computed as the run starts: now + the 60 s timeout.
    let (start, end) = (
        record["start"].as_u64().unwrap(),
        record["end"].as_u64().unwrap(),
    );
    assert!(
        start + 60_000 <= deadline && deadline <= end + 60_000,
        "deadline {deadline}, start {start}, end {end}"
    );

    // The inner activation is an ordinary activation of the guest namespace.
    let (status, list) = server.get("namespaces/_/activations?name=double").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn the_client_loads_without_a_key() {
    let server = Server::start();
    let code = r#"
const openwhisk = require('openwhisk');
function main() {
  let refused;
  try { openwhisk(); } catch (e) { refused = e.message; }
  return { loaded: typeof openwhisk === 'function', hasKey: '__OW_API_KEY' in process.env, refused };
}"#;
    server.action("nokey", "nodejs:20", code, json!({})).await;
    let result = server.result("nokey", json!({})).await;
    assert_eq!(result["loaded"], true, "{result}");
    assert_eq!(result["hasKey"], false, "{result}");
    let refused = result["refused"].as_str().unwrap_or_default();
    assert!(refused.contains("api_key"), "calls need a key: {result}");
}

#[tokio::test]
async fn an_actions_own_node_modules_come_first() {
    let server = Server::start();
    let own = [
        ("package.json", r#"{"name": "own", "main": "index.js"}"#),
        (
            "index.js",
            "const ow = require('openwhisk'); exports.main = () => ({client: ow()})",
        ),
        (
            "node_modules/openwhisk/package.json",
            r#"{"name": "openwhisk", "version": "0.0.1", "main": "index.js"}"#,
        ),
        (
            "node_modules/openwhisk/index.js",
            "module.exports = () => 'mine'",
        ),
    ];
    server.zip_action("own", "nodejs:20", &own).await;
    assert_eq!(
        server.result("own", json!({})).await,
        json!({"client": "mine"})
    );

    // A zip without its own copy gets the bundled one.
    let bundled = [(
        "index.js",
        "const ow = require('openwhisk'); exports.main = () => ({loaded: typeof ow, from: require.resolve('openwhisk')})",
    )];
    server.zip_action("bundled", "nodejs:20", &bundled).await;
    let result = server.result("bundled", json!({})).await;
    assert_eq!(result["loaded"], "function", "{result}");
    // Where the sandbox shows the bundled modules, read-only.
    let from = result["from"].as_str().unwrap();
    assert!(from.starts_with("/wisp/node_modules/"), "{from}");
}

#[tokio::test]
async fn concurrent_activations_each_see_their_own_environment() {
    let server = std::sync::Arc::new(Server::start());
    // Read after an await, when other activations have started in the same process since.
    let code = r#"
const { execSync } = require('child_process');
// Names this process (every sandboxed runtime is pid 2).
const ME = Math.floor(Math.random() * 2 ** 48);
async function main() {
  const before = process.env.__OW_ACTIVATION_ID;
  await new Promise(r => setTimeout(r, 300));
  const after = process.env.__OW_ACTIVATION_ID;
  const child = execSync('printf %s "$__OW_ACTIVATION_ID"').toString();
  return { pid: ME, before, after, child };
}"#;
    server
        .action(
            "envs",
            "nodejs:20",
            code,
            json!({"limits": {"concurrency": 5}}),
        )
        .await;
    let (status, _) = server.invoke("envs", json!({})).await;
    assert_eq!(status, 200);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let server = server.clone();
        calls.spawn(async move { server.invoke("envs", json!({})).await });
    }
    let mut pids = std::collections::HashSet::new();
    while let Some(done) = calls.join_next().await {
        let (status, record) = done.unwrap();
        assert_eq!(status, 200, "{record}");
        let result = &record["response"]["result"];
        let id = &record["activationId"];
        assert_eq!(&result["before"], id, "{result}");
        assert_eq!(&result["after"], id, "{result}");
        assert_eq!(&result["child"], id, "{result}");
        pids.insert(result["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 1, "the activations overlapped in one process");
}

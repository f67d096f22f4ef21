//! What each runtime gives a function: entry points, promises, zips, concurrency, init params.

use serde_json::json;

use crate::support::{zip, Server};

#[tokio::test]
async fn node_entry_points_and_promises() {
    let server = Server::start();
    server
        .action(
            "exported",
            "nodejs:20",
            "exports.main = p => ({how: 'exports', v: p.v})",
            json!({}),
        )
        .await;
    assert_eq!(
        server.result("exported", json!({"v": 1})).await,
        json!({"how": "exports", "v": 1})
    );
    server
        .action(
            "module",
            "nodejs:20",
            "module.exports.main = async () => ({how: 'module'})",
            json!({}),
        )
        .await;
    assert_eq!(
        server.result("module", json!({})).await,
        json!({"how": "module"})
    );
    server
        .action(
            "custom",
            "nodejs:20",
            "function handler(){ return {how: 'custom main'} }",
            json!({}),
        )
        .await;
    let (status, _) = server
        .put("namespaces/_/actions/custom?overwrite=true", json!({"exec": {"kind": "nodejs:20", "code": "function handler(){ return {how: 'custom main'} }", "main": "handler"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server.result("custom", json!({})).await,
        json!({"how": "custom main"})
    );
    server
        .action("undef", "nodejs:20", "function main(){ }", json!({}))
        .await;
    assert_eq!(server.result("undef", json!({})).await, json!({}));
    server.action("req", "nodejs:20", "const os = require('os'); function main(){ return {ok: typeof os.cpus === 'function'} }", json!({})).await;
    assert_eq!(server.result("req", json!({})).await, json!({"ok": true}));
}

#[tokio::test]
async fn zip_actions_for_node_and_python() {
    let server = Server::start();
    let node = [
        ("package.json", r#"{"name": "z", "main": "lib/entry.js"}"#),
        (
            "lib/entry.js",
            "const h = require('./helper'); exports.main = p => ({said: h.say(p.who)})",
        ),
        ("lib/helper.js", "exports.say = who => 'hi ' + who"),
    ];
    let action = server.zip_action("nodezip", "nodejs:20", &node).await;
    assert_eq!(action["exec"]["binary"], true);
    assert_eq!(
        server.result("nodezip", json!({"who": "zip"})).await,
        json!({"said": "hi zip"})
    );

    let python = zip(&[
        (
            "__main__.py",
            "from helper import twice\ndef main(a):\n    return {'v': twice(a['v'])}",
        ),
        ("helper.py", "def twice(x):\n    return 2 * x"),
        (
            "virtualenv/lib/python3.11/site-packages/extra.py",
            "VALUE = 7",
        ),
    ]);
    server
        .put(
            "namespaces/_/actions/pyzip",
            json!({"exec": {"kind": "python:3", "code": python}}),
        )
        .await;
    assert_eq!(
        server.result("pyzip", json!({"v": 4})).await,
        json!({"v": 8})
    );
}

#[tokio::test]
async fn init_parameters_arrive_as_environment_only() {
    let server = Server::start();
    server
        .action(
            "initenv",
            "python:3",
            "import os\ndef main(a):\n    return {'env': os.environ.get('SECRET'), 'args': sorted(a.keys())}",
            json!({"parameters": [{"key": "SECRET", "value": "s3", "init": true}, {"key": "plain", "value": 1}]}),
        )
        .await;
    assert_eq!(
        server.result("initenv", json!({})).await,
        json!({"env": "s3", "args": ["plain"]})
    );
}

#[tokio::test]
async fn warm_processes_keep_state_and_updates_get_a_fresh_process() {
    let server = Server::start();
    let counter = "let n = 0; function main(){ n += 1; return {n} }";
    server
        .action("counter", "nodejs:20", counter, json!({}))
        .await;
    assert_eq!(server.result("counter", json!({})).await, json!({"n": 1}));
    assert_eq!(
        server.result("counter", json!({})).await,
        json!({"n": 2}),
        "the warm process is reused"
    );
    server
        .action("counter", "nodejs:20", counter, json!({}))
        .await;
    assert_eq!(
        server.result("counter", json!({})).await,
        json!({"n": 1}),
        "a new revision starts fresh"
    );
}

#[tokio::test]
async fn concurrency_limit_shares_one_node_process_and_keeps_logs_apart() {
    let server = std::sync::Arc::new(Server::start());
    // `pid` names the process: a number drawn when it loads the code (every sandboxed runtime
    // is pid 2).
    let code = "const pid = Math.floor(Math.random() * 2 ** 48); async function main(p){ console.log('start ' + p.i); await new Promise(r => setTimeout(r, 300)); console.log('end ' + p.i); return {pid, i: p.i} }";
    server
        .action(
            "shared",
            "nodejs:20",
            code,
            json!({"limits": {"concurrency": 5}}),
        )
        .await;
    // A cold burst starts processes in parallel; once one is warm, it takes up to 5 at a time.
    let (status, _) = server.invoke("shared", json!({"i": 99})).await;
    assert_eq!(status, 200);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..5 {
        let server = server.clone();
        calls.spawn(async move { server.invoke("shared", json!({"i": i})).await });
    }
    let mut pids = std::collections::HashSet::new();
    let mut ids = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (status, record) = done.unwrap();
        assert_eq!(status, 200, "{record}");
        pids.insert(record["response"]["result"]["pid"].as_u64().unwrap());
        ids.push((
            record["response"]["result"]["i"].as_u64().unwrap(),
            record["activationId"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(
        pids.len(),
        1,
        "activations shared the warm process: {pids:?}"
    );
    for (i, id) in ids {
        let stored = server.wait_for_activation(&id).await;
        let logs: Vec<String> = stored["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(logs.len(), 2, "{logs:?}");
        assert!(logs[0].ends_with(&format!("stdout: start {i}")), "{logs:?}");
        assert!(logs[1].ends_with(&format!("stdout: end {i}")), "{logs:?}");
    }
}

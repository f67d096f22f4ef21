//! Misbehaving functions end with the right status; the platform and the next invocation carry on.

use serde_json::{json, Value};

use crate::support::Server;

async fn result_of(server: &Server, name: &str) -> (u16, Value) {
    server.invoke(name, json!({})).await
}

fn error_of(record: &Value) -> String {
    record["response"]["result"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn timeouts_crashes_syntax_errors_and_memory_hogs_are_contained() {
    let server = Server::start();
    server
        .action(
            "ok",
            "nodejs:20",
            "function main(){ return {fine: true} }",
            json!({}),
        )
        .await;

    server
        .action(
            "loop",
            "nodejs:20",
            "function main(){ console.log('spinning'); while(true){} }",
            json!({"limits": {"timeout": 300}}),
        )
        .await;
    let (status, record) = result_of(&server, "loop").await;
    assert_eq!(status, 502);
    assert_eq!(record["response"]["status"], "action developer error");
    assert_eq!(
        error_of(&record),
        "The action exceeded its time limits of 300 milliseconds."
    );
    let timeout = record["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "timeout")
        .unwrap();
    assert_eq!(timeout["value"], true);
    let stored = server
        .wait_for_activation(record["activationId"].as_str().unwrap())
        .await;
    assert!(
        stored["logs"][0]
            .as_str()
            .unwrap()
            .ends_with("stdout: spinning"),
        "logs before a timeout are kept: {stored}"
    );

    server
        .action("syntax", "nodejs:20", "function main( {", json!({}))
        .await;
    let (status, record) = result_of(&server, "syntax").await;
    assert_eq!(status, 502);
    assert_eq!(record["response"]["status"], "action developer error");
    assert!(error_of(&record).contains("SyntaxError"), "{record}");
    assert!(record["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["key"] == "initTime"));

    server
        .action(
            "nomain",
            "python:3",
            "def other(a):\n    return a",
            json!({}),
        )
        .await;
    let (status, record) = result_of(&server, "nomain").await;
    assert_eq!(status, 502);
    assert!(error_of(&record).contains("'main'"), "{record}");

    server
        .action("pysyntax", "python:3", "def main(a:\n  return", json!({}))
        .await;
    let (status, record) = result_of(&server, "pysyntax").await;
    assert_eq!(status, 502);
    assert!(error_of(&record).contains("SyntaxError"), "{record}");

    server
        .action(
            "exits",
            "nodejs:20",
            "function main(){ process.exit(1) }",
            json!({}),
        )
        .await;
    let (status, record) = result_of(&server, "exits").await;
    assert_eq!(status, 502);
    assert_eq!(
        error_of(&record),
        "The action did not produce a valid response and exited unexpectedly."
    );

    server
        .action(
            "pyexit",
            "python:3",
            "import os\ndef main(a):\n    os._exit(3)",
            json!({}),
        )
        .await;
    let (status, record) = result_of(&server, "pyexit").await;
    assert_eq!(status, 502);
    assert_eq!(
        error_of(&record),
        "The action did not produce a valid response and exited unexpectedly."
    );

    server
        .action(
            "hog",
            "nodejs:20",
            "function main(){ const keep = []; while(true){ keep.push(Buffer.alloc(4 << 20, 1)) } }",
            json!({"limits": {"memory": 128}}),
        )
        .await;
    let (status, record) = result_of(&server, "hog").await;
    assert_eq!(status, 502);
    assert_eq!(
        error_of(&record),
        "The action exhausted its memory and was aborted."
    );

    server
        .action(
            "throws",
            "nodejs:20",
            "function main(){ throw new Error('sync') }",
            json!({}),
        )
        .await;
    let (status, record) = result_of(&server, "throws").await;
    assert_eq!(status, 502);
    assert_eq!(record["response"]["status"], "action developer error");
    assert!(error_of(&record).starts_with("An error has occurred: Error: sync"));

    server
        .action(
            "scalar",
            "nodejs:20",
            "function main(){ return 42 }",
            json!({}),
        )
        .await;
    let (status, record) = result_of(&server, "scalar").await;
    assert_eq!(status, 502);
    assert_eq!(error_of(&record), "The action did not return a dictionary.");

    server
        .action("flood", "python:3", "def main(a):\n    for i in range(5000):\n        print('x' * 1000)\n    return {'ok': True}", json!({"limits": {"logs": 1}}))
        .await;
    let (status, record) = result_of(&server, "flood").await;
    assert_eq!(status, 200);
    let stored = server
        .wait_for_activation(record["activationId"].as_str().unwrap())
        .await;
    let logs = stored["logs"].as_array().unwrap();
    assert!(logs.len() < 1100, "logs are capped at 1 MB");
    assert_eq!(
        logs.last().unwrap(),
        "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
    );

    // After all that, the platform still serves, and the misbehaving actions recover too.
    let (status, record) = result_of(&server, "ok").await;
    assert_eq!(status, 200);
    assert_eq!(record["response"]["result"], json!({"fine": true}));
    let (status, _) = result_of(&server, "loop").await;
    assert_eq!(
        status, 502,
        "a fresh process times out again, it does not hang"
    );
}

//! `kill -9` and restart: every entity and every acknowledged activation survives.

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn entities_and_acknowledged_activations_survive_kill_9() {
    let mut server = Server::start();
    server
        .action(
            "keep",
            "nodejs:20",
            "function main(p){ return {kept: p.v} }",
            json!({}),
        )
        .await;
    server
        .action(
            "slow",
            "nodejs:20",
            "function main(){ return new Promise(r => setTimeout(() => r({late: true}), 5000)) }",
            json!({}),
        )
        .await;
    let (status, record) = server.invoke("keep", json!({"v": 1})).await;
    assert_eq!(status, 200);
    let finished = record["activationId"].as_str().unwrap().to_string();
    let mut accepted = Vec::new();
    for v in 0..5 {
        let (status, body) = server
            .post("namespaces/_/actions/keep", json!({"v": v}))
            .await;
        assert_eq!(status, 202);
        accepted.push(body["activationId"].as_str().unwrap().to_string());
    }
    // Accepted but still running when the server dies.
    let (status, body) = server.post("namespaces/_/actions/slow", json!({})).await;
    assert_eq!(status, 202);
    let interrupted = body["activationId"].as_str().unwrap().to_string();

    server.kill9();
    server.launch(&[]);

    let (status, action) = server.get("namespaces/_/actions/keep").await;
    assert_eq!(status, 200);
    assert_eq!(
        action["exec"]["code"],
        "function main(p){ return {kept: p.v} }"
    );
    let (status, _) = server.get("namespaces/_/actions/slow").await;
    assert_eq!(status, 200);
    let record = server.wait_for_activation(&finished).await;
    assert_eq!(record["response"]["result"], json!({"kept": 1}));
    for id in &accepted {
        let record = server.wait_for_activation(id).await;
        assert!(record["response"]["status"].is_string(), "{record}");
    }
    let record = server.wait_for_activation(&interrupted).await;
    assert_eq!(record["response"]["status"], "whisk internal error");
    assert!(record["response"]["result"]["error"]
        .as_str()
        .unwrap()
        .contains("interrupted"));

    // And the platform works after the restart.
    let (status, record) = server.invoke("keep", json!({"v": 9})).await;
    assert_eq!(status, 200);
    assert_eq!(record["response"]["result"], json!({"kept": 9}));
}

#[tokio::test]
async fn sigterm_lets_running_activations_finish() {
    let mut server = Server::start();
    server
        .action(
            "brief",
            "python:3",
            "import time\ndef main(a):\n    time.sleep(0.5)\n    return {'finished': True}",
            json!({}),
        )
        .await;
    let (status, body) = server.post("namespaces/_/actions/brief", json!({})).await;
    assert_eq!(status, 202);
    let id = body["activationId"].as_str().unwrap().to_string();
    let exit = server.terminate();
    assert!(exit.success(), "clean exit: {exit:?}");
    server.launch(&[]);
    let record = server.wait_for_activation(&id).await;
    assert_eq!(record["response"]["result"], json!({"finished": true}));
}

//! Compositions survive `kill -9`: a restarted server resumes each one where it stopped and
//! stores its record exactly once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::Server;

const SLEEPY: &str = "function main(p) { return new Promise(r => setTimeout(() => r({ n: (p.n || 0) + 1, steps: p.steps }), 400)) }";

const PIPELINE: &str = "function main(p) {
  if (p.error) return { error: p.error }
  const steps = p.steps || []
  if (steps.length === 0) return { params: { n: p.n } }
  return { action: steps[0], params: { n: p.n, steps: steps.slice(1) } }
}";

/// Records of `name` in the guest namespace.
async fn records(server: &Server, name: &str) -> Vec<Value> {
    let (status, list) = server
        .get(&format!(
            "namespaces/_/activations?name={name}&docs=true&limit=200"
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Waits until `name` has `count` records.
async fn wait_for_children(server: &Server, name: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while records(server, name).await.len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn compositions_resume_after_kill_9_and_store_one_record() {
    let mut server = Server::start();
    server
        .action("sleepy", "nodejs:20", SLEEPY, json!({}))
        .await;
    let (status, body) = server
        .put(
            "namespaces/_/actions/slow-seq",
            json!({"exec": {"kind": "sequence", "components": vec!["/_/sleepy"; 6]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server
        .action(
            "pipeline",
            "nodejs:20",
            PIPELINE,
            json!({"annotations": [{"key": "conductor", "value": true}]}),
        )
        .await;

    let (status, seq) = server
        .post("namespaces/_/actions/slow-seq", json!({"n": 0}))
        .await;
    assert_eq!(status, 202, "{seq}");
    let (status, conductor) = server
        .post(
            "namespaces/_/actions/pipeline",
            json!({"n": 0, "steps": vec!["sleepy"; 5]}),
        )
        .await;
    assert_eq!(status, 202, "{conductor}");
    // Some steps done, most still to come.
    wait_for_children(&server, "sleepy", 3).await;

    server.kill9();
    server.launch(&[]);

    let seq = server
        .wait_for_activation(seq["activationId"].as_str().unwrap())
        .await;
    assert_eq!(seq["response"]["result"], json!({"n": 6}), "{seq}");
    assert_eq!(seq["logs"].as_array().unwrap().len(), 6);
    let conductor = server
        .wait_for_activation(conductor["activationId"].as_str().unwrap())
        .await;
    assert_eq!(
        conductor["response"]["result"],
        json!({"n": 5}),
        "{conductor}"
    );
    assert_eq!(conductor["logs"].as_array().unwrap().len(), 11);

    // Exactly one record of each composition, and every logged child has its record.
    assert_eq!(records(&server, "slow-seq").await.len(), 1);
    let primaries = records(&server, "pipeline")
        .await
        .into_iter()
        .filter(|r| {
            r["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["key"] == "topmost")
        })
        .count();
    assert_eq!(primaries, 1);
    for id in seq["logs"].as_array().unwrap() {
        let child = server.wait_for_activation(id.as_str().unwrap()).await;
        assert_eq!(child["cause"], seq["activationId"]);
    }
}

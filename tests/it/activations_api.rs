//! Invoking and reading activation records over HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{annotation, error_message, Server};

const ECHO_ENV: &str = r#"
function main(p) {
  console.log('hello from', p.name);
  console.error('to stderr');
  return {
    p,
    ns: process.env.__OW_NAMESPACE,
    action: process.env.__OW_ACTION_NAME,
    id: process.env.__OW_ACTIVATION_ID,
    host: process.env.__OW_API_HOST,
    key: process.env.__OW_API_KEY || null,
    deadline: process.env.__OW_DEADLINE,
  };
}"#;

#[tokio::test]
async fn blocking_invoke_returns_the_record_with_merged_parameters_and_context() {
    let server = Server::start();
    server
        .action("env", "nodejs:20", ECHO_ENV, json!({"parameters": [{"key": "name", "value": "default"}, {"key": "keep", "value": 1}]}))
        .await;
    let (status, record) = server.invoke("env", json!({"name": "Ada"})).await;
    assert_eq!(status, 200, "{record}");
    let id = record["activationId"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(record["namespace"], "guest");
    assert_eq!(record["name"], "env");
    assert_eq!(record["subject"], "guest");
    assert_eq!(record["response"]["status"], "success");
    assert_eq!(record["response"]["success"], true);
    let result = &record["response"]["result"];
    assert_eq!(
        result["p"],
        json!({"name": "Ada", "keep": 1}),
        "invoke params override defaults"
    );
    assert_eq!(result["ns"], "guest");
    assert_eq!(result["action"], "/guest/env");
    assert_eq!(result["id"], id);
    assert_eq!(result["host"], server.api_host.as_str());
    assert_eq!(result["key"], Value::Null, "no key without provide-api-key");
    let deadline: u64 = result["deadline"].as_str().unwrap().parse().unwrap();
    assert!(deadline > record["start"].as_u64().unwrap());
    assert_eq!(annotation(&record, "path").unwrap(), "guest/env");
    assert_eq!(annotation(&record, "kind").unwrap(), "nodejs:20");
    assert_eq!(annotation(&record, "timeout").unwrap(), false);
    assert!(annotation(&record, "waitTime").is_some());
    assert!(
        annotation(&record, "initTime").is_some(),
        "the first run is a cold start"
    );
    assert!(record["end"].as_u64().unwrap() >= record["start"].as_u64().unwrap());

    // The second run is warm: no initTime.
    let (_, warm) = server.invoke("env", json!({})).await;
    assert!(annotation(&warm, "initTime").is_none());

    // The stored record has the logs, in OpenWhisk's format.
    let stored = server.wait_for_activation(id).await;
    let logs: Vec<&str> = stored["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.iter().any(|l| l.ends_with(" stdout: hello from Ada")));
    assert!(logs.iter().any(|l| l.ends_with(" stderr: to stderr")));
    for line in &logs {
        assert_eq!(&line[30..31], " ", "timestamp padded to 30: {line}");
        assert!(line.starts_with("20") && line[..30].trim_end().ends_with('Z'));
    }
    let (_, logs_only) = server
        .get(&format!("namespaces/_/activations/{id}/logs"))
        .await;
    assert_eq!(logs_only["logs"], stored["logs"]);
    let (_, result_only) = server
        .get(&format!("namespaces/_/activations/{id}/result"))
        .await;
    assert_eq!(result_only["success"], true);
    assert_eq!(result_only["result"]["id"], id);
}

#[tokio::test]
async fn api_key_only_when_the_action_asks() {
    let server = Server::start();
    server
        .action(
            "keyed",
            "nodejs:20",
            ECHO_ENV,
            json!({"annotations": [{"key": "provide-api-key", "value": true}]}),
        )
        .await;
    let (status, result) = server
        .post(
            "namespaces/_/actions/keyed?blocking=true&result=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(result["key"], server.auth.as_str());
}

#[tokio::test]
async fn non_blocking_invoke_answers_202_and_the_record_follows() {
    let server = Server::start();
    server
        .action(
            "slowish",
            "python:3",
            "import time\ndef main(a):\n    time.sleep(0.3)\n    return {'done': True}",
            json!({}),
        )
        .await;
    let response = server
        .request(reqwest::Method::POST, "namespaces/_/actions/slowish")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let header = response.headers()["x-openwhisk-activation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    let id = body["activationId"].as_str().unwrap();
    assert_eq!(id, header);
    let (status, _) = server.get(&format!("namespaces/_/activations/{id}")).await;
    assert_eq!(status, 404, "not stored before it finishes");
    let record = server.wait_for_activation(id).await;
    assert_eq!(record["response"]["result"], json!({"done": true}));
}

#[tokio::test]
async fn blocking_wait_that_runs_out_answers_202_and_the_activation_completes() {
    let server = Server::start();
    server
        .action(
            "sleeper",
            "nodejs:20",
            "function main(){ return new Promise(r => setTimeout(() => r({slept: true}), 1500)) }",
            json!({}),
        )
        .await;
    let (status, body) = server
        .post(
            "namespaces/_/actions/sleeper?blocking=true&timeout=200",
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["activationId"].as_str().unwrap();
    let record = server.wait_for_activation(id).await;
    assert_eq!(record["response"]["result"], json!({"slept": true}));
}

#[tokio::test]
async fn listing_filters_and_counts() {
    let server = Server::start();
    server
        .action("a", "nodejs:20", "function main(){ return {} }", json!({}))
        .await;
    server
        .action("b", "nodejs:20", "function main(){ return {} }", json!({}))
        .await;
    let before = wisp_core_now();
    for _ in 0..3 {
        server.invoke("a", json!({})).await;
    }
    server.invoke("b", json!({})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (_, all) = server.get("namespaces/_/activations").await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert!(
        all[0]["start"].as_u64() >= all[3]["start"].as_u64(),
        "newest first"
    );
    assert_eq!(all[0]["name"], "b");
    assert_eq!(all[0]["statusCode"], 0);
    assert!(all[0].get("logs").is_none(), "summaries carry no logs");

    let (_, only_a) = server.get("namespaces/_/activations?name=a").await;
    assert_eq!(only_a.as_array().unwrap().len(), 3);
    let (_, count) = server
        .get("namespaces/_/activations?name=a&count=true")
        .await;
    assert_eq!(count, json!({"activations": 3}));
    let (_, limited) = server.get("namespaces/_/activations?limit=2&skip=1").await;
    assert_eq!(limited.as_array().unwrap().len(), 2);
    let (_, docs) = server
        .get("namespaces/_/activations?docs=true&limit=1")
        .await;
    assert!(docs[0]["response"]["result"].is_object());
    let (_, since) = server
        .get(&format!(
            "namespaces/_/activations?since={}",
            before + 60_000
        ))
        .await;
    assert_eq!(since, json!([]));
    let (_, upto) = server
        .get(&format!("namespaces/_/activations?upto={before}"))
        .await;
    assert_eq!(upto, json!([]));

    let (status, body) = server
        .get("namespaces/_/activations?docs=true&count=true")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "The parameter 'docs' is not permitted with 'count'."
    );
    let (status, body) = server.get("namespaces/_/activations/abc").await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "Activation id length is 3 but must be 32."
    );
    let (status, _) = server
        .get(&format!("namespaces/_/activations/{}", "0".repeat(32)))
        .await;
    assert_eq!(status, 404);
}

fn wisp_core_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn errors_are_502_with_the_error_result() {
    let server = Server::start();
    server
        .action(
            "fails",
            "nodejs:20",
            "function main(){ return {error: 'bad input'} }",
            json!({}),
        )
        .await;
    let (status, record) = server.invoke("fails", json!({})).await;
    assert_eq!(status, 502);
    assert_eq!(record["response"]["status"], "application error");
    assert_eq!(record["response"]["result"], json!({"error": "bad input"}));
    let (status, result) = server
        .post(
            "namespaces/_/actions/fails?blocking=true&result=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 502);
    assert_eq!(result, json!({"error": "bad input"}));

    server
        .action(
            "arr",
            "python:3",
            "def main(a):\n    return [1, 2, 3]",
            json!({}),
        )
        .await;
    let (status, body) = server.invoke("arr", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([1, 2, 3]), "array results are the body");
}

#[tokio::test]
async fn concurrent_invokes_all_complete() {
    let server = std::sync::Arc::new(Server::start());
    server
        .action(
            "double",
            "nodejs:20",
            "function main(p){ return {v: p.v * 2} }",
            json!({}),
        )
        .await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40u64 {
        let server = server.clone();
        calls.spawn(async move {
            let (status, body) = server
                .post(
                    "namespaces/_/actions/double?blocking=true&result=true",
                    json!({"v": i}),
                )
                .await;
            (i, status, body)
        });
    }
    let mut seen = 0;
    while let Some(done) = calls.join_next().await {
        let (i, status, body) = done.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"v": i * 2}));
        seen += 1;
    }
    assert_eq!(seen, 40);
}

//! `/metrics`, `/healthz` and `/readyz` as an operator's tools see them: after a known
//! workload, the metrics are read by Prometheus's own OpenMetrics parser (its Python client,
//! installed by scripts/test.sh) and the counts must match the workload exactly.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::support::Server;

/// Every sample of the server's `/metrics`, as parsed by `prometheus_client`.
async fn scrape(server: &Server) -> Vec<Value> {
    let url = format!("http://{}/metrics", server.metrics_address());
    let response = reqwest::get(&url)
        .await
        .expect("the metrics endpoint answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let parser =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prometheus-parser");
    assert!(
        parser.join("site/prometheus_client").is_dir(),
        "Prometheus's Python client is not installed in {}: run scripts/test.sh, which installs it",
        parser.display()
    );
    let mut child = Command::new("python3")
        .arg(parser.join("parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The sum of the samples named `name` whose labels include every pair of `labels`.
fn sum(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_count_a_known_workload_exactly() {
    let server = Server::start();
    let actions = [
        ("ok", "function main() { return {ok: true} }"),
        ("fails", "function main() { return {error: 'no'} }"),
        ("exits", "function main() { process.exit(1) }"),
    ];
    for (name, code) in actions {
        server.action(name, "nodejs:20", code, json!({})).await;
    }
    for (name, times) in [("ok", 5), ("fails", 2), ("exits", 1)] {
        for _ in 0..times {
            server.invoke(name, json!({})).await;
        }
    }
    let samples = scrape(&server).await;
    let count = |outcome: &str, start: &str| {
        sum(
            &samples,
            "wisp_activations_total",
            &[
                ("namespace", "guest"),
                ("kind", "nodejs:20"),
                ("outcome", outcome),
                ("start", start),
            ],
        )
    };
    // The first call of each action initialises a process (a stem cell, or a new one when
    // the stem cell was taken); the rest run warm.
    let initialised = |outcome: &str| count(outcome, "cold") + count(outcome, "stem_cell");
    assert_eq!(initialised("success"), 1.0, "{samples:#?}");
    assert_eq!(count("success", "warm"), 4.0);
    assert_eq!(initialised("application_error"), 1.0);
    assert_eq!(count("application_error", "warm"), 1.0);
    assert_eq!(initialised("developer_error"), 1.0);
    assert_eq!(
        sum(&samples, "wisp_activations_total", &[]),
        8.0,
        "nothing else counted"
    );
    assert!(
        samples.iter().all(|s| s["labels"].get("action").is_none()),
        "no action names unless the operator asks"
    );
    // Each activation is timed once; only the three first calls initialised.
    let kind = [("kind", "nodejs:20")];
    assert_eq!(
        sum(&samples, "wisp_activation_run_seconds_count", &kind),
        8.0
    );
    assert_eq!(
        sum(&samples, "wisp_activation_wait_seconds_count", &kind),
        8.0
    );
    assert_eq!(
        sum(&samples, "wisp_activation_init_seconds_count", &kind),
        3.0
    );
    // Requests by route template: eight invokes (5 answered 200, 3 as failed activations 502)
    // and three creations.
    let invokes = [
        ("method", "POST"),
        ("route", "/api/v1/namespaces/{ns}/actions/{*path}"),
    ];
    let requests = "wisp_http_requests_total";
    assert_eq!(
        sum(
            &samples,
            requests,
            &[invokes[0], invokes[1], ("status", "200")]
        ),
        5.0
    );
    assert_eq!(
        sum(
            &samples,
            requests,
            &[invokes[0], invokes[1], ("status", "502")]
        ),
        3.0
    );
    assert_eq!(
        sum(
            &samples,
            requests,
            &[
                ("method", "PUT"),
                ("route", invokes[1].1),
                ("status", "200")
            ]
        ),
        3.0
    );
    // The warm processes (one per action; "exits" lost its own) and the stem cells.
    assert!(
        sum(&samples, "wisp_processes", &[("kind", "nodejs:20")]) >= 2.0,
        "{samples:#?}"
    );
    assert!(sum(&samples, "wisp_process_memory_reserved_bytes", &[]) > 0.0);
}

#[tokio::test]
async fn a_per_action_label_only_when_the_operator_asks() {
    let server = Server::start_with(&["--metrics-per-action"]);
    server
        .action(
            "hello",
            "python:3",
            "def main(args):\n    return {}",
            json!({}),
        )
        .await;
    server.invoke("hello", json!({})).await;
    let samples = scrape(&server).await;
    assert_eq!(
        sum(
            &samples,
            "wisp_activations_total",
            &[
                ("action", "hello"),
                ("kind", "python:3"),
                ("outcome", "success")
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn health_and_readiness_answer_without_credentials_and_say_nothing_more() {
    let server = Server::start();
    let client = reqwest::Client::new();
    for (path, body) in [
        ("healthz", json!({"alive": true})),
        ("readyz", json!({"ready": true})),
    ] {
        let url = format!("{}/{path}", server.api_host);
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), body, "{path}");
    }
    // The metrics are not on the API's port.
    let url = format!("{}/metrics", server.api_host);
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn refusals_by_a_namespace_limit_are_counted_by_limit() {
    let server = Server::start_with(&["--invocations-per-minute", "2"]);
    server
        .action(
            "quick",
            "nodejs:20",
            "function main() { return {} }",
            json!({}),
        )
        .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(server.invoke("quick", json!({})).await.0);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let samples = scrape(&server).await;
    let refused = [("namespace", "guest"), ("limit", "invocations_per_minute")];
    assert_eq!(sum(&samples, "wisp_throttled_total", &refused), 1.0);
    assert_eq!(sum(&samples, "wisp_activations_total", &[]), 2.0);
    assert_eq!(
        sum(&samples, "wisp_http_requests_total", &[("status", "429")]),
        1.0
    );
}

#[tokio::test]
async fn key_value_commands_fires_and_record_writes_are_counted() {
    let server = Server::start();
    crate::support::create_resp_client(&server, None).await;
    let replies = crate::support::resp(
        &server,
        None,
        json!([
            ["SET", "a", "1"],
            ["GET", "a"],
            ["INCR", "a"],
            ["LPUSH", "a", "x"],
            ["GET", "missing"]
        ]),
    )
    .await;
    assert!(
        replies[3]["error"]
            .as_str()
            .unwrap()
            .starts_with("WRONGTYPE"),
        "{replies}"
    );
    let (status, _) = server.put("namespaces/_/triggers/tick", json!({})).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, _) = server.post("namespaces/_/triggers/tick", json!({})).await;
        assert!(status < 300, "{status}");
    }
    let samples = scrape(&server).await;
    let kv = "wisp_kv_commands_total";
    assert_eq!(sum(&samples, kv, &[("outcome", "ok")]), 4.0, "{samples:#?}");
    assert_eq!(sum(&samples, kv, &[("outcome", "error")]), 1.0);
    let fires = [("namespace", "guest")];
    assert_eq!(sum(&samples, "wisp_trigger_fires_total", &fires), 2.0);
    // One record was written: the client's activation (a trigger with no rules leaves none).
    // Its commit lands just after its caller's answer, so look until it has.
    let mut writes = sum(&samples, "wisp_activation_store_write_seconds_count", &[]);
    for _ in 0..50 {
        if writes >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let again = scrape(&server).await;
        writes = sum(&again, "wisp_activation_store_write_seconds_count", &[]);
    }
    assert_eq!(writes, 1.0);
}

#[tokio::test]
async fn object_bytes_in_and_out_are_counted() {
    let server = Server::start();
    let body = vec![b'x'; 10_000];
    let request = server
        .request(reqwest::Method::PUT, "namespaces/_/objects/blob.bin")
        .body(body.clone());
    let (status, answer) = server.send(request).await;
    assert_eq!(status, 200, "{answer}");
    let response = server
        .request(reqwest::Method::GET, "namespaces/_/objects/blob.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), body.len());
    let samples = scrape(&server).await;
    let bytes = "wisp_object_bytes_total";
    assert_eq!(
        sum(&samples, bytes, &[("direction", "in")]),
        10_000.0,
        "{samples:#?}"
    );
    assert_eq!(sum(&samples, bytes, &[("direction", "out")]), 10_000.0);
}

#[tokio::test]
async fn wisp_top_shows_the_namespaces_activations_and_the_pool() {
    let server = Server::start();
    server
        .action(
            "ok",
            "nodejs:20",
            "function main() { return {} }",
            json!({}),
        )
        .await;
    for _ in 0..3 {
        server.invoke("ok", json!({})).await;
    }
    let url = format!("http://{}/metrics", server.metrics_address());
    let out = server.cli(&["top", "--once", "--interval", "0.2", "--metrics-url", &url]);
    let text = crate::support::stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        crate::support::stderr(&out)
    );
    let guest: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("guest"))
        .unwrap_or_else(|| panic!("a row for guest: {text}"))
        .split_whitespace()
        .collect();
    // Three activations, none in the last 0.2 s, no errors, one initialised start.
    assert_eq!(guest, ["guest", "3", "0.0", "0", "(0.0%)", "1"], "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("nodejs:20") && l.contains("warm")),
        "{text}"
    );

    let nowhere = server.cli(&[
        "top",
        "--once",
        "--metrics-url",
        "http://127.0.0.1:9/metrics",
    ]);
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(crate::support::stderr(&nowhere).contains("--metrics-listen"));
}

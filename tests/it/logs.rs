//! The server's log as a log collector reads it: `--log-format json` writes one JSON object per
//! line, and what happens while an activation runs carries its id, namespace and action and
//! the transaction id of the request that caused it, so one activation's lines can be found
//! among many.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::Server;

/// The JSON lines of the server's log, each parsed; a line that is not JSON fails the test.
fn json_lines(lines: Vec<String>) -> Vec<Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The first log line `matches` keeps, waiting for it: it is written as the record is handed
/// to the store, just after the answer.
async fn wait_for_line<T>(server: &Server, matches: impl Fn(Vec<String>) -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = matches(server.log_lines()) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no `activation finished` line: {:#?}", server.log_lines());
}

#[tokio::test]
async fn json_log_lines_carry_the_activation_and_the_request() {
    let server = Server::start_with_logs(
        &["--log-format", "json"],
        &[("WISP_LOG", "wisp_controller=debug,warn")],
    );
    server
        .action(
            "hello",
            "nodejs:20",
            "function main() { return {} }",
            json!({}),
        )
        .await;
    let request = server
        .request(
            reqwest::Method::POST,
            "namespaces/_/actions/hello?blocking=true",
        )
        .header("x-request-id", "trace-me-42")
        .json(&json!({}));
    let (status, record) = server.send(request).await;
    assert_eq!(status, 200, "{record}");
    let id = record["activationId"].as_str().unwrap().to_owned();
    let line = wait_for_line(&server, |lines| {
        json_lines(lines)
            .into_iter()
            .find(|line| line["fields"]["message"] == "activation finished")
    })
    .await;
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["fields"]["status"], "success", "{line}");
    let spans = line["spans"].as_array().expect("the spans it happened in");
    let activation = spans
        .iter()
        .find(|s| s["name"] == "activation")
        .unwrap_or_else(|| panic!("an activation span: {line}"));
    assert_eq!(activation["id"], id);
    assert_eq!(activation["namespace"], "guest");
    assert_eq!(activation["action"], "guest/hello");
    // The transaction id of the request that caused it (the caller's X-Request-ID).
    assert_eq!(activation["tid"], "trace-me-42");
}

#[tokio::test]
async fn the_text_log_is_the_default() {
    let server = Server::start_with_logs(&[], &[("WISP_LOG", "wisp_controller=debug,warn")]);
    server
        .action(
            "hello",
            "nodejs:20",
            "function main() { return {} }",
            json!({}),
        )
        .await;
    let (status, _) = server.invoke("hello", json!({})).await;
    assert_eq!(status, 200);
    let line = wait_for_line(&server, |lines| {
        lines
            .into_iter()
            .find(|l| l.contains("activation finished"))
    })
    .await;
    assert!(line.contains("namespace=guest"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes outside a terminal: {line}"
    );
    assert!(
        serde_json::from_str::<Value>(&line).is_err(),
        "text, not JSON: {line}"
    );
}

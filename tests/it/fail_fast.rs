//! Bad function output and code end their activation at once, with a record that says why.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::Server;

/// Invokes `name` blocking and checks it ended as a developer error (502) well before
/// `within`; returns the record and its error message.
async fn fails_fast(server: &Server, name: &str, within: Duration) -> (Value, String) {
    let started = Instant::now();
    let (status, record) = server.invoke(name, json!({})).await;
    assert!(
        started.elapsed() < within,
        "{name} took {:?}: {record}",
        started.elapsed()
    );
    assert_eq!(status, 502, "{name}: {record}");
    assert_eq!(
        record["response"]["status"], "action developer error",
        "{name}: {record}"
    );
    let error = record["response"]["result"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (record, error)
}

#[tokio::test]
async fn a_zip_unpacking_past_the_limit_is_refused_before_it_fills_the_disk() {
    let server = Server::start_with(&["--max-unpacked-mb", "1"]);
    // Two megabytes of one character: a few kilobytes of zip.
    let zeros = "0".repeat(2 << 20);
    let main = "exports.main = () => ({ ok: true })";
    server
        .zip_action(
            "bomb",
            "nodejs:20",
            &[("index.js", main), ("zeros.txt", &zeros)],
        )
        .await;
    let (record, error) = fails_fast(&server, "bomb", Duration::from_secs(10)).await;
    assert_eq!(
        error,
        "Initialization has failed due to: the action's zip archive unpacks to more than \
         1 MB, the most this server unpacks",
        "{record}"
    );
    let unpacked: Vec<_> = std::fs::read_dir(server.data_dir().join("runtime/code"))
        .unwrap()
        .collect();
    assert!(unpacked.is_empty(), "nothing of it stays: {unpacked:?}");

    // An archive within the limit runs as ever.
    server
        .zip_action("small", "nodejs:20", &[("index.js", main)])
        .await;
    assert_eq!(server.result("small", json!({})).await, json!({"ok": true}));
}

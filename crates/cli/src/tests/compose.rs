//! Sequences, conductor annotations and `activation get --tree`, against a fake server.

use serde_json::{json, Value};

use super::{only_request, run_against, Cli, ID};
use crate::test_support::{Answer, FakeServer};
use clap::Parser;

#[tokio::test]
async fn a_sequence_names_each_component_in_full() {
    let server = FakeServer::start(|_| Answer::json(200, json!({"name": "s"}))).await;
    let out = run_against(
        &server,
        &[
            "action",
            "create",
            "s",
            "--sequence",
            "a, pkg/b,/ns/c,/ns/pkg/d",
        ],
    )
    .await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "ok: created action s\n")
    );
    let request = only_request(&server);
    assert_eq!(request.target, "/api/v1/namespaces/_/actions/s");
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"exec": {"kind": "sequence",
                        "components": ["/_/a", "/_/pkg/b", "/ns/c", "/ns/pkg/d"]}})
    );

    let out = run_against(&server, &["action", "update", "s", "--sequence", "a,,b"]).await;
    assert_eq!(out.code, 2, "an empty name is a usage error");
    assert!(
        out.stderr.contains("'' is not a valid name"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_sequence_takes_no_file() {
    for verb in ["create", "update"] {
        let argv = ["wisp", "action", verb, "s", "f.js", "--sequence", "a,b"];
        let err = Cli::try_parse_from(argv).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }
    assert!(Cli::try_parse_from(["wisp", "action", "create", "s"]).is_err());
}

#[tokio::test]
async fn a_conductor_annotation_is_sent_as_a_boolean() {
    let dir = crate::test_support::TempDir::new();
    let path = dir.file("c.js", "function main(p) { return p }");
    let server = FakeServer::start(|_| Answer::json(200, json!({"name": "c"}))).await;
    let file = path.to_str().unwrap();
    let out = run_against(
        &server,
        &["action", "create", "c", file, "-a", "conductor", "true"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body: Value = serde_json::from_str(&only_request(&server).body).unwrap();
    assert_eq!(
        body["annotations"],
        json!([{"key": "conductor", "value": true}])
    );
}

#[tokio::test]
async fn get_tree_reads_each_child_once_and_names_the_missing() {
    let record = |id: &str, path: &str, kind: &str, logs: Value| {
        json!({"activationId": id, "namespace": "guest", "name": "s", "duration": 4,
               "response": {"status": "success"},
               "annotations": [{"key": "path", "value": path}, {"key": "kind", "value": kind}],
               "logs": logs})
    };
    let root = record(ID, "guest/s", "sequence", json!(["a", "gone"]));
    let log = json!(["2024-03-01T10:20:30.1Z stdout: hi"]);
    let child = record("a", "guest/a", "nodejs:20", log);
    let server = FakeServer::start(move |req| match req.target.rsplit('/').next() {
        Some(ID) => Answer::json(200, root.clone()),
        Some("a") => Answer::json(200, child.clone()),
        _ => Answer::json(
            404,
            json!({"error": "The requested resource does not exist."}),
        ),
    })
    .await;
    let out = run_against(&server, &["activation", "get", ID, "--tree"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pad = |n| " ".repeat(n);
    assert_eq!(
        out.stdout,
        format!(
            "{ID}  guest/s      sequence   success  4ms\n\
             ├─ a{}guest/a      nodejs:20  success  4ms\n\
             └─ gone{}(not found)\n",
            pad(30),
            pad(27)
        )
    );
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [ID, "a", "gone"].map(|id| format!("/api/v1/namespaces/_/activations/{id}"))
    );

    let out = run_against(&server, &["activation", "get", ID, "--tree", "--json"]).await;
    let records: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["activationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ID, "a"]);
}

//! Sequences and conductor annotations, against a fake server.

use serde_json::{json, Value};

use super::{only_request, run_against, Cli};
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

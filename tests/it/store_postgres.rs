//! `wisp serve --store postgres://…` and `wisp admin --store postgres://…`: entities, keys and
//! activation records live in the machine's PostgreSQL (127.0.0.1:5432), in a database of
//! the test's own that is dropped when it ends, and outlast a restart of the server.

use std::process::Command;

use serde_json::json;

use crate::support::{stderr, stdout, wisp_binary, Server};
use crate::tools::{self, Database};

#[tokio::test]
async fn a_server_on_postgres_keeps_actions_and_records_across_a_restart() {
    tools::require_postgres();
    let db = Database::create();
    let url = db.url();
    let mut server = Server::start_with(&["--store", &url]);
    server
        .action(
            "hello",
            "nodejs:20",
            "function main(args) { return { greeting: 'hello ' + args.name } }",
            json!({}),
        )
        .await;
    let (status, record) = server.invoke("hello", json!({"name": "pg"})).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["response"]["result"]["greeting"], "hello pg");
    let id = record["activationId"].as_str().unwrap().to_string();

    // Nothing went to SQLite: the rows are PostgreSQL's.
    assert!(!server.data_dir().join("db").exists());
    assert_eq!(
        db.query("SELECT name FROM entities WHERE namespace = 'guest'"),
        "hello"
    );
    // The record is committed before the invoke is answered... or at the latest on a listing.
    let (status, listed) = server.get("namespaces/_/activations?name=hello").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        db.query(&format!("SELECT name FROM activations WHERE id = '{id}'")),
        "hello"
    );

    server.kill9();
    server.launch(&["--store", &url]);
    let (status, action) = server.get("namespaces/_/actions/hello").await;
    assert_eq!(status, 200, "{action}");
    assert_eq!(action["exec"]["kind"], "nodejs:20");
    let (status, stored) = server.get(&format!("namespaces/_/activations/{id}")).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["response"]["result"]["greeting"], "hello pg");
    assert_eq!(
        server.result("hello", json!({"name": "again"})).await["greeting"],
        "hello again"
    );
    drop(server);
}

#[tokio::test]
async fn wisp_admin_manages_namespaces_in_postgres() {
    tools::require_postgres();
    let db = Database::create();
    let url = db.url();
    let admin = |args: &[&str]| {
        let out = Command::new(wisp_binary())
            .arg("admin")
            .args(args)
            .env("WISP_STORE", &url)
            .env("HOME", "/nonexistent")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "wisp admin {args:?}: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let auth = admin(&["namespace", "create", "pgns"]).trim().to_string();
    assert!(admin(&["namespace", "list"]).contains("pgns"));
    admin(&["limits", "set", "pgns", "--concurrent-invocations", "7"]);
    assert_eq!(
        db.query("SELECT concurrent_invocations FROM namespace_limits WHERE namespace = 'pgns'"),
        "7"
    );

    // A server on the same database knows the key.
    let server = Server::start_with(&["--store", &url]);
    let create = server
        .request_as(&auth, reqwest::Method::PUT, "namespaces/_/actions/id")
        .json(&json!({"exec": {"kind": "nodejs:20", "code": "function main() { return { ns: process.env.__OW_NAMESPACE } }"}}));
    let (status, body) = server.send(create).await;
    assert_eq!(status, 200, "{body}");
    let invoke = server.request_as(
        &auth,
        reqwest::Method::POST,
        "namespaces/_/actions/id?blocking=true&result=true",
    );
    let (status, body) = server.send(invoke.json(&json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ns"], "pgns");

    assert!(admin(&["namespace", "delete", "pgns"]).contains("deleted"));
    assert_eq!(
        db.query("SELECT count(*) FROM entities WHERE namespace = 'pgns'"),
        "0"
    );
    drop(server);
}

#[test]
fn an_unknown_store_is_refused_by_name() {
    let out = Command::new(wisp_binary())
        .args([
            "admin",
            "--store",
            "mysql://root:secret@db/wisp",
            "namespace",
            "list",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(error.contains("`mysql://` is not a store"), "{error}");
    assert!(!error.contains("secret"), "{error}");
}

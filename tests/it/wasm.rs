//! `wasm` actions end to end: the C guests under `examples/wasm/c` (committed, built as its
//! README says) created through the API and the CLI and invoked like any other action.

use serde_json::{json, Value};

use crate::support::{annotation, error_message, ok, Server};
use crate::wasm_support::{artifacts, base64_of, code, failure, put_wasm_as, record};

async fn put_wasm(server: &Server, name: &str, code: &str, extra: Value) -> (u16, Value) {
    put_wasm_as(server, None, name, code, extra).await
}

async fn wasm_action(server: &Server, name: &str, file: &str, extra: Value) {
    let (status, body) = put_wasm(server, name, &code(&format!("c/{file}")), extra).await;
    assert_eq!(status, 200, "creating {name}: {body}");
    assert_eq!(body["exec"]["kind"], "wasm");
    assert_eq!(body["exec"]["binary"], true);
}

#[tokio::test]
async fn a_c_guest_answers_blocking_and_non_blocking_invokes_with_its_logs() {
    let server = Server::start();
    wasm_action(&server, "hello", "hello", json!({})).await;

    let result = server.result("hello", json!({"name": "Ada"})).await;
    assert_eq!(result, json!({"greeting": "Hello, Ada!"}));

    let record = record(&server, "hello", json!({"name": "Bob"})).await;
    assert_eq!(record["response"]["status"], "success", "{record}");
    let logs: Vec<&str> = record["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].ends_with(" stderr: greeting Bob"), "{}", logs[0]);
    // Compiled when created: no invoke loads or compiles it.
    assert!(annotation(&record, "initTime").is_none(), "{record}");
    assert_eq!(annotation(&record, "kind"), Some(&json!("wasm")));

    let (status, accepted) = server
        .post("namespaces/_/actions/hello", json!({"name": "Cy"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let stored = server
        .wait_for_activation(accepted["activationId"].as_str().unwrap())
        .await;
    assert_eq!(
        stored["response"]["result"],
        json!({"greeting": "Hello, Cy!"})
    );
}

#[tokio::test]
async fn the_cli_infers_the_wasm_kind_from_the_extension() {
    let server = Server::start();
    let path = format!("{}/examples/wasm/c/hello.wasm", env!("CARGO_MANIFEST_DIR"));
    ok(&server, &["action", "create", "hi", &path]);
    let out = ok(
        &server,
        &["action", "invoke", "hi", "-p", "name", "Ada", "--result"],
    );
    assert!(out.contains("Hello, Ada!"), "{out}");
    let (_, action) = server.get("namespaces/_/actions/hi").await;
    assert_eq!(action["exec"]["kind"], "wasm");
}

#[tokio::test]
async fn exits_non_json_output_and_traps_are_developer_errors() {
    let server = Server::start();
    wasm_action(&server, "bad", "misbehave", json!({})).await;

    let exit = record(&server, "bad", json!({"mode": "exit"})).await;
    assert_eq!(
        failure(&exit),
        (
            "action developer error",
            "The action exited with code 3 (a wasm action ends with code 0)."
        )
    );
    assert!(
        exit["logs"][0]
            .as_str()
            .unwrap()
            .ends_with("stderr: giving up"),
        "{exit}"
    );

    let text = record(&server, "bad", json!({"mode": "text"})).await;
    let (status, message) = failure(&text);
    assert_eq!(status, "action developer error");
    assert!(
        message.contains("valid JSON object") && message.contains("this is not JSON"),
        "{message}"
    );

    let trap = record(&server, "bad", json!({"mode": "trap"})).await;
    let (status, message) = failure(&trap);
    assert_eq!(status, "action developer error");
    assert!(
        message.starts_with("The action trapped: ") && message.contains("unreachable"),
        "{message}"
    );

    // A failed activation leaves nothing behind: the next one runs normally.
    let fine = server.result("bad", json!({})).await;
    assert_eq!(fine, json!({"mode": "none"}));
}

#[tokio::test]
async fn limits_stop_an_infinite_loop_and_a_memory_hog() {
    let server = Server::start();
    wasm_action(
        &server,
        "hog",
        "misbehave",
        json!({"limits": {"timeout": 300, "memory": 128}}),
    )
    .await;

    let started = std::time::Instant::now();
    let looped = record(&server, "hog", json!({"mode": "loop"})).await;
    assert_eq!(
        failure(&looped),
        (
            "action developer error",
            "The action exceeded its time limits of 300 milliseconds."
        )
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        annotation(&looped, "timeout"),
        Some(&json!(true)),
        "{looped}"
    );

    // Its own time limit: touching 128 MB on a loaded machine can take longer than 300 ms, and
    // this is about the memory limit.
    wasm_action(
        &server,
        "grower",
        "misbehave",
        json!({"limits": {"timeout": 30000, "memory": 128}}),
    )
    .await;
    let grown = record(&server, "grower", json!({"mode": "grow"})).await;
    assert_eq!(
        failure(&grown),
        (
            "action developer error",
            "The action exhausted its memory and was aborted: it tried to grow past its limit of 128 MB."
        )
    );
}

#[tokio::test]
async fn a_guest_sees_no_host_files_and_only_its_own_environment() {
    let server = Server::start();
    wasm_action(
        &server,
        "peek",
        "misbehave",
        json!({"parameters": [{"key": "GREETING", "value": "hi", "init": true}]}),
    )
    .await;
    let read = server.result("peek", json!({"mode": "read"})).await;
    assert_eq!(read["opened"], false, "{read}");
    let env = server.result("peek", json!({"mode": "env"})).await;
    assert_eq!(
        env,
        json!({"home": "", "greeting": "hi", "namespace": "guest"})
    );
}

#[tokio::test]
async fn bad_binaries_are_refused_at_create_with_the_reason() {
    let server = Server::start();
    let cases = [
        (
            base64_of(b"definitely not wasm"),
            "not a WebAssembly binary",
        ),
        (
            base64_of(b"\0asm\x01\0\0\0\x01\x05"),
            "not valid WebAssembly",
        ),
        (base64_of(b"\0asm\x0d\0\x01\0"), "component"),
        (code("c/no_start"), "no `_start`"),
        (code("c/foreign_import"), "`env::launch_missiles`"),
        ("int main() {}".to_string(), "base64 of a .wasm file"),
    ];
    for (code, expected) in cases {
        let (status, body) = put_wasm(&server, "broken", &code, json!({})).await;
        assert_eq!(status, 400, "{expected}: {body}");
        let message = error_message(&body);
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let (status, _) = server.get("namespaces/_/actions/broken").await;
    assert_eq!(status, 404, "nothing was stored");
}

#[tokio::test]
async fn compiled_modules_are_reused_after_a_restart() {
    let mut server = Server::start();
    wasm_action(&server, "hello", "hello", json!({})).await;
    let before = artifacts(&server);
    assert_eq!(
        before.len(),
        1,
        "one artifact, written at create: {before:?}"
    );

    server.terminate();
    server.launch(&[]);

    // The first invoke after the restart loads the artifact (its initTime), compiles nothing
    // (the artifact is neither rewritten nor joined by another); the next one is warm.
    let first = record(&server, "hello", json!({"name": "Ada"})).await;
    assert_eq!(
        first["response"]["result"],
        json!({"greeting": "Hello, Ada!"})
    );
    assert!(annotation(&first, "initTime").is_some(), "{first}");
    assert_eq!(artifacts(&server), before);
    let second = record(&server, "hello", json!({"name": "Bob"})).await;
    assert!(annotation(&second, "initTime").is_none(), "{second}");
}

#[tokio::test]
async fn a_wasm_action_composes_with_node_in_a_sequence() {
    let server = Server::start();
    wasm_action(&server, "greet", "hello", json!({})).await;
    server
        .action(
            "upper",
            "nodejs:20",
            "function main(p) { return { name: p.who.toUpperCase() } }",
            json!({}),
        )
        .await;
    server
        .action(
            "shout",
            "nodejs:20",
            "function main(p) { return { shouted: p.greeting + '!!' } }",
            json!({}),
        )
        .await;
    let (status, body) = server
        .put(
            "namespaces/_/actions/pipeline",
            json!({"exec": {"kind": "sequence", "components": ["/_/upper", "/_/greet", "/_/shout"]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let result = server.result("pipeline", json!({"who": "ada"})).await;
    assert_eq!(result, json!({"shouted": "Hello, ADA!!!"}));
}

#[tokio::test]
async fn a_wasm_web_action_answers() {
    let server = Server::start();
    wasm_action(
        &server,
        "page",
        "hello",
        json!({"annotations": [{"key": "web-export", "value": true}]}),
    )
    .await;
    let response = server
        .http
        .get(format!(
            "{}/api/v1/web/guest/default/page.json?name=Web",
            server.api_host
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"greeting": "Hello, Web!"}));
}

#[tokio::test]
async fn an_update_after_a_restart_readies_the_new_revision_from_the_artifact() {
    let mut server = Server::start();
    wasm_action(&server, "hello", "hello", json!({})).await;
    let before = artifacts(&server);
    server.terminate();
    server.launch(&[]);

    // Only the parameters change. The new revision's program is loaded at the PUT, from the
    // artifact written at create (nothing compiles), so its first invoke is a warm one.
    let (status, body) = server
        .put(
            "namespaces/_/actions/hello?overwrite=true",
            json!({"parameters": [{"key": "name", "value": "Default"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let first = record(&server, "hello", json!({})).await;
    assert_eq!(
        first["response"]["result"],
        json!({"greeting": "Hello, Default!"})
    );
    assert!(annotation(&first, "initTime").is_none(), "{first}");
    assert_eq!(artifacts(&server), before);
}

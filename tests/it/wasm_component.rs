//! `wasm` actions whose code is a component of Wisp's world (`wit/wisp-function.wit`), through
//! the REST API and the CLI as a user would: the JavaScript examples under `examples/wasm/js`
//! (componentize-qjs) and the Rust ones under `examples/wasm/rust` (wit-bindgen), committed
//! as built by their `build.sh`.

use serde_json::{json, Value};

use crate::support::{admin_namespace, annotation, error_message, ok, Server};
use crate::wasm_support::{
    artifacts, base64_of, code, failure, logs, put_wasm_as, record, record_as,
};

/// PUTs a wasm action from the fixture `path` as `auth` (the guest when `None`).
async fn put_component(
    server: &Server,
    auth: Option<&str>,
    name: &str,
    path: &str,
    extra: Value,
) -> (u16, Value) {
    put_wasm_as(server, auth, name, &code(path), extra).await
}

async fn component(server: &Server, name: &str, path: &str, extra: Value) {
    let (status, body) = put_component(server, None, name, path, extra).await;
    assert_eq!(status, 200, "creating {name}: {body}");
    assert_eq!(body["exec"]["kind"], "wasm");
}

#[tokio::test]
async fn a_js_component_answers_with_its_result_and_logs() {
    let server = Server::start();
    component(&server, "hello", "js/hello", json!({})).await;

    let first = record(&server, "hello", json!({"name": "Ada"})).await;
    assert_eq!(first["response"]["status"], "success", "{first}");
    assert_eq!(
        first["response"]["result"],
        json!({"greeting": "Hello, Ada!", "activations": 1})
    );
    let lines = logs(&first);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(" stdout: greeting Ada"), "{}", lines[0]);
    assert!(
        lines[1].ends_with(" stderr: activation 1 of this instance"),
        "{}",
        lines[1]
    );
    assert_eq!(annotation(&first, "kind"), Some(&json!("wasm")));

    // Non-blocking: a 202, then the stored record.
    let (status, accepted) = server
        .post("namespaces/_/actions/hello", json!({"name": "Cy"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let stored = server
        .wait_for_activation(accepted["activationId"].as_str().unwrap())
        .await;
    assert_eq!(stored["response"]["result"]["greeting"], "Hello, Cy!");

    // The CLI takes the kind from the extension, as for a command.
    let path = format!("{}/examples/wasm/js/hello.wasm", env!("CARGO_MANIFEST_DIR"));
    ok(&server, &["action", "create", "hi", &path]);
    let out = ok(
        &server,
        &["action", "invoke", "hi", "-p", "name", "Bob", "--result"],
    );
    assert!(out.contains("Hello, Bob!"), "{out}");
}

#[tokio::test]
async fn warm_instances_keep_their_globals_and_fresh_ones_start_over() {
    let server = Server::start();
    component(&server, "warm", "js/hello", json!({})).await;
    component(
        &server,
        "fresh",
        "js/hello",
        json!({"annotations": [{"key": "wasm-fresh-instance", "value": true}]}),
    )
    .await;

    // One instance serves activation after activation: its global counts them, and only
    // the activation that created it has an initTime.
    for n in 1..=3 {
        let warm = record(&server, "warm", json!({})).await;
        assert_eq!(warm["response"]["result"]["activations"], n, "{warm}");
        assert_eq!(
            annotation(&warm, "initTime").is_some(),
            n == 1,
            "initTime exactly when an instance was made: {warm}"
        );
    }
    // Every activation gets a new instance: the global stays 1, and each has an initTime.
    for _ in 0..3 {
        let fresh = record(&server, "fresh", json!({})).await;
        assert_eq!(fresh["response"]["result"]["activations"], 1, "{fresh}");
        assert!(annotation(&fresh, "initTime").is_some(), "{fresh}");
    }
    // An update is a new revision: a new instance, its globals from scratch.
    component(&server, "warm", "js/hello", json!({})).await;
    let updated = record(&server, "warm", json!({})).await;
    assert_eq!(updated["response"]["result"]["activations"], 1, "{updated}");
}

#[tokio::test]
async fn a_js_counter_keeps_its_count_in_the_namespace_key_value_store() {
    let server = Server::start();
    component(&server, "counter", "js/counter", json!({})).await;
    for n in 1..=3 {
        let result = server.result("counter", json!({"key": "visits"})).await;
        assert_eq!(result, json!({"key": "visits", "count": n}));
    }
    // The same key as the REST API and `wisp kv` see.
    let (status, body) = server.get("namespaces/_/kv/visits").await;
    assert_eq!((status, &body["value"]), (200, &json!("3")), "{body}");
    assert_eq!(ok(&server, &["kv", "get", "visits"]), "3\n");
    ok(&server, &["kv", "set", "visits", "41"]);
    let result = server.result("counter", json!({"key": "visits"})).await;
    assert_eq!(result["count"], 42);

    // A refusal from the store is the guest's to handle: this one returns it as `err`.
    ok(&server, &["kv", "set", "name", "Ada"]);
    let refused = record(&server, "counter", json!({"key": "name"})).await;
    let (status, message) = failure(&refused);
    assert_eq!(status, "application error", "{refused}");
    assert!(message.starts_with("not-a-number: "), "{message}");

    // Another namespace's activations reach only its own keys, under the same names.
    let tenant = admin_namespace(&server, "tenant");
    let (status, body) =
        put_component(&server, Some(&tenant), "counter", "js/counter", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let theirs = record_as(&server, Some(&tenant), "counter", json!({"key": "visits"})).await;
    assert_eq!(theirs["response"]["result"]["count"], 1, "{theirs}");
    let (_, ours) = server.get("namespaces/_/kv/visits").await;
    assert_eq!(ours["value"], "42");

    ok(&server, &["kv", "set", "secret", "s3cret"]);
    let (status, body) =
        put_component(&server, Some(&tenant), "probe", "rust/probe", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let peek = record_as(
        &server,
        Some(&tenant),
        "probe",
        json!({"op": "get", "key": "secret"}),
    )
    .await;
    assert_eq!(peek["response"]["result"], json!({"value": null}), "{peek}");
    component(&server, "probe", "rust/probe", json!({})).await;
    let own = server
        .result("probe", json!({"op": "get", "key": "secret"}))
        .await;
    assert_eq!(own, json!({"value": "s3cret"}));
}

#[tokio::test]
async fn the_state_imports_reach_keys_and_data_objects() {
    let server = Server::start();
    component(&server, "probe", "rust/probe", json!({})).await;
    ok(&server, &["kv", "set", "app/other", "x"]);
    let kv = server
        .result(
            "probe",
            json!({"op": "kv", "key": "app/probe", "value": "v1", "prefix": "app/"}),
        )
        .await;
    assert_eq!(
        kv,
        json!({"read": "v1", "keys": ["app/other", "app/probe"], "deleted": true, "gone": true})
    );

    let objects = server
        .result(
            "probe",
            json!({"op": "objects", "key": "notes/probe.txt", "value": "written by a guest"}),
        )
        .await;
    assert_eq!(
        objects,
        json!({"read": "written by a guest", "keys": ["notes/probe.txt"]})
    );
    // The same data bucket the REST API serves.
    let response = server
        .request(reqwest::Method::GET, "namespaces/_/objects/notes/probe.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "written by a guest");
    let removed = server
        .result("probe", json!({"op": "rm", "key": "notes/probe.txt"}))
        .await;
    assert_eq!(removed, json!({"deleted": true}));
    let (status, _) = server.get("namespaces/_/objects/notes/probe.txt").await;
    assert_eq!(status, 404);

    // A key the store refuses is the guest's error to handle (the probe returns it).
    let bad = record(
        &server,
        "probe",
        json!({"op": "objects", "key": "../escape"}),
    )
    .await;
    let (status, message) = failure(&bad);
    assert_eq!(status, "application error", "{bad}");
    assert!(message.starts_with("invalid: "), "{message}");
}

#[tokio::test]
async fn a_component_importing_an_interface_outside_the_world_is_refused_at_create() {
    let server = Server::start();
    let (status, body) = put_component(&server, None, "foreign", "rust/foreign", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let message = error_message(&body);
    assert!(message.contains("acme:payments/charge"), "{message}");
    let (status, _) = server.get("namespaces/_/actions/foreign").await;
    assert_eq!(status, 404, "nothing was stored");

    // Bytes that only look like a component.
    let junk = base64_of(b"\0asm\x0d\0\x01\0\x07\x03");
    let (status, body) = server
        .put(
            "namespaces/_/actions/junk",
            json!({"exec": {"kind": "wasm", "code": junk, "binary": true}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        error_message(&body).contains("not a valid WebAssembly component"),
        "{body}"
    );
}

#[tokio::test]
async fn traps_exits_and_bad_results_are_developer_errors_and_err_an_application_error() {
    let server = Server::start();
    component(&server, "probe", "rust/probe", json!({})).await;
    assert_eq!(
        server.result("probe", json!({})).await,
        json!({"activations": 1})
    );

    let trap = record(&server, "probe", json!({"op": "trap"})).await;
    let (status, message) = failure(&trap);
    assert_eq!(status, "action developer error");
    assert!(
        message.starts_with("The action trapped: ") && message.contains("unreachable"),
        "{message}"
    );
    assert!(
        logs(&trap)
            .iter()
            .any(|l| l.contains("stderr: ") && l.contains("the probe was asked to trap")),
        "the panic message is in the logs: {trap}"
    );
    // The trapped instance is gone: the next activation gets a new one.
    let after = record(&server, "probe", json!({})).await;
    assert_eq!(after["response"]["result"], json!({"activations": 1}));
    assert!(annotation(&after, "initTime").is_some(), "{after}");

    // `exit(3)`: WASI 0.2's exit carries only success or failure, and failure is code 1.
    let exit = record(&server, "probe", json!({"op": "exit"})).await;
    assert_eq!(
        failure(&exit),
        (
            "action developer error",
            "The action exited with code 1 instead of returning from handle."
        )
    );
    let text = record(&server, "probe", json!({"op": "text"})).await;
    assert_eq!(
        failure(&text),
        (
            "action developer error",
            "The action did not return a valid JSON object: this is not JSON."
        )
    );
    let fail = record(&server, "probe", json!({"op": "fail"})).await;
    assert_eq!(
        failure(&fail),
        ("application error", "the probe failed on purpose after 1"),
        "{fail}"
    );
    // An application error keeps the instance, as it keeps a warm container.
    let kept = server.result("probe", json!({})).await;
    assert_eq!(kept, json!({"activations": 2}));
}

#[tokio::test]
async fn limits_and_the_sandbox_hold_for_components() {
    let server = Server::start();
    component(
        &server,
        "probe",
        "rust/probe",
        json!({
            "limits": {"timeout": 300, "memory": 128},
            "parameters": [{"key": "GREETING", "value": "hi", "init": true}],
        }),
    )
    .await;
    let looped = record(&server, "probe", json!({"op": "loop"})).await;
    assert_eq!(
        failure(&looped),
        (
            "action developer error",
            "The action exceeded its time limits of 300 milliseconds."
        )
    );
    assert_eq!(annotation(&looped, "timeout"), Some(&json!(true)));

    // A time limit of its own that the memory limit comes well before, even on a busy machine.
    component(
        &server,
        "hog",
        "rust/probe",
        json!({"limits": {"timeout": 20000, "memory": 128}}),
    )
    .await;
    let grown = record(&server, "hog", json!({"op": "grow"})).await;
    assert_eq!(
        failure(&grown),
        (
            "action developer error",
            "The action exhausted its memory and was aborted: it tried to grow past its limit of 128 MB."
        )
    );

    let file = server.result("probe", json!({"op": "file"})).await;
    assert_eq!(file["read"], false, "{file}");
    let socket = server
        .result("probe", json!({"op": "socket", "port": "3233"}))
        .await;
    assert_eq!(socket["connected"], false, "{socket}");
    let env = server.result("probe", json!({"op": "env"})).await;
    assert_eq!(
        (&env["home"], &env["greeting"]),
        (&json!(""), &json!("hi")),
        "{env}"
    );
}

#[tokio::test]
async fn a_compiled_component_is_reused_after_a_restart() {
    let mut server = Server::start();
    component(&server, "hello", "js/hello", json!({})).await;
    let before = artifacts(&server);
    assert_eq!(before.len(), 1, "{before:?}");

    server.terminate();
    server.launch(&[]);
    let first = record(&server, "hello", json!({"name": "Ada"})).await;
    assert_eq!(first["response"]["result"]["greeting"], "Hello, Ada!");
    assert!(annotation(&first, "initTime").is_some(), "{first}");
    assert_eq!(artifacts(&server), before, "loaded, not compiled again");
}

#[tokio::test]
async fn declared_state_reaches_a_component_through_params_and_result() {
    let server = Server::start();
    let state = json!({"read": ["greeting"], "write": ["tally"]});
    component(
        &server,
        "tally",
        "js/tally",
        json!({"annotations": [{"key": "state", "value": state}]}),
    )
    .await;
    ok(&server, &["kv", "set", "greeting", "hi"]);
    for n in 1..=3 {
        let result = server.result("tally", json!({})).await;
        assert_eq!(result, json!({"tally": n, "greeting": "hi"}), "no __state");
    }
    let (_, stored) = server.get("namespaces/_/kv/tally").await;
    assert_eq!(stored["value"], "3");

    // Concurrent activations (several warm instances) lose no write: the platform's
    // compare-and-swap retries a run that lost the race.
    let mut tallies: Vec<i64> = server
        .invoke_concurrently("tally", json!({}), 12)
        .await
        .iter()
        .map(|r| r["tally"].as_i64().expect("a tally"))
        .collect();
    tallies.sort();
    assert_eq!(tallies, (4..=15).collect::<Vec<i64>>());
    let (_, stored) = server.get("namespaces/_/kv/tally").await;
    assert_eq!(stored["value"], "15");
    // A read key is not the component's to write.
    let (_, greeting) = server.get("namespaces/_/kv/greeting").await;
    assert_eq!(greeting["value"], "hi");
}

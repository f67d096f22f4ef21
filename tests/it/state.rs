//! Declared state: actions that name, in their `state` annotation, the keys they read and
//! write; the platform loads them into `__state` before the run and writes back what the
//! result returns under `__state`, atomically and with optimistic concurrency.

use serde_json::{json, Value};

use crate::support::{annotation, error_message, json_of, ok, source, stderr, Server};

/// A counter with no SDK code at all: it reads `__state.keys.counter`, returns the next value.
const COUNTER: &str = r#"
function main(args) {
  const next = (args.__state.keys.counter || 0) + 1;
  return { count: next, __state: { keys: { counter: next } } };
}"#;

async fn declaring(server: &Server, name: &str, code: &str, state: Value) -> Value {
    server
        .action(
            name,
            "nodejs:20",
            code,
            json!({"annotations": [{"key": "state", "value": state}]}),
        )
        .await
}

async fn stored(server: &Server, key: &str) -> Value {
    let (status, body) = server.get(&format!("namespaces/_/kv/{key}")).await;
    match status {
        200 => body["value"].clone(),
        404 => Value::Null,
        _ => panic!("reading {key}: {status} {body}"),
    }
}

async fn record_of(server: &Server, body: &Value) -> Value {
    let id = body["activationId"].as_str().expect("an activation id");
    server.wait_for_activation(id).await
}

#[tokio::test]
async fn a_declared_counter_invoked_concurrently_ends_at_the_exact_count() {
    let server = Server::start();
    declaring(&server, "counter", COUNTER, json!({"write": ["counter"]})).await;

    let mut counts = Vec::new();
    for _ in 0..10 {
        for result in server.invoke_concurrently("counter", json!({}), 20).await {
            assert!(
                result.get("__state").is_none(),
                "the caller never sees __state: {result}"
            );
            counts.push(result["count"].as_i64().expect("a count"));
        }
    }
    assert_eq!(stored(&server, "counter").await, "200");
    counts.sort();
    assert_eq!(
        counts,
        (1..=200).collect::<Vec<i64>>(),
        "each run saw the one before it"
    );
}

#[tokio::test]
async fn keys_are_named_by_parameters_and_the_record_notes_names_not_values() {
    let server = Server::start();
    let code = r#"
function main(args) {
  const keys = args.__state.keys;
  const key = 'session:' + args.user;
  const visits = ((keys[key] || {}).visits || 0) + 1;
  return { visits, greeting: keys.greeting, __state: { keys: { [key]: { visits } } } };
}"#;
    let state = json!({"read": ["greeting"], "write": ["session:{user}"]});
    declaring(&server, "session", code, state).await;
    server
        .put("namespaces/_/kv/greeting", json!({"value": "hello"}))
        .await;

    for expected in 1..=2 {
        let result = server.result("session", json!({"user": "ada"})).await;
        assert_eq!(result, json!({"visits": expected, "greeting": "hello"}));
    }
    assert_eq!(
        server.result("session", json!({"user": "bob"})).await["visits"],
        1
    );
    assert_eq!(stored(&server, "session:ada").await, r#"{"visits":2}"#);

    let (_, body) = server.invoke("session", json!({"user": "ada"})).await;
    let note = annotation(&record_of(&server, &body).await, "state")
        .cloned()
        .expect("a state annotation");
    assert_eq!(note["read"], json!(["greeting", "session:ada"]));
    assert_eq!(note["written"], json!(["session:ada"]));
    assert_eq!(note["attempts"], 1);
    assert!(
        note["preTime"].is_u64() && note["postTime"].is_u64(),
        "{note}"
    );
    assert!(
        !note.to_string().contains("hello"),
        "values stay out of the record: {note}"
    );

    // A key that needs a parameter the invoke did not give.
    let (status, body) = server.invoke("session", json!({})).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["response"]["result"]["error"],
        "the state key 'session:{user}' needs the parameter 'user'"
    );
}

#[tokio::test]
async fn a_function_that_fails_or_writes_an_undeclared_key_writes_nothing() {
    let server = Server::start();
    let code = r#"
function main(args) {
  const write = { counter: 99, [args.key || 'counter']: 99 };
  if (args.how === 'throw') throw new Error('boom');
  if (args.how === 'exit') process.exit(3);
  if (args.how === 'error') return { error: 'refused', __state: { keys: write } };
  return { __state: { keys: write } };
}"#;
    declaring(&server, "careless", code, json!({"write": ["counter"]})).await;
    server
        .put("namespaces/_/kv/counter", json!({"value": "1"}))
        .await;

    for how in ["throw", "exit", "error"] {
        let (status, body) = server.invoke("careless", json!({"how": how})).await;
        assert_eq!(status, 502, "{how}: {body}");
        assert!(
            body["response"]["result"].get("__state").is_none(),
            "{body}"
        );
        assert_eq!(stored(&server, "counter").await, "1", "{how} wrote state");
    }
    let (status, body) = server.invoke("careless", json!({"key": "other"})).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["response"]["status"], "action developer error");
    assert!(
        body["response"]["result"]["error"]
            .as_str()
            .unwrap()
            .contains("writes the key 'other', which the action does not declare"),
        "{body}"
    );
    assert_eq!(stored(&server, "counter").await, "1");
    assert_eq!(stored(&server, "other").await, Value::Null);
}

/// Reads the counter, waits long enough for the test to change it behind its back, then
/// writes its increment.
const SLOW_COUNTER: &str = r#"
async function main(args) {
  const seen = args.__state.keys.counter || 0;
  await new Promise(r => setTimeout(r, args.wait || 0));
  return { seen, __state: { keys: { counter: seen + 1 } } };
}"#;

#[tokio::test]
async fn a_conflicting_write_back_is_retried_or_reported_as_declared() {
    let server = Server::start();
    declaring(
        &server,
        "retrying",
        SLOW_COUNTER,
        json!({"write": ["counter"]}),
    )
    .await;
    let fail = json!({"write": ["counter"], "onConflict": "fail"});
    declaring(&server, "failing", SLOW_COUNTER, fail).await;
    let kv = "namespaces/_/kv/counter";
    server.put(kv, json!({"value": "10"})).await;

    // Retry: the first run saw 10, the key became 50 meanwhile, the second run sees 50.
    let run = server.invoke("retrying", json!({"wait": 1500}));
    let meddle = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        server.put(kv, json!({"value": "50"})).await
    };
    let ((status, body), _) = tokio::join!(run, meddle);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["result"], json!({"seen": 50}));
    assert_eq!(annotation(&body, "state").unwrap()["attempts"], 2);
    assert_eq!(stored(&server, "counter").await, "51");

    // Fail: the same race ends in an error and the other writer's value stays.
    let run = server.invoke("failing", json!({"wait": 1500}));
    let meddle = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        server.put(kv, json!({"value": "7"})).await
    };
    let ((status, body), _) = tokio::join!(run, meddle);
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["response"]["status"], "application error");
    assert!(
        body["response"]["result"]["error"]
            .as_str()
            .unwrap()
            .starts_with("A declared key changed while the activation ran"),
        "{body}"
    );
    assert_eq!(stored(&server, "counter").await, "7");
}

#[tokio::test]
async fn a_malformed_declaration_is_refused_when_the_action_is_written() {
    let server = Server::start();
    let put = |state: Value| {
        let body = json!({
            "exec": {"kind": "nodejs:20", "code": COUNTER},
            "annotations": [{"key": "state", "value": state}],
        });
        server.put("namespaces/_/actions/bad?overwrite=true", body)
    };
    let (status, body) = put(json!({"write": ["session:{user"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        error_message(&body).contains("has a '{' without a '}'"),
        "{body}"
    );
    let (status, body) = put(json!({"writes": ["x"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        error_message(&body).contains("unknown field 'writes'"),
        "{body}"
    );
    let (status, body) = put(json!({"write": ["counter"]})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_cli_declares_state_and_shares_keys_with_redis_clients() {
    let server = Server::start();
    let file = source(
        &server,
        "visits.js",
        r#"
function main(args) {
  const key = `visits:${args.page}`;
  const count = (args.__state.keys[key] || 0) + 1;
  return { count, __state: { keys: { [key]: count } } };
}"#,
    );
    let state = r#"{"write": ["visits:{page}"]}"#;
    ok(
        &server,
        &["action", "create", "visits", &file, "-a", "state", state],
    );
    // A value kept by INCR elsewhere reads as a number, and the function's write is one INCR
    // can go on from.
    ok(&server, &["kv", "incr", "visits:home", "--by", "41"]);
    let out = ok(
        &server,
        &[
            "action", "invoke", "visits", "-p", "page", "home", "--result",
        ],
    );
    assert_eq!(json_of(&out)["count"], 42);
    assert_eq!(ok(&server, &["kv", "get", "visits:home"]), "42\n");
    assert_eq!(ok(&server, &["kv", "incr", "visits:home"]).trim(), "43");
    let out = ok(
        &server,
        &[
            "action", "invoke", "visits", "-p", "page", "home", "--result",
        ],
    );
    assert_eq!(json_of(&out)["count"], 44);

    let out = server.cli(&[
        "action",
        "update",
        "visits",
        "-a",
        "state",
        r#"{"write": "x"}"#,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("must be an array of strings"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn acknowledged_declared_writes_survive_kill_9() {
    let mut server = Server::start();
    declaring(&server, "counter", COUNTER, json!({"write": ["counter"]})).await;
    for n in 1..=5 {
        assert_eq!(server.result("counter", json!({})).await["count"], n);
    }
    server.kill9();
    server.launch(&[]);
    assert_eq!(server.result("counter", json!({})).await["count"], 6);
}

/// Reads its declared model file and answers its content and where it was.
const MODEL_READER: &str = r#"
const fs = require('fs');
function main(args) {
  const path = args.__state.files['models/tiny.bin'];
  return { path, content: fs.readFileSync(path, 'utf8') };
}"#;

async fn put_object(server: &Server, key: &str, content: &str) {
    let request = server.request(reqwest::Method::PUT, &format!("namespaces/_/objects/{key}"));
    let (status, body) = server.send(request.body(content.to_string())).await;
    assert_eq!(status, 200, "{body}");
}

/// `count` blocking invokes of `action`, `at_once` at a time; their full records.
async fn records(server: &Server, action: &str, count: usize, at_once: usize) -> Vec<Value> {
    let mut records = Vec::new();
    while records.len() < count {
        let mut runs = tokio::task::JoinSet::new();
        for _ in 0..at_once.min(count - records.len()) {
            let request = server
                .request(
                    reqwest::Method::POST,
                    &format!("namespaces/_/actions/{action}?blocking=true"),
                )
                .json(&json!({}));
            runs.spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() });
        }
        while let Some(done) = runs.join_next().await {
            let body = done.unwrap();
            records.push(
                server
                    .wait_for_activation(body["activationId"].as_str().unwrap())
                    .await,
            );
        }
    }
    records
}

#[tokio::test]
async fn a_declared_file_is_fetched_once_per_host_and_again_when_it_changes() {
    let server = Server::start();
    put_object(&server, "models/tiny.bin", "weights v1").await;
    let state = json!({"files": ["models/tiny.bin"]});
    declaring(&server, "classify", MODEL_READER, state.clone()).await;
    // A second action declaring the same file shares the host's copy.
    declaring(&server, "classify2", MODEL_READER, state).await;

    let runs = records(&server, "classify", 100, 10).await;
    let mut fetches = 0;
    for record in &runs {
        assert_eq!(
            record["response"]["result"]["content"], "weights v1",
            "{record}"
        );
        let note = annotation(record, "state").unwrap();
        assert!(
            note["files"]["models/tiny.bin"].is_string(),
            "the version is noted: {note}"
        );
        fetches += note["fetched"].as_array().unwrap().len();
    }
    assert_eq!(fetches, 1, "100 activations fetched the object once");
    let (_, body) = server.invoke("classify2", json!({})).await;
    let record = record_of(&server, &body).await;
    assert_eq!(annotation(&record, "state").unwrap()["fetched"], json!([]));
    let first_path = record["response"]["result"]["path"].clone();

    // Replaced: fetched again, at a new path, with the new content.
    put_object(&server, "models/tiny.bin", "weights v2").await;
    let (_, body) = server.invoke("classify", json!({})).await;
    let record = record_of(&server, &body).await;
    assert_eq!(record["response"]["result"]["content"], "weights v2");
    assert_ne!(record["response"]["result"]["path"], first_path);
    assert_eq!(
        annotation(&record, "state").unwrap()["fetched"],
        json!(["models/tiny.bin"])
    );

    // An object that is not there ends the activation with the reason.
    let missing = json!({"files": ["models/absent.bin"]});
    declaring(&server, "lost", MODEL_READER, missing).await;
    let (status, body) = server.invoke("lost", json!({})).await;
    assert_eq!(status, 502, "{body}");
    let error = body["response"]["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("The declared file 'models/absent.bin' cannot be read"),
        "{error}"
    );
}

#[tokio::test]
async fn a_web_action_declares_state_and_its_callers_never_see_it() {
    let server = Server::start();
    let code = r#"
function main(args) {
  const key = `visits:${args.page}`;
  const count = (args.__state.keys[key] || 0) + 1;
  return { body: `visit number ${count}`, __state: { keys: { [key]: count } } };
}"#;
    let annotations = json!([
        {"key": "state", "value": {"write": ["visits:{page}"]}},
        {"key": "web-export", "value": true},
    ]);
    server
        .action(
            "visits",
            "nodejs:20",
            code,
            json!({"annotations": annotations}),
        )
        .await;
    let url = format!(
        "{}/api/v1/web/guest/default/visits?page=home",
        server.api_host
    );
    for n in 1..=3 {
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), format!("visit number {n}"));
    }
    // A caller's own `__state` is replaced by the loaded one, never trusted.
    let forged = format!("{url}&__state=x");
    let response = server.http.get(&forged).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "visit number 4");
    assert_eq!(stored(&server, "visits:home").await, "4");
}

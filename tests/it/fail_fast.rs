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
    let error = crate::support::developer_error_of(name, status, &record);
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

/// A result nested 200 deep: fine for the runtime's own JSON, past serde_json's 128.
const DEEP_JS: &str = "o = {}; for (let i = 0; i < 200; i++) o = { a: o }; return o";
/// A lone UTF-16 surrogate: `JSON.stringify` writes it as the escape `\ud800`.
const SURROGATE_JS: &str = "return { s: '\\ud800' }";
const DEEP_PY: &str = "o = {}\n    for i in range(200):\n        o = {'a': o}\n    return o";
/// `json.dumps` writes `NaN`, which is not JSON.
const NAN_PY: &str = "return {'x': float('nan')}";

const PARSE_ERROR: &str = "The action did not produce a valid JSON response: ";

#[tokio::test]
async fn results_the_server_cannot_parse_end_at_once_as_developer_errors() {
    let server = Server::start();
    let timeout = json!({"limits": {"timeout": 30_000}});
    let cases = [
        (
            "deepjs",
            "nodejs:20",
            format!("function main() {{ let {DEEP_JS} }}"),
            "recursion limit exceeded",
        ),
        (
            "surrogatejs",
            "nodejs:20",
            format!("function main() {{ {SURROGATE_JS} }}"),
            "hex escape at line 1",
        ),
        (
            "deeppy",
            "python:3",
            format!("def main(a):\n    {DEEP_PY}"),
            "recursion limit exceeded",
        ),
        (
            "nanpy",
            "python:3",
            format!("def main(a):\n    {NAN_PY}"),
            "{\"x\":NaN}",
        ),
    ];
    for (name, kind, code, why) in cases {
        server.action(name, kind, &code, timeout.clone()).await;
        let (record, error) = fails_fast(&server, name, Duration::from_secs(15)).await;
        assert!(error.starts_with(PARSE_ERROR), "{name}: {record}");
        assert!(error.contains(why), "{name}: {error}");
        assert_eq!(
            crate::support::annotation(&record, "timeout"),
            Some(&json!(false)),
            "{name}"
        );
    }

    // Python cannot even write a lone surrogate as UTF-8: its launcher says so at once.
    let code = "def main(a):\n    return {'s': '\\ud800'}";
    server
        .action("surrogatepy", "python:3", code, timeout.clone())
        .await;
    let (record, error) = fails_fast(&server, "surrogatepy", Duration::from_secs(15)).await;
    assert!(
        error.starts_with("The action did not produce a valid JSON response")
            && error.contains("surrogates not allowed"),
        "{record}"
    );

    // The platform serves on, and so does each action when its output is good.
    let (status, _) = server.invoke("surrogatepy", json!({})).await;
    assert_eq!(status, 502);
    server
        .action(
            "fine",
            "nodejs:20",
            "function main() { return { fine: true } }",
            json!({}),
        )
        .await;
    assert_eq!(
        server.result("fine", json!({})).await,
        json!({"fine": true})
    );
}

/// With several activations in flight on one process, an unparsable reply ends the one that
/// wrote it: the id is read from the line without parsing the result.
#[tokio::test]
async fn an_unparsable_result_ends_its_own_activation_among_concurrent_ones() {
    let server = Server::start();
    let node = format!(
        "async function main(p) {{\n\
           if (p.bad === 'deep') {{ let {DEEP_JS} }}\n\
           if (p.bad === 'surrogate') {{ {SURROGATE_JS} }}\n\
           await new Promise(resolve => setTimeout(resolve, p.wait || 0));\n\
           return {{ ok: true }}\n\
         }}"
    );
    let python = format!(
        "import time\n\
         def main(p):\n\
         \x20   if p.get('bad') == 'deep':\n\
         \x20       {}\n\
         \x20   if p.get('bad') == 'nan':\n\
         \x20       {NAN_PY}\n\
         \x20   time.sleep(p.get('wait', 0) / 1000)\n\
         \x20   return {{'ok': True}}",
        DEEP_PY.replace("\n    ", "\n        ")
    );
    let cases = [
        (
            "nodejs:20",
            node.as_str(),
            "deep",
            "recursion limit exceeded",
        ),
        (
            "nodejs:20",
            node.as_str(),
            "surrogate",
            "hex escape at line 1",
        ),
        (
            "python:3",
            python.as_str(),
            "deep",
            "recursion limit exceeded",
        ),
        ("python:3", python.as_str(), "nan", "{\"x\":NaN}"),
    ];
    for (i, (kind, code, bad, why)) in cases.into_iter().enumerate() {
        let name = format!("concurrent{i}");
        let limits = json!({"limits": {"timeout": 30_000, "concurrency": 4}});
        server.action(&name, kind, code, limits).await;
        // A warm process, then a slow activation on it and a bad one beside it.
        assert_eq!(server.result(&name, json!({})).await, json!({"ok": true}));
        let slow = server
            .request(
                reqwest::Method::POST,
                &format!("namespaces/_/actions/{name}?blocking=true"),
            )
            .json(&json!({"wait": 1500}))
            .send();
        let slow = tokio::spawn(slow);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let (status, record) = server
            .post(
                &format!("namespaces/_/actions/{name}?blocking=true"),
                json!({"bad": bad}),
            )
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name} {bad}: {record}"
        );
        assert_eq!(status, 502, "{name} {bad}: {record}");
        let error = record["response"]["result"]["error"].as_str().unwrap();
        assert!(error.starts_with(PARSE_ERROR), "{name} {bad}: {record}");
        assert!(error.contains(why), "{name} {bad}: {error}");
        // The slow one ends too (a developer error retires the process it shared).
        let slow = slow.await.unwrap().unwrap();
        assert!([200, 502].contains(&slow.status().as_u16()));
    }
}

/// Printing in a tight loop fills the log limit, which cuts the logs: the activation is not
/// killed for the memory its unread logs took.
#[tokio::test]
async fn a_log_flood_is_truncated_at_the_log_limit() {
    let server = Server::start();
    let line = "x".repeat(100);
    let node = format!(
        "function main() {{\n\
           const end = Date.now() + 3000;\n\
           let lines = 0;\n\
           while (Date.now() < end) {{ console.log('{line}'); lines++; }}\n\
           return {{ lines }}\n\
         }}"
    );
    let python = format!(
        "import time\n\
         def main(a):\n\
         \x20   end = time.time() + 3\n\
         \x20   lines = 0\n\
         \x20   while time.time() < end:\n\
         \x20       print('{line}')\n\
         \x20       lines += 1\n\
         \x20   return {{'lines': lines}}"
    );
    // The default limits: 10 MB of logs, 256 MB of memory.
    for (name, kind, code) in [
        ("floodjs", "nodejs:20", node),
        ("floodpy", "python:3", python),
    ] {
        server.action(name, kind, &code, json!({})).await;
        let (status, record) = server.invoke(name, json!({})).await;
        assert_eq!(status, 200, "{name}: {}", record["response"]);
        let lines = record["response"]["result"]["lines"].as_u64().unwrap();
        let stored = server
            .wait_for_activation(record["activationId"].as_str().unwrap())
            .await;
        let logs = stored["logs"].as_array().unwrap();
        assert_eq!(
            logs.last().unwrap(),
            "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes.",
            "{name}"
        );
        assert!(
            (logs.len() as u64) < lines,
            "{name}: {} of {lines} lines kept",
            logs.len()
        );
    }
}

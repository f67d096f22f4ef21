//! Misbehaving functions end with the right status; the platform and the next invocation carry on.

use serde_json::{json, Value};

use crate::support::{annotation, Server};

/// Creates `name`, invokes it blocking, checks it ended as a developer error (502) and returns
/// the record with its error message.
async fn developer_error(
    server: &Server,
    name: &str,
    kind: &str,
    code: &str,
    extra: Value,
) -> (Value, String) {
    server.action(name, kind, code, extra).await;
    let (status, record) = server.invoke(name, json!({})).await;
    let error = crate::support::developer_error_of(name, status, &record);
    (record, error)
}

fn has_annotation(record: &Value, key: &str, value: Option<Value>) -> bool {
    annotation(record, key).is_some_and(|found| value.as_ref().is_none_or(|v| found == v))
}

#[tokio::test]
async fn timeouts_crashes_syntax_errors_and_memory_hogs_are_contained() {
    let server = Server::start();
    let ok = "function main(){ return {fine: true} }";
    server.action("ok", "nodejs:20", ok, json!({})).await;

    let spin = "function main(){ console.log('spinning'); while(true){} }";
    let timeout = json!({"limits": {"timeout": 300}});
    let (record, error) = developer_error(&server, "loop", "nodejs:20", spin, timeout).await;
    assert_eq!(
        error,
        "The action exceeded its time limits of 300 milliseconds."
    );
    assert!(has_annotation(&record, "timeout", Some(json!(true))));
    let stored = server
        .wait_for_activation(record["activationId"].as_str().unwrap())
        .await;
    assert!(
        stored["logs"][0]
            .as_str()
            .unwrap()
            .ends_with("stdout: spinning"),
        "logs before a timeout are kept: {stored}"
    );

    let (record, error) = developer_error(
        &server,
        "syntax",
        "nodejs:20",
        "function main( {",
        json!({}),
    )
    .await;
    assert!(error.contains("SyntaxError"), "{record}");
    assert!(has_annotation(&record, "initTime", None));

    let no_main = "def other(a):\n    return a";
    let (record, error) = developer_error(&server, "nomain", "python:3", no_main, json!({})).await;
    assert!(error.contains("'main'"), "{record}");

    let bad_python = "def main(a:\n  return";
    let (record, error) =
        developer_error(&server, "pysyntax", "python:3", bad_python, json!({})).await;
    assert!(error.contains("SyntaxError"), "{record}");

    let exited = "The action did not produce a valid response and exited unexpectedly.";
    let node_exit = "function main(){ process.exit(1) }";
    let (_, error) = developer_error(&server, "exits", "nodejs:20", node_exit, json!({})).await;
    assert_eq!(error, exited);
    let python_exit = "import os\ndef main(a):\n    os._exit(3)";
    let (_, error) = developer_error(&server, "pyexit", "python:3", python_exit, json!({})).await;
    assert_eq!(error, exited);

    let throws = "function main(){ throw new Error('sync') }";
    let (_, error) = developer_error(&server, "throws", "nodejs:20", throws, json!({})).await;
    assert!(
        error.starts_with("An error has occurred: Error: sync"),
        "{error}"
    );

    let scalar = "function main(){ return 42 }";
    let (_, error) = developer_error(&server, "scalar", "nodejs:20", scalar, json!({})).await;
    assert_eq!(error, "The action did not return a dictionary.");

    let flood = "def main(a):\n    for i in range(5000):\n        print('x' * 1000)\n    return {'ok': True}";
    server
        .action("flood", "python:3", flood, json!({"limits": {"logs": 1}}))
        .await;
    let (status, record) = server.invoke("flood", json!({})).await;
    assert_eq!(status, 200);
    let stored = server
        .wait_for_activation(record["activationId"].as_str().unwrap())
        .await;
    let logs = stored["logs"].as_array().unwrap();
    assert!(logs.len() < 1100, "logs are capped at 1 MB");
    assert_eq!(
        logs.last().unwrap(),
        "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
    );

    // After all that, the platform still serves, and the misbehaving actions recover too.
    let (status, record) = server.invoke("ok", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(record["response"]["result"], json!({"fine": true}));
    let (status, _) = server.invoke("loop", json!({})).await;
    assert_eq!(
        status, 502,
        "a fresh process times out again, it does not hang"
    );
}

const NODE_HOG: &str =
    "function main(){ const keep = []; while(true){ keep.push(Buffer.alloc(4 << 20, 1)) } }";
const PYTHON_HOG: &str =
    "def main(a):\n    keep = []\n    while True:\n        keep.append(bytearray(4 << 20))\n";
/// Reports the memory limit of the cgroup the function runs in (v1 memory controller).
/// Reports the memory cgroup the function runs in (its sandbox has no `/sys`: the test reads
/// the limit from the host).
const CGROUP_LIMIT: &str = r#"
def main(a):
    for line in open('/proc/self/cgroup'):
        _, controllers, path = line.strip().split(':', 2)
        if 'memory' in controllers.split(','):
            return {'path': path}
    return {'path': None}
"#;

/// Whether this host lets a process create memory cgroups under its own (cgroup v1).
fn host_has_memory_cgroups() -> bool {
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return false;
    };
    let Some(path) = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    }) else {
        return false;
    };
    let probe = std::path::Path::new("/sys/fs/cgroup/memory")
        .join(path.trim_start_matches('/'))
        .join(format!("wisp-test-probe-{}", std::process::id()));
    let writable = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    writable
}

/// The result of a function reporting the memory cgroup it runs in, with `limits.memory` 192.
async fn cgroup_of_a_function(server: &Server) -> Value {
    server
        .action(
            "limit",
            "python:3",
            CGROUP_LIMIT,
            json!({"limits": {"memory": 192}}),
        )
        .await;
    let (status, record) = server.invoke("limit", json!({})).await;
    assert_eq!(status, 200, "{record}");
    let mut cgroup = record["response"]["result"].clone();
    let limit = cgroup["path"].as_str().and_then(|path| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    });
    cgroup["limit"] = json!(limit);
    cgroup
}

async fn hogs_are_stopped(server: &Server) {
    let small = json!({"limits": {"memory": 128}});
    for (name, kind, code) in [
        ("hog", "nodejs:20", NODE_HOG),
        ("pyhog", "python:3", PYTHON_HOG),
    ] {
        let (_, error) = developer_error(server, name, kind, code, small.clone()).await;
        assert_eq!(
            error, "The action exhausted its memory and was aborted.",
            "{name}"
        );
    }
    // The server carries on.
    server
        .action(
            "fine",
            "nodejs:20",
            "function main(){ return {ok: true} }",
            json!({}),
        )
        .await;
    let (status, _) = server.invoke("fine", json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn memory_limits_by_the_kernel_where_the_host_allows() {
    if !host_has_memory_cgroups() {
        eprintln!("no writable memory cgroup on this host: the polling test covers the limit");
        return;
    }
    let server = Server::start();
    let cgroup = cgroup_of_a_function(&server).await;
    assert_eq!(cgroup["limit"], 192u64 << 20, "{cgroup}");
    assert!(
        cgroup["path"].as_str().unwrap().contains("/wisp-"),
        "the function runs in a cgroup of the server's own: {cgroup}"
    );
    hogs_are_stopped(&server).await;
}

#[tokio::test]
async fn memory_limits_by_polling_without_cgroups() {
    let server = Server::start_with(&["--no-cgroups"]);
    let cgroup = cgroup_of_a_function(&server).await;
    assert_ne!(cgroup["limit"], 192u64 << 20, "{cgroup}");
    hogs_are_stopped(&server).await;
}

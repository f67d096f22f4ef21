//! The process pool as a user sees it: which invocations start cold, which reuse a warm
//! process, and what happens when there is no room.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{annotation, error_message, Server};

/// Names the process that runs it: a number drawn when the process loads the code (pids say
/// nothing in sandboxes, where every runtime is pid 2).
const PID: &str =
    "import random\nME = random.getrandbits(48)\ndef main(p):\n    return {'pid': ME}\n";
const SLOW: &str = "import time\ndef main(p):\n    time.sleep(1.5)\n    return {'done': True}\n";

/// Invokes `name` and says which process served it and whether it started cold.
async fn served_by(server: &Server, name: &str) -> (u64, bool) {
    let (status, record) = server.invoke(name, json!({})).await;
    assert_eq!(status, 200, "{name}: {record}");
    let pid = record["response"]["result"]["pid"].as_u64().expect("a pid");
    (pid, annotation(&record, "initTime").is_some())
}

#[tokio::test]
async fn idle_processes_are_stopped_after_the_idle_timeout() {
    let server = Server::start_with(&["--idle-timeout", "1"]);
    server.action("pid", "python:3", PID, json!({})).await;
    let (first, cold) = served_by(&server, "pid").await;
    assert!(cold, "the first invocation starts cold");
    let (again, cold) = served_by(&server, "pid").await;
    assert_eq!((again, cold), (first, false), "an immediate rerun is warm");

    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (after_idle, cold) = served_by(&server, "pid").await;
    assert!(cold, "after the idle timeout the process is gone");
    assert_ne!(after_idle, first);
}

#[tokio::test]
async fn the_least_recently_used_process_makes_room_under_the_memory_budget() {
    // Room for two 128 MB processes.
    let server = Server::start_with(&["--memory-budget", "256"]);
    let limits = json!({"limits": {"memory": 128}});
    for name in ["a", "b", "c"] {
        server.action(name, "python:3", PID, limits.clone()).await;
    }
    let (a, _) = served_by(&server, "a").await;
    let (b, _) = served_by(&server, "b").await;
    // `a` is now the least recently used; `c` needs its room.
    let (_, cold) = served_by(&server, "c").await;
    assert!(cold);
    let (b_again, cold) = served_by(&server, "b").await;
    assert_eq!((b_again, cold), (b, false), "b stayed warm");
    let (a_again, cold) = served_by(&server, "a").await;
    assert!(cold, "a was evicted");
    assert_ne!(a_again, a);
}

#[tokio::test]
async fn activations_queue_for_room_and_a_full_queue_refuses() {
    // One 256 MB process fits; one activation may wait for it.
    let server = std::sync::Arc::new(Server::start_with(&[
        "--memory-budget",
        "256",
        "--max-queued",
        "1",
    ]));
    server
        .action("slow", "python:3", SLOW, json!({"limits": {"memory": 256}}))
        .await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let server = server.clone();
        calls.spawn(async move { server.invoke("slow", json!({})).await });
        // Keep arrival order: running, queued, refused.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut outcomes: Vec<(u16, Value)> = Vec::new();
    while let Some(done) = calls.join_next().await {
        outcomes.push(done.unwrap());
    }
    let succeeded: Vec<&Value> = outcomes
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(succeeded.len(), 2, "{outcomes:?}");
    // The queued one waited for the running one.
    let waits: Vec<u64> = succeeded
        .iter()
        .map(|r| annotation(r, "waitTime").and_then(Value::as_u64).unwrap())
        .collect();
    assert!(waits.iter().any(|w| *w >= 1000), "{waits:?}");

    let (status, refused) = outcomes
        .iter()
        .find(|(status, _)| *status != 200)
        .expect("one refused");
    assert_eq!(*status, 503, "{refused}");
    assert!(
        error_message(refused).contains("waiting for room"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_burst_of_first_calls_shares_the_process_it_starts() {
    // Concurrency 5 and an initialisation that takes a while: five first calls at once wait
    // for the one process the first of them starts, instead of starting one each.
    let server = Server::start();
    // `ME` names the process (every sandboxed runtime is pid 2).
    let code = "const ME = Math.floor(Math.random() * 2 ** 48); const until = Date.now() + 800; while (Date.now() < until) {}\n\
                function main() { return new Promise(r => setTimeout(() => r({ pid: ME }), 200)) }";
    let body = json!({"exec": {"kind": "nodejs:20", "code": code}, "limits": {"concurrency": 5}});
    let (status, created) = server.put("namespaces/_/actions/burst", body).await;
    assert_eq!(status, 200, "{created}");
    let results = server.invoke_concurrently("burst", json!({}), 5).await;
    let mut pids: Vec<u64> = results.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 1, "{results:?}");
}

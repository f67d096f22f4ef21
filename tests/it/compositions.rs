//! Compositions survive `kill -9`: a restarted server resumes each one where it stopped and
//! stores its record exactly once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::Server;

const SLEEPY: &str = "function main(p) { return new Promise(r => setTimeout(() => r({ n: (p.n || 0) + 1, steps: p.steps }), 400)) }";

const PIPELINE: &str = "function main(p) {
  if (p.error) return { error: p.error }
  const steps = p.steps || []
  if (steps.length === 0) return { params: { n: p.n } }
  return { action: steps[0], params: { n: p.n, steps: steps.slice(1) } }
}";

/// Records of `name` in the guest namespace.
async fn records(server: &Server, name: &str) -> Vec<Value> {
    let (status, list) = server
        .get(&format!(
            "namespaces/_/activations?name={name}&docs=true&limit=200"
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Waits until `name` has `count` records.
async fn wait_for_children(server: &Server, name: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while records(server, name).await.len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn compositions_resume_after_kill_9_and_store_one_record() {
    let mut server = Server::start();
    server
        .action("sleepy", "nodejs:20", SLEEPY, json!({}))
        .await;
    let (status, body) = server
        .put(
            "namespaces/_/actions/slow-seq",
            json!({"exec": {"kind": "sequence", "components": vec!["/_/sleepy"; 6]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server
        .action(
            "pipeline",
            "nodejs:20",
            PIPELINE,
            json!({"annotations": [{"key": "conductor", "value": true}]}),
        )
        .await;

    let (status, seq) = server
        .post("namespaces/_/actions/slow-seq", json!({"n": 0}))
        .await;
    assert_eq!(status, 202, "{seq}");
    let (status, conductor) = server
        .post(
            "namespaces/_/actions/pipeline",
            json!({"n": 0, "steps": vec!["sleepy"; 5]}),
        )
        .await;
    assert_eq!(status, 202, "{conductor}");
    // Some steps done, most still to come.
    wait_for_children(&server, "sleepy", 3).await;

    server.kill9();
    server.launch(&[]);

    let seq = server
        .wait_for_activation(seq["activationId"].as_str().unwrap())
        .await;
    assert_eq!(seq["response"]["result"], json!({"n": 6}), "{seq}");
    assert_eq!(seq["logs"].as_array().unwrap().len(), 6);
    let conductor = server
        .wait_for_activation(conductor["activationId"].as_str().unwrap())
        .await;
    assert_eq!(
        conductor["response"]["result"],
        json!({"n": 5}),
        "{conductor}"
    );
    assert_eq!(conductor["logs"].as_array().unwrap().len(), 11);

    // Exactly one record of each composition, and every logged child has its record.
    assert_eq!(records(&server, "slow-seq").await.len(), 1);
    let primaries = records(&server, "pipeline")
        .await
        .into_iter()
        .filter(|r| {
            r["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["key"] == "topmost")
        })
        .count();
    assert_eq!(primaries, 1);
    for id in seq["logs"].as_array().unwrap() {
        let child = server.wait_for_activation(id.as_str().unwrap()).await;
        assert_eq!(child["cause"], seq["activationId"]);
    }
}

/// The conductor runs of a composition record, oldest first: (start, end) of each.
async fn conductor_runs(server: &Server, record: &Value) -> Vec<(u64, u64)> {
    let mut runs = Vec::new();
    for id in record["logs"].as_array().unwrap() {
        let child = server.wait_for_activation(id.as_str().unwrap()).await;
        if child["name"] == record["name"] {
            runs.push((
                child["start"].as_u64().unwrap(),
                child["end"].as_u64().unwrap(),
            ));
        }
    }
    runs
}

#[tokio::test]
async fn no_process_waits_while_a_component_runs() {
    // Concurrency 1 on the conductor: if its process were held while a component ran, the
    // second composition could only start its conductor after the first one ended.
    let server = Server::start();
    server
        .action(
            "nap",
            "nodejs:20",
            "function main(p) { return new Promise(r => setTimeout(() => r(p), 1000)) }",
            json!({}),
        )
        .await;
    server
        .action(
            "pipeline",
            "nodejs:20",
            PIPELINE,
            json!({"annotations": [{"key": "conductor", "value": true}], "limits": {"concurrency": 1}}),
        )
        .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = server
            .post(
                "namespaces/_/actions/pipeline",
                json!({"n": 0, "steps": ["nap", "nap"]}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["activationId"].as_str().unwrap().to_string());
    }
    let a = server.wait_for_activation(&ids[0]).await;
    let b = server.wait_for_activation(&ids[1]).await;
    let (a, b) = (
        conductor_runs(&server, &a).await,
        conductor_runs(&server, &b).await,
    );
    assert_eq!((a.len(), b.len()), (3, 3));
    // Each started its first conductor run before the other's last one: they interleaved.
    assert!(b[0].0 < a[2].0, "a: {a:?}, b: {b:?}");
    assert!(a[0].0 < b[2].0, "a: {a:?}, b: {b:?}");
}

#[tokio::test]
async fn garbage_and_endless_conductors_end_with_clear_results() {
    // n = 3: at most 3 components and 7 conductor runs per composition.
    let server = Server::start_with(&["--sequence-max-length", "3"]);
    server
        .action(
            "inc",
            "nodejs:20",
            "function main(p) { return { n: (p.n || 0) + 1 } }",
            json!({}),
        )
        .await;
    let conductor = |code: &str| json!({"annotations": [{"key": "conductor", "value": true}], "exec": {"kind": "nodejs:20", "code": code}});
    for (name, code) in [
        // Ignores every error and asks for another step, forever.
        (
            "endless",
            "function main(p) { return { action: 'inc', params: p } }",
        ),
        ("array", "function main() { return [1, 2] }"),
        (
            "throws",
            "function main() { throw new Error('conductor broke') }",
        ),
        ("number", "function main() { return { action: 7 } }"),
    ] {
        let (status, body) = server
            .put(&format!("namespaces/_/actions/{name}"), conductor(code))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let (status, endless) = server.invoke("endless", json!({})).await;
    assert_eq!(status, 502, "{endless}");
    assert_eq!(
        endless["response"]["result"],
        json!({"error": "Too many actions in the composition."})
    );
    // 2n + 1 conductor runs and n components.
    assert_eq!(endless["logs"].as_array().unwrap().len(), 7 + 3);

    let (status, array) = server.invoke("array", json!({})).await;
    assert_eq!(status, 200, "{array}");
    // An array result is the whole body of a blocking invoke, as in OpenWhisk.
    assert_eq!(array, json!([1, 2]));

    let (status, thrown) = server.invoke("throws", json!({})).await;
    assert_eq!(status, 502, "{thrown}");
    assert_ne!(thrown["response"]["status"], "success");
    assert!(
        thrown["response"]["result"]["error"].is_string(),
        "{thrown}"
    );
    assert_eq!(thrown["logs"].as_array().unwrap().len(), 1);

    // A name that is not a string is fed back until the conductor gives up at the limit.
    let (status, number) = server.invoke("number", json!({})).await;
    assert_eq!(status, 502, "{number}");
    assert_eq!(
        number["response"]["result"],
        json!({"error": "Too many actions in the composition."})
    );
}

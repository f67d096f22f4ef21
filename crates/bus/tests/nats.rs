//! The bus against the NATS server on 127.0.0.1:4222 (JetStream on): invokers that run
//! scripted actions, a controller's remote invoker placing work on them, and what happens when
//! an invoker dies. Each test uses a cluster name of its own, so tests share the server
//! without seeing each other, and removes its stream at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use wisp_bus::{InvokerNode, NodeConfig, RemoteInvoker, Subjects};
use wisp_controller::testing::ScriptedInvoker;
use wisp_core::invoke::{CodeError, Invoke, InvokeError, RunRequest};
use wisp_core::{
    Action, ActivationId, Annotations, CodeExec, EntityName, EntityPath, Exec, Kind, Outcome,
    SemVer, SystemLimits,
};

const NATS: &str = "nats://127.0.0.1:4222";

/// A cluster of its own on the shared server.
struct Cluster {
    client: async_nats::Client,
    subjects: Subjects,
}

impl Cluster {
    async fn new() -> Cluster {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let client = wisp_bus::connect(NATS).await.unwrap_or_else(|e| {
            panic!(
                "{e}: these tests need NATS with JetStream on 127.0.0.1:4222 (scripts/test.sh \
                 starts the machine's: nats-server -a 127.0.0.1 -p 4222 -js)"
            )
        });
        Cluster {
            client,
            subjects: Subjects::new(&name),
        }
    }

    async fn invoker(&self, id: &str, runtimes: Arc<ScriptedInvoker>) -> InvokerNode {
        let config = NodeConfig {
            invoker: id.into(),
            memory_mb: 1024,
            heartbeat_every: Duration::from_millis(200),
            ack_wait: Duration::from_secs(2),
        };
        InvokerNode::start(self.client.clone(), self.subjects.clone(), config, runtimes)
            .await
            .expect("an invoker joins")
    }

    async fn controller(&self) -> RemoteInvoker {
        RemoteInvoker::start(self.client.clone(), self.subjects.clone(), "c1")
            .await
            .expect("a controller joins")
    }

    /// A controller that has heard from `invokers` invokers.
    async fn controller_seeing(&self, invokers: usize) -> RemoteInvoker {
        let controller = self.controller().await;
        assert!(
            controller
                .wait_for_invokers(invokers, Duration::from_secs(10))
                .await,
            "{invokers} invokers joined"
        );
        controller
    }

    async fn remove(self) {
        wisp_bus::remove_streams(&self.client, &self.subjects).await;
    }
}

fn scripted() -> Arc<ScriptedInvoker> {
    let runtimes = Arc::new(ScriptedInvoker::default());
    runtimes.on("echo", Value::clone);
    runtimes
}

fn request(action: &str, args: Value) -> RunRequest {
    let name = |s: &str| EntityName::parse(s).unwrap();
    let action = Action {
        path: EntityPath::new(name("guest"), None, name(action)),
        version: SemVer::INITIAL,
        publish: false,
        exec: Exec::Code(CodeExec::new(
            Kind::parse("nodejs:20").unwrap(),
            "function main(a) { return a }".into(),
            None,
        )),
        parameters: Vec::new(),
        annotations: Annotations::default(),
        limits: SystemLimits::default().defaults,
        updated: 1,
    };
    RunRequest {
        activation_id: ActivationId::generate(),
        action: Arc::new(action),
        args,
        init_env: Map::new(),
        namespace: "guest".into(),
        api_key: None,
        env: vec![("__OW_SECRET".into(), "s".into())],
        transaction_id: "t".into(),
    }
}

#[tokio::test]
async fn an_activation_runs_on_its_home_invoker_and_its_outcome_comes_back() {
    let cluster = Cluster::new().await;
    let (a, b) = (scripted(), scripted());
    let _na = cluster.invoker("a", a.clone()).await;
    let _nb = cluster.invoker("b", b.clone()).await;
    let controller = cluster.controller_seeing(2).await;

    for i in 0..5 {
        let outcome = controller
            .run(request("echo", json!({ "i": i })))
            .await
            .expect("it ran");
        assert_eq!(outcome.response.outcome, Outcome::Success);
        assert_eq!(outcome.response.result, json!({ "i": i }));
    }

    let (ran_a, ran_b) = (a.ran().len(), b.ran().len());
    assert_eq!(ran_a + ran_b, 5);
    assert!(
        ran_a == 5 || ran_b == 5,
        "every run of one action goes to its home: {ran_a} on a, {ran_b} on b"
    );
    let home = if ran_a == 5 { &a } else { &b };
    assert_eq!(home.runs()[0].env, [("__OW_SECRET".into(), "s".into())]);
    cluster.remove().await;
}

#[tokio::test]
async fn an_invoker_that_dies_fails_what_it_held_and_work_moves_on() {
    let cluster = Cluster::new().await;
    let (a, b) = (scripted(), scripted());
    for runtimes in [&a, &b] {
        runtimes.on_slow("slow", Duration::from_secs(60), Value::clone);
    }
    let na = cluster.invoker("a", a.clone()).await;
    let nb = cluster.invoker("b", b.clone()).await;
    let controller = Arc::new(cluster.controller_seeing(2).await);

    let running = {
        let controller = controller.clone();
        tokio::spawn(async move { controller.run(request("slow", json!({}))).await })
    };
    let started = Instant::now();
    let holder = loop {
        if !a.runs().is_empty() {
            break "a";
        }
        if !b.runs().is_empty() {
            break "b";
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the run started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let survivor = if holder == "a" {
        na.stop();
        &b
    } else {
        nb.stop();
        &a
    };

    let lost = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the controller notices the silence")
        .unwrap();
    assert_eq!(lost.unwrap_err(), InvokeError::InvokerLost);

    let before = survivor.ran().len();
    let outcome = controller
        .run(request("slow-home-gone", json!({})))
        .await
        .map(|o| o.response.outcome);
    assert_eq!(
        outcome.unwrap(),
        Outcome::DeveloperError,
        "unscripted: the survivor answered"
    );
    assert_eq!(survivor.ran().len(), before + 1);
    cluster.remove().await;
}

#[tokio::test]
async fn code_is_checked_by_an_invoker_and_refused_without_one() {
    let cluster = Cluster::new().await;
    let controller = cluster.controller().await;
    let action = request("echo", json!({})).action;

    let alone = controller.prepare(&action).await;
    assert!(
        matches!(&alone, Err(CodeError::Engine(m)) if m.contains("no invoker")),
        "{alone:?}"
    );
    assert!(!controller.accepting(), "no invoker: no work is taken");
    assert_eq!(
        controller
            .run(request("echo", json!({})))
            .await
            .unwrap_err(),
        InvokeError::Overloaded
    );

    let _node = cluster.invoker("a", scripted()).await;
    assert!(
        controller
            .wait_for_invokers(1, Duration::from_secs(10))
            .await
    );
    assert_eq!(controller.prepare(&action).await, Ok(()));
    assert!(controller.accepting());
    cluster.remove().await;
}

#[tokio::test]
async fn a_draining_invoker_finishes_what_runs_and_its_new_work_runs_elsewhere() {
    let cluster = Cluster::new().await;
    let (a, b) = (scripted(), scripted());
    for runtimes in [&a, &b] {
        runtimes.on_slow("slow", Duration::from_millis(1500), Value::clone);
    }
    let na = cluster.invoker("a", a.clone()).await;
    let nb = cluster.invoker("b", b.clone()).await;
    let controller = Arc::new(cluster.controller_seeing(2).await);
    let run = |args: Value| {
        let controller = controller.clone();
        tokio::spawn(async move { controller.run(request("slow", args)).await })
    };

    let first = run(json!({ "n": 0 }));
    let started = Instant::now();
    let (holder, node, other) = loop {
        if !a.runs().is_empty() {
            break (&a, &na, &b);
        }
        if !b.runs().is_empty() {
            break (&b, &nb, &a);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the run started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The home leaves while its run is under way; more of the same action arrive at once,
    // before or after the controller hears of it.
    let later: Vec<_> = (1..=3).map(|n| run(json!({ "n": n }))).collect();
    node.drain(Duration::from_secs(20)).await;

    let first = first
        .await
        .unwrap()
        .expect("the running activation finished");
    assert_eq!(first.response.result, json!({ "n": 0 }));
    for (n, done) in (1..=3).zip(later) {
        let outcome = done.await.unwrap().expect("handed back and run elsewhere");
        assert_eq!(outcome.response.result, json!({ "n": n }));
    }
    assert_eq!(
        holder.ran().len(),
        1,
        "the leaving invoker ran only its first"
    );
    assert_eq!(other.ran().len(), 3, "the rest ran on the other invoker");
    cluster.remove().await;
}

#[tokio::test]
async fn work_never_delivered_to_an_invoker_that_died_runs_elsewhere() {
    let cluster = Cluster::new().await;
    let (a, b) = (scripted(), scripted());
    let na = cluster.invoker("a", a.clone()).await;
    let nb = cluster.invoker("b", b.clone()).await;
    let controller = Arc::new(cluster.controller_seeing(2).await);
    // Find echo's home, then stop it: the controller still counts it live for a while and
    // places the next runs there, where no one takes them.
    controller.run(request("echo", json!({}))).await.unwrap();
    let (home, survivor) = if a.ran().len() == 1 {
        (&na, &b)
    } else {
        (&nb, &a)
    };
    home.stop();
    let runs: Vec<_> = (0..3)
        .map(|n| {
            let controller = controller.clone();
            tokio::spawn(async move { controller.run(request("echo", json!({ "n": n }))).await })
        })
        .collect();
    for (n, run) in runs.into_iter().enumerate() {
        let outcome = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("settled once the home is silent")
            .unwrap()
            .expect("run on the survivor");
        assert_eq!(outcome.response.result, json!({ "n": n }));
    }
    assert_eq!(survivor.ran().len(), 3, "each ran once, on the survivor");
    cluster.remove().await;
}

#[tokio::test]
async fn code_arguments_and_results_over_the_message_limit_cross_the_bus() {
    let cluster = Cluster::new().await;
    let runtimes = scripted();
    let _node = cluster.invoker("a", runtimes.clone()).await;
    let controller = cluster.controller_seeing(1).await;
    // A zip action with its dependencies: 3 MB of code, over NATS's 1 MiB.
    let code = "x".repeat(3 << 20);
    let big = |args: Value| {
        let mut request = request("echo", args);
        let mut action = (*request.action).clone();
        if let Exec::Code(exec) = &mut action.exec {
            exec.code = code.clone();
        }
        request.action = Arc::new(action);
        request
    };
    assert_eq!(controller.prepare(&big(json!({})).action).await, Ok(()));

    // Arguments and a result near OpenWhisk's 1 MiB limits.
    let payload = "y".repeat(1000 * 1024);
    for n in 0..2 {
        let outcome = controller
            .run(big(json!({ "n": n, "payload": payload })))
            .await
            .expect("it ran");
        assert_eq!(outcome.response.result["n"], n);
        assert_eq!(outcome.response.result["payload"], payload.as_str());
    }
    for run in runtimes.runs() {
        let exec = run.action.exec.code().expect("code");
        assert_eq!(
            exec.code.len(),
            code.len(),
            "the invoker got the whole code"
        );
    }
    cluster.remove().await;
}

#[tokio::test]
async fn an_outcome_sent_while_its_controller_was_down_waits_for_it() {
    let cluster = Cluster::new().await;
    let runtimes = scripted();
    runtimes.on_slow("slow", Duration::from_millis(500), Value::clone);
    let _node = cluster.invoker("a", runtimes.clone()).await;
    let controller = Arc::new(cluster.controller_seeing(1).await);
    let request = request("slow", json!({ "kept": true }));
    let id = request.activation_id.clone();
    let running = {
        let controller = controller.clone();
        tokio::spawn(async move { controller.run(request).await })
    };
    let started = Instant::now();
    while runtimes.runs().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the run started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The controller dies while its activation runs; the outcome goes to its subject.
    running.abort();
    drop(controller);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Started again under its id, it finds the outcome waiting.
    let again = cluster.controller().await;
    let outcome = again.take_unclaimed(&id).expect("the outcome was kept");
    assert_eq!(outcome.unwrap().response.result, json!({ "kept": true }));
    assert!(again.take_unclaimed(&id).is_none(), "taken once");
    cluster.remove().await;
}

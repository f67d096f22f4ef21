//! Declared state around runs, over keys held in memory and a runtime that counts: what is
//! loaded, what is written back, what conflicts do, and the record's note.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use wisp_core::invoke::{
    CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest, StartKind,
};
use wisp_core::{
    Action, ActivationId, ActivationResponse, Annotations, BoxFuture, CodeExec, EntityName,
    EntityPath, Exec, Kind, SemVer, SystemLimits,
};

use super::*;

/// Keys in memory; `meddle` changes a key behind the next `commit`'s back, once.
#[derive(Default)]
struct Keys {
    values: Mutex<HashMap<String, Vec<u8>>>,
    meddle: Mutex<Option<(String, Vec<u8>)>>,
}

impl StateBackend for Keys {
    fn load<'a>(
        &'a self,
        _: &'a str,
        keys: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StateBackendError>> {
        let values = self.values.lock().unwrap();
        let found = keys.iter().map(|k| values.get(k).cloned()).collect();
        Box::pin(async move { Ok(found) })
    }

    fn commit<'a>(
        &'a self,
        _: &'a str,
        expect: KeyValues,
        write: KeyValues,
    ) -> BoxFuture<'a, Result<bool, StateBackendError>> {
        let mut values = self.values.lock().unwrap();
        if let Some((key, value)) = self.meddle.lock().unwrap().take() {
            values.insert(key, value);
        }
        let unchanged = expect.iter().all(|(k, v)| values.get(k) == v.as_ref());
        if unchanged {
            for (key, value) in write {
                match value {
                    Some(v) => values.insert(key, v),
                    None => values.remove(&key),
                };
            }
        }
        Box::pin(async move { Ok(unchanged) })
    }

    fn object_version<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateBackendError>> {
        Box::pin(async { Ok(None) })
    }

    fn download<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a Path,
    ) -> BoxFuture<'a, Result<(String, u64), StateBackendError>> {
        unreachable!("no files are declared here")
    }
}

/// A runtime whose function adds one to the declared key `n` and returns it as `__state`.
#[derive(Default)]
struct Counter {
    runs: AtomicU32,
    /// The events it was given.
    seen: Mutex<Vec<Value>>,
}

impl Invoke for Counter {
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(request.args.clone());
        let n = request.args["__state"]["keys"]["n"].as_u64().unwrap_or(0);
        let result = json!({ "n": n + 1, "__state": { "keys": { "n": n + 1 } } });
        let mut outcome = RunOutcome::failure(Outcome::Success, "", 0, None, StartKind::Warm);
        outcome.response = ActivationResponse::from_result(result, 0);
        Box::pin(async move { Ok(outcome) })
    }

    fn prepare<'a>(&'a self, _: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        Box::pin(async { Ok(()) })
    }

    fn accepting(&self) -> bool {
        true
    }

    fn pool(&self) -> PoolSnapshot {
        PoolSnapshot::default()
    }

    fn shutdown(&self) {}
}

fn stateful(keys: Arc<Keys>, counter: Arc<Counter>) -> (StatefulInvoker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = StateConfig {
        file_cache_dir: dir.path().join("files"),
        file_cache_bytes: 1 << 20,
        files_seen_at: dir.path().join("files"),
    };
    let state = DeclaredState::new(keys, config).unwrap();
    (StatefulInvoker::new(counter, Some(state)), dir)
}

/// A run of an action declaring `state` (none: `None`).
fn request(state: Option<Value>) -> RunRequest {
    let name = |s: &str| EntityName::parse(s).unwrap();
    let mut annotations = Annotations::default();
    if let Some(state) = state {
        annotations.set("state", state);
    }
    let action = Action {
        path: EntityPath::new(name("guest"), None, name("counter")),
        version: SemVer::INITIAL,
        publish: false,
        exec: Exec::Code(CodeExec::new(
            Kind::parse("nodejs:20").unwrap(),
            String::new(),
            None,
        )),
        parameters: Vec::new(),
        annotations,
        limits: SystemLimits::default().defaults,
        updated: 1,
    };
    RunRequest {
        activation_id: ActivationId::generate(),
        action: Arc::new(action),
        args: Value::Object(Map::new()),
        init_env: Map::new(),
        namespace: "guest".into(),
        api_key: None,
        env: Vec::new(),
        transaction_id: "t".into(),
    }
}

#[tokio::test]
async fn a_run_gets_its_keys_and_its_writes_are_kept() {
    let keys = Arc::new(Keys::default());
    keys.values
        .lock()
        .unwrap()
        .insert("n".into(), b"41".to_vec());
    let counter = Arc::new(Counter::default());
    let (invoker, _dir) = stateful(keys.clone(), counter.clone());

    let outcome = invoker
        .run(request(Some(json!({ "write": ["n"] }))))
        .await
        .unwrap();

    assert_eq!(
        counter.seen.lock().unwrap()[0]["__state"]["keys"],
        json!({ "n": 41 })
    );
    assert_eq!(
        outcome.response.result,
        json!({ "n": 42 }),
        "the written state is taken out of the result"
    );
    assert_eq!(keys.values.lock().unwrap()["n"], b"42");
    let note = outcome.state.expect("a note for the record");
    assert_eq!(note["read"], json!(["n"]));
    assert_eq!(note["written"], json!(["n"]));
    assert_eq!(note["attempts"], 1);
}

#[tokio::test]
async fn a_conflict_runs_again_on_fresh_values() {
    let keys = Arc::new(Keys::default());
    *keys.meddle.lock().unwrap() = Some(("n".into(), b"10".to_vec()));
    let counter = Arc::new(Counter::default());
    let (invoker, _dir) = stateful(keys.clone(), counter.clone());

    let outcome = invoker
        .run(request(Some(json!({ "write": ["n"] }))))
        .await
        .unwrap();

    assert_eq!(counter.runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        keys.values.lock().unwrap()["n"],
        b"11",
        "the second run saw 10"
    );
    assert_eq!(outcome.state.unwrap()["attempts"], 2);
}

#[tokio::test]
async fn a_conflict_fails_the_activation_when_the_action_says_so() {
    let keys = Arc::new(Keys::default());
    *keys.meddle.lock().unwrap() = Some(("n".into(), b"10".to_vec()));
    let counter = Arc::new(Counter::default());
    let (invoker, _dir) = stateful(keys.clone(), counter.clone());

    let declared = json!({ "write": ["n"], "onConflict": "fail" });
    let outcome = invoker.run(request(Some(declared))).await.unwrap();

    assert_eq!(outcome.response.outcome, Outcome::ApplicationError);
    assert_eq!(keys.values.lock().unwrap()["n"], b"10", "nothing written");
    assert_eq!(counter.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_action_without_a_declaration_runs_plainly() {
    let keys = Arc::new(Keys::default());
    let counter = Arc::new(Counter::default());
    let (invoker, _dir) = stateful(keys.clone(), counter.clone());

    let outcome = invoker.run(request(None)).await.unwrap();

    assert!(outcome.state.is_none());
    assert!(counter.seen.lock().unwrap()[0].get("__state").is_none());
    assert!(keys.values.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_state_store_a_declaring_action_is_refused() {
    let counter = Arc::new(Counter::default());
    let invoker = StatefulInvoker::new(counter.clone(), None);

    let outcome = invoker
        .run(request(Some(json!({ "read": ["n"] }))))
        .await
        .unwrap();

    assert_eq!(outcome.response.outcome, Outcome::InternalError);
    assert_eq!(counter.runs.load(Ordering::SeqCst), 0);
}

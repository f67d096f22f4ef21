//! A controller for tests, built in one line: SQLite in memory and a [`ScriptedInvoker`] that
//! answers each action with a Rust closure instead of running its code.
//!
//! Everything between the request and the invoker is the real controller (names, packages,
//! bindings, parameters, throttles, compositions, rules, records); only the runtime is
//! replaced. Compiled for this crate's tests and, with the `testing` feature, for other crates'.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use wisp_core::invoke::{
    BoxFuture, CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest, StartKind,
};
use wisp_core::time::now_ms;
use wisp_core::{Action, ActivationResponse, EntityName, EntityPath, Identity, Outcome};
use wisp_store::{EntityStore, SqliteStore};

use crate::{
    add_key, Controller, ControllerConfig, ControllerParts, InvokeOptions, Invoked, NamespaceKey,
};

/// What a scripted action does with one run.
type Script = Arc<dyn Fn(&RunRequest) -> ActivationResponse + Send + Sync>;

/// Runs actions by script: each action, named by its path within its namespace (`echo`,
/// `utils/echo`), answers with the closure registered for it. An action without one ends in a
/// developer error naming it, so a test that forgets a script fails loudly.
#[derive(Default)]
pub struct ScriptedInvoker {
    scripts: Mutex<HashMap<String, (Script, Duration)>>,
    runs: Mutex<Vec<RunRequest>>,
    /// Why runs are refused, if they are.
    refusing: Mutex<Option<InvokeError>>,
}

impl ScriptedInvoker {
    /// `action` returns `f(args)`: a success, or an application error when the value has a
    /// top-level `error`, as a runtime classifies results.
    pub fn on(&self, action: &str, f: impl Fn(&Value) -> Value + Send + Sync + 'static) {
        self.on_run(action, move |run| {
            let result = f(&run.args);
            let size = result.to_string().len();
            ActivationResponse::from_result(result, size)
        });
    }

    /// `action` answers each run with the response `f` makes of it (any outcome).
    pub fn on_run(
        &self,
        action: &str,
        f: impl Fn(&RunRequest) -> ActivationResponse + Send + Sync + 'static,
    ) {
        self.script(action, Arc::new(f), Duration::ZERO);
    }

    /// `action` takes `delay` before answering `f(args)`.
    pub fn on_slow(
        &self,
        action: &str,
        delay: Duration,
        f: impl Fn(&Value) -> Value + Send + Sync + 'static,
    ) {
        let script: Script = Arc::new(move |run: &RunRequest| {
            let result = f(&run.args);
            ActivationResponse::from_result(result.clone(), result.to_string().len())
        });
        self.script(action, script, delay);
    }

    fn script(&self, action: &str, script: Script, delay: Duration) {
        lock(&self.scripts).insert(action.to_owned(), (script, delay));
    }

    /// Refuses every later run with `error` (none with `None`), as a full or stopping
    /// invoker does.
    pub fn refuse(&self, error: Option<InvokeError>) {
        *lock(&self.refusing) = error;
    }

    /// Every run so far, in the order they started.
    pub fn runs(&self) -> Vec<RunRequest> {
        lock(&self.runs).clone()
    }

    /// The actions run so far, by path within their namespace, in order.
    pub fn ran(&self) -> Vec<String> {
        lock(&self.runs)
            .iter()
            .map(|run| run.action.path.local())
            .collect()
    }
}

impl Invoke for ScriptedInvoker {
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        Box::pin(async move {
            if let Some(error) = lock(&self.refusing).clone() {
                return Err(error);
            }
            let name = request.action.path.local();
            let script = lock(&self.scripts).get(&name).cloned();
            lock(&self.runs).push(request.clone());
            let start = now_ms();
            let response = match script {
                Some((script, delay)) => {
                    tokio::time::sleep(delay).await;
                    script(&request)
                }
                None => ActivationResponse::failure(
                    Outcome::DeveloperError,
                    format!("no script for action {name}"),
                ),
            };
            Ok(RunOutcome {
                response,
                logs: Vec::new(),
                start,
                end: now_ms(),
                init_time: None,
                timed_out: false,
                start_kind: StartKind::Warm,
                state: None,
            })
        })
    }

    fn prepare<'a>(&'a self, _: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        Box::pin(async { Ok(()) })
    }

    fn accepting(&self) -> bool {
        lock(&self.refusing).is_none()
    }

    fn pool(&self) -> PoolSnapshot {
        PoolSnapshot::default()
    }

    fn shutdown(&self) {
        self.refuse(Some(InvokeError::ShuttingDown));
    }
}

/// A started controller over an in-memory store and a scripted invoker, with the `guest`
/// namespace ready.
pub struct TestController {
    pub controller: Controller,
    pub invoker: Arc<ScriptedInvoker>,
    pub entities: Arc<dyn EntityStore>,
    /// The `guest` namespace's identity.
    pub guest: Identity,
    pub guest_key: NamespaceKey,
}

impl TestController {
    /// The default configuration: OpenWhisk's limits, a 60 s blocking wait.
    pub async fn start() -> TestController {
        TestController::start_with(ControllerConfig::default()).await
    }

    pub async fn start_with(config: ControllerConfig) -> TestController {
        let (entities, activations) = SqliteStore::in_memory().expect("an in-memory store");
        let entities: Arc<dyn EntityStore> = Arc::new(entities);
        let invoker = Arc::new(ScriptedInvoker::default());
        let controller = Controller::new(
            config,
            ControllerParts {
                entities: entities.clone(),
                activations: Arc::new(activations),
                invoker: invoker.clone(),
                namespace_env: None,
                peers: None,
            },
        );
        controller.start().await.expect("the controller starts");
        let (guest, guest_key) = new_namespace(&controller, entities.as_ref(), "guest").await;
        TestController {
            controller,
            invoker,
            entities,
            guest,
            guest_key,
        }
    }

    /// Creates `namespace` with a new key; returns its identity and key.
    pub async fn namespace(&self, namespace: &str) -> (Identity, NamespaceKey) {
        new_namespace(&self.controller, self.entities.as_ref(), namespace).await
    }

    /// Invokes `path` (`name` or `pkg/name`, in the guest's namespace) blocking, and returns the
    /// finished activation's response.
    pub async fn invoke(&self, path: &str, args: Value) -> ActivationResponse {
        let invoked = self
            .controller
            .invoke(&self.guest, &self.path(path), object(args), blocking())
            .await
            .unwrap_or_else(|e| panic!("invoke {path}: {e}"));
        match invoked {
            Invoked::Completed(activation) => activation.response,
            Invoked::Accepted(id) => panic!("invoke {path} did not finish in time: {id}"),
        }
    }

    /// `path` (`name` or `pkg/name`) in the guest's namespace.
    pub fn path(&self, path: &str) -> EntityPath {
        path_in("guest", path)
    }
}

/// `path` (`name` or `pkg/name`) in `namespace`.
pub fn path_in(namespace: &str, path: &str) -> EntityPath {
    match path.split_once('/') {
        Some((package, action)) => {
            EntityPath::new(name(namespace), Some(name(package)), name(action))
        }
        None => EntityPath::new(name(namespace), None, name(path)),
    }
}

/// A valid entity name.
pub fn name(raw: &str) -> EntityName {
    EntityName::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

/// Blocking, waiting up to a minute.
pub fn blocking() -> InvokeOptions {
    InvokeOptions {
        blocking: true,
        wait: Duration::from_secs(60),
        transaction_id: "test".into(),
    }
}

/// The payload of an invoke: `args` must be an object (or null for none).
pub fn object(args: Value) -> Option<Map<String, Value>> {
    match args {
        Value::Object(map) => Some(map),
        Value::Null => None,
        other => panic!("invoke arguments must be an object, not {other}"),
    }
}

async fn new_namespace(
    controller: &Controller,
    entities: &dyn EntityStore,
    namespace: &str,
) -> (Identity, NamespaceKey) {
    let key = add_key(entities, name(namespace), None)
        .await
        .expect("a new key");
    let identity = controller
        .entities()
        .authenticate(&key.uuid, &key.key)
        .await
        .expect("the store answers")
        .expect("the key just added");
    (identity, key)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

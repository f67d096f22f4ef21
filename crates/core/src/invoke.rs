//! The seam between the controller and whatever runs activations: the request handed over, the
//! outcome handed back, and the [`Invoke`] trait the controller calls through.
//!
//! On one machine the implementation is `wisp-invoker`'s process and WebAssembly pools; tests
//! use a scripted one (`wisp_controller::testing`); a cluster puts a network behind the same
//! trait. Nothing here does IO.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::{Action, ActivationId, ActivationResponse, Outcome};

/// A boxed, sendable future: the one shape Wisp's own plug-in traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs activations. What a function did (success, application or developer error, timeout)
/// is an outcome in the returned [`RunOutcome`]; an `Err` means it never ran.
pub trait Invoke: Send + Sync {
    /// Runs one activation to its outcome.
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>>;

    /// Checks and prepares the code of an action about to be written, so that invokes never
    /// pay for it and a program that cannot run is refused at write time.
    fn prepare<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), CodeError>>;

    /// Whether activations are taken (not shutting down).
    fn accepting(&self) -> bool;

    /// What the runtime pools hold now, for the metrics.
    fn pool(&self) -> PoolSnapshot;

    /// Stops every runtime; later activations are refused.
    fn shutdown(&self);
}

/// One activation to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub activation_id: ActivationId,
    pub action: Arc<Action>,
    /// The merged run arguments.
    pub args: Value,
    /// Parameters marked `init`, delivered as environment at initialisation.
    pub init_env: Map<String, Value>,
    /// The caller's namespace.
    pub namespace: String,
    /// The caller's key, when the action asks for it (`provide-api-key`).
    pub api_key: Option<String>,
    /// More environment for this activation (the state services' endpoints and secrets).
    pub env: Vec<(String, String)>,
    pub transaction_id: String,
}

/// How the runtime that ran an activation was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    Warm,
    StemCell,
    Cold,
}

/// What happened to one activation.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub response: ActivationResponse,
    pub logs: Vec<String>,
    /// Epoch ms when a runtime was ready for this activation (before any init).
    pub start: u64,
    pub end: u64,
    /// Milliseconds spent initialising, on a cold start.
    pub init_time: Option<u64>,
    pub timed_out: bool,
    pub start_kind: StartKind,
    /// What declared state did, for the record's `state` annotation (names and versions,
    /// never values); `None` for an action that declares none.
    pub state: Option<Value>,
}

impl RunOutcome {
    /// An activation that ended in `outcome` with `message` before the function gave a result
    /// (it could not start, or it broke), ending now.
    pub fn failure(
        outcome: Outcome,
        message: impl Into<String>,
        start: u64,
        init_time: Option<u64>,
        start_kind: StartKind,
    ) -> RunOutcome {
        RunOutcome {
            response: ActivationResponse::failure(outcome, message),
            logs: Vec::new(),
            start,
            end: crate::time::now_ms(),
            init_time,
            timed_out: false,
            start_kind,
            state: None,
        }
    }
}

/// Why an activation was not run.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    #[error("too many activations are waiting for room in the invoker")]
    Overloaded,
    #[error("no room in the invoker before the activation's deadline")]
    Timeout,
    #[error("the invoker is shutting down")]
    ShuttingDown,
    #[error("the action has no code a runtime can run")]
    NotRunnable,
    /// The invoker running it stopped answering; whether it ran is unknown.
    #[error("the invoker running the activation stopped before it finished")]
    InvokerLost,
}

/// Why an action's code cannot be run, found when the action is written.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    /// The developer's code is wrong; the message says how (a 400).
    #[error("{0}")]
    Invalid(String),
    /// The platform failed to prepare it.
    #[error("{0}")]
    Engine(String),
}

/// Runtimes in the pools by kind and state, and the memory they reserve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSnapshot {
    pub runtimes: Vec<PoolCount>,
    pub reserved_bytes: u64,
    /// Of that, what runtimes running an activation reserve (idle ones give theirs up when
    /// room is needed).
    pub busy_bytes: u64,
    /// Idle warm runtimes by action revision (`Action::revision_key`): where a next
    /// activation of that revision starts warm. What a cluster's placement reads.
    pub idle: Vec<(String, u32)>,
    /// Declared files this host keeps copies of, as (namespace, name): where an action
    /// declaring them starts without a download. What a cluster's placement reads.
    pub files: Vec<(String, String)>,
}

/// How many runtimes of one kind are in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCount {
    pub kind: &'static str,
    /// `stem_cell`, `warm` (idle) or `busy`.
    pub state: &'static str,
    pub count: usize,
}

//! What crosses the bus, as JSON. The action travels as its storage document (the one the
//! entity store keeps); the rest are the fields of a run and of its outcome.
//!
//! A run carries the namespace's secrets for its state services and, when the action asks for
//! it, the caller's key: the bus is one of the engines a cluster trusts, like its database.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wisp_core::invoke::{CodeError, InvokeError, RunOutcome, RunRequest, StartKind};
use wisp_core::{Action, ActivationId, ActivationResponse};

use crate::code::CodeRef;

/// One activation for an invoker.
#[derive(Serialize, Deserialize)]
pub(crate) struct RunMessage {
    pub activation_id: ActivationId,
    pub action: Action,
    pub args: Value,
    pub init_env: Map<String, Value>,
    pub namespace: String,
    pub api_key: Option<String>,
    pub env: Vec<(String, String)>,
    pub transaction_id: String,
    /// The controller waiting for the outcome.
    pub controller: String,
    /// Where the action's code is, when it is too large to ride here.
    #[serde(default)]
    pub code: Option<CodeRef>,
}

/// An action whose code an invoker checks.
#[derive(Serialize, Deserialize)]
pub(crate) struct PrepareMessage {
    pub action: Action,
    /// Where the action's code is, when it is too large to ride here.
    #[serde(default)]
    pub code: Option<CodeRef>,
}

impl RunMessage {
    /// The message running `request`, whose action crosses as `action` (its code perhaps
    /// moved out to `code`).
    pub fn new(
        request: &RunRequest,
        action: Action,
        code: Option<CodeRef>,
        controller: &str,
    ) -> RunMessage {
        RunMessage {
            activation_id: request.activation_id.clone(),
            action,
            args: request.args.clone(),
            init_env: request.init_env.clone(),
            namespace: request.namespace.clone(),
            api_key: request.api_key.clone(),
            env: request.env.clone(),
            transaction_id: request.transaction_id.clone(),
            controller: controller.to_owned(),
            code,
        }
    }

    pub fn into_request(self) -> RunRequest {
        RunRequest {
            activation_id: self.activation_id,
            action: Arc::new(self.action),
            args: self.args,
            init_env: self.init_env,
            namespace: self.namespace,
            api_key: self.api_key,
            env: self.env,
            transaction_id: self.transaction_id,
        }
    }
}

/// What became of one activation, for the controller waiting on it.
#[derive(Serialize, Deserialize)]
pub(crate) struct OutcomeMessage {
    pub activation_id: ActivationId,
    pub outcome: Result<Ran, Refused>,
}

/// A run's outcome.
#[derive(Serialize, Deserialize)]
pub(crate) struct Ran {
    response: ActivationResponse,
    logs: Vec<String>,
    start: u64,
    end: u64,
    init_time: Option<u64>,
    timed_out: bool,
    start_kind: Start,
    state: Option<Value>,
}

#[derive(Serialize, Deserialize)]
enum Start {
    Warm,
    StemCell,
    Cold,
}

/// Why an activation did not run.
#[derive(Serialize, Deserialize)]
pub(crate) enum Refused {
    Overloaded,
    Timeout,
    ShuttingDown,
    NotRunnable,
    InvokerLost,
}

impl OutcomeMessage {
    pub fn new(
        activation_id: ActivationId,
        outcome: Result<RunOutcome, InvokeError>,
    ) -> OutcomeMessage {
        let outcome = match outcome {
            Ok(run) => Ok(Ran {
                response: run.response,
                logs: run.logs,
                start: run.start,
                end: run.end,
                init_time: run.init_time,
                timed_out: run.timed_out,
                start_kind: match run.start_kind {
                    StartKind::Warm => Start::Warm,
                    StartKind::StemCell => Start::StemCell,
                    StartKind::Cold => Start::Cold,
                },
                state: run.state,
            }),
            Err(e) => Err(match e {
                InvokeError::Overloaded => Refused::Overloaded,
                InvokeError::Timeout => Refused::Timeout,
                InvokeError::ShuttingDown => Refused::ShuttingDown,
                InvokeError::NotRunnable => Refused::NotRunnable,
                InvokeError::InvokerLost => Refused::InvokerLost,
            }),
        };
        OutcomeMessage {
            activation_id,
            outcome,
        }
    }

    pub fn into_outcome(self) -> Result<RunOutcome, InvokeError> {
        match self.outcome {
            Ok(ran) => Ok(RunOutcome {
                response: ran.response,
                logs: ran.logs,
                start: ran.start,
                end: ran.end,
                init_time: ran.init_time,
                timed_out: ran.timed_out,
                start_kind: match ran.start_kind {
                    Start::Warm => StartKind::Warm,
                    Start::StemCell => StartKind::StemCell,
                    Start::Cold => StartKind::Cold,
                },
                state: ran.state,
            }),
            Err(refused) => Err(match refused {
                Refused::Overloaded => InvokeError::Overloaded,
                Refused::Timeout => InvokeError::Timeout,
                Refused::ShuttingDown => InvokeError::ShuttingDown,
                Refused::NotRunnable => InvokeError::NotRunnable,
                Refused::InvokerLost => InvokeError::InvokerLost,
            }),
        }
    }
}

/// An invoker's answer to a code check.
#[derive(Serialize, Deserialize)]
pub(crate) enum Checked {
    Ok,
    Invalid(String),
    Engine(String),
}

impl Checked {
    pub fn new(result: Result<(), CodeError>) -> Checked {
        match result {
            Ok(()) => Checked::Ok,
            Err(CodeError::Invalid(m)) => Checked::Invalid(m),
            Err(CodeError::Engine(m)) => Checked::Engine(m),
        }
    }

    pub fn into_result(self) -> Result<(), CodeError> {
        match self {
            Checked::Ok => Ok(()),
            Checked::Invalid(m) => Err(CodeError::Invalid(m)),
            Checked::Engine(m) => Err(CodeError::Engine(m)),
        }
    }
}

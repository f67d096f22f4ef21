//! A running composition as it is stored after every step: enough to resume it after a
//! restart and to write its primary record at the end.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wisp_core::time::now_ms;
use wisp_core::{
    Activation, ActivationId, ActivationResponse, Annotations, EntityPath, Identity, Outcome,
    SemVer,
};

use crate::entities::ResolvedAction;

/// Who invoked the composition. The key is kept while the composition runs (actions that ask
/// for it get it, after a restart too) and goes with the session when it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Caller {
    pub namespace: String,
    pub subject: String,
    pub uuid: String,
    pub api_key: String,
}

impl Caller {
    pub fn of(identity: &Identity) -> Caller {
        Caller {
            namespace: identity.namespace.to_string(),
            subject: identity.subject.clone(),
            uuid: identity.uuid.clone(),
            api_key: identity.api_key.clone(),
        }
    }

    pub fn identity(&self) -> Option<Identity> {
        Some(Identity {
            namespace: wisp_core::EntityName::parse(&self.namespace).ok()?,
            subject: self.subject.clone(),
            uuid: self.uuid.clone(),
            api_key: self.api_key.clone(),
            // Steps of a composition are not throttled; its start was.
            limits: Default::default(),
        })
    }
}

/// Counts shared by every conductor composition of one tree (OpenWhisk's accounting): at
/// most n components and 2n + 1 conductor runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    pub components: usize,
    pub conductors: usize,
}

/// What the composition does next.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Program {
    Sequence {
        components: Vec<EntityPath>,
        /// The component that runs next.
        next: usize,
        /// Atomic actions run so far, nested sequences inlined (their own and their parents').
        atoms: usize,
    },
    Conductor {
        /// The `state` the conductor returned last, merged over its next input.
        state: Option<Map<String, Value>>,
        /// The component the conductor asked for, run next; `None`: the conductor runs next.
        component: Option<EntityPath>,
        accounting: Accounting,
    },
}

/// The action a session runs, as the record names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// As invoked (through a binding, say): resolved again on resume.
    pub invoked: EntityPath,
    /// Where it is stored (`path` annotation).
    pub stored: EntityPath,
    pub binding: Option<EntityPath>,
    pub version: SemVer,
    pub timeout: u64,
    pub logs: u64,
    pub memory: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: ActivationId,
    pub caller: Caller,
    pub target: Target,
    /// The enclosing composition; `None` for the topmost.
    pub cause: Option<ActivationId>,
    pub received: u64,
    pub start: u64,
    pub program: Program,
    /// The input of the next step (`null`: none).
    pub input: Value,
    /// The step in flight: its activation id, so a resumed session uses its record if it was
    /// stored instead of running it again.
    pub pending: Option<ActivationId>,
    pub logs: Vec<ActivationId>,
    /// The sum of the steps' durations.
    pub duration: u64,
    pub max_memory: u64,
    /// The response of the last step.
    pub last: Option<ActivationResponse>,
    pub transaction_id: String,
}

/// Where a session comes from: its parent (none for the topmost), when it was asked for, and
/// the request's transaction id.
pub struct Origin {
    pub cause: Option<ActivationId>,
    pub received: u64,
    pub transaction_id: String,
}

impl Session {
    pub fn new(
        identity: &Identity,
        invoked: &EntityPath,
        resolved: &ResolvedAction,
        program: Program,
        input: Value,
        origin: Origin,
    ) -> Session {
        let Origin {
            cause,
            received,
            transaction_id,
        } = origin;
        let action = &resolved.action;
        Session {
            id: ActivationId::generate(),
            caller: Caller::of(identity),
            target: Target {
                invoked: invoked.clone(),
                stored: action.path.clone(),
                binding: resolved.binding.clone(),
                version: action.version,
                timeout: action.limits.timeout,
                logs: action.limits.logs,
                memory: action.limits.memory,
            },
            cause,
            received,
            start: now_ms(),
            program,
            input,
            pending: None,
            logs: Vec::new(),
            duration: 0,
            max_memory: action.limits.memory,
            last: None,
            transaction_id,
        }
    }

    pub fn doc(&self) -> String {
        serde_json::to_string(self).expect("sessions serialise")
    }

    /// Counts a finished step.
    pub fn record_step(&mut self, step: &Activation) {
        self.logs.push(step.activation_id.clone());
        self.duration += step.duration.unwrap_or(0);
        let memory = step
            .annotations
            .get("limits")
            .and_then(|l| l.get("memory"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.max_memory = self.max_memory.max(memory);
        self.pending = None;
    }

    /// The primary record, ending with `response`.
    pub fn finish(&self, response: ActivationResponse) -> Activation {
        let end = now_ms();
        let mut annotations = Annotations::default();
        annotations.set("topmost", Value::Bool(self.cause.is_none()));
        annotations.set("path", Value::from(self.target.stored.relative()));
        annotations.set("kind", Value::from("sequence"));
        if matches!(self.program, Program::Conductor { .. }) {
            annotations.set("conductor", Value::Bool(true));
        }
        if self.cause.is_some() {
            annotations.set("causedBy", Value::from("sequence"));
        }
        if let Some(binding) = &self.target.binding {
            annotations.set("binding", Value::from(binding.relative()));
        }
        annotations.set(
            "waitTime",
            Value::from(self.start.saturating_sub(self.received)),
        );
        annotations.set(
            "limits",
            json!({"timeout": self.target.timeout, "logs": self.target.logs, "memory": self.max_memory}),
        );
        Activation {
            activation_id: self.id.clone(),
            namespace: self.caller.namespace.clone(),
            name: self.target.stored.name.to_string(),
            subject: self.caller.subject.clone(),
            version: self.target.version,
            publish: false,
            start: self.start,
            end: Some(end),
            duration: Some(self.duration),
            cause: self.cause.as_ref().map(|c| c.to_string()),
            response,
            logs: self.logs.iter().map(|id| id.to_string()).collect(),
            annotations,
        }
    }
}

/// An application error with `message`, as a composition ends when a limit stops it.
pub fn application_error(message: &str) -> ActivationResponse {
    ActivationResponse::failure(Outcome::ApplicationError, message)
}

/// A whisk error with `message`.
pub fn internal_error(message: &str) -> ActivationResponse {
    ActivationResponse::failure(Outcome::InternalError, message)
}

//! Compositions: sequences and conductor actions, run by the controller between their steps so
//! no runtime process waits on another (the serverless trilemma's "no double billing").
//!
//! Both run on one engine: a [`Session`] is stored after every step (`save_session`, queued in
//! call order), so a restarted server resumes each composition where it stopped. A step whose
//! record was stored before the crash is not run again; a step that was running is run again
//! (at least once per step). The primary record is written once, in the same commit that
//! removes the session (exactly once per composition).

mod conductor;
mod sequence;
mod session;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tracing::Instrument;
use wisp_core::invoke::InvokeError;
use wisp_core::params::merge_into;
use wisp_core::{Activation, ActivationId, ActivationResponse, EntityPath, Exec, Identity};

use crate::entities::ResolvedAction;
use crate::runs::RunningGuard;
use crate::{Controller, InvokeOptions, Invoked, Result};
use session::internal_error;
pub(crate) use session::{Accounting, Origin, Program, Session};

/// Sessions loaded at start that a resumed parent will pick up at its pending step.
pub(crate) type Resumable = Mutex<HashMap<ActivationId, Session>>;

/// One step to run: the action as named, as resolved, its input, and whether only its code
/// runs (a conductor's own run) even if it is a composition.
pub(crate) struct Step<'a> {
    pub path: &'a EntityPath,
    pub resolved: &'a ResolvedAction,
    pub input: Value,
    pub code_only: bool,
}

/// What a step decided.
pub(crate) enum Next {
    Continue,
    Finish(ActivationResponse),
}

impl Controller {
    /// Starts a composition for a caller: stored before anything runs (and before a 202), then
    /// driven in a task of its own; a blocking caller waits as for any action.
    pub(crate) async fn invoke_composition(
        &self,
        identity: &Identity,
        invoked: &EntityPath,
        resolved: &ResolvedAction,
        args: Map<String, Value>,
        options: InvokeOptions,
        received: u64,
    ) -> Result<Invoked> {
        let session = Session::new(
            identity,
            invoked,
            resolved,
            program_of(resolved),
            Value::Object(args),
            Origin {
                cause: None,
                received,
                transaction_id: options.transaction_id.clone(),
            },
        );
        let id = session.id.clone();
        self.records()
            .store()
            .save_session(id.clone(), session.doc())
            .await?;
        let done = self.spawn_session(session);
        if !options.blocking {
            return Ok(Invoked::Accepted(id));
        }
        match tokio::time::timeout(options.wait, done).await {
            Ok(Ok(record)) => Ok(Invoked::Completed(Box::new(record))),
            // Still running (its session is stored): the caller polls the record.
            _ => Ok(Invoked::Accepted(id)),
        }
    }

    fn spawn_session(&self, session: Session) -> oneshot::Receiver<Activation> {
        let guard = RunningGuard::enter(self.inner.clone());
        let (done_tx, done_rx) = oneshot::channel();
        let controller = self.clone();
        // Its steps' activations get spans of their own inside this one.
        let span = tracing::info_span!(
            "composition",
            id = %session.id,
            namespace = %session.caller.namespace,
        );
        tokio::spawn(
            async move {
                let (record, _) = controller.drive(session).await;
                let _ = done_tx.send(record);
                drop(guard);
            }
            .instrument(span),
        );
        done_rx
    }

    /// Runs a session to its end and stores its record; returns the record and the session
    /// as it ended (whose counts a parent carries on with).
    async fn drive(&self, mut session: Session) -> (Activation, Session) {
        let response = loop {
            let next = match &session.program {
                Program::Sequence { .. } => self.sequence_step(&mut session).await,
                Program::Conductor { .. } => self.conductor_step(&mut session).await,
            };
            match next {
                Next::Continue => {
                    // Queued now, landing before anything saved later; not awaited, so a
                    // step costs no commit wait. Lost only with a crash, which then re-runs
                    // the step.
                    drop(self.save(&session));
                }
                Next::Finish(response) => break response,
            }
        };
        let record = session.finish(response);
        let id = record.activation_id.clone();
        self.records().hold(&record);
        // Stores the record and removes the session in one commit.
        if let Err(e) = self.records().complete(record.clone(), None).await {
            tracing::error!(error = %e, activation = %id, "composition record not stored");
        }
        (record, session)
    }

    fn save(&self, session: &Session) -> wisp_store::BoxFuture<'_, wisp_store::Result<()>> {
        self.records()
            .store()
            .save_session(session.id.clone(), session.doc())
    }

    /// Runs one step of `session`: the action `resolved` on `input`, as a nested composition
    /// when it is one (unless `code_only`: a conductor's own run). `nested` gives a nested composition's program the counts it inherits
    /// and takes them back when it ends. `Err` is the response that ends the composition.
    pub(crate) async fn run_step(
        &self,
        session: &mut Session,
        step: Step<'_>,
        nested: impl FnOnce(Program) -> Program,
        inherit: impl FnOnce(&Program),
    ) -> std::result::Result<Activation, ActivationResponse> {
        let Step {
            path,
            resolved,
            input,
            code_only,
        } = step;
        let identity = session
            .caller
            .identity()
            .ok_or_else(|| internal_error("Sequence failed."))?;
        // A step that was under way when the server stopped: its record, or its own session,
        // may have survived.
        if let Some(id) = session.pending.clone() {
            if let Some(child) = self.take_resumable(&id) {
                let (record, ended) = Box::pin(self.drive(child)).await;
                inherit(&ended.program);
                return Ok(record);
            }
            if let Ok(Some(record)) = self
                .records()
                .store()
                .get(session.caller.namespace.clone(), id)
                .await
            {
                return Ok(record);
            }
        }
        let action = &resolved.action;
        if !code_only && action.is_composition() {
            let child = Session::new(
                &identity,
                path,
                resolved,
                nested(program_of(resolved)),
                input,
                Origin {
                    cause: Some(session.id.clone()),
                    received: wisp_core::time::now_ms(),
                    transaction_id: session.transaction_id.clone(),
                },
            );
            session.pending = Some(child.id.clone());
            drop(self.save(session));
            drop(self.save(&child));
            let (record, ended) = Box::pin(self.drive(child)).await;
            inherit(&ended.program);
            return Ok(record);
        }
        let id = ActivationId::generate();
        session.pending = Some(id.clone());
        drop(self.save(session));
        let args = component_arguments(action, input);
        self.run_child(
            &identity,
            resolved,
            args,
            id,
            &session.id,
            session.transaction_id.clone(),
        )
        .await
        .map_err(|e: InvokeError| {
            tracing::warn!(error = %e, "a composition step could not run");
            internal_error("Activation failure during composition.")
        })
    }

    fn take_resumable(&self, id: &ActivationId) -> Option<Session> {
        self.inner
            .runs
            .resumable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Resumes the compositions a previous run left unfinished. Sessions that a stored parent
    /// is waiting on are resumed by that parent, when it reaches them.
    pub(crate) async fn resume_sessions(&self) -> Result<()> {
        let docs = self.records().store().sessions().await?;
        self.resume(docs);
        Ok(())
    }

    /// Resumes the compositions whose saved progress `docs` holds.
    pub(crate) fn resume(&self, docs: Vec<String>) {
        let mut sessions = HashMap::new();
        for doc in docs {
            match serde_json::from_str::<Session>(&doc) {
                Ok(session) => {
                    sessions.insert(session.id.clone(), session);
                }
                Err(e) => {
                    tracing::error!(error = %e, "an unreadable composition session was skipped")
                }
            }
        }
        let awaited: HashSet<ActivationId> = sessions
            .values()
            .filter_map(|s| s.pending.clone())
            .collect();
        let (children, roots): (Vec<_>, Vec<_>) = sessions
            .into_values()
            .partition(|s| awaited.contains(&s.id));
        self.inner
            .runs
            .resumable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(children.into_iter().map(|s| (s.id.clone(), s)));
        for session in roots {
            tracing::info!(activation = %session.id, "resuming a composition");
            drop(self.spawn_session(session));
        }
    }
}

/// The program an action runs as a composition.
fn program_of(resolved: &ResolvedAction) -> Program {
    match &resolved.action.exec {
        Exec::Sequence(s) => Program::Sequence {
            components: s.components.clone(),
            next: 0,
            atoms: 0,
        },
        _ => Program::Conductor {
            state: None,
            component: None,
            accounting: Accounting::default(),
        },
    }
}

/// A step's arguments: the action's defaults under its input. An array input goes as is; any
/// other non-object input means no input.
fn component_arguments(action: &wisp_core::Action, input: Value) -> Value {
    let mut args = Map::new();
    merge_into(&mut args, &action.parameters);
    match input {
        Value::Object(input) => {
            args.extend(input);
            Value::Object(args)
        }
        Value::Array(items) => Value::Array(items),
        _ => Value::Object(args),
    }
}

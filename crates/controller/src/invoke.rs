//! Invoking an action: arguments, throttling, handing the run to the invoker, waiting for
//! blocking callers and writing the record.
//!
//! Every activation runs in its own task, so a caller that stops waiting (a blocking wait that
//! ran out, a dropped connection) never stops the activation. A 202 is answered only after a
//! pending marker is durable; the marker is itself a record saying the activation was
//! interrupted, which is what a restart stores if the activation never finished.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tracing::Instrument;
use wisp_core::invoke::{InvokeError, RunOutcome, RunRequest};
use wisp_core::params::merge_into;
use wisp_core::time::now_ms;
use wisp_core::{
    Action, Activation, ActivationId, ActivationResponse, Annotations, EntityPath, Exec, Identity,
    Outcome,
};

use crate::entities::ResolvedAction;
use crate::runs::RunningGuard;
use crate::{Controller, ControllerError, Result};

const INTERRUPTED: &str =
    "The activation was interrupted because the server stopped before it completed.";

/// What a run carries besides its action and arguments: the request's transaction id. (The
/// state services' variables are added where the activation runs: they name that host's
/// endpoints.)
struct RunContext {
    transaction_id: String,
}

/// How a caller wants to invoke.
#[derive(Debug, Clone)]
pub struct InvokeOptions {
    pub blocking: bool,
    /// How long a blocking caller waits before getting a 202.
    pub wait: Duration,
    pub transaction_id: String,
}

/// What the caller gets back.
#[derive(Debug)]
pub enum Invoked {
    /// The activation finished within the wait.
    Completed(Box<Activation>),
    /// The activation was accepted and runs on; its record will be stored.
    Accepted(ActivationId),
}

impl Controller {
    pub async fn invoke(
        &self,
        identity: &Identity,
        path: &EntityPath,
        payload: Option<Map<String, Value>>,
        options: InvokeOptions,
    ) -> Result<Invoked> {
        let received = now_ms();
        let resolved = self.entities().resolve_action(identity, path).await?;
        let action = resolved.action.clone();
        let args = arguments(&action, payload)?;
        let permit = self
            .inner
            .runs
            .throttle
            .admit(identity.namespace.as_str(), &self.throttles(identity))
            .inspect_err(|refused| self.throttled(identity, refused.limit()))?;
        if action.is_composition() {
            drop(permit);
            return self
                .invoke_composition(identity, path, &resolved, args, options, received)
                .await;
        }
        if let Exec::Builtin(builtin) = &action.exec {
            let record = self
                .run_builtin_activation(identity, &resolved, &builtin.builtin, &args, received)
                .await?;
            drop(permit);
            return Ok(if options.blocking {
                Invoked::Completed(Box::new(record))
            } else {
                Invoked::Accepted(record.activation_id)
            });
        }
        let activation_id = ActivationId::generate();
        let pending = self.record(identity, &resolved, &activation_id, received, None);
        if !options.blocking {
            self.records().store().accept(pending.clone()).await?;
        }
        let done = self.launch(
            identity,
            &resolved,
            Value::Object(args),
            pending,
            Some(permit),
            options.blocking,
            RunContext {
                transaction_id: options.transaction_id.clone(),
            },
        );
        if !options.blocking {
            return Ok(Invoked::Accepted(activation_id));
        }
        match tokio::time::timeout(options.wait, done).await {
            Ok(Ok(Ok(record))) => Ok(Invoked::Completed(Box::new(record))),
            Ok(Ok(Err(refused))) => Err(ControllerError::Unavailable(format!(
                "The server cannot take more work now: {refused}."
            ))),
            _ => {
                // The caller stops waiting and gets a 202: from here the activation must end
                // in a record even if the server dies. A marker that lands after the record
                // is harmless: recovery keeps an existing record.
                let marker = self.record(identity, &resolved, &activation_id, received, None);
                self.records().store().accept(marker).await?;
                Ok(Invoked::Accepted(activation_id))
            }
        }
    }

    /// Runs one step of a composition: the action's code (a conductor's too) on `args`, with
    /// `cause` as its parent, waiting for its end however long it takes (its own time limit
    /// bounds it). Its record is stored like any other.
    pub(crate) async fn run_child(
        &self,
        identity: &Identity,
        resolved: &ResolvedAction,
        args: Value,
        id: ActivationId,
        cause: &ActivationId,
        transaction_id: String,
    ) -> std::result::Result<Activation, InvokeError> {
        let received = now_ms();
        let pending = self.record(identity, resolved, &id, received, Some(cause));
        let done = self.launch(
            identity,
            resolved,
            args,
            pending,
            None,
            true,
            RunContext { transaction_id },
        );
        done.await.unwrap_or(Err(InvokeError::ShuttingDown))
    }

    /// Hands an activation to the invoker in a task of its own; the receiver gets the finished
    /// record (already on its way to the store), or why it never ran.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &self,
        identity: &Identity,
        resolved: &ResolvedAction,
        args: Value,
        pending: Activation,
        permit: Option<crate::throttle::Permit>,
        blocking: bool,
        RunContext { transaction_id }: RunContext,
    ) -> oneshot::Receiver<std::result::Result<Activation, InvokeError>> {
        let action = resolved.action.clone();
        let received = pending.start;
        let request = RunRequest {
            activation_id: pending.activation_id.clone(),
            init_env: init_environment(&action),
            api_key: provides_api_key(&action).then(|| identity.api_key.clone()),
            namespace: identity.namespace.to_string(),
            transaction_id,
            env: Vec::new(),
            args,
            action,
        };
        let guard = RunningGuard::enter(self.inner.clone());
        let (done_tx, done_rx) = oneshot::channel();
        let controller = self.clone();
        // Everything logged while it runs (here, in the invoker, in declared state) carries
        // the activation's id and namespace.
        let span = tracing::info_span!(
            "activation",
            id = %request.activation_id,
            namespace = %request.namespace,
            action = %request.action.path.relative(),
            tid = %request.transaction_id,
        );
        let task = async move {
            let mut done_tx = Some(done_tx);
            let outcome = controller.inner.runs.invoker.run(request).await;
            drop(permit);
            if blocking && matches!(outcome, Err(InvokeError::Overloaded)) {
                // Refused before it ran: a caller still waiting gets a 503 and nothing was
                // accepted, so no record is kept. A caller that already got a 202 gets one.
                let tx = done_tx.take().expect("not sent yet");
                if tx.send(Err(InvokeError::Overloaded)).is_ok() {
                    drop(guard);
                    return;
                }
            }
            let start = outcome.as_ref().ok().map(|run| run.start_kind);
            let record = finish(pending, received, outcome);
            // The caller gets the record now; the write is group-committed behind it. Until it
            // lands, reads of this activation are answered from memory.
            controller.records().hold(&record);
            controller.records().count_finished(&record, start);
            if let Some(tx) = done_tx {
                let _ = tx.send(Ok(record.clone()));
            }
            tracing::debug!(
                status = record.response.outcome.status(),
                duration_ms = record.duration.unwrap_or(0),
                "activation finished"
            );
            if let Err(e) = controller.records().commit(record).await {
                tracing::error!(error = %e, "activation record not stored");
            }
            drop(guard);
        };
        tokio::spawn(task.instrument(span));
        done_rx
    }

    /// Runs a builtin in the controller itself: its refusals are answered as errors with no
    /// record; what it did is an activation whose record is stored before the answer.
    async fn run_builtin_activation(
        &self,
        identity: &Identity,
        resolved: &ResolvedAction,
        builtin: &str,
        args: &Map<String, Value>,
        received: u64,
    ) -> Result<Activation> {
        let result = self.run_builtin(identity, builtin, args).await?;
        let mut record = self.record(
            identity,
            resolved,
            &ActivationId::generate(),
            received,
            None,
        );
        let end = now_ms();
        record.end = Some(end);
        record.duration = Some(end.saturating_sub(received));
        let size = result.to_string().len();
        record.response = ActivationResponse::from_result(result, size);
        record.annotations.set("timeout", Value::Bool(false));
        record.annotations.set("waitTime", Value::from(0));
        self.records().complete(record.clone(), None).await?;
        Ok(record)
    }

    /// The record of an activation that has not finished: what a restart stores if it never
    /// does.
    fn record(
        &self,
        identity: &Identity,
        resolved: &ResolvedAction,
        id: &ActivationId,
        received: u64,
        cause: Option<&ActivationId>,
    ) -> Activation {
        let action = &resolved.action;
        let mut annotations = Annotations::default();
        annotations.set("limits", limits_json(action));
        annotations.set("path", Value::from(action.path.relative()));
        annotations.set("kind", Value::from(action.exec.kind_name()));
        if let Some(binding) = &resolved.binding {
            annotations.set("binding", Value::from(binding.relative()));
        }
        if cause.is_some() {
            annotations.set("causedBy", Value::from("sequence"));
        }
        Activation {
            activation_id: id.clone(),
            namespace: identity.namespace.to_string(),
            name: action.path.name.to_string(),
            subject: identity.subject.clone(),
            version: action.version,
            publish: false,
            start: received,
            end: Some(received),
            duration: Some(0),
            cause: cause.map(|c| c.to_string()),
            response: ActivationResponse::failure(Outcome::InternalError, INTERRUPTED),
            logs: Vec::new(),
            annotations,
        }
    }

    /// Stores records for activations a previous run accepted but never finished.
    pub(crate) async fn recover_orphans(&self) -> Result<()> {
        let orphans = self.records().store().take_orphans().await?;
        self.record_orphans(orphans).await
    }

    /// Stores the records of activations accepted by a run (this controller's, or one's that
    /// is gone) that never finished: the record if one was stored after all, else the marker,
    /// which says the activation was interrupted.
    pub(crate) async fn record_orphans(&self, orphans: Vec<Activation>) -> Result<()> {
        let store = &self.records().store();
        for orphan in orphans {
            let existing = store
                .get(orphan.namespace.clone(), orphan.activation_id.clone())
                .await?;
            // The outcome, if it reached the bus after its controller stopped waiting.
            let outcome = match &self.inner.runs.peers {
                Some(peers) if existing.is_none() => peers.take_outcome(&orphan.activation_id),
                _ => None,
            };
            let record = match (existing, outcome) {
                (Some(record), _) => record,
                (None, Some(outcome)) => {
                    let received = orphan.start;
                    finish(orphan, received, outcome)
                }
                (None, None) => orphan,
            };
            // Completing again also clears the marker.
            self.records().complete(record, None).await?;
        }
        Ok(())
    }
}

/// Fills the pending record with what happened.
fn finish(
    mut record: Activation,
    received: u64,
    outcome: std::result::Result<RunOutcome, InvokeError>,
) -> Activation {
    match outcome {
        Ok(run) => {
            record.start = run.start;
            record.end = Some(run.end);
            record.duration = Some(run.end.saturating_sub(run.start));
            record.response = run.response;
            record.logs = run.logs;
            let annotations = &mut record.annotations;
            annotations.set("timeout", Value::Bool(run.timed_out));
            if let Some(note) = run.state {
                annotations.set(wisp_core::declared_state::ANNOTATION, note);
            }
            if let Some(init) = run.init_time {
                annotations.set("initTime", Value::from(init));
            }
            annotations.set("waitTime", Value::from(run.start.saturating_sub(received)));
        }
        Err(e) => {
            let end = now_ms();
            record.end = Some(end);
            record.duration = Some(end.saturating_sub(record.start));
            record.response = ActivationResponse::failure(Outcome::InternalError, e.to_string());
            record.annotations.set("timeout", Value::Bool(false));
            record
                .annotations
                .set("waitTime", Value::from(end.saturating_sub(received)));
        }
    }
    record
}

fn limits_json(action: &Action) -> Value {
    let l = action.limits;
    json!({"timeout": l.timeout, "memory": l.memory, "logs": l.logs, "concurrency": l.concurrency})
}

/// Action defaults overlaid by the invoke payload; with `final`, defined parameters are fixed.
fn arguments(action: &Action, payload: Option<Map<String, Value>>) -> Result<Map<String, Value>> {
    let mut args = Map::new();
    merge_into(&mut args, &action.parameters);
    let payload = payload.unwrap_or_default();
    if action.annotations.is_true("final") && payload.keys().any(|k| args.contains_key(k)) {
        return Err(ControllerError::BadRequest(
            "Request defines parameters that are not allowed (e.g., reserved properties).".into(),
        ));
    }
    args.extend(payload);
    Ok(args)
}

fn init_environment(action: &Action) -> Map<String, Value> {
    action
        .parameters
        .iter()
        .filter(|p| p.init)
        .map(|p| {
            let value = match &p.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (p.key.clone(), Value::String(value))
        })
        .collect()
}

/// Whether the action gets the caller's key; actions without the annotation predate it and
/// get it, as in OpenWhisk.
fn provides_api_key(action: &Action) -> bool {
    action
        .annotations
        .get("provide-api-key")
        .is_none_or(wisp_core::params::is_truthy)
}

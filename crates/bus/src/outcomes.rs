//! Outcomes travel durably: an invoker publishes each to the controller's subject of a
//! work-queue stream and acknowledges the activation only once the server has it; each
//! controller takes its own subject through a durable consumer named after it.
//!
//! So an outcome outlives the controller it was sent to. A controller started again under its
//! id finds the outcomes sent while it was down waiting in its consumer; one that adopts a
//! dead controller's activations drains that controller's consumer first. Either way the
//! outcomes nobody waits for are kept ([`Unclaimed`]) for the records of those activations,
//! which then say what happened instead of "interrupted".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;
use wisp_core::invoke::{InvokeError, RunOutcome};
use wisp_core::ActivationId;

use crate::code::CodeStore;
use crate::messages::OutcomeMessage;
use crate::{BusError, Subjects};

/// Outcomes no one collects (their controller gone, no one adopting) expire after this.
const KEPT_FOR: Duration = Duration::from_secs(3600);

/// Unclaimed outcomes kept for records, at most, and for how long.
const UNCLAIMED_MAX: usize = 100_000;
const UNCLAIMED_FOR: Duration = Duration::from_secs(3600);

/// Creates the cluster's outcome stream if it does not exist yet.
pub(crate) async fn ensure_stream(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
) -> Result<stream::Stream, BusError> {
    let (name, subject) = (subjects.outcome_stream(), subjects.results_all());
    crate::work_queue(jetstream, name, subject, KEPT_FOR).await
}

/// The durable consumer of `controller`'s outcomes.
pub(crate) async fn consumer(
    stream: &stream::Stream,
    subjects: &Subjects,
    controller: &str,
) -> Result<jetstream::consumer::Consumer<pull::Config>, BusError> {
    stream
        .get_or_create_consumer(
            controller,
            pull::Config {
                durable_name: Some(controller.to_owned()),
                filter_subject: subjects.results(controller),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| BusError::JetStream(e.to_string()))
}

/// Takes every outcome waiting in `consumer` now, acknowledging each.
pub(crate) async fn drain(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    code: &CodeStore,
) -> Result<Vec<OutcomeMessage>, BusError> {
    let mut taken = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(256)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        let before = taken.len();
        while let Some(message) = batch.next().await {
            let Ok(message) = message else { break };
            if let Ok(payload) = code.unwrap(&message.payload).await {
                if let Ok(outcome) = serde_json::from_slice::<OutcomeMessage>(&payload) {
                    taken.push(outcome);
                }
            }
            let _ = message.ack().await;
        }
        if taken.len() == before {
            return Ok(taken);
        }
    }
}

/// What became of an activation, as its record reads it.
type Outcome = Result<RunOutcome, InvokeError>;

/// Outcomes that arrived with no one waiting for them, kept for the records of their
/// activations.
#[derive(Default)]
pub(crate) struct Unclaimed {
    kept: Mutex<HashMap<ActivationId, (Outcome, Instant)>>,
}

impl Unclaimed {
    pub fn keep(&self, outcome: OutcomeMessage) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= UNCLAIMED_MAX {
            kept.retain(|_, (_, at)| at.elapsed() < UNCLAIMED_FOR);
        }
        if kept.len() < UNCLAIMED_MAX {
            let id = outcome.activation_id.clone();
            kept.insert(id, (outcome.into_outcome(), Instant::now()));
        }
    }

    pub fn take(&self, id: &ActivationId) -> Option<Outcome> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.remove(id).map(|(outcome, _)| outcome)
    }
}

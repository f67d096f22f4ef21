//! The controller's side: an [`Invoke`] that runs each activation on a live invoker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wisp_core::invoke::{CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest};
use wisp_core::{Action, ActivationId, BoxFuture};

use crate::code::CodeStore;
use crate::members::{Heartbeat, Members};
use crate::messages::{Checked, OutcomeMessage, PrepareMessage, RunMessage};
use crate::node::ensure_stream;
use crate::outcomes::Unclaimed;
use crate::{BusError, Subjects};

/// How long an invoker may be silent before it counts as gone: three missed heartbeats.
pub const HEARTBEAT_TTL: Duration = Duration::from_secs(3);

/// Most invokers one activation is offered to when each refuses it before it starts.
const MAX_PLACEMENTS: usize = 3;

/// Longest an invoker takes to check code before it is stored.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(60);

type Reply = oneshot::Sender<Answer>;

/// What a placement ends in.
enum Answer {
    /// The invoker's outcome, or why there was none.
    Outcome(Result<RunOutcome, InvokeError>),
    /// The invoker went silent before its consumer was ever handed the activation: it never
    /// started, and goes to another invoker.
    NotDelivered,
}

/// An activation handed over and not yet answered.
struct Placed {
    invoker: String,
    /// Its sequence in the stream, once the server acknowledged the publish (0 before).
    sequence: u64,
    reply: Reply,
}

/// Runs activations on the cluster's invokers; cheap to share.
pub struct RemoteInvoker {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: jetstream::stream::Stream,
    /// Where code too large for a message goes.
    code: CodeStore,
    subjects: Subjects,
    controller: String,
    members: Members,
    /// Activations placed and not yet answered, with the invoker each went to.
    waiting: Mutex<HashMap<ActivationId, Placed>>,
    accepting: AtomicBool,
    /// When each other controller was last heard from.
    controllers: Mutex<HashMap<String, Instant>>,
    started: Instant,
    outcome_stream: jetstream::stream::Stream,
    /// Outcomes that came with no one waiting: for the records of activations recovered at
    /// start or adopted from a dead controller.
    unclaimed: Unclaimed,
}

impl RemoteInvoker {
    /// Joins the cluster as controller `controller`: listens for heartbeats and for the
    /// outcomes of what it places.
    pub async fn start(
        client: async_nats::Client,
        subjects: Subjects,
        controller: &str,
    ) -> Result<RemoteInvoker, BusError> {
        let jetstream = jetstream::new(client.clone());
        let stream = ensure_stream(&jetstream, &subjects).await?;
        let code = CodeStore::open(jetstream.clone(), subjects.clone()).await?;
        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject)
                    .await
                    .map_err(|e| BusError::JetStream(e.to_string()))
            }
        };
        // Outcomes sent while this controller was down are kept for the records of its
        // activations, which it recovers at start.
        let outcome_stream = crate::outcomes::ensure_stream(&jetstream, &subjects).await?;
        let own = crate::outcomes::consumer(&outcome_stream, &subjects, controller).await?;
        let unclaimed = Unclaimed::default();
        for outcome in crate::outcomes::drain(&own, &code).await? {
            unclaimed.keep(outcome);
        }
        let mut outcomes = own
            .messages()
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        let mut heartbeats = subscribe(subjects.heartbeats()).await?;
        let mut peers = subscribe(subjects.controller_heartbeats()).await?;
        let shared = Arc::new(Shared {
            client,
            jetstream,
            stream,
            code,
            subjects,
            controller: controller.to_owned(),
            members: Members::new(HEARTBEAT_TTL),
            waiting: Mutex::new(HashMap::new()),
            accepting: AtomicBool::new(true),
            controllers: Mutex::new(HashMap::new()),
            started: Instant::now(),
            outcome_stream,
            unclaimed,
        });

        let on_outcome = shared.clone();
        let outcome_task = tokio::spawn(async move {
            while let Some(message) = outcomes.next().await {
                let Ok(message) = message else { continue };
                if CodeStore::is_wrapped(&message.payload) {
                    // A large outcome is read back from the stream, beside this loop.
                    let shared = on_outcome.clone();
                    tokio::spawn(async move {
                        match shared.code.unwrap(&message.payload).await {
                            Ok(payload) => shared.take_outcome(&payload),
                            Err(e) => tracing::warn!(error = %e, "a large outcome was lost"),
                        }
                        let _ = message.ack().await;
                    });
                } else {
                    on_outcome.take_outcome(&message.payload);
                    let _ = message.ack().await;
                }
            }
        });
        let on_heartbeat = shared.clone();
        let heartbeat_task = tokio::spawn(async move {
            while let Some(message) = heartbeats.next().await {
                if let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&message.payload) {
                    on_heartbeat.members.heard(heartbeat);
                }
            }
        });
        // What was placed on an invoker that went silent ends as lost: the record says so
        // within seconds instead of waiting for the action's time limit.
        let watching = shared.clone();
        let watchdog = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT_TTL / 3).await;
                watching.settle_silent().await;
                watching.purge_silent().await;
            }
        });
        // Controllers announce themselves too, so that the work of one gone for good is
        // adopted by the others (`wisp_controller::Peers`).
        let announcing = shared.clone();
        let announce_task = tokio::spawn(async move {
            let subject = announcing
                .subjects
                .controller_heartbeat(&announcing.controller);
            loop {
                let _ = announcing
                    .client
                    .publish(subject.clone(), Bytes::new())
                    .await;
                tokio::time::sleep(HEARTBEAT_TTL / 3).await;
            }
        });
        let hearing = shared.clone();
        let peers_task = tokio::spawn(async move {
            while let Some(message) = peers.next().await {
                if let Some(id) = message.subject.rsplit('.').next() {
                    let mut controllers = hearing
                        .controllers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    controllers.insert(id.to_owned(), Instant::now());
                }
            }
        });
        Ok(RemoteInvoker {
            shared,
            tasks: vec![
                outcome_task,
                heartbeat_task,
                watchdog,
                announce_task,
                peers_task,
            ],
        })
    }

    /// The invokers this controller has heard from.
    pub fn members(&self) -> &Members {
        &self.shared.members
    }

    /// Whether controller `id` may still be running: it is this one, or was heard from within
    /// the time-to-live, or this one has not been up long enough to have heard it.
    pub fn controller_may_be_live(&self, id: &str) -> bool {
        let shared = &self.shared;
        if id == shared.controller || shared.started.elapsed() < HEARTBEAT_TTL * 2 {
            return true;
        }
        let controllers = shared.controllers.lock().unwrap_or_else(|p| p.into_inner());
        controllers
            .get(id)
            .is_some_and(|at| at.elapsed() < HEARTBEAT_TTL)
    }

    /// Takes the outcomes sent to `controller` (gone) that it never took, and removes its
    /// consumer: their activations' records are about to be written by this controller.
    pub async fn collect_outcomes_of(&self, controller: &str) -> Result<(), BusError> {
        let shared = &self.shared;
        let consumer =
            crate::outcomes::consumer(&shared.outcome_stream, &shared.subjects, controller).await?;
        for outcome in crate::outcomes::drain(&consumer, &shared.code).await? {
            shared.unclaimed.keep(outcome);
        }
        let _ = shared.outcome_stream.delete_consumer(controller).await;
        Ok(())
    }

    /// The outcome of `activation` that came with no one waiting for it, if one did.
    pub fn take_unclaimed(
        &self,
        activation: &ActivationId,
    ) -> Option<Result<RunOutcome, InvokeError>> {
        self.shared.unclaimed.take(activation)
    }

    /// Waits up to `deadline` until `count` invokers are live; whether they are.
    pub async fn wait_for_invokers(&self, count: usize, deadline: Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        while self.shared.members.live().len() < count {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Places the activation on a live invoker and waits for its outcome. One refused before
    /// it started (the invoker is full or leaving) or never delivered to an invoker that went
    /// silent goes to the next invoker, up to [`MAX_PLACEMENTS`] of them.
    async fn run_remote(&self, request: RunRequest) -> Result<RunOutcome, InvokeError> {
        let shared = &self.shared;
        if !shared.accepting.load(Ordering::Acquire) {
            return Err(InvokeError::ShuttingDown);
        }
        let (action, code) = match shared.code.detach(&request.action).await {
            Ok(detached) => detached,
            Err(e) => {
                tracing::warn!(error = %e, "the action's code could not be stored for invokers");
                return Err(InvokeError::Overloaded);
            }
        };
        let message = RunMessage::new(&request, action, code, &shared.controller);
        let payload = match serde_json::to_vec(&message) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "an activation could not be encoded");
                return Err(InvokeError::NotRunnable);
            }
        };
        let payload = match shared.code.wrap(payload).await {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!(error = %e, "a large activation could not be stored for invokers");
                return Err(InvokeError::Overloaded);
            }
        };
        let mut tried: Vec<String> = Vec::new();
        let mut refused = InvokeError::Overloaded;
        while tried.len() < MAX_PLACEMENTS {
            let Some(invoker) = shared.members.place(
                &request.action,
                &request.namespace,
                &request.activation_id,
                &tried,
            ) else {
                if tried.is_empty() {
                    tracing::warn!("no invoker is live: the activation is refused");
                }
                break;
            };
            let attempt = tried.len() + 1;
            match self
                .hand_over(&request.activation_id, &invoker, payload.clone(), attempt)
                .await
            {
                Answer::Outcome(Err(e @ (InvokeError::Overloaded | InvokeError::ShuttingDown))) => {
                    refused = e;
                    tried.push(invoker);
                }
                Answer::NotDelivered => {
                    refused = InvokeError::InvokerLost;
                    tried.push(invoker);
                }
                Answer::Outcome(outcome) => return outcome,
            }
        }
        Err(refused)
    }

    /// Publishes the activation to `invoker`'s subject, durably, and waits for what becomes of
    /// it there.
    async fn hand_over(
        &self,
        id: &ActivationId,
        invoker: &str,
        payload: Bytes,
        attempt: usize,
    ) -> Answer {
        let shared = &self.shared;
        let (reply, answer) = oneshot::channel();
        let placed = Placed {
            invoker: invoker.to_owned(),
            sequence: 0,
            reply,
        };
        shared.lock().insert(id.clone(), placed);
        // The id deduplicates a publish retried by the client; each placement has its own.
        let message = PublishMessage::build()
            .payload(payload)
            .message_id(format!("{id}:{attempt}"));
        let published = match shared
            .jetstream
            .send_publish(shared.subjects.invoke(invoker), message)
            .await
        {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match published {
            Ok(ack) => {
                if let Some(placed) = shared.lock().get_mut(id) {
                    placed.sequence = ack.sequence;
                }
            }
            Err(e) => {
                shared.lock().remove(id);
                shared.members.done(invoker, id);
                tracing::warn!(error = %e, invoker, "the activation could not be handed over");
                return Answer::Outcome(Err(InvokeError::Overloaded));
            }
        }
        answer
            .await
            .unwrap_or(Answer::Outcome(Err(InvokeError::InvokerLost)))
    }

    async fn prepare_remote(&self, action: &Action) -> Result<(), CodeError> {
        let (action, code) = self
            .shared
            .code
            .detach(action)
            .await
            .map_err(|e| CodeError::Engine(e.to_string()))?;
        let payload = serde_json::to_vec(&PrepareMessage { action, code })
            .map_err(|e| CodeError::Engine(e.to_string()))?;
        let asked = self
            .shared
            .client
            .request(self.shared.subjects.prepare(), payload.into());
        let reply = match tokio::time::timeout(PREPARE_TIMEOUT, asked).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                return Err(CodeError::Engine(
                    "no invoker is running to check the code".into(),
                ))
            }
            Ok(Err(e)) => return Err(CodeError::Engine(e.to_string())),
            Err(_) => {
                return Err(CodeError::Engine(
                    "no invoker checked the code in time".into(),
                ))
            }
        };
        serde_json::from_slice::<Checked>(&reply.payload)
            .map_err(|e| CodeError::Engine(e.to_string()))?
            .into_result()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ActivationId, Placed>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands an outcome message to the activation waiting for it, or keeps it when none is.
    fn take_outcome(&self, payload: &[u8]) {
        let done = match serde_json::from_slice::<OutcomeMessage>(payload) {
            Ok(done) => done,
            Err(e) => return tracing::warn!(error = %e, "an unreadable outcome was dropped"),
        };
        let placed = self.lock().remove(&done.activation_id);
        match placed {
            Some(placed) => {
                self.members.done(&placed.invoker, &done.activation_id);
                let _ = placed.reply.send(Answer::Outcome(done.into_outcome()));
            }
            None => self.unclaimed.keep(done),
        }
    }

    fn answer(&self, id: &ActivationId, answer: Answer) {
        let placed = self.lock().remove(id);
        if let Some(placed) = placed {
            self.members.done(&placed.invoker, id);
            let _ = placed.reply.send(answer);
        }
    }

    /// Removes what waits in the stream for invokers that went silent: its controllers have
    /// recorded it as lost, so a restarted invoker must not run it late.
    async fn purge_silent(&self) {
        for invoker in self.members.silent() {
            let subject = self.subjects.invoke(&invoker);
            if let Err(e) = self.stream.purge().filter(subject).await {
                tracing::warn!(error = %e, invoker, "the work of a silent invoker was not purged");
            }
        }
    }

    /// Settles what was placed on invokers that went silent. The server kept, per invoker,
    /// how far along its stream it handed activations over: one placed beyond that was never
    /// delivered, so it never started and goes elsewhere; one delivered may have run, and
    /// ends as lost (never run twice). The record says so within seconds instead of waiting
    /// for the action's time limit.
    async fn settle_silent(&self) {
        let mut silent: HashMap<String, Vec<(ActivationId, u64)>> = HashMap::new();
        for (id, placed) in self.lock().iter() {
            // Not yet acknowledged by the server: its publish settles it.
            if placed.sequence > 0 && !self.members.is_live(&placed.invoker) {
                silent
                    .entry(placed.invoker.clone())
                    .or_default()
                    .push((id.clone(), placed.sequence));
            }
        }
        for (invoker, placed) in silent {
            let delivered = match self.stream.consumer_info(&invoker).await {
                Ok(info) => info.delivered.stream_sequence,
                Err(e) => {
                    tracing::warn!(error = %e, invoker, "what the silent invoker took is unknown");
                    u64::MAX
                }
            };
            for (id, sequence) in placed {
                if sequence > delivered {
                    tracing::info!(activation = %id, invoker, "never delivered: placed again");
                    self.answer(&id, Answer::NotDelivered);
                } else {
                    tracing::warn!(activation = %id, invoker, "its invoker went silent");
                    self.answer(&id, Answer::Outcome(Err(InvokeError::InvokerLost)));
                }
            }
        }
    }
}

impl Invoke for RemoteInvoker {
    fn run(&self, request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        Box::pin(self.run_remote(request))
    }

    fn prepare<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        Box::pin(self.prepare_remote(action))
    }

    /// Taking work needs an invoker to give it to.
    fn accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire)
            && self.shared.members.live().iter().any(|h| h.accepting)
    }

    /// The pools are the invokers'; each reports its own.
    fn pool(&self) -> PoolSnapshot {
        PoolSnapshot::default()
    }

    fn shutdown(&self) {
        self.shared.accepting.store(false, Ordering::Release);
    }
}

impl Drop for RemoteInvoker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

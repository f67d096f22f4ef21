//! The invoker's side: takes the activations placed on this invoker from its durable consumer,
//! runs them on the local runtimes, and answers each controller; announces itself every
//! interval; checks code for controllers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use wisp_core::invoke::{Invoke, InvokeError};

use crate::code::CodeStore;
use crate::members::Heartbeat;
use crate::messages::{Checked, OutcomeMessage, PrepareMessage, RunMessage};
use crate::{BusError, Subjects};

/// Who this invoker is and how it keeps in touch.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Its name in the cluster (a NATS token: letters, digits, `-`, `_`).
    pub invoker: String,
    /// Memory it offers to functions, in MB.
    pub memory_mb: u64,
    pub heartbeat_every: Duration,
    /// How long the server waits for a sign of life on a taken activation before it delivers
    /// it again; a running activation renews it at half this.
    pub ack_wait: Duration,
}

/// An invoker serving the cluster; stops when dropped.
pub struct InvokerNode {
    client: async_nats::Client,
    tasks: Vec<JoinHandle<()>>,
    work: Arc<Work>,
    heartbeat_every: Duration,
}

/// What the invoker has taken on, and whether it still takes more.
#[derive(Default)]
struct Work {
    draining: AtomicBool,
    running: AtomicUsize,
    idle: Notify,
}

/// Counts one running activation until dropped.
struct Running(Arc<Work>);

impl Running {
    fn enter(work: &Arc<Work>) -> Running {
        work.running.fetch_add(1, Ordering::AcqRel);
        Running(work.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What serving an activation reaches: NATS, the cluster's names, and its stored bytes.
struct Link {
    jetstream: jetstream::Context,
    subjects: Subjects,
    code: CodeStore,
}

impl Link {
    /// Sends `outcome` to the controller waiting for it, durably: returns once the server has
    /// it (`crate::outcomes`).
    async fn answer(&self, controller: &str, outcome: OutcomeMessage) {
        let id = outcome.activation_id.clone();
        let payload = match serde_json::to_vec(&outcome) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, activation = %id, "an outcome could not be encoded");
                return;
            }
        };
        let sent = match self.code.wrap(payload).await {
            Ok(payload) => match self
                .jetstream
                .publish(self.subjects.results(controller), payload)
                .await
            {
                Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, activation = %id, "the outcome was not sent");
        }
    }

    /// The activation a taken message carries.
    async fn read(&self, message: &jetstream::Message) -> Result<RunMessage, String> {
        let payload = self
            .code
            .unwrap(&message.payload)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&payload).map_err(|e| e.to_string())
    }
}

/// Creates the cluster's work-queue stream of activations if it does not exist yet.
pub(crate) async fn ensure_stream(
    jetstream: &jetstream::Context,
    subjects: &Subjects,
) -> Result<stream::Stream, BusError> {
    let (name, subject) = (subjects.invoke_stream(), subjects.invoke_all());
    crate::work_queue(jetstream, name, subject, Duration::ZERO).await
}

impl InvokerNode {
    /// Starts serving: `runtimes` runs what this invoker takes.
    pub async fn start(
        client: async_nats::Client,
        subjects: Subjects,
        config: NodeConfig,
        runtimes: Arc<dyn Invoke>,
    ) -> Result<InvokerNode, BusError> {
        let jetstream = jetstream::new(client.clone());
        let stream = ensure_stream(&jetstream, &subjects).await?;
        let code = CodeStore::open(jetstream.clone(), subjects.clone()).await?;
        crate::outcomes::ensure_stream(&jetstream, &subjects).await?;
        let link = Arc::new(Link {
            jetstream: jetstream.clone(),
            subjects: subjects.clone(),
            code,
        });
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                &config.invoker,
                pull::Config {
                    durable_name: Some(config.invoker.clone()),
                    filter_subject: subjects.invoke(&config.invoker),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        let mut taken = consumer
            .messages()
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;
        let mut checks = client
            .queue_subscribe(subjects.prepare(), subjects.invokers_group())
            .await
            .map_err(|e| BusError::JetStream(e.to_string()))?;

        let work = Arc::new(Work::default());
        let serving = {
            let (link, runtimes, work) = (link.clone(), runtimes.clone(), work.clone());
            let renew = config.ack_wait / 2;
            tokio::spawn(async move {
                while let Some(message) = taken.next().await {
                    let message = match message {
                        Ok(message) => message,
                        Err(e) => {
                            tracing::warn!(error = %e, "taking activations failed");
                            continue;
                        }
                    };
                    let link = link.clone();
                    if work.draining.load(Ordering::Acquire) {
                        // Not started: its controller places it on another invoker.
                        tokio::spawn(hand_back(link, message));
                        continue;
                    }
                    let running = Running::enter(&work);
                    let runtimes = runtimes.clone();
                    tokio::spawn(async move {
                        serve_one(&link, runtimes, message, renew).await;
                        drop(running);
                    });
                }
            })
        };
        let heartbeat = {
            let (client, runtimes) = (client.clone(), runtimes.clone());
            let subject = subjects.heartbeat(&config.invoker);
            let config = config.clone();
            let work = work.clone();
            tokio::spawn(async move {
                loop {
                    let pool = runtimes.pool();
                    let beat = Heartbeat {
                        invoker: config.invoker.clone(),
                        memory_mb: config.memory_mb,
                        reserved_bytes: pool.reserved_bytes,
                        accepting: runtimes.accepting() && !work.draining.load(Ordering::Acquire),
                        busy_mb: pool.busy_bytes >> 20,
                        warm: pool
                            .idle
                            .iter()
                            .map(|(revision, count)| (wisp_placement::key(revision), *count))
                            .collect(),
                        files: pool
                            .files
                            .iter()
                            .map(|(namespace, name)| wisp_placement::file_key(namespace, name))
                            .collect(),
                    };
                    if let Ok(payload) = serde_json::to_vec(&beat) {
                        let _ = client.publish(subject.clone(), payload.into()).await;
                    }
                    tokio::time::sleep(config.heartbeat_every).await;
                }
            })
        };
        let checking = {
            let (client, runtimes, link) = (client.clone(), runtimes.clone(), link.clone());
            tokio::spawn(async move {
                while let Some(request) = checks.next().await {
                    let Some(reply) = request.reply else { continue };
                    let checked = match serde_json::from_slice::<PrepareMessage>(&request.payload) {
                        Ok(mut asked) => match &asked.code {
                            Some(reference) => {
                                match link.code.attach(&mut asked.action, reference).await {
                                    Ok(()) => Checked::new(runtimes.prepare(&asked.action).await),
                                    Err(e) => Checked::Engine(e.to_string()),
                                }
                            }
                            None => Checked::new(runtimes.prepare(&asked.action).await),
                        },
                        Err(e) => Checked::Engine(format!("an unreadable action: {e}")),
                    };
                    if let Ok(payload) = serde_json::to_vec(&checked) {
                        let _ = client.publish(reply, payload.into()).await;
                    }
                }
            })
        };
        Ok(InvokerNode {
            client,
            tasks: vec![serving, heartbeat, checking],
            work,
            heartbeat_every: config.heartbeat_every,
        })
    }

    /// Whether it takes new work: connected to NATS and not draining.
    pub fn taking_work(&self) -> bool {
        !self.work.draining.load(Ordering::Acquire)
            && self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Leaves the cluster gracefully: says it takes no more work, hands back what reaches it
    /// from now on (its controllers place it elsewhere), lets what runs finish for up to
    /// `grace`, then stops. Activations still running then are lost to their controllers,
    /// which record them so.
    pub async fn drain(&self, grace: Duration) {
        self.work.draining.store(true, Ordering::Release);
        let finished = async {
            loop {
                let idle = self.work.idle.notified();
                if self.work.running.load(Ordering::Acquire) == 0 {
                    break;
                }
                idle.await;
            }
        };
        // Two beats at least: controllers hear that this invoker takes no more before it
        // stops handing back what they placed meanwhile.
        let heard = tokio::time::sleep(self.heartbeat_every * 2);
        let _ = tokio::time::timeout(grace.max(self.heartbeat_every * 2), async {
            tokio::join!(finished, heard)
        })
        .await;
        self.stop();
    }

    /// Stops taking work and announcing itself, at once (what a crash looks like to the
    /// cluster).
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for InvokerNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Answers a taken activation as refused before it started, so its controller places it on
/// another invoker, and removes it from the stream.
async fn hand_back(link: Arc<Link>, message: jetstream::Message) {
    if let Ok(run) = link.read(&message).await {
        let refused =
            OutcomeMessage::new(run.activation_id.clone(), Err(InvokeError::ShuttingDown));
        link.answer(&run.controller, refused).await;
    }
    let _ = message.ack_with(AckKind::Term).await;
}

/// Runs one taken activation and answers its controller, then acknowledges it. One delivered
/// again is answered as lost, never run twice: its first run may have had effects.
async fn serve_one(
    link: &Link,
    runtimes: Arc<dyn Invoke>,
    message: jetstream::Message,
    renew: Duration,
) {
    let mut run = match link.read(&message).await {
        Ok(run) => run,
        Err(e) => {
            tracing::error!(error = %e, "an unreadable activation was dropped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let again = message
        .info()
        .map(|info| info.delivered > 1)
        .unwrap_or(false);
    let id = run.activation_id.clone();
    let controller = run.controller.clone();
    let fetched = match &run.code {
        Some(reference) if !again => link.code.attach(&mut run.action, reference).await,
        _ => Ok(()),
    };
    let outcome = if again {
        tracing::warn!(activation = %id, "delivered again: answered as lost, not run");
        Err(InvokeError::InvokerLost)
    } else if let Err(e) = fetched {
        tracing::error!(error = %e, activation = %id, "the action's code could not be read");
        Err(InvokeError::NotRunnable)
    } else {
        let running = runtimes.run(run.into_request());
        tokio::pin!(running);
        loop {
            tokio::select! {
                outcome = &mut running => break outcome,
                _ = tokio::time::sleep(renew) => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        }
    };
    link.answer(&controller, OutcomeMessage::new(id.clone(), outcome))
        .await;
    if let Err(e) = message.ack().await {
        tracing::warn!(error = %e, activation = %id, "the activation was not acknowledged");
    }
}

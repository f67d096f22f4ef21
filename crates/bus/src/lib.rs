//! The bus between controllers and invokers on NATS JetStream: the [`Invoke`] seam with a
//! network in it.
//!
//! A controller's [`RemoteInvoker`] places each activation on one live invoker (`members.rs`,
//! from heartbeats, with `wisp-placement`) and publishes it to that invoker's subject of a
//! work-queue stream, durably (the publish is acknowledged by the server before the controller
//! waits). The invoker's [`InvokerNode`] pulls from its own durable consumer, runs the
//! activation on its local runtimes (declared state included), publishes the outcome durably
//! to the controller's subject of the outcome stream (`outcomes.rs`) and only then
//! acknowledges the activation. What is too large for a message travels as stored chunks
//! (`code.rs`).
//!
//! When a part fails:
//! - an invoker gone silent: what the server had handed it ends as lost; what it had not is
//!   placed on the next invoker; its queue is purged;
//! - an invoker draining: it hands back what reaches it, which goes to the next invoker;
//! - a controller gone: its outcomes wait in its consumer for it (restarted under its id) or
//!   for the controller that adopts its activations.
//!
//! Delivery is at most one run: a message the server delivers again (its invoker died or was
//! too slow to acknowledge) is answered with an interrupted outcome, never run a second time,
//! since the first run may have had effects.
//!
//! [`Invoke`]: wisp_core::invoke::Invoke

mod code;
mod members;
mod messages;
mod node;
mod outcomes;
mod remote;
mod subjects;

pub use members::{Heartbeat, Members};
pub use node::{InvokerNode, NodeConfig};
pub use remote::{RemoteInvoker, HEARTBEAT_TTL};
pub use subjects::Subjects;

/// Why the bus could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("NATS JetStream refused: {0}")]
    JetStream(String),
}

/// Connects to the NATS server at `url` (`nats://host:port`).
pub async fn connect(url: &str) -> Result<async_nats::Client, BusError> {
    async_nats::connect(url)
        .await
        .map_err(|e| BusError::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })
}

/// Creates the work-queue stream `name` over `subject` if it does not exist yet; `max_age`
/// (zero: none) drops what no consumer took in time.
pub(crate) async fn work_queue(
    jetstream: &async_nats::jetstream::Context,
    name: String,
    subject: String,
    max_age: std::time::Duration,
) -> Result<async_nats::jetstream::stream::Stream, BusError> {
    use async_nats::jetstream::stream;
    jetstream
        .get_or_create_stream(stream::Config {
            name,
            subjects: vec![subject],
            retention: stream::RetentionPolicy::WorkQueue,
            max_age,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::JetStream(e.to_string()))
}

/// Deletes every stream of the cluster `subjects` names (activations waiting, outcomes, stored
/// code): what a cluster leaves on a NATS server, for one that is gone for good.
pub async fn remove_streams(client: &async_nats::Client, subjects: &Subjects) {
    let jetstream = async_nats::jetstream::new(client.clone());
    for stream in [
        subjects.invoke_stream(),
        subjects.outcome_stream(),
        subjects.code_stream(),
    ] {
        let _ = jetstream.delete_stream(stream).await;
    }
}

//! The bus between controllers and invokers on NATS JetStream: the [`Invoke`] seam with a
//! network in it.
//!
//! A controller's [`RemoteInvoker`] places each activation on one live invoker and publishes
//! it to that invoker's subject of a work-queue stream, durably (the publish is acknowledged by
//! the server before the controller waits). The invoker's [`InvokerNode`] pulls from its own
//! durable consumer, runs the activation on its local runtimes (declared state included), sends
//! the outcome to the controller's result subject and only then acknowledges the message.
//! Invokers announce themselves with heartbeats; a controller places work only on invokers it
//! heard from recently, and fails what it placed on one that went silent.
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

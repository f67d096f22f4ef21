//! What running activations share: the invoker, the throttle, the count of activations in
//! flight, compositions waiting to be resumed, and the state services' variables a login hands out. The
//! invoke path (`invoke`, `compose`, `fire`) is the controller's own code over these and the
//! entities and records parts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use wisp_core::invoke::Invoke;
use wisp_core::EntityName;

use crate::{compose, throttle, ActivationEnv, Peers};

pub(crate) struct Runs {
    pub(crate) invoker: Arc<dyn Invoke>,
    pub(crate) throttle: throttle::Throttle,
    pub(crate) running: Running,
    pub(crate) namespace_env: Option<Arc<dyn ActivationEnv>>,
    /// The cluster's other controllers, when there are any.
    pub(crate) peers: Option<Arc<dyn Peers>>,
    /// Compositions loaded at start that their resumed parents pick up.
    pub(crate) resumable: compose::Resumable,
}

impl Runs {
    pub(crate) fn new(
        invoker: Arc<dyn Invoke>,
        namespace_env: Option<Arc<dyn ActivationEnv>>,
        peers: Option<Arc<dyn Peers>>,
    ) -> Runs {
        Runs {
            invoker,
            throttle: throttle::Throttle::default(),
            running: Running::default(),
            namespace_env,
            peers,
            resumable: compose::Resumable::default(),
        }
    }

    /// The state services' variables of `namespace`.
    pub(crate) async fn namespace_env(&self, namespace: &EntityName) -> Vec<(String, String)> {
        match &self.namespace_env {
            Some(env) => env.variables(namespace).await,
            None => Vec::new(),
        }
    }
}

/// Counts activations in flight, for a graceful shutdown.
#[derive(Default)]
pub struct Running {
    count: AtomicUsize,
    idle: Notify,
}

pub(crate) struct RunningGuard(Arc<crate::Inner>);

impl RunningGuard {
    /// Counts one more activation or composition in flight until dropped.
    pub(crate) fn enter(inner: Arc<crate::Inner>) -> RunningGuard {
        inner.runs.running.count.fetch_add(1, Ordering::AcqRel);
        RunningGuard(inner)
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if self.0.runs.running.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.runs.running.idle.notify_waiters();
        }
    }
}

impl Running {
    pub async fn wait_idle(&self, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        while self.count.load(Ordering::Acquire) > 0 {
            if tokio::time::timeout_at(until, self.idle.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

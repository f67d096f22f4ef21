//! What the controller reports about itself: its metrics (finished activations are counted by
//! [`crate::Records`]), refusals by a namespace's limits, the pool's gauges and readiness.

use std::sync::Arc;

use wisp_core::Identity;
use wisp_metrics::Metrics;

use crate::Controller;

impl Controller {
    /// The platform's metrics, shared with the API and the invoker.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.config.metrics
    }

    /// Whether the entity store answers and the invoker takes activations.
    pub async fn ready(&self) -> bool {
        let store = self
            .entities()
            .store()
            .find_key("wisp-readiness-probe".to_owned())
            .await;
        if let Err(e) = &store {
            tracing::warn!(error = %e, "the entity store does not answer");
        }
        store.is_ok() && self.inner.runs.invoker.accepting()
    }

    /// Refreshes the pool's gauges, before they are read.
    pub fn measure_pool(&self) {
        self.metrics().pool(&self.inner.runs.invoker.pool());
    }

    /// Counts a request refused by `limit` (`concurrent_invocations`,
    /// `invocations_per_minute`, `fires_per_minute`).
    pub(crate) fn throttled(&self, identity: &Identity, limit: &str) {
        self.metrics().throttled(identity.namespace.as_str(), limit);
    }
}

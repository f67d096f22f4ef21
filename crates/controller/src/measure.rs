//! What the controller counts: every finished activation as it is stored (its namespace, kind,
//! outcome, how it started, and its wait, init and run times from the record) and every request
//! a namespace's limits refuse.

use std::sync::Arc;
use std::time::Duration;

use wisp_core::invoke::StartKind;
use wisp_core::{Activation, Identity};
use wisp_metrics::{Finished, Metrics};

use crate::Controller;

impl Controller {
    /// The platform's metrics, shared with the API and the invoker.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.config.metrics
    }

    /// Counts a finished activation's record and stores it. `start` says how its runtime was
    /// found; records of sequences, conductors and triggers started nothing.
    pub(crate) async fn complete(
        &self,
        record: Activation,
        start: Option<StartKind>,
    ) -> wisp_store::Result<()> {
        self.count(&record, start);
        self.store(record).await
    }

    /// Counts a finished activation: done before its caller is answered, so whoever got the
    /// answer finds it in the metrics.
    pub(crate) fn count(&self, record: &Activation, start: Option<StartKind>) {
        let millis = |key: &str| {
            record
                .annotations
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .map(Duration::from_millis)
        };
        let kind = record
            .annotations
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("trigger");
        self.metrics().activation(Finished {
            namespace: &record.namespace,
            action: &record.name,
            kind,
            outcome: record.response.outcome,
            start,
            wait: millis("waitTime").unwrap_or_default(),
            init: millis("initTime"),
            run: Duration::from_millis(record.duration.unwrap_or(0)),
        });
    }

    /// Stores a finished record (already counted), timing the writer's lag.
    pub(crate) async fn store(&self, record: Activation) -> wisp_store::Result<()> {
        let handed = std::time::Instant::now();
        let stored = self.inner.activations.complete(record).await;
        self.metrics().store_write(handed.elapsed());
        stored
    }

    /// Whether the entity store answers and the invoker takes activations.
    pub async fn ready(&self) -> bool {
        let store = self
            .inner
            .entities
            .find_key("wisp-readiness-probe".to_owned())
            .await;
        if let Err(e) = &store {
            tracing::warn!(error = %e, "the entity store does not answer");
        }
        store.is_ok() && self.inner.invoker.accepting()
    }

    /// Refreshes the pool's gauges, before they are read.
    pub fn measure_pool(&self) {
        self.metrics().pool(&self.inner.invoker.pool());
    }

    /// Counts a request refused by `limit` (`concurrent_invocations`,
    /// `invocations_per_minute`, `fires_per_minute`).
    pub(crate) fn throttled(&self, identity: &Identity, limit: &str) {
        self.metrics().throttled(identity.namespace.as_str(), limit);
    }
}

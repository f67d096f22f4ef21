//! Activation records: the part of the controller that owns the activation store. It counts
//! each finished record in the metrics, stores it, answers reads (from memory while a record's
//! commit is still queued) and prunes old records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wisp_core::invoke::StartKind;
use wisp_core::{Activation, ActivationId, EntityName};
use wisp_metrics::{Finished, Metrics};
use wisp_store::{ActivationQuery, ActivationStore};

use crate::cache::SharedMap;
use crate::{ControllerError, Result};

/// Filters of `GET /activations`.
#[derive(Debug, Clone, Default)]
pub struct ActivationFilter {
    /// `[pkg/]name` of the action.
    pub name: Option<String>,
    pub since: Option<u64>,
    pub upto: Option<u64>,
    pub skip: u64,
    pub limit: u64,
}

/// The activation store, with the records whose commit is still queued.
pub struct Records {
    store: Arc<dyn ActivationStore>,
    /// Finished records whose commit is still queued, so a read right after a blocking
    /// invoke finds its record.
    unflushed: SharedMap<ActivationId, Activation>,
    /// Records older than this are pruned.
    retention: Duration,
    metrics: Arc<Metrics>,
}

impl Records {
    pub(crate) fn new(
        store: Arc<dyn ActivationStore>,
        retention: Duration,
        metrics: Arc<Metrics>,
    ) -> Records {
        Records {
            store,
            unflushed: SharedMap::default(),
            retention,
            metrics,
        }
    }

    /// The store, for what the records part does not wrap (sessions, markers).
    pub(crate) fn store(&self) -> &dyn ActivationStore {
        self.store.as_ref()
    }

    pub async fn get(&self, namespace: &EntityName, id: ActivationId) -> Result<Activation> {
        if let Some(record) = self.unflushed.get(&id) {
            if record.namespace == namespace.as_str() {
                return Ok(record);
            }
        }
        self.store
            .get(namespace.to_string(), id)
            .await?
            .ok_or(ControllerError::NotFound)
    }

    /// Records in `namespace`, newest first. Finished records still queued for their commit
    /// are committed first, so a listing right after an invoke's answer shows it.
    pub async fn list(
        &self,
        namespace: &EntityName,
        filter: ActivationFilter,
    ) -> Result<Vec<Activation>> {
        self.store.flush().await?;
        Ok(self.store.list(query(namespace, filter)).await?)
    }

    pub async fn count(&self, namespace: &EntityName, filter: ActivationFilter) -> Result<u64> {
        self.store.flush().await?;
        Ok(self.store.count(query(namespace, filter)).await?)
    }

    /// Answers reads of `record` from memory until [`Records::commit`] has committed it: the
    /// caller may be answered before the commit lands.
    pub(crate) fn hold(&self, record: &Activation) {
        self.unflushed
            .insert(record.activation_id.clone(), record.clone());
    }

    /// Counts a finished activation's record and stores it. `start` says how its runtime was
    /// found; records of sequences, conductors and triggers started nothing.
    pub(crate) async fn complete(
        &self,
        record: Activation,
        start: Option<StartKind>,
    ) -> wisp_store::Result<()> {
        self.count_finished(&record, start);
        self.commit(record).await
    }

    /// Counts a finished activation: done before its caller is answered, so whoever got the
    /// answer finds it in the metrics.
    pub(crate) fn count_finished(&self, record: &Activation, start: Option<StartKind>) {
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
        self.metrics.activation(Finished {
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

    /// Stores a finished record (already counted), timing the writer's lag; a held copy is
    /// dropped once the commit landed.
    pub(crate) async fn commit(&self, record: Activation) -> wisp_store::Result<()> {
        let handed = Instant::now();
        let id = record.activation_id.clone();
        let stored = self.store.complete(record).await;
        self.metrics.store_write(handed.elapsed());
        self.unflushed.remove(&id);
        stored
    }

    /// Prunes old records now and then, for as long as the server runs.
    pub(crate) fn spawn_retention(&self) {
        let store = self.store.clone();
        let retention = self.retention;
        tokio::spawn(async move {
            loop {
                let cutoff = wisp_core::time::now_ms().saturating_sub(retention.as_millis() as u64);
                match store.prune(cutoff).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "old activation records pruned"),
                    Err(e) => tracing::warn!(error = %e, "activation pruning failed"),
                }
                tokio::time::sleep(
                    Duration::from_secs(3600).min(retention.max(Duration::from_secs(1))),
                )
                .await;
            }
        });
    }

    /// Commits what is queued.
    pub(crate) async fn flush(&self) -> wisp_store::Result<()> {
        self.store.flush().await
    }
}

fn query(namespace: &EntityName, filter: ActivationFilter) -> ActivationQuery {
    ActivationQuery {
        namespace: namespace.to_string(),
        name: filter.name,
        since: filter.since,
        upto: filter.upto,
        skip: filter.skip,
        limit: filter.limit,
    }
}

//! Reading activation records.

use wisp_core::{Activation, ActivationId, EntityName};
use wisp_store::ActivationQuery;

use crate::{Controller, ControllerError, Result};

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

impl Controller {
    pub async fn get_activation(
        &self,
        namespace: &EntityName,
        id: ActivationId,
    ) -> Result<Activation> {
        if let Some(record) = self.inner.unflushed.get(&id) {
            if record.namespace == namespace.as_str() {
                return Ok(record);
            }
        }
        self.inner
            .activations
            .get(namespace.to_string(), id)
            .await?
            .ok_or(ControllerError::NotFound)
    }

    /// Records in `namespace`, newest first. Finished records still queued for their commit
    /// are committed first, so a listing right after an invoke's answer shows it.
    pub async fn list_activations(
        &self,
        namespace: &EntityName,
        filter: ActivationFilter,
    ) -> Result<Vec<Activation>> {
        self.inner.activations.flush().await?;
        Ok(self
            .inner
            .activations
            .list(query(namespace, filter))
            .await?)
    }

    pub async fn count_activations(
        &self,
        namespace: &EntityName,
        filter: ActivationFilter,
    ) -> Result<u64> {
        self.inner.activations.flush().await?;
        Ok(self
            .inner
            .activations
            .count(query(namespace, filter))
            .await?)
    }

    pub(crate) fn spawn_retention(&self) {
        let controller = self.clone();
        tokio::spawn(async move {
            loop {
                let retention = controller.inner.config.activation_retention;
                let cutoff = wisp_core::time::now_ms().saturating_sub(retention.as_millis() as u64);
                match controller.inner.activations.prune(cutoff).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "old activation records pruned"),
                    Err(e) => tracing::warn!(error = %e, "activation pruning failed"),
                }
                tokio::time::sleep(
                    std::time::Duration::from_secs(3600)
                        .min(retention.max(std::time::Duration::from_secs(1))),
                )
                .await;
            }
        });
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

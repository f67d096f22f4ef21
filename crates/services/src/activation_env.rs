//! The controller takes one `ActivationEnv`; each state service has its own variables
//! (`KvEnv`: Redis, `StorageEnv`: S3). [`Envs`] hands an activation all of them.

use std::sync::Arc;

use wisp_controller::ActivationEnv;
use wisp_core::{BoxFuture, EntityName};

/// Every running service's variables, in order.
pub struct Envs(pub Vec<Arc<dyn ActivationEnv>>);

impl ActivationEnv for Envs {
    fn variables<'a>(&'a self, namespace: &'a EntityName) -> BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let mut all = Vec::new();
            for env in &self.0 {
                all.extend(env.variables(namespace).await);
            }
            all
        })
    }
}

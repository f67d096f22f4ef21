//! What an activation is told about the state services. Each service has its own variables
//! (`KvEnv`: Redis, `StorageEnv`: S3); [`Envs`] is all of them, and [`WithEnv`] adds them to
//! every activation on the host that runs it, since they name that host's endpoints (in a
//! cluster, each invoker serves its functions' key-value and S3 endpoints).

use std::sync::Arc;

use wisp_controller::ActivationEnv;
use wisp_core::invoke::{CodeError, Invoke, InvokeError, PoolSnapshot, RunOutcome, RunRequest};
use wisp_core::{Action, BoxFuture, EntityName};

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

/// The runtimes, with the state services' variables of the caller's namespace added to each
/// activation's environment.
pub struct WithEnv {
    runtimes: Arc<dyn Invoke>,
    env: Arc<dyn ActivationEnv>,
}

impl WithEnv {
    pub fn new(runtimes: Arc<dyn Invoke>, env: Arc<dyn ActivationEnv>) -> WithEnv {
        WithEnv { runtimes, env }
    }
}

impl Invoke for WithEnv {
    fn run(&self, mut request: RunRequest) -> BoxFuture<'_, Result<RunOutcome, InvokeError>> {
        Box::pin(async move {
            // The controller checked the name; one that does not parse gets no services.
            if let Ok(namespace) = EntityName::parse(&request.namespace) {
                request.env.extend(self.env.variables(&namespace).await);
            }
            self.runtimes.run(request).await
        })
    }

    fn prepare<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), CodeError>> {
        self.runtimes.prepare(action)
    }

    fn accepting(&self) -> bool {
        self.runtimes.accepting()
    }

    fn pool(&self) -> PoolSnapshot {
        self.runtimes.pool()
    }

    fn shutdown(&self) {
        self.runtimes.shutdown()
    }
}

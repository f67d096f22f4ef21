//! The controller: everything between an authenticated request and the invoker.
//!
//! It authenticates keys, validates and stores entities, resolves and caches actions, merges
//! parameters, throttles, hands activations to the invoker, waits for blocking callers and
//! writes activation records. It knows nothing of HTTP: the API crate turns requests into calls
//! here and [`ControllerError`]s into status codes.

mod actions;
mod activations;
mod cache;
mod compose;
mod declared_state;
mod feeds;
mod identity;
mod invoke;
mod measure;
mod names;
mod packages;
mod rules;
mod system;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod throttle;
mod triggers;

use std::sync::Arc;
use std::time::Duration;

use wisp_core::invoke::Invoke;
use wisp_core::{
    Action, Activation, ActivationId, EntityName, EntityPath, Identity, Package, SystemLimits,
    Throttles,
};
use wisp_store::{ActivationStore, EntityStore, StoreError};

pub use actions::{ActionPut, ExecPut};
pub use activations::ActivationFilter;
pub use declared_state::{DeclaredState, KeyValues, StateBackend, StateBackendError, StateConfig};
pub use identity::{add_key, generate_key, NamespaceKey};
pub use invoke::{InvokeOptions, Invoked};
pub use names::parse_fully_qualified;
pub use packages::{PackagePut, PackageView, ReadablePackage, ResolvedAction};
pub use rules::{RulePut, RuleView};
pub use triggers::TriggerPut;
pub use wisp_store::Page;

/// Operator settings of the controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub limits: SystemLimits,
    /// Longest a blocking invoke waits before answering 202.
    pub max_blocking_wait: Duration,
    /// Activation records older than this are pruned.
    pub activation_retention: Duration,
    /// How long a looked-up key, with its namespace's limits, is trusted before the store is
    /// asked again: what `wisp admin` changes on a running server take to be seen.
    pub identity_ttl: Duration,
    /// Where finished activations and refusals are counted.
    pub metrics: Arc<wisp_metrics::Metrics>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            limits: SystemLimits::default(),
            max_blocking_wait: Duration::from_secs(60),
            activation_retention: Duration::from_secs(30 * 24 * 3600),
            identity_ttl: Duration::from_secs(5),
            metrics: wisp_metrics::Metrics::new(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    #[error("The requested resource does not exist.")]
    NotFound,
    /// A 404 with a message of its own.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    /// The entity changed between a read and the write based on it (a 409).
    #[error("Concurrent modification to resource detected.")]
    Modified,
    #[error("{0}")]
    BadRequest(String),
    #[error("The supplied authentication is not authorized to access '{0}'.")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ControllerError {
    /// Whether the caller's request was at fault (a 4xx), rather than the server (a 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            ControllerError::Unavailable(_) | ControllerError::Internal(_)
        )
    }
}

impl From<StoreError> for ControllerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ControllerError::Conflict("resource already exists".into()),
            StoreError::Modified => ControllerError::Modified,
            StoreError::WrongCollection => ControllerError::Conflict(e.to_string()),
            other => {
                tracing::error!(error = %other, "store failure");
                ControllerError::Internal("The server encountered an internal error.".into())
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, ControllerError>;

/// Services an activation reaches besides the API (the key-value store: its address and the
/// namespace's secret for it), as environment variables of each activation of a namespace.
/// The binary's state services implement it (`wisp-services`).
pub trait ActivationEnv: Send + Sync {
    fn variables<'a>(
        &'a self,
        namespace: &'a EntityName,
    ) -> wisp_core::BoxFuture<'a, Vec<(String, String)>>;
}

/// The controller; cheap to clone.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    config: ControllerConfig,
    entities: Arc<dyn EntityStore>,
    activations: Arc<dyn ActivationStore>,
    invoker: Arc<dyn Invoke>,
    /// Actions by path; entries are replaced on every write of the action.
    actions: cache::SharedMap<EntityPath, Arc<Action>>,
    /// Packages by path; entries are replaced or removed on every write of the package.
    packages: cache::SharedMap<EntityPath, Arc<Package>>,
    /// Finished records whose commit is still queued, so a read right after a blocking
    /// invoke finds its record.
    unflushed: cache::SharedMap<ActivationId, Activation>,
    keys: identity::KeyCache,
    /// Namespace owners, for web actions, which run as the owner of the action.
    owners: identity::OwnerCache,
    throttle: throttle::Throttle,
    running: invoke::Running,
    scheduler: feeds::Scheduler,
    activation_env: Option<Arc<dyn ActivationEnv>>,
    state: Option<DeclaredState>,
    key_locks: declared_state::KeyLocks,
    /// Compositions loaded at start that their resumed parents pick up.
    resumable: compose::Resumable,
}

/// What the controller runs on: its stores and its invoker, and the state services that
/// activations reach (none in tests).
pub struct ControllerParts {
    pub entities: Arc<dyn EntityStore>,
    pub activations: Arc<dyn ActivationStore>,
    pub invoker: Arc<dyn Invoke>,
    /// Where declared state lives; `None`: an action that declares state is refused when it
    /// runs.
    pub declared_state: Option<DeclaredState>,
    /// The variables each activation gets from the state services; `None`: none.
    pub activation_env: Option<Arc<dyn ActivationEnv>>,
}

impl Controller {
    pub fn new(config: ControllerConfig, parts: ControllerParts) -> Controller {
        let ControllerParts {
            entities,
            activations,
            invoker,
            declared_state,
            activation_env,
        } = parts;
        Controller {
            inner: Arc::new(Inner {
                config,
                entities,
                activations,
                invoker,
                actions: cache::SharedMap::default(),
                packages: cache::SharedMap::default(),
                unflushed: cache::SharedMap::default(),
                keys: identity::KeyCache::bounded(identity::KEY_CACHE_BOUND),
                owners: identity::OwnerCache::bounded(identity::KEY_CACHE_BOUND),
                throttle: throttle::Throttle::default(),
                running: invoke::Running::default(),
                scheduler: feeds::Scheduler::default(),
                activation_env,
                state: declared_state,
                key_locks: declared_state::KeyLocks::default(),
                resumable: compose::Resumable::default(),
            }),
        }
    }

    /// The extra environment of an activation in `namespace`.
    pub(crate) async fn activation_env(&self, namespace: &EntityName) -> Vec<(String, String)> {
        match &self.inner.activation_env {
            Some(env) => env.variables(namespace).await,
            None => Vec::new(),
        }
    }

    pub fn limits(&self) -> &SystemLimits {
        &self.inner.config.limits
    }

    /// The throttles that apply to `identity`'s namespace: the system's with its overrides.
    pub fn throttles(&self, identity: &Identity) -> Throttles {
        self.inner.config.limits.throttles.with(&identity.limits)
    }

    /// Longest a blocking caller waits before getting a 202.
    pub fn max_blocking_wait(&self) -> Duration {
        self.inner.config.max_blocking_wait
    }

    /// Installs the `whisk.system` packages and starts background work: records for
    /// activations a previous run left unfinished, pruning of old records, and the alarm
    /// scheduler.
    pub async fn start(&self) -> Result<()> {
        self.install_system_packages().await?;
        self.recover_orphans().await?;
        self.resume_sessions().await?;
        self.spawn_retention();
        self.spawn_scheduler().await?;
        Ok(())
    }

    /// Graceful stop: waits up to `deadline` for running activations, flushes records, stops
    /// runtime processes.
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.running.wait_idle(deadline).await;
        self.inner.invoker.shutdown();
        let _ = self.inner.activations.flush().await;
    }
}

//! The controller: everything between an authenticated request and the invoker.
//!
//! It authenticates keys, validates and stores entities, resolves and caches actions, merges
//! parameters, throttles, hands activations to the invoker, waits for blocking callers and
//! writes activation records. It knows nothing of HTTP: the API crate turns requests into calls
//! here and [`ControllerError`]s into status codes.

mod cache;
mod compose;
mod entities;
mod feeds;
mod fire;
mod invoke;
mod measure;
mod names;
mod records;
mod runs;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod throttle;

use std::sync::Arc;
use std::time::Duration;

use wisp_core::invoke::{Invoke, InvokeError, RunOutcome};
use wisp_core::{ActivationId, BoxFuture, EntityName, Identity, SystemLimits, Throttles};
use wisp_store::{ActivationStore, EntityStore, StoreError};

pub use entities::{
    add_key, generate_key, ActionPut, Entities, EntityKind, ExecPut, NamespaceKey, PackagePut,
    PackageView, ReadablePackage, ResolvedAction, RulePut, RuleView, TriggerPut,
};
pub use invoke::{InvokeOptions, Invoked};
pub use names::parse_fully_qualified;
pub use records::{ActivationFilter, Records};
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
/// The binary's state services implement it (`wisp-services`); the invoker's host adds them
/// to each activation (they name its endpoints), and the controller hands them to a login.
pub trait ActivationEnv: Send + Sync {
    fn variables<'a>(
        &'a self,
        namespace: &'a EntityName,
    ) -> wisp_core::BoxFuture<'a, Vec<(String, String)>>;
}

/// How often a controller of a cluster looks for work left by departed controllers.
const ADOPT_EVERY: Duration = Duration::from_secs(3);

/// The other controllers of a cluster, as far as this one can tell, and the outcomes that
/// reached no one.
pub trait Peers: Send + Sync {
    /// Whether controller `id` may still be running; when in doubt, yes.
    fn may_be_live(&self, id: &str) -> bool;
    /// Gathers the outcomes sent to controller `id` (gone) that it never took, for
    /// [`Peers::take_outcome`].
    fn collect_outcomes<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
    /// The outcome of `activation` that arrived with no one waiting for it (its controller
    /// restarted or gone), if one did.
    fn take_outcome(
        &self,
        activation: &ActivationId,
    ) -> Option<std::result::Result<RunOutcome, InvokeError>>;
}

/// The controller; cheap to clone. It is three parts, each owning its fields: the entities
/// (with identity), the activation records, and what running activations share; the feeds'
/// scheduler beside them. Its own methods are what crosses the parts: invoking, composing,
/// firing, starting and stopping.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    config: ControllerConfig,
    entities: Entities,
    records: Records,
    runs: runs::Runs,
    scheduler: feeds::Scheduler,
}

/// What the controller runs on: its stores and its invoker, and the state services that
/// activations reach (none in tests).
pub struct ControllerParts {
    pub entities: Arc<dyn EntityStore>,
    pub activations: Arc<dyn ActivationStore>,
    pub invoker: Arc<dyn Invoke>,
    /// The state services' variables of a namespace, which a Nimbella login hands the CLI;
    /// `None`: none. (Activations get theirs where they run: see `ActivationEnv`.)
    pub namespace_env: Option<Arc<dyn ActivationEnv>>,
    /// The cluster's other controllers; `None` for a controller alone with its store.
    pub peers: Option<Arc<dyn Peers>>,
}

impl Controller {
    pub fn new(config: ControllerConfig, parts: ControllerParts) -> Controller {
        let ControllerParts {
            entities,
            activations,
            invoker,
            namespace_env,
            peers,
        } = parts;
        let entities = Entities::new(
            entities,
            config.limits,
            config.identity_ttl,
            invoker.clone(),
        );
        let records = Records::new(
            activations,
            config.activation_retention,
            config.metrics.clone(),
        );
        Controller {
            inner: Arc::new(Inner {
                entities,
                records,
                runs: runs::Runs::new(invoker, namespace_env, peers),
                scheduler: feeds::Scheduler::default(),
                config,
            }),
        }
    }

    /// Entities and identity: writes, reads and lists of actions, packages, rules and
    /// triggers; keys.
    pub fn entities(&self) -> &Entities {
        &self.inner.entities
    }

    /// Activation records: reads and lists.
    pub fn records(&self) -> &Records {
        &self.inner.records
    }

    /// The variables activations of `namespace` get from the state services (its key-value
    /// password, its storage key): what a Nimbella login hands the CLI.
    pub async fn namespace_environment(&self, namespace: &str) -> Vec<(String, String)> {
        match EntityName::parse(namespace) {
            Ok(name) => self.inner.runs.namespace_env(&name).await,
            Err(_) => Vec::new(),
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
        self.entities().install_system_packages().await?;
        self.recover_orphans().await?;
        self.resume_sessions().await?;
        if let Some(peers) = &self.inner.runs.peers {
            self.spawn_adoption(peers.clone());
        }
        self.records().spawn_retention();
        self.spawn_scheduler().await?;
        Ok(())
    }

    /// Adopts, every few seconds, what controllers the peers say are gone left in the shared
    /// store: records for the activations they accepted (with their outcomes where these
    /// reached the bus), and their compositions resumed.
    fn spawn_adoption(&self, peers: Arc<dyn Peers>) {
        let controller = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ADOPT_EVERY).await;
                if let Err(e) = controller.adopt_departed(&*peers).await {
                    tracing::warn!(error = %e, "adopting the work of departed controllers failed");
                }
            }
        });
    }

    async fn adopt_departed(&self, peers: &dyn Peers) -> Result<()> {
        let store = self.records().store();
        for owner in store.other_owners().await? {
            if peers.may_be_live(&owner) {
                continue;
            }
            let adopted = store.adopt(owner.clone()).await?;
            if adopted.orphans.is_empty() && adopted.sessions.is_empty() {
                continue;
            }
            tracing::warn!(
                controller = %owner,
                activations = adopted.orphans.len(),
                compositions = adopted.sessions.len(),
                "adopting the work of a departed controller"
            );
            peers.collect_outcomes(&owner).await;
            self.record_orphans(adopted.orphans).await?;
            self.resume(adopted.sessions);
        }
        Ok(())
    }

    /// Graceful stop: waits up to `deadline` for running activations, flushes records, stops
    /// runtime processes.
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.runs.running.wait_idle(deadline).await;
        self.inner.runs.invoker.shutdown();
        let _ = self.records().flush().await;
    }
}

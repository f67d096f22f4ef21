//! Entities and identity: the part of the controller that owns the entity store and what is
//! cached from it (actions, packages, keys, namespace owners).
//!
//! It validates and writes actions, packages, rules and triggers, resolves what an invoke
//! names, and authenticates keys. It runs nothing: the one call it makes to the invoker hands
//! new code over to be compiled before it is stored, so a binary that cannot run is refused
//! when it is written.

mod actions;
mod identity;
mod kind;
mod packages;
mod rules;
mod sequences;
mod system;
mod triggers;

use std::sync::Arc;
use std::time::Duration;

use wisp_core::invoke::Invoke;
use wisp_core::{Action, EntityName, EntityPath, Identity, Package, SystemLimits};
use wisp_store::EntityStore;

use crate::cache::SharedMap;
use crate::{ControllerError, Result};

pub use actions::{ActionPut, ExecPut};
pub use identity::{add_key, generate_key, NamespaceKey};
pub use kind::EntityKind;
pub use packages::{PackagePut, PackageView, ReadablePackage, ResolvedAction};
pub use rules::{RulePut, RuleView};
pub use triggers::TriggerPut;

/// The entity store and its caches.
pub struct Entities {
    store: Arc<dyn EntityStore>,
    limits: SystemLimits,
    /// How long a looked-up key or namespace owner is trusted.
    identity_ttl: Duration,
    /// Compiles code that must be prepared before it is stored (`wasm`).
    code: Arc<dyn Invoke>,
    /// Actions by path; entries are replaced on every write of the action.
    actions: SharedMap<EntityPath, Arc<Action>>,
    /// Packages by path; entries are replaced or removed on every write of the package.
    packages: SharedMap<EntityPath, Arc<Package>>,
    keys: identity::KeyCache,
    /// Namespace owners, for web actions, which run as the owner of the action.
    owners: identity::OwnerCache,
}

impl Entities {
    pub(crate) fn new(
        store: Arc<dyn EntityStore>,
        limits: SystemLimits,
        identity_ttl: Duration,
        code: Arc<dyn Invoke>,
    ) -> Entities {
        Entities {
            store,
            limits,
            identity_ttl,
            code,
            actions: SharedMap::default(),
            packages: SharedMap::default(),
            keys: identity::KeyCache::bounded(identity::KEY_CACHE_BOUND),
            owners: identity::OwnerCache::bounded(identity::KEY_CACHE_BOUND),
        }
    }

    pub fn limits(&self) -> &SystemLimits {
        &self.limits
    }

    /// The store, for what has no cache in front of it (feeds, readiness).
    pub(crate) fn store(&self) -> &dyn EntityStore {
        self.store.as_ref()
    }

    /// Checks that `identity` may write or read private entities of `namespace`.
    pub fn entitle(
        &self,
        identity: &Identity,
        namespace: &EntityName,
        resource: &str,
    ) -> Result<()> {
        if &identity.namespace == namespace {
            Ok(())
        } else {
            Err(ControllerError::Forbidden(resource.to_string()))
        }
    }
}

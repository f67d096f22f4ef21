//! One shape for the entity collections: each kind says how it is written, read and deleted,
//! and the controller lists and counts them all the same way. The API's handlers are written
//! once over this trait.

use std::future::Future;
use std::sync::Arc;

use wisp_core::Entity;
use wisp_core::{Action, EntityName, EntityPath, Identity, Package, Rule, RuleStatus, Trigger};
use wisp_store::Page;

use super::{ActionPut, Entities, PackagePut, PackageView, RulePut, RuleView, TriggerPut};
use crate::{Controller, Result};

/// An entity collection of the API.
pub trait EntityKind: Entity + Send + Sync + 'static {
    /// Whether other namespaces read and list the published ones.
    const SHARED: bool = false;
    /// The body of a write: every field optional, merged over an existing entity.
    type Put: Send;
    /// What a read, a write and a delete answer.
    type View: Send;

    fn put(
        controller: &Controller,
        identity: &Identity,
        path: EntityPath,
        put: Self::Put,
        overwrite: bool,
    ) -> impl Future<Output = Result<Self::View>> + Send;

    fn get(
        controller: &Controller,
        identity: &Identity,
        path: &EntityPath,
    ) -> impl Future<Output = Result<Self::View>> + Send;

    /// `force` also deletes what the entity holds (a package's actions).
    fn delete(
        controller: &Controller,
        path: &EntityPath,
        force: bool,
    ) -> impl Future<Output = Result<Self::View>> + Send;

    /// Whether another namespace's reader sees this one in a list (only of shared kinds).
    fn listed_to_others(&self) -> bool {
        false
    }

    /// A list entry's view of a stored entity.
    fn listed(self) -> Self::View;
}

impl Entities {
    /// A page of `namespace`'s entities of kind `K`; another namespace's only where `K` is
    /// shared, and then only what it publishes.
    pub async fn list<K: EntityKind>(
        &self,
        identity: &Identity,
        namespace: &EntityName,
        page: Page,
    ) -> Result<Vec<K>> {
        if !self.shared_with::<K>(identity, namespace)? {
            return Ok(self.store.list_entities::<K>(namespace, None, page).await?);
        }
        let all = self
            .store
            .list_entities::<K>(namespace, None, Page::ALL)
            .await?;
        Ok(all
            .into_iter()
            .filter(K::listed_to_others)
            .skip(page.skip as usize)
            .take(page.limit as usize)
            .collect())
    }

    /// How many entities of kind `K` in `namespace` a list would show `identity`.
    pub async fn count<K: EntityKind>(
        &self,
        identity: &Identity,
        namespace: &EntityName,
    ) -> Result<u64> {
        if !self.shared_with::<K>(identity, namespace)? {
            return Ok(self.store.count_entities::<K>(namespace, None).await?);
        }
        Ok(self.list::<K>(identity, namespace, Page::ALL).await?.len() as u64)
    }

    /// Whether `namespace` is another's that `identity` reads as shared (`false`: its own).
    fn shared_with<K: EntityKind>(
        &self,
        identity: &Identity,
        namespace: &EntityName,
    ) -> Result<bool> {
        if &identity.namespace == namespace {
            return Ok(false);
        }
        if K::SHARED {
            return Ok(true);
        }
        let resource = format!("{namespace}/{}", K::COLLECTION.plural());
        self.entitle(identity, namespace, &resource).map(|()| true)
    }
}

impl Controller {
    /// Creates the entity at `path`, or with `overwrite` updates it.
    pub async fn put<K: EntityKind>(
        &self,
        identity: &Identity,
        path: EntityPath,
        put: K::Put,
        overwrite: bool,
    ) -> Result<K::View> {
        K::put(self, identity, path, put, overwrite).await
    }

    pub async fn get<K: EntityKind>(
        &self,
        identity: &Identity,
        path: &EntityPath,
    ) -> Result<K::View> {
        K::get(self, identity, path).await
    }

    pub async fn delete<K: EntityKind>(&self, path: &EntityPath, force: bool) -> Result<K::View> {
        K::delete(self, path, force).await
    }

    pub async fn list<K: EntityKind>(
        &self,
        identity: &Identity,
        namespace: &EntityName,
        page: Page,
    ) -> Result<Vec<K::View>> {
        let entities = self.entities().list::<K>(identity, namespace, page).await?;
        Ok(entities.into_iter().map(K::listed).collect())
    }

    pub async fn count<K: EntityKind>(
        &self,
        identity: &Identity,
        namespace: &EntityName,
    ) -> Result<u64> {
        self.entities().count::<K>(identity, namespace).await
    }
}

impl EntityKind for Trigger {
    type Put = TriggerPut;
    type View = Trigger;

    async fn put(
        controller: &Controller,
        _: &Identity,
        path: EntityPath,
        put: TriggerPut,
        overwrite: bool,
    ) -> Result<Trigger> {
        controller
            .entities()
            .put_trigger(path, put, overwrite)
            .await
    }

    async fn get(controller: &Controller, _: &Identity, path: &EntityPath) -> Result<Trigger> {
        controller.entities().get_trigger(path).await
    }

    /// Rules that pointed at it stay and report `inactive`. An alarm on it stops first, so no
    /// fire lands on a trigger of the same name created later.
    async fn delete(controller: &Controller, path: &EntityPath, _: bool) -> Result<Trigger> {
        controller.entities().get_trigger(path).await?;
        controller.forget_alarm(path).await?;
        controller.entities().delete_trigger(path).await
    }

    fn listed(self) -> Trigger {
        self
    }
}

impl EntityKind for Rule {
    type Put = RulePut;
    type View = RuleView;

    async fn put(
        controller: &Controller,
        identity: &Identity,
        path: EntityPath,
        put: RulePut,
        overwrite: bool,
    ) -> Result<RuleView> {
        controller
            .entities()
            .put_rule(identity, path, put, overwrite)
            .await
    }

    async fn get(controller: &Controller, _: &Identity, path: &EntityPath) -> Result<RuleView> {
        controller.entities().get_rule(path).await
    }

    async fn delete(controller: &Controller, path: &EntityPath, _: bool) -> Result<RuleView> {
        controller.entities().delete_rule(path).await
    }

    /// Lists do not read each rule's trigger, so they show no status (as OpenWhisk's do not).
    fn listed(self) -> RuleView {
        RuleView {
            rule: self,
            status: RuleStatus::Inactive,
        }
    }
}

impl EntityKind for Package {
    const SHARED: bool = true;
    type Put = PackagePut;
    type View = PackageView;

    async fn put(
        controller: &Controller,
        identity: &Identity,
        path: EntityPath,
        put: PackagePut,
        overwrite: bool,
    ) -> Result<PackageView> {
        let package = controller
            .entities()
            .put_package(identity, path, put, overwrite)
            .await?;
        Ok(PackageView::bare(package))
    }

    /// A binding shows what it binds: the inherited parameters and the bound package's actions.
    async fn get(
        controller: &Controller,
        identity: &Identity,
        path: &EntityPath,
    ) -> Result<PackageView> {
        controller.entities().get_package(identity, path).await
    }

    async fn delete(
        controller: &Controller,
        path: &EntityPath,
        force: bool,
    ) -> Result<PackageView> {
        let package = controller.entities().delete_package(path, force).await?;
        Ok(PackageView::bare(package))
    }

    /// Bindings are private: another namespace sees published packages only.
    fn listed_to_others(&self) -> bool {
        self.publish && self.binding.is_none()
    }

    fn listed(self) -> PackageView {
        PackageView::bare(self)
    }
}

impl EntityKind for Action {
    // Not shared in lists; reads reach into other namespaces' published packages
    // (`resolve_action` decides).
    type Put = ActionPut;
    type View = Arc<Action>;

    async fn put(
        controller: &Controller,
        identity: &Identity,
        path: EntityPath,
        put: ActionPut,
        overwrite: bool,
    ) -> Result<Arc<Action>> {
        controller
            .entities()
            .put_action(identity, path, put, overwrite)
            .await
    }

    /// The action with what it inherits from its package or binding.
    async fn get(
        controller: &Controller,
        identity: &Identity,
        path: &EntityPath,
    ) -> Result<Arc<Action>> {
        Ok(controller
            .entities()
            .resolve_action(identity, path)
            .await?
            .action)
    }

    async fn delete(controller: &Controller, path: &EntityPath, _: bool) -> Result<Arc<Action>> {
        controller
            .entities()
            .delete_action(path)
            .await
            .map(Arc::new)
    }

    fn listed(self) -> Arc<Action> {
        Arc::new(self)
    }
}

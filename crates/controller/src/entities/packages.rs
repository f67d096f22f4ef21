//! Packages and bindings: their writes, and resolving `[binding|package]/action` to the stored
//! action with the parameters it inherits (bound package < binding < action).

use std::sync::Arc;

use serde_json::{json, Value};
use wisp_core::params::overlay;
use wisp_core::{
    Action, Annotations, EntityPath, Identity, Package, PackageRef, Parameter, Revision, SemVer,
};
use wisp_store::{Expect, Page, Write};

use super::Entities;
use crate::{ControllerError, Result};

const ON_BINDING: &str = "Operation not permitted on package binding.";

/// The body of `PUT /packages/{name}`: every field optional.
#[derive(Debug, Clone, Default)]
pub struct PackagePut {
    pub binding: Option<PackageRef>,
    pub parameters: Option<Vec<Parameter>>,
    pub annotations: Option<Vec<(String, Value)>>,
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
}

/// A package as a reader sees it.
pub struct ReadablePackage {
    pub package: Arc<Package>,
    /// Where its actions are stored: itself, or the package a binding points at.
    pub actions_in: EntityPath,
    /// What its actions inherit: the bound package's parameters overlaid by the binding's.
    pub parameters: Vec<Parameter>,
}

/// An action ready to run: its parameters include what it inherits from its package.
pub struct ResolvedAction {
    pub action: Arc<Action>,
    /// The binding it was reached through, if any.
    pub binding: Option<EntityPath>,
}

/// A package as it is answered: on a read, with inherited parameters and its actions.
pub struct PackageView {
    pub package: Package,
    /// The actions it holds (a binding: those of the package it binds); only on a read.
    pub actions: Option<Vec<Action>>,
}

impl PackageView {
    /// The package alone, as a write, a delete or a list answers it.
    pub fn bare(package: Package) -> PackageView {
        PackageView {
            package,
            actions: None,
        }
    }
}

impl Entities {
    pub async fn put_package(
        &self,
        identity: &Identity,
        path: EntityPath,
        put: PackagePut,
        overwrite: bool,
    ) -> Result<Package> {
        let store = &self.store;
        let existing = store.get_entity::<Package>(&path).await?;
        if existing.is_some() && !overwrite {
            return Err(ControllerError::Conflict("resource already exists".into()));
        }
        let mut annotations = match (&put.annotations, &existing) {
            (Some(new), _) => Annotations(new.clone()),
            (None, Some(old)) => old.annotations.clone(),
            (None, None) => Annotations::default(),
        };
        let binding = match (&put.binding, &existing) {
            (Some(_), Some(old)) if old.binding.is_none() => {
                return Err(ControllerError::Conflict(
                    "Resource is a package and cannot be converted into a binding.".into(),
                ))
            }
            (Some(target), _) => {
                self.check_binding_target(identity, target).await?;
                Some(target.clone())
            }
            (None, Some(old)) => old.binding.clone(),
            (None, None) => None,
        };
        if let Some(target) = &binding {
            annotations.set(
                "binding",
                json!({"namespace": target.namespace.as_str(), "name": target.name.as_str()}),
            );
        }
        let revision = Revision::next(existing.as_ref(), put.version, put.publish);
        let package = Package {
            version: revision.version,
            publish: revision.publish,
            parameters: put.parameters.clone().unwrap_or_else(|| {
                existing
                    .as_ref()
                    .map_or_else(Vec::new, |old| old.parameters.clone())
            }),
            annotations,
            binding,
            updated: revision.updated,
            path,
        };
        store
            .put_entity(&package, Expect::replacing(existing.as_ref()))
            .await?;
        self.packages
            .insert(package.path.clone(), Arc::new(package.clone()));
        Ok(package)
    }

    async fn check_binding_target(&self, identity: &Identity, target: &PackageRef) -> Result<()> {
        let missing = || {
            ControllerError::BadRequest("Binding references a package that does not exist.".into())
        };
        let bound = match self.cached_package(&target.path()).await {
            Err(ControllerError::NotFound) => return Err(missing()),
            other => other?,
        };
        if bound.binding.is_some() {
            return Err(ControllerError::BadRequest(
                "Cannot bind to another package binding.".into(),
            ));
        }
        if bound.path.namespace != identity.namespace && !bound.publish {
            // Not published: to this caller it does not exist.
            return Err(missing());
        }
        Ok(())
    }

    pub async fn get_package(&self, identity: &Identity, path: &EntityPath) -> Result<PackageView> {
        let readable = self.readable_package(identity, path).await?;
        let actions = self
            .store
            .list_entities::<Action>(
                &readable.actions_in.namespace,
                Some(&readable.actions_in.name),
                Page::ALL,
            )
            .await?;
        let mut package = (*readable.package).clone();
        package.parameters = readable.parameters;
        Ok(PackageView {
            package,
            actions: Some(actions),
        })
    }

    /// Deletes a package; one with actions only with `force`, which deletes them with it.
    pub async fn delete_package(&self, path: &EntityPath, force: bool) -> Result<Package> {
        let store = &self.store;
        let package = store
            .get_entity::<Package>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let mut writes = Vec::new();
        if package.binding.is_none() {
            let inside = store
                .list_entities::<Action>(&path.namespace, Some(&path.name), Page::ALL)
                .await?;
            if !inside.is_empty() && !force {
                return Err(ControllerError::Conflict(format!(
                    "Package not empty (contains {} entities). Set force param or delete package contents.",
                    inside.len()
                )));
            }
            for action in &inside {
                writes.push(Write::delete::<Action>(&action.path));
                self.actions.remove(&action.path);
            }
        }
        writes.push(Write::delete::<Package>(path));
        store.apply(writes).await?;
        self.packages.remove(path);
        Ok(package)
    }

    /// The package at `path`, from the cache when possible.
    pub(crate) async fn cached_package(&self, path: &EntityPath) -> Result<Arc<Package>> {
        if let Some(package) = self.packages.get(path) {
            return Ok(package);
        }
        let package = self
            .store
            .get_entity::<Package>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let package = Arc::new(package);
        self.packages.insert(path.clone(), package.clone());
        Ok(package)
    }

    /// A package actions may be written into: it exists and is not a binding.
    pub(crate) async fn writable_package(&self, path: &EntityPath) -> Result<Arc<Package>> {
        let package = self.cached_package(path).await?;
        if package.binding.is_some() {
            return Err(ControllerError::BadRequest(ON_BINDING.into()));
        }
        Ok(package)
    }

    /// A package `identity` may read: its own, or a published one; a binding resolved to
    /// what it binds.
    pub async fn readable_package(
        &self,
        identity: &Identity,
        path: &EntityPath,
    ) -> Result<ReadablePackage> {
        let package = self.cached_package(path).await?;
        self.may_read(identity, &package)?;
        let Some(target) = &package.binding else {
            return Ok(ReadablePackage {
                actions_in: path.clone(),
                parameters: package.parameters.clone(),
                package,
            });
        };
        let bound = self.cached_package(&target.path()).await?;
        self.may_read(identity, &bound)?;
        Ok(ReadablePackage {
            actions_in: target.path(),
            parameters: overlay(&bound.parameters, &package.parameters),
            package,
        })
    }

    fn may_read(&self, identity: &Identity, package: &Package) -> Result<()> {
        if package.path.namespace == identity.namespace || package.publish {
            Ok(())
        } else {
            Err(ControllerError::Forbidden(package.path.relative()))
        }
    }

    /// The action `identity` asks for at `path`, with inherited parameters merged in.
    pub async fn resolve_action(
        &self,
        identity: &Identity,
        path: &EntityPath,
    ) -> Result<ResolvedAction> {
        let Some(package_path) = path.package_path() else {
            let resource = format!("{}/actions/{}", path.namespace, path.name);
            self.entitle(identity, &path.namespace, &resource)?;
            return Ok(ResolvedAction {
                action: self.stored_action(path).await?,
                binding: None,
            });
        };
        let readable = self.readable_package(identity, &package_path).await?;
        let stored = EntityPath::new(
            readable.actions_in.namespace.clone(),
            Some(readable.actions_in.name.clone()),
            path.name.clone(),
        );
        let mut action = self.stored_action(&stored).await?;
        if !readable.parameters.is_empty() {
            let mut merged = (*action).clone();
            merged.parameters = overlay(&readable.parameters, &action.parameters);
            action = Arc::new(merged);
        }
        Ok(ResolvedAction {
            action,
            binding: readable.package.binding.is_some().then_some(package_path),
        })
    }
}

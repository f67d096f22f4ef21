//! Creating, updating, reading, listing and deleting actions.

use std::sync::Arc;

use serde_json::Value;
use wisp_core::declared_state::StateDecl;
use wisp_core::invoke::CodeError;
use wisp_core::limits::LimitsPatch;
use wisp_core::{
    Action, Annotations, CodeExec, EntityName, EntityPath, Exec, Identity, Kind, Parameter,
    Revision, SemVer,
};
use wisp_store::{Expect, Page};

use super::Entities;
use crate::{ControllerError, Result};

/// `exec` as a client sent it.
#[derive(Debug, Clone, Default)]
pub struct ExecPut {
    pub kind: String,
    pub code: Option<String>,
    pub main: Option<String>,
    /// A sequence's component names, as given.
    pub components: Option<Vec<String>>,
}

/// The body of `PUT /actions/{name}`: every field optional, merged over the existing action.
#[derive(Debug, Clone, Default)]
pub struct ActionPut {
    pub exec: Option<ExecPut>,
    pub parameters: Option<Vec<Parameter>>,
    pub annotations: Option<Vec<(String, Value)>>,
    pub del_annotations: Vec<String>,
    pub limits: LimitsPatch,
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
}

impl Entities {
    pub async fn put_action(
        &self,
        identity: &Identity,
        path: EntityPath,
        put: ActionPut,
        overwrite: bool,
    ) -> Result<Arc<Action>> {
        self.check_sizes(&put)?;
        if let Some(package) = path.package_path() {
            self.writable_package(&package).await?;
        }
        let store = &self.store;
        let existing = store.get_entity::<Action>(&path).await?;
        if existing.is_some() && !overwrite {
            return Err(ControllerError::Conflict("resource already exists".into()));
        }
        let limits = self.limits();
        let exec = match (&put.exec, &existing) {
            (Some(exec), _) if exec.kind == "sequence" => {
                let components = exec.components.as_deref().unwrap_or_default();
                Exec::Sequence(self.check_sequence(identity, &path, components).await?)
            }
            (Some(exec), _) => build_exec(exec)?,
            (None, Some(old)) => old.exec.clone(),
            (None, None) => return Err(ControllerError::BadRequest("exec undefined".into())),
        };
        let base_limits = existing.as_ref().map_or(limits.defaults, |a| a.limits);
        let action_limits = limits
            .resolve(base_limits, put.limits)
            .map_err(|e| ControllerError::BadRequest(e.0))?;

        let mut annotations = match &existing {
            Some(old) => {
                let mut a = old.annotations.clone();
                for key in &put.del_annotations {
                    a.remove(key);
                }
                a
            }
            None => Annotations::default(),
        };
        for (key, value) in put.annotations.clone().unwrap_or_default() {
            annotations.set(&key, value);
        }
        annotations.set("exec", Value::from(exec.kind_name()));
        check_state_declaration(&exec, &annotations)?;
        if existing.is_none() && annotations.get("provide-api-key").is_none() {
            annotations.set("provide-api-key", Value::Bool(false));
        }

        // `updated` strictly increases, so a new revision never shares a warm process with the old.
        let revision = Revision::next(existing.as_ref(), put.version, put.publish);
        let action = Action {
            version: revision.version,
            publish: revision.publish,
            // A sequence's components get their own defaults; it has none.
            parameters: match exec {
                Exec::Sequence(_) => Vec::new(),
                _ => put.parameters.clone().unwrap_or_else(|| {
                    existing
                        .as_ref()
                        .map_or_else(Vec::new, |old| old.parameters.clone())
                }),
            },
            path,
            exec,
            annotations,
            limits: action_limits,
            updated: revision.updated,
        };
        // Also when only parameters or limits change: the new revision's first invoke then
        // finds its program (compiled long ago) as a warm one does.
        self.prepare_code(&action).await?;
        store
            .put_entity(&action, Expect::replacing(existing.as_ref()))
            .await?;
        let action = Arc::new(action);
        self.actions.insert(action.path.clone(), action.clone());
        Ok(action)
    }

    /// Compiles code that the invoker must prepare ahead of any invoke (`wasm`): a binary it
    /// cannot run is the writer's 400, named, rather than every invoke's failure. Called with
    /// the revision about to be stored, which the invoker keeps the program under.
    async fn prepare_code(&self, action: &Action) -> Result<()> {
        let Exec::Code(code) = &action.exec else {
            return Ok(());
        };
        self.code.prepare(action).await.map_err(|e| match e {
            CodeError::Invalid(message) => ControllerError::BadRequest(format!(
                "The {} code is not valid: {message}.",
                code.kind
            )),
            CodeError::Engine(message) => ControllerError::Internal(message),
        })
    }

    fn check_sizes(&self, put: &ActionPut) -> Result<()> {
        let limits = self.limits();
        if let Some(exec) = &put.exec {
            let size = exec.code.as_ref().map_or(0, String::len)
                + exec.main.as_ref().map_or(0, String::len);
            too_big("exec", size, limits.max_code_bytes)?;
        }
        if let Some(params) = &put.parameters {
            let size: usize = params
                .iter()
                .map(|p| p.key.len() + p.value.to_string().len())
                .sum();
            too_big("parameters", size, limits.max_parameter_bytes)?;
        }
        if let Some(annotations) = &put.annotations {
            let size: usize = annotations
                .iter()
                .map(|(k, v)| k.len() + v.to_string().len())
                .sum();
            too_big("annotations", size, limits.max_parameter_bytes)?;
        }
        Ok(())
    }

    /// The action stored at `path` (no package resolution), from the cache when possible.
    pub(crate) async fn stored_action(&self, path: &EntityPath) -> Result<Arc<Action>> {
        if let Some(action) = self.actions.get(path) {
            return Ok(action);
        }
        let action = self
            .store
            .get_entity::<Action>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let action = Arc::new(action);
        self.actions.insert(action.path.clone(), action.clone());
        Ok(action)
    }

    pub async fn delete_action(&self, path: &EntityPath) -> Result<Action> {
        if let Some(package) = path.package_path() {
            self.writable_package(&package).await?;
        }
        let deleted = self.store.delete_entity::<Action>(path).await?;
        self.actions.remove(path);
        deleted.ok_or(ControllerError::NotFound)
    }

    /// Actions of a namespace (with those in its packages), or of a package or binding.
    pub async fn list_actions(
        &self,
        identity: &Identity,
        namespace: EntityName,
        package: Option<EntityName>,
        skip: u64,
        limit: u64,
    ) -> Result<Vec<Action>> {
        let (namespace, package) = self.listing_scope(identity, namespace, package).await?;
        Ok(self
            .store
            .list_entities::<Action>(&namespace, package.as_ref(), Page { skip, limit })
            .await?)
    }

    pub async fn count_actions(
        &self,
        identity: &Identity,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> Result<u64> {
        let (namespace, package) = self.listing_scope(identity, namespace, package).await?;
        Ok(self
            .store
            .count_entities::<Action>(&namespace, package.as_ref())
            .await?)
    }

    /// Where the actions of `namespace[/package]` are stored: a binding lists its bound
    /// package's actions.
    async fn listing_scope(
        &self,
        identity: &Identity,
        namespace: EntityName,
        package: Option<EntityName>,
    ) -> Result<(EntityName, Option<EntityName>)> {
        let Some(package) = package else {
            self.entitle(identity, &namespace, namespace.as_str())?;
            return Ok((namespace, None));
        };
        let path = EntityPath::new(namespace, None, package);
        let readable = self.readable_package(identity, &path).await?;
        Ok((
            readable.actions_in.namespace,
            Some(readable.actions_in.name),
        ))
    }
}

fn build_exec(put: &ExecPut) -> Result<Exec> {
    let kind = Kind::parse(&put.kind)
        .ok_or_else(|| ControllerError::BadRequest(Kind::unsupported_message(&put.kind)))?;
    let code = put.code.clone().ok_or_else(|| {
        ControllerError::BadRequest(format!(
            "'code' must be a string defined in 'exec' for '{}' actions",
            kind
        ))
    })?;
    Ok(Exec::Code(CodeExec::new(kind, code, put.main.clone())))
}

fn too_big(field: &str, size: usize, allowed: usize) -> Result<()> {
    if size > allowed {
        Err(ControllerError::PayloadTooLarge(format!(
            "{field} larger than allowed: {size} > {allowed} bytes."
        )))
    } else {
        Ok(())
    }
}

/// A `state` annotation must parse, and only an action with code of its own may have one (a
/// sequence's or a builtin's state would be nobody's to read).
fn check_state_declaration(exec: &Exec, annotations: &Annotations) -> Result<()> {
    let declared = StateDecl::of(annotations.get(wisp_core::declared_state::ANNOTATION))
        .map_err(|e| ControllerError::BadRequest(e.to_string()))?;
    if declared.is_some() && !matches!(exec, Exec::Code(_)) {
        return Err(ControllerError::BadRequest(
            "Only an action with code may declare state (the 'state' annotation).".into(),
        ));
    }
    Ok(())
}

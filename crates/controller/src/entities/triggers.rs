//! Triggers: their writes and reads (firing one is `crate::fire`).

use serde_json::Value;
use wisp_core::{Annotations, EntityPath, Parameter, Revision, SemVer, Trigger};
use wisp_store::Expect;

use super::Entities;
use crate::names::parse_fully_qualified;
use crate::{ControllerError, Result};

/// The body of `PUT /triggers/{name}`: every field optional; given fields replace old ones.
#[derive(Debug, Clone, Default)]
pub struct TriggerPut {
    pub parameters: Option<Vec<Parameter>>,
    pub annotations: Option<Vec<(String, Value)>>,
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
}

impl Entities {
    pub async fn put_trigger(
        &self,
        path: EntityPath,
        put: TriggerPut,
        overwrite: bool,
    ) -> Result<Trigger> {
        let store = &self.store;
        let existing = store.get_entity::<Trigger>(&path).await?;
        if existing.is_some() && !overwrite {
            return Err(ControllerError::Conflict("resource already exists".into()));
        }
        if let Some(annotations) = &put.annotations {
            if let Some((_, feed)) = annotations.iter().rev().find(|(k, _)| k == "feed") {
                let valid = feed
                    .as_str()
                    .is_some_and(|f| parse_fully_qualified(f, &path.namespace).is_ok());
                if !valid {
                    return Err(ControllerError::BadRequest("Feed name is not valid".into()));
                }
            }
        }
        let old = existing.as_ref();
        let revision = Revision::next(old, put.version, put.publish);
        let trigger = Trigger {
            version: revision.version,
            publish: revision.publish,
            parameters: put
                .parameters
                .unwrap_or_else(|| old.map_or_else(Vec::new, |t| t.parameters.clone())),
            annotations: match put.annotations {
                Some(a) => Annotations(a),
                None => old.map_or_else(Annotations::default, |t| t.annotations.clone()),
            },
            rules: old.map_or_else(Default::default, |t| t.rules.clone()),
            updated: revision.updated,
            path,
        };
        store.put_entity(&trigger, Expect::replacing(old)).await?;
        Ok(trigger)
    }

    pub async fn get_trigger(&self, path: &EntityPath) -> Result<Trigger> {
        self.store
            .get_entity::<Trigger>(path)
            .await?
            .ok_or(ControllerError::NotFound)
    }

    /// Deletes a trigger (its alarm, if any, stopped first: see `EntityKind for Trigger`).
    pub(crate) async fn delete_trigger(&self, path: &EntityPath) -> Result<Trigger> {
        self.store
            .delete_entity::<Trigger>(path)
            .await?
            .ok_or(ControllerError::NotFound)
    }
}

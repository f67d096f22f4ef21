//! Create-time checks of a sequence's components.

use std::collections::HashSet;

use wisp_core::{EntityPath, Exec, Identity, SequenceExec};

use super::Entities;
use crate::names::parse_fully_qualified;
use crate::{ControllerError, Result};

const TOO_MANY: &str = "Too many actions in the sequence.";
const MISSING: &str = "Sequence component does not exist.";

impl Entities {
    /// Checks the components of a sequence about to be stored at `path`: there are some, not
    /// too many once nested sequences are inlined, each exists and may be read by `identity`,
    /// and none leads back to the sequence itself.
    pub(crate) async fn check_sequence(
        &self,
        identity: &Identity,
        path: &EntityPath,
        names: &[String],
    ) -> Result<SequenceExec> {
        let bad = |m: &str| ControllerError::BadRequest(m.to_string());
        let max = self.limits().max_sequence_length;
        if names.is_empty() {
            return Err(bad("No component specified for the sequence."));
        }
        if names.len() > max {
            return Err(bad(TOO_MANY));
        }
        let components = names
            .iter()
            .map(|name| {
                parse_fully_qualified(name, &identity.namespace)
                    .map_err(|e| ControllerError::BadRequest(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut atoms = 0;
        let mut walking = HashSet::new();
        for component in &components {
            self.count_atoms(identity, path, component, &mut atoms, &mut walking)
                .await?;
            if atoms > max {
                return Err(bad(TOO_MANY));
            }
        }
        Ok(SequenceExec { components })
    }

    /// Adds the atomic actions `component` stands for to `atoms`, following nested sequences.
    async fn count_atoms(
        &self,
        identity: &Identity,
        sequence: &EntityPath,
        component: &EntityPath,
        atoms: &mut usize,
        walking: &mut HashSet<EntityPath>,
    ) -> Result<()> {
        let self_reference =
            || ControllerError::BadRequest("Sequence may not refer to itself.".into());
        if component == sequence {
            return Err(self_reference());
        }
        let resolved = match self.resolve_action(identity, component).await {
            Ok(resolved) => resolved,
            Err(ControllerError::NotFound | ControllerError::Missing(_)) => {
                return Err(ControllerError::BadRequest(MISSING.into()))
            }
            Err(e) => return Err(e),
        };
        if &resolved.action.path == sequence {
            return Err(self_reference());
        }
        match &resolved.action.exec {
            Exec::Sequence(inner) => {
                // A cycle stored before (it cannot be made through the API) stops the walk.
                let inner_path = resolved.action.path.clone();
                if !walking.insert(inner_path.clone()) {
                    return Err(self_reference());
                }
                for c in &inner.components {
                    Box::pin(self.count_atoms(identity, sequence, c, atoms, walking)).await?;
                    if *atoms > self.limits().max_sequence_length {
                        break;
                    }
                }
                walking.remove(&inner_path);
                Ok(())
            }
            _ => {
                *atoms += 1;
                Ok(())
            }
        }
    }
}

//! One step of a running sequence (the checks made when one is stored: `entities::sequences`).

use serde_json::Value;
use wisp_core::Exec;

use super::session::{application_error, Program, Session};
use super::{Next, Step};
use crate::{Controller, ControllerError};

const TOO_MANY: &str = "Too many actions in the sequence.";
const MISSING: &str = "Sequence component does not exist.";

impl Controller {
    /// Runs the next component: its input is the previous result; a result with `error`
    /// ends the sequence with that response.
    pub(crate) async fn sequence_step(&self, session: &mut Session) -> Next {
        let Program::Sequence {
            components,
            next,
            atoms,
        } = &session.program
        else {
            unreachable!("a sequence session")
        };
        let (index, inlined) = (*next, *atoms);
        let Some(component) = components.get(index).cloned() else {
            return Next::Finish(
                session
                    .last
                    .clone()
                    .unwrap_or_else(|| application_error(MISSING)),
            );
        };
        let count = components.len();
        let max = self.limits().max_sequence_length;
        let Some(identity) = session.caller.identity() else {
            return Next::Finish(application_error(MISSING));
        };
        let resolved = match self.entities().resolve_action(&identity, &component).await {
            Ok(resolved) => resolved,
            Err(ControllerError::NotFound | ControllerError::Missing(_)) => {
                return Next::Finish(application_error(MISSING))
            }
            Err(e) => return Next::Finish(application_error(&e.to_string())),
        };
        let action = &resolved.action;
        let is_sequence = matches!(action.exec, Exec::Sequence(_));
        // Nested sequences count their own atoms against the same n; anything else is one.
        let mut after = inlined;
        if !is_sequence {
            after += 1;
            if after > max {
                return Next::Finish(application_error(TOO_MANY));
            }
        }
        // Cloned, not taken: the session saved while the step runs must still hold its input.
        let input = session.input.clone();
        let mut inner_atoms = None;
        let step = self
            .run_step(
                session,
                Step {
                    path: &component,
                    resolved: &resolved,
                    input,
                    code_only: false,
                },
                |program| match program {
                    Program::Sequence { components, .. } => Program::Sequence {
                        components,
                        next: 0,
                        atoms: inlined,
                    },
                    conductor => conductor,
                },
                |ended| {
                    if let Program::Sequence { atoms, .. } = ended {
                        inner_atoms = Some(*atoms);
                    }
                },
            )
            .await;
        let record = match step {
            Ok(record) => record,
            Err(response) => return Next::Finish(response),
        };
        session.record_step(&record);
        let response = record.response.clone();
        let failed = is_error(&response.result);
        session.input = response.result.clone();
        session.last = Some(response.clone());
        if let Program::Sequence { next, atoms, .. } = &mut session.program {
            *next = index + 1;
            *atoms = inner_atoms.unwrap_or(after);
        }
        if failed || index + 1 == count {
            Next::Finish(response)
        } else {
            Next::Continue
        }
    }
}

/// Whether a value is a JSON object with an `error` field.
fn is_error(value: &Value) -> bool {
    value.as_object().is_some_and(|o| o.contains_key("error"))
}

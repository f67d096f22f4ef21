//! Conductor actions: the conductor runs, and says what runs next (`{action, params, state}`)
//! or ends the composition; the controller runs that component and feeds its result (with
//! `state` merged over it) back to the conductor.

use serde_json::{json, Map, Value};
use wisp_core::{ActivationResponse, EntityPath};

use super::session::{application_error, internal_error, Accounting, Program, Session};
use super::{Next, Step};
use crate::entities::ResolvedAction;
use crate::names::parse_fully_qualified;
use crate::{Controller, ControllerError};

const TOO_MANY: &str = "Too many actions in the composition.";

impl Controller {
    pub(crate) async fn conductor_step(&self, session: &mut Session) -> Next {
        let Program::Conductor {
            state,
            component,
            accounting,
        } = session.program.clone()
        else {
            unreachable!("a conductor session")
        };
        match component {
            None => self.run_conductor(session, state, accounting).await,
            Some(path) => self.run_component(session, state, accounting, path).await,
        }
    }

    /// One run of the conductor on the last result with `state` merged over it.
    async fn run_conductor(
        &self,
        session: &mut Session,
        state: Option<Map<String, Value>>,
        mut accounting: Accounting,
    ) -> Next {
        let max = self.limits().max_sequence_length;
        if accounting.conductors > 2 * max {
            return Next::Finish(application_error(TOO_MANY));
        }
        // Built from copies: the session saved while the conductor runs keeps what a re-run
        // after a restart needs.
        let input = match &session.input {
            Value::Object(params) => {
                let mut params = params.clone();
                params.extend(state.clone().unwrap_or_default());
                Value::Object(params)
            }
            _ => Value::Null,
        };
        let Some(resolved) = self
            .resolve_in(session, &session.target.invoked.clone())
            .await
            .ok()
        else {
            return Next::Finish(internal_error("Activation failure during composition."));
        };
        accounting.conductors += 1;
        session.program = Program::Conductor {
            state,
            component: None,
            accounting,
        };
        let path = session.target.invoked.clone();
        let record = match self
            .run_step(
                session,
                Step {
                    path: &path,
                    resolved: &resolved,
                    input,
                    code_only: true,
                },
                |p| p,
                |_| {},
            )
            .await
        {
            Ok(record) => record,
            Err(response) => return Next::Finish(response),
        };
        session.record_step(&record);

        let result = record.response.result.clone();
        let fields = result.as_object();
        let params = fields
            .and_then(|r| r.get("params"))
            .map(|p| boxed(p, "value"));
        let state = fields
            .and_then(|r| r.get("state"))
            .map(|s| boxed(s, "state"));
        let Some(action) = fields.and_then(|r| r.get("action")) else {
            // Done: `params` if given, else the whole result, with the conductor's status.
            return Next::Finish(ActivationResponse {
                outcome: record.response.outcome,
                result: params.map(Value::Object).unwrap_or(result),
                size: None,
            });
        };
        let mut next_component = None;
        session.input = match self.component_for(session, action, &accounting).await {
            Ok(path) => {
                next_component = Some(path);
                params.map(Value::Object).unwrap_or(Value::Null)
            }
            Err(message) => json!({ "error": message }),
        };
        session.program = Program::Conductor {
            state,
            component: next_component,
            accounting,
        };
        Next::Continue
    }

    /// The component a conductor named, or the error it is told about instead.
    async fn component_for(
        &self,
        session: &Session,
        action: &Value,
        accounting: &Accounting,
    ) -> Result<EntityPath, String> {
        let unparsable =
            || format!("Failed to parse action name from json value {action} during composition.");
        let name = action.as_str().ok_or_else(unparsable)?;
        let caller = session.caller.identity().ok_or_else(unparsable)?;
        let path = parse_fully_qualified(name, &caller.namespace).map_err(|_| unparsable())?;
        if accounting.components >= self.limits().max_sequence_length {
            return Err(TOO_MANY.into());
        }
        self.resolve_in(session, &path).await?;
        Ok(path)
    }

    /// Runs the component the conductor asked for; its result, whatever its status, goes
    /// back to the conductor.
    async fn run_component(
        &self,
        session: &mut Session,
        state: Option<Map<String, Value>>,
        mut accounting: Accounting,
        path: EntityPath,
    ) -> Next {
        let resolved = match self.resolve_in(session, &path).await {
            Ok(resolved) => resolved,
            Err(message) => {
                session.input = json!({ "error": message });
                session.program = Program::Conductor {
                    state,
                    component: None,
                    accounting,
                };
                return Next::Continue;
            }
        };
        // A nested conductor shares this tree's counts and counts its own runs; anything
        // else is one component.
        let shares_counts = resolved.action.is_conductor();
        if !shares_counts {
            accounting.components += 1;
        }
        session.program = Program::Conductor {
            state: state.clone(),
            component: Some(path.clone()),
            accounting,
        };
        let input = session.input.clone();
        let mut returned = None;
        let step = self
            .run_step(
                session,
                Step {
                    path: &path,
                    resolved: &resolved,
                    input,
                    code_only: false,
                },
                |program| match program {
                    Program::Conductor {
                        state, component, ..
                    } if shares_counts => Program::Conductor {
                        state,
                        component,
                        accounting,
                    },
                    other => other,
                },
                |ended| {
                    if let Program::Conductor { accounting, .. } = ended {
                        returned = Some(*accounting);
                    }
                },
            )
            .await;
        let record = match step {
            Ok(record) => record,
            Err(response) => return Next::Finish(response),
        };
        session.record_step(&record);
        session.input = record.response.result.clone();
        session.program = Program::Conductor {
            state,
            component: None,
            accounting: match returned {
                Some(counts) if shares_counts => counts,
                _ => accounting,
            },
        };
        Next::Continue
    }

    /// Resolves a name for the session's caller; `Err` is the message the conductor gets.
    async fn resolve_in(
        &self,
        session: &Session,
        path: &EntityPath,
    ) -> Result<ResolvedAction, String> {
        let not_found = || {
            format!(
                "Failed to resolve action with name '{}' during composition.",
                path.relative()
            )
        };
        let caller = session.caller.identity().ok_or_else(not_found)?;
        match self.entities().resolve_action(&caller, path).await {
            Ok(resolved) => Ok(resolved),
            Err(ControllerError::Forbidden(_)) => Err(format!(
                "Failed entitlement check for action with name '{}' during composition.",
                path.relative()
            )),
            Err(_) => Err(not_found()),
        }
    }
}

/// `params` and `state` that are not objects are boxed: `{"value": v}`, `{"state": v}`.
fn boxed(value: &Value, key: &str) -> Map<String, Value> {
    match value {
        Value::Object(o) => o.clone(),
        other => {
            let mut m = Map::new();
            m.insert(key.to_string(), other.clone());
            m
        }
    }
}

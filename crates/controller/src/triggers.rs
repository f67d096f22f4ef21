//! Triggers: their writes, and firing one, which invokes the action of every active rule.

use serde_json::{json, Map, Value};
use wisp_core::params::merge_into;
use wisp_core::time::now_ms;
use wisp_core::{
    Activation, ActivationId, ActivationResponse, Annotations, EntityPath, Identity, Parameter,
    Revision, RuleStatus, SemVer, Trigger,
};
use wisp_store::{Expect, Page};

use crate::names::parse_fully_qualified;
use crate::{Controller, ControllerError, InvokeOptions, Invoked, Result};

/// The body of `PUT /triggers/{name}`: every field optional; given fields replace old ones.
#[derive(Debug, Clone, Default)]
pub struct TriggerPut {
    pub parameters: Option<Vec<Parameter>>,
    pub annotations: Option<Vec<(String, Value)>>,
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
}

impl Controller {
    pub async fn put_trigger(
        &self,
        path: EntityPath,
        put: TriggerPut,
        overwrite: bool,
    ) -> Result<Trigger> {
        let store = &self.inner.entities;
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
        self.inner
            .entities
            .get_entity::<Trigger>(path)
            .await?
            .ok_or(ControllerError::NotFound)
    }

    /// Deletes a trigger; rules that pointed at it stay and report `inactive`. An alarm on it
    /// stops first, so no fire lands on a trigger of the same name created later.
    pub async fn delete_trigger(&self, path: &EntityPath) -> Result<Trigger> {
        self.get_trigger(path).await?;
        self.forget_alarm(path).await?;
        self.inner
            .entities
            .delete_entity::<Trigger>(path)
            .await?
            .ok_or(ControllerError::NotFound)
    }

    pub async fn list_triggers(&self, identity: &Identity, page: Page) -> Result<Vec<Trigger>> {
        Ok(self
            .inner
            .entities
            .list_entities::<Trigger>(&identity.namespace, None, page)
            .await?)
    }

    pub async fn count_triggers(&self, identity: &Identity) -> Result<u64> {
        Ok(self
            .inner
            .entities
            .count_entities::<Trigger>(&identity.namespace, None)
            .await?)
    }

    /// Fires a trigger: every active rule's action is invoked (non-blocking) with the trigger's
    /// parameters overlaid by the request headers and the event. Returns the trigger's
    /// activation id, or `None` when no rule is active (nothing runs, nothing is recorded).
    ///
    /// The rule activations are accepted and the trigger's record is stored before this
    /// returns, so an acknowledged fire keeps its activations through a crash.
    ///
    /// Every fire counts against the namespace's fires per minute, as in OpenWhisk, where the
    /// throttle is part of the entitlement check made before the trigger is read; each rule's
    /// invocation counts against the invocation throttles as well.
    pub async fn fire_trigger(
        &self,
        identity: &Identity,
        path: &EntityPath,
        event: Map<String, Value>,
        headers: Map<String, Value>,
        transaction_id: String,
    ) -> Result<Option<ActivationId>> {
        self.inner
            .throttle
            .fire(identity.namespace.as_str(), &self.throttles(identity))
            .inspect_err(|_| self.throttled(identity, "fires_per_minute"))?;
        let trigger = self.get_trigger(path).await?;
        self.metrics().trigger_fire(identity.namespace.as_str());
        let active: Vec<_> = trigger
            .rules
            .iter()
            .filter(|(_, link)| link.status == RuleStatus::Active)
            .collect();
        if active.is_empty() {
            return Ok(None);
        }
        let start = now_ms();
        let mut args = Map::new();
        merge_into(&mut args, &trigger.parameters);
        args.insert("__ow_headers".into(), Value::Object(headers));
        args.extend(event.clone());

        // One after another: each is only an accept (a queued commit), not a run.
        let mut logs = Vec::with_capacity(active.len());
        for (rule, link) in active {
            let options = InvokeOptions {
                blocking: false,
                wait: std::time::Duration::ZERO,
                transaction_id: transaction_id.clone(),
            };
            let outcome = self
                .invoke(identity, &link.action, Some(args.clone()), options)
                .await;
            logs.push(rule_log_line(rule, &link.action, outcome));
        }

        let id = ActivationId::generate();
        let record = Activation {
            activation_id: id.clone(),
            namespace: identity.namespace.to_string(),
            name: path.name.to_string(),
            subject: identity.subject.clone(),
            version: trigger.version,
            publish: false,
            start,
            end: None,
            duration: None,
            cause: None,
            response: ActivationResponse::from_result(Value::Object(event), 0),
            logs,
            annotations: Annotations::default(),
        };
        self.complete(record, None).await?;
        Ok(Some(id))
    }
}

/// One log line of a trigger activation: what became of one rule's invocation.
fn rule_log_line(rule: &str, action: &EntityPath, outcome: Result<Invoked>) -> String {
    let line = match outcome {
        Ok(invoked) => {
            let id = match &invoked {
                Invoked::Accepted(id) => id,
                Invoked::Completed(record) => &record.activation_id,
            };
            json!({
                "statusCode": 0,
                "success": true,
                "activationId": id.as_str(),
                "rule": rule,
                "action": action.relative(),
            })
        }
        Err(e) => json!({
            "statusCode": if e.is_client_error() { 1 } else { 3 },
            "success": false,
            "error": e.to_string(),
            "rule": rule,
            "action": action.relative(),
        }),
    };
    line.to_string()
}

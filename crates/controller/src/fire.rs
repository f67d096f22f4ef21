//! Firing a trigger: every active rule's action is invoked.

use serde_json::{json, Map, Value};
use wisp_core::params::merge_into;
use wisp_core::time::now_ms;
use wisp_core::{
    Activation, ActivationId, ActivationResponse, Annotations, EntityPath, Identity, RuleStatus,
};

use crate::{Controller, InvokeOptions, Invoked, Result};

impl Controller {
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
            .runs
            .throttle
            .fire(identity.namespace.as_str(), &self.throttles(identity))
            .inspect_err(|_| self.throttled(identity, "fires_per_minute"))?;
        let trigger = self.entities().get_trigger(path).await?;
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
        self.records().complete(record, None).await?;
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

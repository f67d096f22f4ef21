//! Triggers and rules on the wire.

use serde_json::{json, Map, Value};
use wisp_controller::{RulePut, RuleView, TriggerPut};
use wisp_core::{EntityPath, Trigger};

use super::{
    annotation_list, annotations, malformed, parameter_list, parameters, publish, version,
};
use crate::ApiError;

/// `{path, name}`, as OpenWhisk writes a rule's trigger and action.
fn path_and_name(path: &EntityPath) -> Value {
    json!({"path": path.parent(), "name": path.name.as_str()})
}

pub fn trigger_summary(t: &Trigger) -> Value {
    json!({
        "namespace": t.path.namespace.as_str(),
        "name": t.path.name.as_str(),
        "version": t.version.to_string(),
        "publish": t.publish,
        "annotations": annotations(&t.annotations),
        "updated": t.updated,
    })
}

pub fn trigger(t: &Trigger) -> Value {
    let mut body = trigger_summary(t);
    body["parameters"] = parameters(&t.parameters);
    body["limits"] = json!({});
    if !t.rules.is_empty() {
        let rules: Map<String, Value> = t
            .rules
            .iter()
            .map(|(name, link)| {
                (
                    name.clone(),
                    json!({"action": path_and_name(&link.action), "status": link.status.as_str()}),
                )
            })
            .collect();
        body["rules"] = Value::Object(rules);
    }
    body
}

/// A rule; `status` only where OpenWhisk shows it (get, put, delete; not lists).
pub fn rule(view: &RuleView, with_status: bool) -> Value {
    let r = &view.rule;
    let mut body = json!({
        "namespace": r.path.namespace.as_str(),
        "name": r.path.name.as_str(),
        "version": r.version.to_string(),
        "publish": r.publish,
        "annotations": annotations(&r.annotations),
        "trigger": path_and_name(&r.trigger),
        "action": path_and_name(&r.action),
        "updated": r.updated,
    });
    if with_status {
        body["status"] = Value::from(view.status.as_str());
    }
    body
}

pub fn trigger_put(body: Map<String, Value>) -> Result<TriggerPut, ApiError> {
    let mut put = TriggerPut::default();
    for (field, value) in body {
        match field.as_str() {
            "parameters" => put.parameters = Some(parameter_list(value, "parameters")?),
            "annotations" => put.annotations = Some(annotation_list(value)?),
            "version" => put.version = Some(version(&value)?),
            "publish" => put.publish = Some(publish(&value)?),
            _ => {}
        }
    }
    Ok(put)
}

pub fn rule_put(body: Map<String, Value>) -> Result<RulePut, ApiError> {
    let mut put = RulePut::default();
    let name = |value: Value, field: &str| match value {
        Value::String(s) => Ok(s),
        // Clients that echo a document back send `{path, name}`.
        Value::Object(o) => match (o.get("path"), o.get("name")) {
            (Some(Value::String(p)), Some(Value::String(n))) => Ok(format!("/{p}/{n}")),
            _ => Err(malformed(format!(
                "'{field}' must be a fully qualified name"
            ))),
        },
        _ => Err(malformed(format!(
            "'{field}' must be a fully qualified name"
        ))),
    };
    for (field, value) in body {
        match field.as_str() {
            "trigger" => put.trigger = Some(name(value, "trigger")?),
            "action" => put.action = Some(name(value, "action")?),
            "annotations" => put.annotations = Some(annotation_list(value)?),
            "version" => put.version = Some(version(&value)?),
            "publish" => put.publish = Some(publish(&value)?),
            _ => {}
        }
    }
    Ok(put)
}

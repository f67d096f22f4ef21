//! Triggers and rules on the wire.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use wisp_controller::{RulePut, RuleView, TriggerPut};
use wisp_core::{EntityPath, Trigger};
use wisp_wire::{PathName, RuleLink};

use super::{
    annotation_list, annotations, malformed, parameter_list, parameters, publish, version,
};
use crate::ApiError;

/// `{path, name}`, as OpenWhisk writes a rule's trigger and action.
fn path_and_name(path: &EntityPath) -> PathName {
    PathName {
        path: path.parent(),
        name: path.name.to_string(),
    }
}

pub fn trigger_summary(t: &Trigger) -> wisp_wire::Trigger {
    wisp_wire::Trigger {
        namespace: t.path.namespace.to_string(),
        name: t.path.name.to_string(),
        version: t.version.to_string(),
        publish: t.publish,
        annotations: annotations(&t.annotations),
        updated: t.updated,
        parameters: None,
        limits: None,
        rules: None,
    }
}

/// A trigger with its parameters and, when any use it, its rules.
pub fn trigger(t: &Trigger) -> wisp_wire::Trigger {
    let rules = t
        .rules
        .iter()
        .map(|(name, link)| {
            let link = RuleLink {
                action: path_and_name(&link.action),
                status: link.status.as_str().to_owned(),
            };
            (name.clone(), link)
        })
        .collect::<BTreeMap<_, _>>();
    wisp_wire::Trigger {
        parameters: Some(parameters(&t.parameters)),
        limits: Some(BTreeMap::new()),
        rules: (!rules.is_empty()).then_some(rules),
        ..trigger_summary(t)
    }
}

/// A rule; `status` only where OpenWhisk shows it (get, put, delete; not lists).
pub fn rule(view: &RuleView, with_status: bool) -> wisp_wire::Rule {
    let r = &view.rule;
    wisp_wire::Rule {
        namespace: r.path.namespace.to_string(),
        name: r.path.name.to_string(),
        version: r.version.to_string(),
        publish: r.publish,
        annotations: annotations(&r.annotations),
        trigger: path_and_name(&r.trigger),
        action: path_and_name(&r.action),
        updated: r.updated,
        status: with_status.then(|| view.status.as_str().to_owned()),
    }
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

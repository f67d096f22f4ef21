//! Packages and bindings on the wire.

use serde_json::{json, Map, Value};
use wisp_controller::{PackagePut, PackageView};
use wisp_core::{EntityName, Package, PackageRef};

use super::{
    annotation_list, annotations, malformed, parameter_list, parameters, publish, version,
};
use crate::ApiError;

fn binding(p: &Package) -> Value {
    match &p.binding {
        Some(target) => {
            json!({"namespace": target.namespace.as_str(), "name": target.name.as_str()})
        }
        None => json!({}),
    }
}

pub fn package(p: &Package) -> Value {
    json!({
        "namespace": p.path.namespace.as_str(),
        "name": p.path.name.as_str(),
        "version": p.version.to_string(),
        "publish": p.publish,
        "annotations": annotations(&p.annotations),
        "parameters": parameters(&p.parameters),
        "binding": binding(p),
        "updated": p.updated,
    })
}

/// A list entry: `binding` is `false` for a package.
pub fn package_summary(p: &Package) -> Value {
    let mut summary = package(p);
    let fields = summary.as_object_mut().expect("an object");
    fields.remove("parameters");
    if p.binding.is_none() {
        fields.insert("binding".into(), Value::Bool(false));
    }
    summary
}

/// `GET /packages/{name}`: the package with its actions and feeds.
pub fn package_view(view: &PackageView) -> Value {
    let mut body = package(&view.package);
    let (feeds, actions): (Vec<_>, Vec<_>) = view
        .actions
        .iter()
        .partition(|a| a.annotations.get("feed").is_some());
    let entry = |a: &&wisp_core::Action| {
        json!({
            "name": a.path.name.as_str(),
            "version": a.version.to_string(),
            "annotations": annotations(&a.annotations),
        })
    };
    body["actions"] = Value::Array(actions.iter().map(entry).collect());
    body["feeds"] = Value::Array(feeds.iter().map(entry).collect());
    body
}

/// The body of a package PUT. `caller` resolves `_` in a binding's namespace.
pub fn package_put(body: Map<String, Value>, caller: &EntityName) -> Result<PackagePut, ApiError> {
    let mut put = PackagePut::default();
    for (field, value) in body {
        match field.as_str() {
            "binding" => put.binding = binding_ref(value, caller)?,
            "parameters" => put.parameters = Some(parameter_list(value, "parameters")?),
            "annotations" => put.annotations = Some(annotation_list(value)?),
            "version" => put.version = Some(version(&value)?),
            "publish" => put.publish = Some(publish(&value)?),
            _ => {}
        }
    }
    Ok(put)
}

/// `{namespace, name}`; an empty object (or `false`) means "not a binding".
fn binding_ref(value: Value, caller: &EntityName) -> Result<Option<PackageRef>, ApiError> {
    let object = match value {
        Value::Object(o) if o.is_empty() => return Ok(None),
        Value::Null | Value::Bool(false) => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(malformed(
                "'binding' must be an object with 'namespace' and 'name'",
            ))
        }
    };
    let field = |key: &str| -> Result<&str, ApiError> {
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(format!("'binding' needs a string '{key}'")))
    };
    let namespace = match field("namespace")?.trim_start_matches('/') {
        "_" => caller.clone(),
        other => EntityName::parse(other).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let name =
        EntityName::parse(field("name")?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Some(PackageRef { namespace, name }))
}

//! Packages and bindings on the wire.

use serde_json::{Map, Value};
use wisp_controller::{PackagePut, PackageView};
use wisp_core::{EntityName, Package, PackageRef};
use wisp_wire::{Binding, PackageEntry};

use super::{
    annotation_list, annotations, malformed, parameter_list, parameters, publish, version,
};
use crate::ApiError;

fn binding(p: &Package) -> Binding {
    match &p.binding {
        Some(target) => Binding::To {
            namespace: target.namespace.to_string(),
            name: target.name.to_string(),
        },
        None => Binding::Nothing {},
    }
}

pub fn package(p: &Package) -> wisp_wire::Package {
    wisp_wire::Package {
        namespace: p.path.namespace.to_string(),
        name: p.path.name.to_string(),
        version: p.version.to_string(),
        publish: p.publish,
        annotations: annotations(&p.annotations),
        parameters: Some(parameters(&p.parameters)),
        binding: binding(p),
        updated: p.updated,
        actions: None,
        feeds: None,
    }
}

/// A list entry: no parameters, and `binding` is `false` for a package.
pub fn package_summary(p: &Package) -> wisp_wire::Package {
    wisp_wire::Package {
        parameters: None,
        binding: match p.binding {
            Some(_) => binding(p),
            None => Binding::Flag(false),
        },
        ..package(p)
    }
}

/// `GET /packages/{name}`: the package with its actions and feeds.
pub fn package_view(view: &PackageView) -> wisp_wire::Package {
    let (feeds, actions): (Vec<_>, Vec<_>) = view
        .actions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .partition(|a| a.annotations.get("feed").is_some());
    let entry = |a: &&wisp_core::Action| PackageEntry {
        name: a.path.name.to_string(),
        version: a.version.to_string(),
        annotations: annotations(&a.annotations),
    };
    wisp_wire::Package {
        actions: Some(actions.iter().map(entry).collect()),
        feeds: Some(feeds.iter().map(entry).collect()),
        ..package(&view.package)
    }
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

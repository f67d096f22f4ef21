//! The JSON shapes of OpenWhisk's API, converted to and from the domain types.
//!
//! Domain types are never serialised directly: every field a client sees is set here, in the
//! documents of `wisp-wire` that the client reads too.

use serde_json::{Map, Value};
use wisp_controller::{ActionPut, ExecPut};
use wisp_core::limits::LimitsPatch;
use wisp_core::{Action, Activation, Annotations, Exec, Parameter, SemVer};

use wisp_wire::{ActionLimits, ActivationResponse, KeyValue};

use crate::ApiError;

pub mod kv;
pub mod objects;
mod packages;
mod triggers;

pub use packages::{package, package_put, package_summary, package_view};
pub use triggers::{rule, rule_put, trigger, trigger_put, trigger_summary};

pub(crate) fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("The request content was malformed:\n{detail}"))
}

/// `{key, value}` entries, in order.
pub fn annotations(a: &Annotations) -> Vec<KeyValue> {
    a.0.iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect()
}

pub(crate) fn parameters(params: &[Parameter]) -> Vec<KeyValue> {
    params
        .iter()
        .map(|p| KeyValue {
            key: p.key.clone(),
            value: p.value.clone(),
            init: p.init,
        })
        .collect()
}

fn limits(action: &Action) -> ActionLimits {
    let l = action.limits;
    ActionLimits {
        timeout: l.timeout,
        memory: l.memory,
        logs: l.logs,
        concurrency: l.concurrency,
    }
}

/// The full action document; `code` false drops the code.
pub fn action(a: &Action, code: bool) -> wisp_wire::Action {
    let exec = match &a.exec {
        Exec::Code(c) => wisp_wire::Exec {
            kind: Some(c.kind.as_str().to_owned()),
            code: code.then(|| c.code.clone()),
            main: c.main.clone(),
            binary: c.binary,
            ..wisp_wire::Exec::default()
        },
        Exec::Builtin(b) => wisp_wire::Exec {
            kind: Some("builtin".into()),
            builtin: Some(b.builtin.clone()),
            ..wisp_wire::Exec::default()
        },
        Exec::Sequence(s) => wisp_wire::Exec {
            kind: Some("sequence".into()),
            components: Some(s.components.iter().map(|c| c.fully_qualified()).collect()),
            ..wisp_wire::Exec::default()
        },
    };
    wisp_wire::Action {
        parameters: Some(parameters(&a.parameters)),
        exec,
        ..action_summary(a)
    }
}

/// What a listing shows of an action: no parameters, and of `exec` only `binary`.
pub fn action_summary(a: &Action) -> wisp_wire::Action {
    wisp_wire::Action {
        namespace: a.path.parent(),
        name: a.path.name.to_string(),
        version: a.version.to_string(),
        publish: a.publish,
        exec: wisp_wire::Exec {
            binary: a.exec.code().is_some_and(|c| c.binary),
            ..wisp_wire::Exec::default()
        },
        annotations: annotations(&a.annotations),
        parameters: None,
        limits: limits(a),
        updated: a.updated,
    }
}

/// The `response` object of a record: `status`, `success`, `result`, `size`.
pub fn response(a: &Activation) -> ActivationResponse {
    let r = &a.response;
    ActivationResponse {
        status: r.outcome.status().to_owned(),
        success: r.outcome.is_success(),
        result: r.result.clone(),
        size: r.size,
    }
}

/// A whole record. `end`, `duration` and `cause` appear only when known (triggers have no
/// end; only components of compositions have a cause).
pub fn activation(a: &Activation) -> wisp_wire::Activation {
    wisp_wire::Activation {
        subject: Some(a.subject.clone()),
        status_code: None,
        response: Some(response(a)),
        logs: Some(a.logs.clone()),
        ..activation_summary(a)
    }
}

/// What a listing shows of a record: its status code instead of its response and logs.
pub fn activation_summary(a: &Activation) -> wisp_wire::Activation {
    wisp_wire::Activation {
        namespace: a.namespace.clone(),
        name: a.name.clone(),
        subject: None,
        activation_id: a.activation_id.to_string(),
        version: a.version.to_string(),
        publish: a.publish,
        start: a.start,
        end: a.end,
        duration: a.duration,
        cause: a.cause.clone(),
        status_code: Some(a.response.outcome.status_code()),
        response: None,
        logs: None,
        annotations: annotations(&a.annotations),
    }
}

/// Parses a request body that must be a JSON object (empty means `{}` when `empty_ok`).
pub fn object_body(body: &[u8], empty_ok: bool) -> Result<Option<Map<String, Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(None)
        } else {
            Err(malformed("the request body is empty"))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(malformed("the request body must be a JSON object")),
        Err(e) => Err(malformed(e)),
    }
}

/// The body of an action PUT.
pub fn action_put(body: Map<String, Value>) -> Result<ActionPut, ApiError> {
    let mut put = ActionPut::default();
    for (field, value) in body {
        match field.as_str() {
            "exec" => put.exec = Some(exec_put(value)?),
            "parameters" => put.parameters = Some(parameter_list(value, "parameters")?),
            "annotations" => put.annotations = Some(annotation_list(value)?),
            "delAnnotations" => {
                put.del_annotations = string_list(value, "delAnnotations")?;
            }
            "limits" => put.limits = limits_patch(value)?,
            "version" => put.version = Some(version(&value)?),
            "publish" => put.publish = Some(publish(&value)?),
            // Clients echo documents back; the path decides the name and namespace.
            _ => {}
        }
    }
    Ok(put)
}

fn exec_put(value: Value) -> Result<ExecPut, ApiError> {
    let Value::Object(map) = value else {
        return Err(malformed("'exec' must be an object"));
    };
    let string = |name: &str| -> Result<Option<String>, ApiError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(malformed(format!("'{name}' in 'exec' must be a string"))),
        }
    };
    let kind = string("kind")?.ok_or_else(|| malformed("'kind' is required in 'exec'"))?;
    let components = match map.get("components") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|c| {
                    c.as_str().map(str::to_string).ok_or_else(|| {
                        malformed("'components' in 'exec' must be an array of names")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(malformed(
                "'components' in 'exec' must be an array of names",
            ))
        }
    };
    Ok(ExecPut {
        kind,
        code: string("code")?,
        main: string("main")?,
        components,
    })
}

pub(crate) fn parameter_list(value: Value, field: &str) -> Result<Vec<Parameter>, ApiError> {
    let Value::Array(items) = value else {
        return Err(malformed(format!(
            "'{field}' must be an array of {{key, value}}"
        )));
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut o) = item else {
                return Err(malformed(format!(
                    "each of '{field}' must be an object with 'key'"
                )));
            };
            let key = match o.remove("key") {
                Some(Value::String(k)) => k,
                _ => return Err(malformed(format!("each of '{field}' needs a string 'key'"))),
            };
            Ok(Parameter {
                key,
                value: o.remove("value").unwrap_or(Value::Null),
                init: o.get("init").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

pub(crate) fn annotation_list(value: Value) -> Result<Vec<(String, Value)>, ApiError> {
    Ok(parameter_list(value, "annotations")?
        .into_iter()
        .map(|p| (p.key, p.value))
        .collect())
}

pub(crate) fn version(value: &Value) -> Result<SemVer, ApiError> {
    let raw = value
        .as_str()
        .ok_or_else(|| malformed("'version' must be a string"))?;
    SemVer::parse(raw).ok_or_else(|| malformed(format!("'{raw}' is not a semantic version")))
}

pub(crate) fn publish(value: &Value) -> Result<bool, ApiError> {
    value
        .as_bool()
        .ok_or_else(|| malformed("'publish' must be a boolean"))
}

fn string_list(value: Value, field: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(malformed(format!("'{field}' must be an array of strings")));
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            _ => Err(malformed(format!("'{field}' must be an array of strings"))),
        })
        .collect()
}

fn limits_patch(value: Value) -> Result<LimitsPatch, ApiError> {
    let Value::Object(map) = value else {
        return Err(malformed("'limits' must be an object"));
    };
    let field = |name: &str| -> Result<Option<u64>, ApiError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                malformed(format!(
                    "'{name}' in 'limits' must be a whole number, not {v}"
                ))
            }),
        }
    };
    Ok(LimitsPatch {
        timeout: field("timeout")?,
        memory: field("memory")?,
        logs: field("logs")?,
        concurrency: field("concurrency")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn action_put_rejects_wrong_types_with_a_message() {
        let body = json!({"exec": {"kind": "nodejs:20", "code": 5}});
        let err = action_put(body.as_object().unwrap().clone()).unwrap_err();
        assert!(err.message.contains("'code' in 'exec' must be a string"));
        let body = json!({"limits": {"memory": "big"}});
        assert!(action_put(body.as_object().unwrap().clone()).is_err());
        let body =
            json!({"parameters": [{"key": "a", "value": 1, "init": true}], "version": "1.2.3"});
        let put = action_put(body.as_object().unwrap().clone()).unwrap();
        assert!(put.parameters.unwrap()[0].init);
        assert_eq!(put.version.unwrap().to_string(), "1.2.3");
    }

    #[test]
    fn empty_bodies_are_allowed_only_where_openwhisk_allows_them() {
        assert!(object_body(b"", true).unwrap().is_none());
        assert!(object_body(b"", false).is_err());
        assert!(object_body(b"[1]", true).is_err());
        assert!(object_body(b"{bad", true).is_err());
    }
}

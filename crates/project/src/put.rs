//! What each part of a project becomes in OpenWhisk's entity model: the ActionPut and
//! PackagePut documents, each stamped with a `deployer` annotation that records the project and
//! the body's digest. The annotation lives on the server, so a deploy from any clone can tell
//! which entities are unchanged (and which belong to the project, for `--prune`).

use serde_json::{json, Map, Value};

use crate::builder::Built;
use crate::digest::digest;
use crate::model::{Action, Package, Parameter, Source};

/// The annotation the deployer writes on every entity it deploys.
pub const DEPLOYER: &str = "deployer";
/// What our `deployer` annotation says in its `tool` field; other tools' annotations (Nimbella's
/// deployer writes one of the same name) are never taken for ours.
pub const TOOL: &str = "wisp";

/// An entity body ready to be sent, with its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    pub body: Value,
    pub digest: String,
}

/// The action's body. `built` is its code (`None` for a sequence); `namespace` qualifies
/// sequence components.
pub fn action(project: &str, action: &Action, built: Option<&Built>, namespace: &str) -> Stamped {
    let exec = match (&action.source, built) {
        (Source::Sequence { components }, _) => json!({
            "kind": "sequence",
            "components": components
                .iter()
                .map(|c| qualify(c, action.package.as_deref(), namespace))
                .collect::<Vec<_>>(),
        }),
        (_, Some(code)) => {
            let mut exec = json!({"kind": code.kind, "code": code.code, "binary": code.binary});
            if let Some(main) = &action.main {
                exec["main"] = json!(main);
            }
            exec
        }
        (_, None) => unreachable!("actions with code are built before their body is made"),
    };
    let mut limits = Map::new();
    for (key, value) in [
        ("timeout", action.limits.timeout),
        ("memory", action.limits.memory),
        ("logs", action.limits.logs),
        ("concurrency", action.limits.concurrency),
    ] {
        if let Some(value) = value {
            limits.insert(key.into(), json!(value));
        }
    }
    // An update merges annotations into the stored ones, so those the deployer writes from
    // `state` and `webSecure` are deleted explicitly when the project no longer sets them.
    let dropped: Vec<&str> = MANAGED_OPTIONAL
        .into_iter()
        .filter(|key| !action.annotations.contains_key(*key))
        .collect();
    let body = json!({
        "exec": exec,
        "parameters": parameters(&action.parameters),
        "annotations": key_values(&action.annotations),
        "delAnnotations": dropped,
        "limits": limits,
    });
    stamp(body, project)
}

/// Annotations the deployer writes only when the project asks for them.
const MANAGED_OPTIONAL: [&str; 2] = ["state", "require-whisk-auth"];

/// A real package's body (`packages/default` has none).
pub fn package(project: &str, package: &Package) -> Stamped {
    let body = json!({
        "publish": package.shared,
        "parameters": parameters(&package.parameters),
        "annotations": key_values(&package.annotations),
    });
    stamp(body, project)
}

fn stamp(mut body: Value, project: &str) -> Stamped {
    let digest = digest(&body, project);
    let annotation =
        json!({"key": DEPLOYER, "value": {"tool": TOOL, "project": project, "digest": digest}});
    body["annotations"]
        .as_array_mut()
        .expect("bodies have annotations")
        .push(annotation);
    Stamped { body, digest }
}

/// What our `deployer` annotation on a server entity says: its project and digest.
pub fn deployed_by(entity: &Value) -> Option<(&str, &str)> {
    let value = entity["annotations"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == DEPLOYER)
        .map(|a| &a["value"])?;
    stamp_of(value)
}

/// The project and digest in the value of a `deployer` annotation, when this tool wrote it.
pub fn stamp_of(value: &Value) -> Option<(&str, &str)> {
    if value["tool"] != TOOL {
        return None;
    }
    Some((value["project"].as_str()?, value["digest"].as_str()?))
}

/// A sequence component, fully qualified: `name` is in the sequence's own package, `pkg/name` in
/// the namespace, `/ns/...` is left as written.
pub fn qualify(component: &str, package: Option<&str>, namespace: &str) -> String {
    if component.starts_with('/') {
        return component.to_string();
    }
    match (component.contains('/'), package) {
        (false, Some(package)) => format!("/{namespace}/{package}/{component}"),
        _ => format!("/{namespace}/{component}"),
    }
}

fn parameters(params: &[Parameter]) -> Value {
    Value::Array(
        params
            .iter()
            .map(|p| match p.init {
                true => json!({"key": p.key, "value": p.value, "init": true}),
                false => json!({"key": p.key, "value": p.value}),
            })
            .collect(),
    )
}

fn key_values(map: &Map<String, Value>) -> Value {
    Value::Array(
        map.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsSpec;

    fn sequence(package: Option<&str>) -> Action {
        Action {
            name: "pipe".into(),
            package: package.map(Into::into),
            source: Source::Sequence {
                components: vec!["a".into(), "other/b".into(), "/ns/c".into()],
            },
            kind: None,
            main: None,
            binary: false,
            parameters: vec![],
            annotations: Map::new(),
            limits: LimitsSpec::default(),
        }
    }

    #[test]
    fn sequence_components_are_qualified() {
        let body = action("proj", &sequence(Some("demo")), None, "guest").body;
        assert_eq!(
            body["exec"]["components"],
            json!(["/guest/demo/a", "/guest/other/b", "/ns/c"])
        );
        let body = action("proj", &sequence(None), None, "guest").body;
        assert_eq!(body["exec"]["components"][0], "/guest/a");
    }

    #[test]
    fn bodies_carry_their_deployer_and_digest() {
        let built = Built {
            kind: "nodejs:default".into(),
            code: "x".into(),
            binary: false,
        };
        let mut a = sequence(None);
        a.source = Source::File {
            path: "packages/default/pipe.js".into(),
        };
        a.parameters = vec![Parameter {
            key: "K".into(),
            value: json!("v"),
            init: true,
        }];
        a.limits.timeout = Some(3000);
        let stamped = action("proj", &a, Some(&built), "guest");
        assert_eq!(
            deployed_by(&stamped.body),
            Some(("proj", stamped.digest.as_str()))
        );
        assert_eq!(
            stamped.body["parameters"],
            json!([{"key": "K", "value": "v", "init": true}])
        );
        assert_eq!(stamped.body["limits"], json!({"timeout": 3000}));
        assert_eq!(
            stamped.body["delAnnotations"],
            json!(["state", "require-whisk-auth"]),
            "what the project no longer sets is removed on update"
        );
        assert_eq!(
            stamped.body["exec"],
            json!({"kind": "nodejs:default", "code": "x", "binary": false})
        );
        let other = json!({"annotations": [{"key": "deployer", "value": {"digest": "x", "project": "proj"}}]});
        assert_eq!(
            deployed_by(&other),
            None,
            "another tool's annotation is not ours"
        );
    }
}

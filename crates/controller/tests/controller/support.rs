//! Writing entities in a few words.

use serde_json::Value;
use wisp_controller::testing::TestController;
use wisp_controller::{ActionPut, ExecPut};
use wisp_core::{Identity, Parameter};

/// Puts a Node.js action at `path` (`name` or `pkg/name`) in the guest's namespace; scripts
/// stand in for its code.
pub async fn action(t: &TestController, path: &str, params: &[(&str, Value)]) {
    put_action(t, &t.guest, path, exec("nodejs:20"), params, &[]).await;
}

/// Puts an action as `identity`, with its parameters and annotations.
pub async fn put_action(
    t: &TestController,
    identity: &Identity,
    path: &str,
    exec: ExecPut,
    params: &[(&str, Value)],
    annotations: &[(&str, Value)],
) {
    let path = wisp_controller::testing::path_in(identity.namespace.as_str(), path);
    let put = ActionPut {
        exec: Some(exec),
        parameters: Some(parameters(params)),
        annotations: Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ),
        ..ActionPut::default()
    };
    t.controller
        .entities()
        .put_action(identity, path.clone(), put, true)
        .await
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
}

/// Code of `kind`, never run.
pub fn exec(kind: &str) -> ExecPut {
    ExecPut {
        kind: kind.into(),
        code: Some("function main(params) { return params }".into()),
        ..ExecPut::default()
    }
}

/// A sequence of `components` (fully qualified names).
pub fn sequence(components: &[&str]) -> ExecPut {
    ExecPut {
        kind: "sequence".into(),
        components: Some(components.iter().map(|c| c.to_string()).collect()),
        ..ExecPut::default()
    }
}

pub fn parameters(params: &[(&str, Value)]) -> Vec<Parameter> {
    params
        .iter()
        .map(|(key, value)| Parameter {
            key: key.to_string(),
            value: value.clone(),
            init: false,
        })
        .collect()
}

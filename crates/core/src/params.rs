//! Parameters and annotations: ordered key/value lists where later keys win.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One parameter of an action. `init` parameters reach the function only as environment
/// variables at initialisation, never as run arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
}

/// Merges parameter lists into an argument object; later lists and later keys win.
pub fn merge_into(target: &mut Map<String, Value>, params: &[Parameter]) {
    for p in params.iter().filter(|p| !p.init) {
        target.insert(p.key.clone(), p.value.clone());
    }
}

/// `top` laid over `base`: a key in both keeps its place in `base` and takes `top`'s value.
pub fn overlay(base: &[Parameter], top: &[Parameter]) -> Vec<Parameter> {
    let mut merged = base.to_vec();
    for p in top {
        match merged.iter_mut().find(|m| m.key == p.key) {
            Some(slot) => *slot = p.clone(),
            None => merged.push(p.clone()),
        }
    }
    merged
}

/// Ordered annotations. Setting a key replaces it in place.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotations(pub Vec<(String, Value)>);

impl Annotations {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// OpenWhisk truthiness: false, 0, null and "" are false; everything else is true.
    pub fn is_truthy(&self, key: &str) -> bool {
        self.get(key).is_some_and(is_truthy)
    }

    /// True only when the annotation is the JSON boolean `true`.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key) == Some(&Value::Bool(true))
    }
}

pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_params_win_and_init_params_are_skipped() {
        let mut args = Map::new();
        merge_into(
            &mut args,
            &[
                Parameter {
                    key: "a".into(),
                    value: json!(1),
                    init: false,
                },
                Parameter {
                    key: "secret".into(),
                    value: json!("s"),
                    init: true,
                },
            ],
        );
        merge_into(
            &mut args,
            &[Parameter {
                key: "a".into(),
                value: json!(2),
                init: false,
            }],
        );
        assert_eq!(Value::Object(args), json!({"a": 2}));
    }

    #[test]
    fn truthiness_follows_openwhisk() {
        let mut a = Annotations::default();
        a.set("x", json!(0));
        a.set("y", json!({}));
        a.set("z", json!("true"));
        assert!(!a.is_truthy("x"));
        assert!(a.is_truthy("y"));
        assert!(!a.is_true("z"));
        a.set("x", json!(true));
        assert!(a.is_true("x"));
        assert_eq!(a.0.len(), 3);
    }
}

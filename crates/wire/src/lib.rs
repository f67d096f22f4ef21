//! The JSON documents of OpenWhisk's REST API, and of Wisp's own state routes (`/kv`,
//! `/objects`), as Rust types, written by the server (`wisp-api`) and read by the client
//! (`wisp-cli`), so a renamed field breaks the build instead of a user.
//!
//! Fields the API leaves out in some answers (a listing drops an action's parameters and code,
//! a trigger's record has no `end`) are `Option`s skipped when absent (a key-value TTL is
//! the exception: it is `null` for a key that never expires). Reading is lenient:
//! every document defaults its missing fields, so the client also reads other OpenWhisk
//! servers' answers. Only shapes live here; the server converts its domain types into them.

mod activation;
mod entity;
mod state;

pub use activation::{Accepted, Activation, ActivationLogs, ActivationResponse};
pub use entity::{
    Action, ActionLimits, Binding, Exec, KeyValue, Package, PackageEntry, PathName, Rule, RuleLink,
    Trigger,
};
pub use state::{
    Deleted, KvEntry, KvFlushed, KvIncr, KvKeys, KvTtl, ObjectList, ObjectMeta, SignedUrl,
};

/// OpenWhisk's error body: a message and the request's transaction id.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}

fn is_false(value: &bool) -> bool {
    !value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_binding_is_an_object_an_empty_object_or_false() {
        let to: Binding = serde_json::from_value(json!({"namespace": "ns", "name": "p"})).unwrap();
        let nothing: Binding = serde_json::from_value(json!({})).unwrap();
        let flag: Binding = serde_json::from_value(json!(false)).unwrap();

        assert_eq!(to.target(), Some(("ns", "p")));
        assert_eq!(nothing.target(), None);
        assert_eq!(flag, Binding::Flag(false));
        assert_eq!(
            serde_json::to_value(Binding::Nothing {}).unwrap(),
            json!({})
        );
    }

    #[test]
    fn absent_fields_stay_absent_and_read_back_as_none() {
        let summary = Activation {
            activation_id: "a1".into(),
            status_code: Some(0),
            ..Activation::default()
        };

        let written = serde_json::to_value(&summary).unwrap();

        for absent in ["subject", "end", "duration", "cause", "response", "logs"] {
            assert!(written.get(absent).is_none(), "{absent} in {written}");
        }
        assert_eq!(written["activationId"], "a1");
        assert_eq!(written["statusCode"], 0);
        assert_eq!(
            serde_json::from_value::<Activation>(written).unwrap(),
            summary
        );
    }

    #[test]
    fn later_annotations_win() {
        let trigger: Trigger = serde_json::from_value(json!({"annotations": [
            {"key": "k", "value": 1}, {"key": "k", "value": 2}
        ]}))
        .unwrap();

        assert_eq!(trigger.annotation("k"), Some(&json!(2)));
        assert_eq!(trigger.annotation("x"), None);
    }

    #[test]
    fn a_document_missing_fields_still_reads() {
        let action: Action = serde_json::from_value(json!({"name": "hello"})).unwrap();

        assert_eq!(action.name, "hello");
        assert_eq!(action.exec.kind, None);
        assert_eq!(action.parameters, None);
    }
}

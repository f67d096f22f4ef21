//! Actions, packages, triggers and rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One of `parameters` or `annotations`: `{key, value}`, with `init` on parameters delivered
/// at initialisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: Value,
    #[serde(skip_serializing_if = "crate::is_false")]
    pub init: bool,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value,
            init: false,
        }
    }

    /// The value of the last entry named `key` (later entries win, as on the server).
    pub fn find<'a>(entries: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// An action. Listings leave out `parameters` and all of `exec` but `binary`; a read may
/// leave out the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Action {
    /// The namespace, with the package when the action is in one (`ns/pkg`).
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub publish: bool,
    pub exec: Exec,
    pub annotations: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<KeyValue>>,
    pub limits: ActionLimits,
    /// Epoch milliseconds of the last write.
    pub updated: u64,
}

impl Action {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        KeyValue::find(&self.annotations, key)
    }
}

/// What runs: code in a runtime kind, a sequence of components, or a builtin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// A sequence's components, fully qualified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// The builtin the server runs itself (its hosted feeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// Whether `code` is base64 (a zip or a wasm binary).
    pub binary: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionLimits {
    /// Milliseconds.
    pub timeout: u64,
    /// MB.
    pub memory: u64,
    /// MB of logs.
    pub logs: u64,
    /// Activations one process may run at once.
    pub concurrency: u64,
}

/// A package or a binding. A read carries its actions and feeds; a listing leaves out
/// `parameters` and says `binding: false` for a package that binds nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Package {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub publish: bool,
    pub annotations: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<KeyValue>>,
    pub binding: Binding,
    pub updated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<PackageEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeds: Option<Vec<PackageEntry>>,
}

impl Package {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        KeyValue::find(&self.annotations, key)
    }
}

/// What a package binds: `{namespace, name}`; `{}` (or `false` in listings) for nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Binding {
    To { namespace: String, name: String },
    Nothing {},
    Flag(bool),
}

impl Default for Binding {
    fn default() -> Binding {
        Binding::Nothing {}
    }
}

impl Binding {
    /// `(namespace, name)` of the bound package, if any.
    pub fn target(&self) -> Option<(&str, &str)> {
        match self {
            Binding::To { namespace, name } => Some((namespace, name)),
            _ => None,
        }
    }
}

/// An action or feed as a package read lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageEntry {
    pub name: String,
    pub version: String,
    pub annotations: Vec<KeyValue>,
}

/// A trigger. A read adds its parameters, `limits` (always `{}`) and the rules that use it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trigger {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub publish: bool,
    pub annotations: Vec<KeyValue>,
    pub updated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<KeyValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, RuleLink>>,
}

impl Trigger {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        KeyValue::find(&self.annotations, key)
    }
}

/// A rule as its trigger lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleLink {
    pub action: PathName,
    /// `active` or `inactive`.
    pub status: String,
}

/// A rule. `status` is shown by reads and writes, not by listings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub publish: bool,
    pub annotations: Vec<KeyValue>,
    pub trigger: PathName,
    pub action: PathName,
    pub updated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Rule {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        KeyValue::find(&self.annotations, key)
    }
}

/// `{path, name}`: how a rule names its trigger and action (`path` is the namespace, with
/// the package for an action in one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathName {
    pub path: String,
    pub name: String,
}

impl PathName {
    /// `/path/name`.
    pub fn fully_qualified(&self) -> String {
        format!("/{}/{}", self.path, self.name)
    }
}

//! Activation records, as reads show them whole and listings in summary.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::KeyValue;

/// An activation record. A read has `subject`, `response` and `logs`; a listing has
/// `statusCode` instead. `end` and `duration` are absent for a trigger's record, `cause` for
/// anything not run by a composition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Activation {
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub activation_id: String,
    pub version: String,
    pub publish: bool,
    /// Epoch milliseconds.
    pub start: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// Milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// The composition that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// 0 success, 1 application error, 2 developer error, 3 internal error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ActivationResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<String>>,
    pub annotations: Vec<KeyValue>,
}

impl Activation {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        KeyValue::find(&self.annotations, key)
    }
}

/// What an activation produced: `status` is `success`, `application error`,
/// `action developer error` or `whisk internal error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivationResponse {
    pub status: String,
    pub success: bool,
    pub result: Value,
    /// Bytes of the raw result, when the runtime produced one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
}

/// `GET /activations/{id}/logs`: the record's log lines alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivationLogs {
    pub logs: Vec<String>,
}

/// The answer to a non-blocking invoke or a fire: the activation to look for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Accepted {
    pub activation_id: String,
}

//! Activations: the record of one run of an action.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Annotations, SemVer};

/// A 32-character lower-case hex activation id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActivationId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationIdError {
    #[error("Activation id length is {0} but must be 32.")]
    Length(usize),
    #[error("The activation id is not valid.")]
    NotHex,
}

impl ActivationId {
    pub fn generate() -> ActivationId {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let mut id = String::with_capacity(32);
        for b in bytes {
            id.push_str(&format!("{b:02x}"));
        }
        ActivationId(id)
    }

    pub fn parse(raw: &str) -> Result<ActivationId, ActivationIdError> {
        if raw.len() != 32 {
            return Err(ActivationIdError::Length(raw.chars().count()));
        }
        if !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ActivationIdError::NotHex);
        }
        Ok(ActivationId(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActivationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an activation ended, with OpenWhisk's numeric status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Success,
    ApplicationError,
    DeveloperError,
    InternalError,
}

impl Outcome {
    pub fn status_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ApplicationError => 1,
            Outcome::DeveloperError => 2,
            Outcome::InternalError => 3,
        }
    }

    pub fn from_status_code(code: u8) -> Outcome {
        match code {
            0 => Outcome::Success,
            1 => Outcome::ApplicationError,
            2 => Outcome::DeveloperError,
            _ => Outcome::InternalError,
        }
    }

    /// The `response.status` string of an activation record.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ApplicationError => "application error",
            Outcome::DeveloperError => "action developer error",
            Outcome::InternalError => "whisk internal error",
        }
    }

    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationResponse {
    pub outcome: Outcome,
    /// The result; `{"error": ...}` for every outcome but success.
    pub result: Value,
    /// Byte length of the raw result the runtime produced, when there was one.
    pub size: Option<usize>,
}

impl ActivationResponse {
    /// Classifies what a function returned: an object with a top-level `error` is an
    /// application error, anything else a success.
    pub fn from_result(result: Value, size: usize) -> ActivationResponse {
        let outcome = match &result {
            Value::Object(map) if map.contains_key("error") => Outcome::ApplicationError,
            _ => Outcome::Success,
        };
        let result = match (outcome, result) {
            (Outcome::ApplicationError, Value::Object(mut map)) => {
                let error = map.remove("error").unwrap_or(Value::Null);
                serde_json::json!({ "error": error })
            }
            (_, result) => result,
        };
        ActivationResponse {
            outcome,
            result,
            size: Some(size),
        }
    }

    /// A failure the platform or the runtime reports, with its message.
    pub fn failure(outcome: Outcome, message: impl Into<String>) -> ActivationResponse {
        ActivationResponse {
            outcome,
            result: serde_json::json!({ "error": message.into() }),
            size: None,
        }
    }
}

/// One activation record, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub activation_id: ActivationId,
    /// The caller's namespace.
    pub namespace: String,
    /// The simple action name.
    pub name: String,
    pub subject: String,
    pub version: SemVer,
    pub publish: bool,
    pub start: u64,
    pub end: Option<u64>,
    pub duration: Option<u64>,
    pub cause: Option<String>,
    pub response: ActivationResponse,
    pub logs: Vec<String>,
    pub annotations: Annotations,
}

impl Activation {
    /// `[pkg/]name` of the action, from the `path` annotation (`ns/[pkg/]name`).
    pub fn local_path(&self) -> String {
        match self.annotations.get("path").and_then(Value::as_str) {
            Some(path) => path
                .split_once('/')
                .map_or(path, |(_, rest)| rest)
                .to_string(),
            None => self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_32_hex() {
        let id = ActivationId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert!(ActivationId::parse(id.as_str()).is_ok());
        assert_eq!(
            ActivationId::parse("abc"),
            Err(ActivationIdError::Length(3))
        );
        assert_eq!(
            ActivationId::parse(&"g".repeat(32)),
            Err(ActivationIdError::NotHex)
        );
    }

    #[test]
    fn error_field_makes_an_application_error() {
        let r = ActivationResponse::from_result(json!({"error": "no", "other": 1}), 10);
        assert_eq!(r.outcome, Outcome::ApplicationError);
        assert_eq!(r.result, json!({"error": "no"}));
        let r = ActivationResponse::from_result(json!([1, 2]), 5);
        assert_eq!(r.outcome, Outcome::Success);
    }
}

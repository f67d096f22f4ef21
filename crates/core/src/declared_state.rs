//! Declared state: what an action says, in its `state` annotation, that it reads and writes,
//! so the platform can load it before the action runs and store what it returns after.
//!
//! ```json
//! {"read": ["config"], "write": ["counter", "session:{user}"], "files": ["models/tiny.bin"],
//!  "onConflict": "retry"}
//! ```
//!
//! Keys are patterns: `{name}` is replaced by the invoke parameter `name` (a string, number or
//! boolean). Keys in `write` are loaded too. Files are objects in the namespace's data store.
//! This module only parses and resolves; `docs/STATE.md` describes the whole model.

use serde_json::{Map, Value};

/// The annotation that declares state.
pub const ANNOTATION: &str = "state";
/// The field of the event, and of a result, that carries declared state.
pub const FIELD: &str = "__state";

const MAX_KEYS: usize = 64;
const MAX_FILES: usize = 16;

/// Why a `state` annotation, or the keys it names for one activation, cannot be used; the
/// text names the field or parameter and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclError {
    /// The annotation is malformed: found when the action is written.
    #[error("{0}")]
    Annotation(String),
    /// A key needs a parameter the activation lacks, or has one of another type.
    #[error("{0}")]
    Parameter(String),
}

/// What to do when a declared key changed between the load and the write-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Run the activation again on the fresh values (the default).
    Retry,
    /// End the activation with an error; nothing is written.
    Fail,
}

/// A key with `{parameter}` holes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Param(String),
}

/// An action's parsed `state` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDecl {
    pub read: Vec<KeyPattern>,
    pub write: Vec<KeyPattern>,
    pub files: Vec<String>,
    pub on_conflict: OnConflict,
}

/// The declaration with its keys filled in from one activation's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedState {
    /// Keys loaded but never written.
    pub read: Vec<String>,
    /// Keys loaded and writable, sorted and without duplicates (the order locks are taken in).
    pub write: Vec<String>,
    pub files: Vec<String>,
    pub on_conflict: OnConflict,
}

impl StateDecl {
    /// The action's declaration: `Ok(None)` without the annotation, `Err` with the reason
    /// when it is malformed (checked when the action is written).
    pub fn of(annotation: Option<&Value>) -> Result<Option<StateDecl>, DeclError> {
        let Some(value) = annotation else {
            return Ok(None);
        };
        StateDecl::parse(value)
            .map(Some)
            .map_err(DeclError::Annotation)
    }

    fn parse(value: &Value) -> Result<StateDecl, String> {
        let Value::Object(map) = value else {
            return Err("the 'state' annotation must be an object".into());
        };
        if let Some(unknown) = map
            .keys()
            .find(|k| !["read", "write", "files", "onConflict"].contains(&k.as_str()))
        {
            return Err(format!(
                "the 'state' annotation has an unknown field '{unknown}' (known: read, write, \
                 files, onConflict)"
            ));
        }
        let read = patterns(map, "read")?;
        let write = patterns(map, "write")?;
        if read.len() + write.len() > MAX_KEYS {
            return Err(format!(
                "the 'state' annotation declares more than {MAX_KEYS} keys"
            ));
        }
        let files = strings(map, "files")?;
        if files.len() > MAX_FILES {
            return Err(format!(
                "the 'state' annotation declares more than {MAX_FILES} files"
            ));
        }
        if let Some(bad) = files
            .iter()
            .find(|f| f.is_empty() || f.starts_with('/') || f.split('/').any(|s| s == ".."))
        {
            return Err(format!(
                "the declared file '{bad}' must be a relative object name without '..'"
            ));
        }
        let on_conflict = match map.get("onConflict") {
            None => OnConflict::Retry,
            Some(Value::String(s)) if s == "retry" => OnConflict::Retry,
            Some(Value::String(s)) if s == "fail" => OnConflict::Fail,
            Some(other) => {
                return Err(format!(
                    "'onConflict' in the 'state' annotation must be \"retry\" or \"fail\", \
                     not {other}"
                ))
            }
        };
        Ok(StateDecl {
            read,
            write,
            files,
            on_conflict,
        })
    }

    /// Fills in the keys from `args`; `Err` names a missing or unusable parameter.
    pub fn resolve(&self, args: &Map<String, Value>) -> Result<ResolvedState, DeclError> {
        let fill = |list: &[KeyPattern]| -> Result<Vec<String>, DeclError> {
            list.iter()
                .map(|p| p.fill(args).map_err(DeclError::Parameter))
                .collect()
        };
        let mut write = fill(&self.write)?;
        write.sort();
        write.dedup();
        let mut read = fill(&self.read)?;
        read.retain(|k| write.binary_search(k).is_err());
        read.sort();
        read.dedup();
        Ok(ResolvedState {
            read,
            write,
            files: self.files.clone(),
            on_conflict: self.on_conflict,
        })
    }
}

impl ResolvedState {
    /// Every key to load: the read keys, then the write keys.
    pub fn loaded_keys(&self) -> impl Iterator<Item = &String> {
        self.read.iter().chain(&self.write)
    }

    pub fn is_writable(&self, key: &str) -> bool {
        self.write.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
    }
}

impl KeyPattern {
    pub fn parse(text: &str) -> Result<KeyPattern, DeclError> {
        KeyPattern::parts_of(text).map_err(DeclError::Annotation)
    }

    fn parts_of(text: &str) -> Result<KeyPattern, String> {
        if text.is_empty() {
            return Err("a declared key may not be empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!(
                    "the declared key '{text}' has a '}}' without a '{{'"
                ));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(format!(
                    "the declared key '{text}' has a '{{' without a '}}'"
                ));
            };
            let name = &rest[open + 1..open + close];
            if name.is_empty() || name.contains('{') {
                return Err(format!(
                    "the declared key '{text}' has an empty or nested '{{...}}'"
                ));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            parts.push(Part::Param(name.to_string()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(KeyPattern { parts })
    }

    fn fill(&self, args: &Map<String, Value>) -> Result<String, String> {
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => key.push_str(t),
                Part::Param(name) => match args.get(name) {
                    Some(Value::String(s)) => key.push_str(s),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => key.push_str(&v.to_string()),
                    Some(_) => {
                        return Err(format!(
                            "the state key '{self}' needs the parameter '{name}' to be a \
                             string, number or boolean"
                        ))
                    }
                    None => {
                        return Err(format!(
                            "the state key '{self}' needs the parameter '{name}'"
                        ))
                    }
                },
            }
        }
        Ok(key)
    }
}

impl std::fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Param(p) => write!(f, "{{{p}}}")?,
            }
        }
        Ok(())
    }
}

fn strings(map: &Map<String, Value>, field: &str) -> Result<Vec<String>, String> {
    match map.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "'{field}' in the 'state' annotation must list strings, not {other}"
                )),
            })
            .collect(),
        Some(_) => Err(format!(
            "'{field}' in the 'state' annotation must be an array of strings"
        )),
    }
}

fn patterns(map: &Map<String, Value>, field: &str) -> Result<Vec<KeyPattern>, String> {
    strings(map, field)?
        .iter()
        .map(|s| KeyPattern::parts_of(s))
        .collect()
}

/// A stored string as the function sees it: JSON when it parses as JSON (so a counter kept
/// by INCR reads as a number), otherwise the string itself.
pub fn decode_value(stored: &[u8]) -> Value {
    match std::str::from_utf8(stored) {
        Ok(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
        // Not text: shown as text with replacement characters; a function that writes it
        // back replaces the bytes, which is why binary values belong in object storage.
        Err(_) => Value::String(String::from_utf8_lossy(stored).into_owned()),
    }
}

/// What a function's returned value is stored as: a string as its own text, anything else as
/// JSON; `None` (delete) for null.
pub fn encode_value(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decl(v: Value) -> Result<Option<StateDecl>, DeclError> {
        StateDecl::of(Some(&v))
    }

    #[test]
    fn keys_are_filled_from_parameters_and_write_keys_are_sorted_once() {
        let d = decl(json!({"read": ["config", "counter"], "write": ["session:{user}", "counter", "counter"]}))
            .unwrap()
            .unwrap();
        let args = json!({"user": "ada"});
        let r = d.resolve(args.as_object().unwrap()).unwrap();
        assert_eq!(r.write, ["counter", "session:ada"]);
        assert_eq!(r.read, ["config"], "a written key is not also a read key");
        assert!(r.is_writable("session:ada") && !r.is_writable("config"));
        let n = json!({"user": 7});
        assert_eq!(
            d.resolve(n.as_object().unwrap()).unwrap().write[1],
            "session:7"
        );
        assert_eq!(d.on_conflict, OnConflict::Retry);
    }

    #[test]
    fn a_missing_or_unusable_parameter_is_named() {
        let d = decl(json!({"write": ["s:{user}:{day}"]})).unwrap().unwrap();
        let err = d
            .resolve(json!({"user": "a"}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(
            err,
            DeclError::Parameter("the state key 's:{user}:{day}' needs the parameter 'day'".into())
        );
        let err = d
            .resolve(json!({"user": {}, "day": 1}).as_object().unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("to be a string, number or boolean"),
            "{err}"
        );
    }

    #[test]
    fn malformed_declarations_are_refused_with_the_reason() {
        assert_eq!(StateDecl::of(None), Ok(None));
        for (bad, reason) in [
            (json!("counter"), "must be an object"),
            (json!({"writes": []}), "unknown field 'writes'"),
            (json!({"write": "counter"}), "must be an array"),
            (json!({"write": [1]}), "must list strings"),
            (json!({"write": ["a{b"]}), "without a '}'"),
            (json!({"write": ["a}b"]}), "without a '{'"),
            (json!({"write": ["a{}"]}), "empty or nested"),
            (json!({"write": [""]}), "may not be empty"),
            (json!({"files": ["../x"]}), "without '..'"),
            (json!({"files": ["/etc/passwd"]}), "relative object name"),
            (json!({"onConflict": "wait"}), "\"retry\" or \"fail\""),
        ] {
            let DeclError::Annotation(err) = decl(bad.clone()).unwrap_err() else {
                panic!("{bad}: a malformed annotation");
            };
            assert!(err.contains(reason), "{bad}: {err}");
        }
        let fail = decl(json!({"onConflict": "fail"})).unwrap().unwrap();
        assert_eq!(fail.on_conflict, OnConflict::Fail);
    }

    #[test]
    fn values_round_trip_between_storage_and_json() {
        assert_eq!(decode_value(b"41"), json!(41));
        assert_eq!(decode_value(b"{\"a\":1}"), json!({"a": 1}));
        assert_eq!(decode_value(b"hello"), json!("hello"));
        assert_eq!(encode_value(&json!("hello")).unwrap(), b"hello");
        assert_eq!(encode_value(&json!(42)).unwrap(), b"42");
        assert_eq!(encode_value(&json!({"a": [1]})).unwrap(), b"{\"a\":[1]}");
        assert_eq!(encode_value(&Value::Null), None);
        assert_eq!(KeyPattern::parse("s:{u}!").unwrap().to_string(), "s:{u}!");
    }
}

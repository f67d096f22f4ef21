//! Parameters and annotations from `-p KEY VALUE`, `-P FILE`, `-a KEY VALUE` and `-A FILE`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::usage;

/// `-p` and `-P`, shared by commands that take parameters.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ParamFlags {
    /// Parameter KEY with VALUE, parsed as JSON when it is JSON and taken as a string otherwise
    #[arg(
        short = 'p',
        long = "param",
        num_args = 2,
        value_names = ["KEY", "VALUE"],
        allow_hyphen_values = true
    )]
    pub param: Vec<String>,

    /// JSON file holding an object of parameters; -p flags override its keys
    #[arg(short = 'P', long = "param-file", value_name = "FILE")]
    pub param_file: Option<PathBuf>,
}

impl ParamFlags {
    pub fn given(&self) -> bool {
        !self.param.is_empty() || self.param_file.is_some()
    }

    pub fn values(&self) -> anyhow::Result<KeyValues> {
        KeyValues::from_flags(self.param_file.as_deref(), &self.param)
    }
}

/// `-a` and `-A`, for commands that set annotations.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AnnotationFlags {
    /// Annotation KEY with VALUE, parsed as JSON when it is JSON and taken as a string otherwise
    #[arg(
        short = 'a',
        long = "annotation",
        num_args = 2,
        value_names = ["KEY", "VALUE"],
        allow_hyphen_values = true
    )]
    pub annotation: Vec<String>,

    /// JSON file holding an object of annotations; -a flags override its keys
    #[arg(short = 'A', long = "annotation-file", value_name = "FILE")]
    pub annotation_file: Option<PathBuf>,
}

impl AnnotationFlags {
    pub fn values(&self) -> anyhow::Result<KeyValues> {
        KeyValues::from_flags(self.annotation_file.as_deref(), &self.annotation)
    }
}

/// `-p`/`-P` and `-a`/`-A` together, for commands that set both.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PutFlags {
    #[command(flatten)]
    pub params: ParamFlags,

    #[command(flatten)]
    pub annotations: AnnotationFlags,
}

/// The `parameters` and `annotations` of a PUT body. Only what was given is sent, because an
/// update replaces each field sent: `None` leaves the parameters as they are.
pub fn put_fields(params: Option<&KeyValues>, annotations: &KeyValues) -> Value {
    let mut body = Map::new();
    if let Some(params) = params {
        body.insert("parameters".into(), params.to_key_value_array());
    }
    if !annotations.is_empty() {
        body.insert("annotations".into(), annotations.to_key_value_array());
    }
    Value::Object(body)
}

/// An ordered set of keys with JSON values; setting a key again replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyValues(Vec<(String, Value)>);

impl KeyValues {
    /// Reads the file (a JSON object) first, then the flag pairs, so flags override the file.
    ///
    /// `pairs` is what clap collects for a repeated two-value flag: `[k1, v1, k2, v2, ...]`.
    pub fn from_flags(file: Option<&Path>, pairs: &[String]) -> anyhow::Result<Self> {
        let mut values = Self::default();
        if let Some(path) = file {
            for (key, value) in read_object_file(path)? {
                values.set(key, value);
            }
        }
        for pair in pairs.chunks(2) {
            match pair {
                [key, value] => values.set(key.clone(), parse_value(value)),
                _ => return Err(usage("each key needs a value: KEY VALUE")),
            }
        }
        Ok(values)
    }

    pub fn set(&mut self, key: String, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Built from literal pairs, for tests.
    #[cfg(test)]
    pub fn of(pairs: &[(&str, Value)]) -> Self {
        let mut values = Self::default();
        for (key, value) in pairs {
            values.set(key.to_string(), value.clone());
        }
        values
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `[{"key": k, "value": v}, ...]`, the shape of `parameters` and `annotations`.
    pub fn to_key_value_array(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
                .collect(),
        )
    }

    /// `{k: v, ...}`, the shape of an invoke body.
    pub fn to_object(&self) -> Value {
        Value::Object(self.0.iter().cloned().collect::<Map<_, _>>())
    }
}

/// A flag value is JSON when it parses as JSON and a string otherwise, as in `wsk`.
pub fn parse_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn read_object_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(usage(format!(
            "{} must hold a JSON object of keys and values",
            path.display()
        ))),
        Err(e) => Err(usage(format!("{} is not valid JSON: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use serde_json::json;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_are_json_when_they_parse() {
        assert_eq!(parse_value("5"), json!(5));
        assert_eq!(parse_value("true"), json!(true));
        assert_eq!(parse_value(r#"{"a":[1]}"#), json!({"a": [1]}));
        assert_eq!(parse_value(r#""5""#), json!("5"));
        assert_eq!(parse_value("hello world"), json!("hello world"));
        assert_eq!(parse_value("01"), json!("01"));
        assert_eq!(parse_value(""), json!(""));
    }

    #[test]
    fn later_flags_replace_earlier_ones_in_place() {
        let kv = KeyValues::from_flags(None, &strings(&["a", "1", "b", "x", "a", "2"])).unwrap();
        assert_eq!(
            kv.to_key_value_array(),
            json!([{"key": "a", "value": 2}, {"key": "b", "value": "x"}])
        );
        assert_eq!(kv.to_object(), json!({"a": 2, "b": "x"}));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = TempDir::new();
        let path = dir.file("params.json", r#"{"a": 1, "b": {"c": true}}"#);
        let kv = KeyValues::from_flags(Some(&path), &strings(&["a", "over"])).unwrap();
        assert_eq!(kv.to_object(), json!({"a": "over", "b": {"c": true}}));
    }

    #[test]
    fn file_must_hold_an_object() {
        let dir = TempDir::new();
        let path = dir.file("params.json", "[1]");
        let err = KeyValues::from_flags(Some(&path), &[]).unwrap_err();
        assert!(err.to_string().contains("JSON object"));
        assert!(KeyValues::from_flags(Some(Path::new("/nonexistent/x.json")), &[]).is_err());
    }

    #[test]
    fn put_fields_send_only_what_was_given() {
        assert_eq!(put_fields(None, &KeyValues::default()), json!({}));
        assert_eq!(
            put_fields(
                Some(&KeyValues::default()),
                &KeyValues::of(&[("feed", json!("/g/p/f"))])
            ),
            json!({"parameters": [], "annotations": [{"key": "feed", "value": "/g/p/f"}]})
        );
        assert_eq!(
            put_fields(
                Some(&KeyValues::of(&[("n", json!(1))])),
                &KeyValues::default()
            ),
            json!({"parameters": [{"key": "n", "value": 1}]})
        );
    }

    #[test]
    fn empty_is_empty() {
        let kv = KeyValues::from_flags(None, &[]).unwrap();
        assert!(kv.is_empty());
        assert_eq!(kv.to_object(), json!({}));
    }
}

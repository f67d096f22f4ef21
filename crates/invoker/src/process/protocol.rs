//! Wisp's launcher pipe protocol, in the style of OpenWhisk's actionloop.
//!
//! A launcher is started with three pipes besides stdin: stdout and stderr carry the function's
//! logs, fd 3 carries replies. It writes `{"ready":true}` on fd 3 once it can take work. Then:
//!
//! * init: stdin gets `{"init":{"main","code"|"dir","env","concurrent"}}`; fd 3 answers
//!   `{"ok":true}` or `{"error":"..."}`; then a sentinel line on stdout and on stderr.
//! * run: stdin gets `{"value":{...},"activation_id","namespace","action_name",
//!   "action_version","deadline","transaction_id","api_key"?}` (every field but `value` a
//!   string, exported as `__OW_<FIELD>`, plus `"env":{NAME: value}` exported as is: the state
//!   services' endpoints and secrets); fd 3 answers `{"activation_id","result":...}` or, for a
//!   developer error the launcher detected, `{"activation_id","error":"..."}`; then sentinels.
//!
//! With `concurrent` set, several runs may be in flight and every log line written inside an
//! activation (sentinels included) starts with `\x1e<activation id>\x1f`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";
pub const TAG_START: char = '\u{1e}';
pub const TAG_END: char = '\u{1f}';

/// What the function is loaded from.
pub enum Source<'a> {
    Text(&'a str),
    Directory(&'a str),
}

pub fn init_line(
    main: &str,
    source: Source<'_>,
    env: &Map<String, Value>,
    concurrent: bool,
) -> String {
    let (code, dir) = match source {
        Source::Text(code) => (Value::from(code), Value::Null),
        Source::Directory(dir) => (Value::Null, Value::from(dir)),
    };
    let mut line = json!({"init": {
        "main": main, "code": code, "dir": dir, "env": env, "concurrent": concurrent
    }})
    .to_string();
    line.push('\n');
    line
}

/// The per-run context fields, all strings.
pub struct RunContext<'a> {
    pub activation_id: &'a str,
    pub namespace: &'a str,
    pub action_name: &'a str,
    pub action_version: &'a str,
    pub deadline: u64,
    pub transaction_id: &'a str,
    pub api_key: Option<&'a str>,
    /// More variables for this activation, exported under their own names.
    pub env: &'a [(String, String)],
}

pub fn run_line(value: &Value, ctx: &RunContext<'_>) -> String {
    let mut message = json!({
        "value": value,
        "activation_id": ctx.activation_id,
        "namespace": ctx.namespace,
        "action_name": ctx.action_name,
        "action_version": ctx.action_version,
        "deadline": ctx.deadline.to_string(),
        "transaction_id": ctx.transaction_id,
    });
    if let Some(key) = ctx.api_key {
        message["api_key"] = Value::from(key);
    }
    if !ctx.env.is_empty() {
        let env: serde_json::Map<String, Value> = ctx
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        message["env"] = Value::Object(env);
    }
    let mut line = message.to_string();
    line.push('\n');
    line
}

/// One line the launcher wrote on fd 3.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Reply {
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub ok: bool,
    pub activation_id: Option<String>,
    pub result: Option<Value>,
    pub error: Option<Value>,
}

/// Splits a tagged log line into its activation id and text.
pub fn split_tag(line: &str) -> (Option<&str>, &str) {
    if let Some(rest) = line.strip_prefix(TAG_START) {
        if let Some((id, text)) = rest.split_once(TAG_END) {
            return (Some(id), text);
        }
    }
    (None, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(env: &[(String, String)]) -> RunContext<'_> {
        RunContext {
            activation_id: "a",
            namespace: "guest",
            action_name: "/guest/x",
            action_version: "0.0.1",
            deadline: 42,
            transaction_id: "t",
            api_key: None,
            env,
        }
    }

    #[test]
    fn run_context_fields_are_strings() {
        let ctx = context(&[]);
        let line = run_line(&json!({"x": 1}), &ctx);
        assert!(line.ends_with('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["deadline"], json!("42"));
        assert!(parsed.get("api_key").is_none());
        assert!(parsed.get("env").is_none());
    }

    #[test]
    fn extra_variables_travel_under_env() {
        let env = [("__NIM_REDIS_IP".to_string(), "127.0.0.2".to_string())];
        let ctx = context(&env);
        let parsed: Value = serde_json::from_str(&run_line(&json!({}), &ctx)).unwrap();
        assert_eq!(parsed["env"], json!({"__NIM_REDIS_IP": "127.0.0.2"}));
    }

    #[test]
    fn tags_split_off_log_lines() {
        assert_eq!(split_tag("\u{1e}abc\u{1f}hello"), (Some("abc"), "hello"));
        assert_eq!(split_tag("hello"), (None, "hello"));
    }
}

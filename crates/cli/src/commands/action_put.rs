//! `wisp action create` and `wisp action update`: the PUT body from files and flags.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{json, Map, Value};
use wisp_wire::Action;

use crate::client::Client;
use crate::config::Config;
use crate::error::usage;
use crate::names::QualifiedName;
use crate::output::{document, Printer};
use crate::params::{AnnotationFlags, ParamFlags};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub name: String,

    /// Source file (.js, .py) or a .zip archive (needs --kind); none with --sequence
    #[arg(required_unless_present = "sequence", conflicts_with = "sequence")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub spec: SpecFlags,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub name: String,

    /// New source file; without it the code stays as it is (none with --sequence)
    #[arg(conflicts_with = "sequence")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub spec: SpecFlags,
}

/// What create and update may set besides the code file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SpecFlags {
    /// Runtime kind, e.g. nodejs:20 or python:default [default: from the file extension]
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// Name of the function to call in the code [default: main]
    #[arg(long = "main", value_name = "NAME")]
    pub main: Option<String>,

    /// Make the action a sequence of these actions, run in order (comma-separated names, each
    /// NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME; a name without a namespace is in yours)
    #[arg(long, value_delimiter = ',', value_name = "ACTIONS", conflicts_with_all = ["kind", "main"])]
    pub sequence: Option<Vec<String>>,

    #[command(flatten)]
    pub params: ParamFlags,

    #[command(flatten)]
    pub annotations: AnnotationFlags,

    /// Time limit in milliseconds
    #[arg(short = 't', long, value_name = "MS")]
    pub timeout: Option<u64>,

    /// Memory limit in megabytes
    #[arg(short = 'm', long, value_name = "MB")]
    pub memory: Option<u64>,

    /// Log size limit in megabytes
    #[arg(short = 'l', long = "logsize", value_name = "MB")]
    pub logsize: Option<u64>,

    /// How many activations one runtime process may run at once
    #[arg(short = 'c', long, value_name = "N")]
    pub concurrency: Option<u64>,

    /// Make it a web action (true), a raw-HTTP web action (raw) or not a web action (false)
    #[arg(long, value_name = "BOOL", value_parser = ["true", "false", "yes", "no", "raw"])]
    pub web: Option<String>,

    /// Secure the web action: callers must send this SECRET in X-Require-Whisk-Auth
    /// (true: a generated number; false: no secret)
    #[arg(long = "web-secure", value_name = "SECRET")]
    pub web_secure: Option<String>,
}

/// Whether the PUT may replace an existing action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Create,
    Update,
}

pub async fn run(
    mode: PutMode,
    raw_name: &str,
    file: Option<&Path>,
    spec: &SpecFlags,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let name = QualifiedName::parse(raw_name, &config.namespace)?;
    let mut body = build_body(file, spec, &config.namespace)?;
    let client = Client::new(config)?;
    if let Some(secret) = &spec.web_secure {
        // An update may make an existing web action secure, so the action is read first.
        let existing = match mode {
            PutMode::Create => None,
            PutMode::Update => Some(document::<Action>(
                &client
                    .get(&name.path("actions"), &[("code", "false".to_string())])
                    .await?,
            )),
        };
        let change = web_secure(secret, spec.web.as_deref(), existing.as_ref())?;
        apply_web_secure(&mut body, change);
    }
    let query = match mode {
        PutMode::Create => vec![],
        PutMode::Update => vec![("overwrite", "true".to_string())],
    };
    let action = client.put(&name.path("actions"), &query, &body).await?;
    if config.json {
        printer.json(&action)
    } else {
        let verb = match mode {
            PutMode::Create => "created",
            PutMode::Update => "updated",
        };
        printer.line(format!("ok: {verb} action {raw_name}"))
    }
}

/// The ActionPut body. Only what the user gave is sent, because on update every field present
/// replaces the stored one.
pub fn build_body(
    file: Option<&Path>,
    spec: &SpecFlags,
    default_namespace: &str,
) -> anyhow::Result<Value> {
    let mut body = Map::new();
    if let Some(components) = &spec.sequence {
        body.insert("exec".into(), sequence_exec(components, default_namespace)?);
    } else if let Some(path) = file {
        let exec = code_exec(path, spec.kind.as_deref(), spec.main.as_deref())?;
        body.insert("exec".into(), exec);
    } else if spec.kind.is_some() || spec.main.is_some() {
        return Err(usage("--kind and --main need a code FILE"));
    }
    if spec.params.given() {
        body.insert(
            "parameters".into(),
            spec.params.values()?.to_key_value_array(),
        );
    }
    let mut annotations = spec.annotations.values()?;
    if let Some(web) = &spec.web {
        for (key, value) in web_annotations(web) {
            annotations.set(key.to_string(), value);
        }
    }
    if !annotations.is_empty() {
        body.insert("annotations".into(), annotations.to_key_value_array());
    }
    let limits = limits(spec);
    if !limits.is_empty() {
        body.insert("limits".into(), Value::Object(limits));
    }
    Ok(Value::Object(body))
}

fn code_exec(path: &Path, kind: Option<&str>, main: Option<&str>) -> anyhow::Result<Value> {
    // A file that is not there is a mistake on the command line, hence a usage error.
    let bytes =
        std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let is_zip = extension(path).as_deref() == Some("zip");
    // A .wasm file is binary code of its own (not a zip): sent as base64 like an archive.
    let is_binary = is_zip || extension(path).as_deref() == Some("wasm");
    let kind = match kind {
        Some(kind) => kind.to_string(),
        None if is_zip => {
            return Err(usage(format!(
                "{} is a zip archive, so its kind cannot be guessed; pass --kind, \
                 e.g. --kind nodejs:default",
                path.display()
            )))
        }
        None => kind_from_extension(path)?,
    };
    let code = if is_binary {
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    } else {
        String::from_utf8(bytes).map_err(|_| {
            usage(format!(
                "{} is not UTF-8 text; package binary code as a .zip",
                path.display()
            ))
        })?
    };
    let mut exec = json!({ "kind": kind, "code": code });
    if let Some(main) = main {
        exec["main"] = json!(main);
    }
    if is_binary {
        exec["binary"] = json!(true);
    }
    Ok(exec)
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The default kind of each source extension we know; anything else needs `--kind`.
pub fn kind_from_extension(path: &Path) -> anyhow::Result<String> {
    match extension(path).as_deref() {
        Some("js" | "mjs" | "cjs") => Ok("nodejs:default".into()),
        Some("py") => Ok("python:default".into()),
        Some("wasm") => Ok("wasm".into()),
        _ => Err(usage(format!(
            "cannot tell the kind of {} from its extension; pass --kind, e.g. --kind nodejs:default",
            path.display()
        ))),
    }
}

fn sequence_exec(components: &[String], default_namespace: &str) -> anyhow::Result<Value> {
    if components.iter().all(|c| c.trim().is_empty()) {
        return Err(usage("--sequence needs at least one action name"));
    }
    let names = components
        .iter()
        .map(|c| QualifiedName::parse(c, default_namespace).map(|n| n.to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({ "kind": "sequence", "components": names }))
}

/// The annotations `wsk --web` sets; `final` keeps web callers from overriding parameters.
/// All three are always sent, so an update from `raw` to `true` turns raw HTTP off.
pub fn web_annotations(web: &str) -> Vec<(&'static str, Value)> {
    let (export, raw) = match web {
        "raw" => (true, true),
        "true" | "yes" => (true, false),
        _ => (false, false),
    };
    vec![
        ("web-export", json!(export)),
        ("raw-http", json!(raw)),
        ("final", json!(export)),
    ]
}

const REQUIRE_WHISK_AUTH: &str = "require-whisk-auth";

/// What `--web-secure` does to the `require-whisk-auth` annotation.
#[derive(Debug, Clone, PartialEq)]
pub enum WebSecure {
    Set(Value),
    Remove,
    /// `true` on an action that already has a generated secret keeps that secret.
    Keep,
}

/// Resolves `--web-secure SECRET` against `--web` and, on update, the existing action: it is
/// only meaningful for a web action. `true` generates a number (as `wsk` does), `false`
/// removes the secret, anything else is the secret.
pub fn web_secure(
    secret: &str,
    web: Option<&str>,
    existing: Option<&Action>,
) -> anyhow::Result<WebSecure> {
    let current = |key| existing.and_then(|action| action.annotation(key));
    let web_action = match web {
        Some(web) => matches!(web, "true" | "yes" | "raw"),
        None => current("web-export") == Some(&json!(true)),
    };
    if !web_action {
        return Err(usage(
            "--web-secure is only valid for a web action; add --web true (or --web raw)",
        ));
    }
    Ok(match secret.to_ascii_lowercase().as_str() {
        "false" => WebSecure::Remove,
        "true" if current(REQUIRE_WHISK_AUTH).is_some_and(Value::is_u64) => WebSecure::Keep,
        // Below 2^53, so JavaScript clients read it exactly.
        "true" => WebSecure::Set(json!(rand::random::<u64>() >> 11)),
        _ => WebSecure::Set(json!(secret)),
    })
}

fn apply_web_secure(body: &mut Value, change: WebSecure) {
    match change {
        WebSecure::Set(value) => {
            let entry = json!({"key": REQUIRE_WHISK_AUTH, "value": value});
            match body.get_mut("annotations").and_then(Value::as_array_mut) {
                Some(annotations) => annotations.push(entry),
                None => body["annotations"] = json!([entry]),
            }
        }
        WebSecure::Remove => body["delAnnotations"] = json!([REQUIRE_WHISK_AUTH]),
        WebSecure::Keep => {}
    }
}

fn limits(spec: &SpecFlags) -> Map<String, Value> {
    [
        ("timeout", spec.timeout),
        ("memory", spec.memory),
        ("logs", spec.logsize),
        ("concurrency", spec.concurrency),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.map(|v| (key.to_string(), json!(v))))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::KeyValues;
    use crate::test_support::TempDir;

    #[test]
    fn kind_comes_from_the_extension() {
        assert_eq!(
            kind_from_extension(Path::new("a/hello.js")).unwrap(),
            "nodejs:default"
        );
        assert_eq!(
            kind_from_extension(Path::new("HELLO.PY")).unwrap(),
            "python:default"
        );
        assert_eq!(
            kind_from_extension(Path::new("hello.wasm")).unwrap(),
            "wasm"
        );
        assert!(kind_from_extension(Path::new("hello.rb")).is_err());
        assert!(kind_from_extension(Path::new("hello")).is_err());
    }

    #[test]
    fn create_body_with_everything() {
        let dir = TempDir::new();
        let path = dir.file("hello.js", "function main(p) { return p }");
        let spec = SpecFlags {
            main: Some("hi".into()),
            params: ParamFlags {
                param: vec!["name".into(), "World".into(), "n".into(), "3".into()],
                param_file: None,
            },
            annotations: AnnotationFlags {
                annotation: vec!["description".into(), "greets".into()],
                annotation_file: None,
            },
            timeout: Some(1000),
            memory: Some(128),
            web: Some("true".into()),
            ..SpecFlags::default()
        };
        let body = build_body(Some(&path), &spec, "_").unwrap();
        assert_eq!(
            body,
            json!({
                "exec": {"kind": "nodejs:default", "code": "function main(p) { return p }", "main": "hi"},
                "parameters": KeyValues::of(&[("name", json!("World")), ("n", json!(3))]).to_key_value_array(),
                "annotations": [
                    {"key": "description", "value": "greets"},
                    {"key": "web-export", "value": true},
                    {"key": "raw-http", "value": false},
                    {"key": "final", "value": true}
                ],
                "limits": {"timeout": 1000, "memory": 128}
            })
        );
    }

    #[test]
    fn update_without_file_sends_only_what_was_given() {
        let spec = SpecFlags {
            logsize: Some(5),
            concurrency: Some(2),
            ..SpecFlags::default()
        };
        assert_eq!(
            build_body(None, &spec, "_").unwrap(),
            json!({"limits": {"logs": 5, "concurrency": 2}})
        );
        assert_eq!(
            build_body(None, &SpecFlags::default(), "_").unwrap(),
            json!({})
        );
        let kind_only = SpecFlags {
            kind: Some("nodejs:20".into()),
            ..SpecFlags::default()
        };
        assert!(build_body(None, &kind_only, "_").is_err());
    }

    #[test]
    fn zip_files_are_base64_and_need_a_kind() {
        let dir = TempDir::new();
        let path = dir.file("bundle.zip", [0x50, 0x4b, 0x03, 0x04, 0xff]);
        let err = build_body(Some(&path), &SpecFlags::default(), "_").unwrap_err();
        assert!(err.to_string().contains("--kind"));
        let spec = SpecFlags {
            kind: Some("nodejs:20".into()),
            ..SpecFlags::default()
        };
        let body = build_body(Some(&path), &spec, "_").unwrap();
        assert_eq!(
            body["exec"],
            json!({"kind": "nodejs:20", "code": "UEsDBP8=", "binary": true})
        );
    }

    #[test]
    fn explicit_kind_wins_over_the_extension() {
        let dir = TempDir::new();
        let path = dir.file("main.py", "def main(a): return a");
        let spec = SpecFlags {
            kind: Some("python:3.11".into()),
            ..SpecFlags::default()
        };
        assert_eq!(
            build_body(Some(&path), &spec, "_").unwrap()["exec"]["kind"],
            "python:3.11"
        );
    }

    #[test]
    fn sequences_name_their_components_fully() {
        let spec = SpecFlags {
            sequence: Some(vec!["a".into(), "pkg/b".into(), "/ns/c".into()]),
            ..SpecFlags::default()
        };
        assert_eq!(
            build_body(None, &spec, "guest").unwrap(),
            json!({"exec": {"kind": "sequence", "components": ["/guest/a", "/guest/pkg/b", "/ns/c"]}})
        );
    }

    #[test]
    fn web_flag_values() {
        let keys = |web| {
            web_annotations(web)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys("true"),
            ["web-export=true", "raw-http=false", "final=true"]
        );
        assert_eq!(
            keys("raw"),
            ["web-export=true", "raw-http=true", "final=true"]
        );
        assert_eq!(
            keys("no"),
            ["web-export=false", "raw-http=false", "final=false"]
        );
    }

    #[test]
    fn web_secure_needs_a_web_action() {
        assert!(web_secure("s", None, None).is_err());
        assert!(web_secure("s", Some("false"), None).is_err());
        let existing = document(&json!({"annotations": [{"key": "web-export", "value": true}]}));
        assert!(web_secure("s", Some("no"), Some(&existing)).is_err());
        assert_eq!(
            web_secure("s3cret", None, Some(&existing)).unwrap(),
            WebSecure::Set(json!("s3cret"))
        );
        assert_eq!(
            web_secure("FALSE", Some("raw"), None).unwrap(),
            WebSecure::Remove
        );
    }

    #[test]
    fn web_secure_true_generates_a_number_once() {
        let WebSecure::Set(generated) = web_secure("true", Some("true"), None).unwrap() else {
            panic!("a secret is generated");
        };
        assert!(generated.as_u64().is_some_and(|n| n < 1 << 53));
        let secured = document(&json!({"annotations": [
            {"key": "web-export", "value": true},
            {"key": "require-whisk-auth", "value": 42}
        ]}));
        assert_eq!(
            web_secure("true", None, Some(&secured)).unwrap(),
            WebSecure::Keep
        );
    }

    #[test]
    fn web_secure_changes_the_body() {
        let mut body = json!({});
        apply_web_secure(&mut body, WebSecure::Set(json!("s")));
        assert_eq!(
            body,
            json!({"annotations": [{"key": "require-whisk-auth", "value": "s"}]})
        );
        let mut body = json!({"annotations": [{"key": "a", "value": 1}]});
        apply_web_secure(&mut body, WebSecure::Remove);
        assert_eq!(body["delAnnotations"], json!(["require-whisk-auth"]));
        assert_eq!(body["annotations"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = build_body(
            Some(Path::new("/nonexistent/x.js")),
            &SpecFlags::default(),
            "_",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/x.js"));
    }
}

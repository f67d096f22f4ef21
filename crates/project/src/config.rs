//! `project.yml`: its schema as serde types, and parsing after `${VAR}` substitution.
//!
//! Every struct denies unknown fields, so a misspelt key is refused with its name and line
//! (serde_yaml_ng reports both). Keys of Nimbella's schema that Wisp does not implement are
//! still known here, so they are refused with a message that says so, not as "unknown".

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ProjectError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectFile {
    pub target_namespace: Option<String>,
    #[serde(default)]
    pub clean_namespace: bool,
    pub bucket: Option<BucketSpec>,
    pub action_wrap_package: Option<String>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub packages: Vec<PackageSpec>,
    #[serde(default)]
    pub web: Vec<WebFileSpec>,
}

/// Options of the namespace's web bucket: where `web/` files land and how the site serves them.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BucketSpec {
    pub prefix_path: Option<String>,
    pub strip: Option<u32>,
    pub main_page_suffix: Option<String>,
    pub not_found_page: Option<String>,
    #[serde(default)]
    pub clean: bool,
    #[serde(default)]
    pub use_cache: bool,
    /// Wisp's own: single-page-app mode (a missing route answers the index page with 200).
    #[serde(default)]
    pub spa: bool,
    pub remote_build: Option<bool>,
    pub local_build: Option<bool>,
}

/// A content-type override for one file of `web/`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebFileSpec {
    pub simple_name: String,
    pub mime_type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PackageSpec {
    pub name: String,
    #[serde(default, alias = "functions")]
    pub actions: Vec<ActionSpec>,
    pub shared: Option<bool>,
    #[serde(default)]
    pub annotations: Map<String, Value>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub clean: bool,
    pub web: Option<WebFlag>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ActionSpec {
    pub name: String,
    pub runtime: Option<String>,
    pub main: Option<String>,
    pub binary: Option<bool>,
    pub docker: Option<String>,
    pub sequence: Option<Vec<String>>,
    pub web: Option<WebFlag>,
    pub web_secure: Option<WebSecure>,
    #[serde(default)]
    pub annotations: Map<String, Value>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub limits: Option<LimitsSpec>,
    #[serde(default)]
    pub clean: bool,
    pub remote_build: Option<bool>,
    pub local_build: Option<bool>,
    pub triggers: Option<Vec<Value>>,
    /// Wisp's own key: the declared state of the action (`docs/STATE.md`), which becomes its
    /// `state` annotation.
    pub state: Option<StateSpec>,
}

/// `web: true | false | raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum WebFlag {
    Bool(bool),
    Raw(RawWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RawWord {
    Raw,
}

/// `webSecure: false` or a secret string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum WebSecure {
    Off(bool),
    Secret(String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    pub timeout: Option<u64>,
    pub memory: Option<u64>,
    pub logs: Option<u64>,
    pub concurrency: Option<u64>,
}

/// The `state` key: the same fields as the annotation; the server checks the key patterns.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<String>,
}

/// Parses the (already substituted) text of `project.yml`. An empty file, or one holding only
/// comments, is no configuration (Nimbella crashed on it).
pub fn parse(text: &str) -> Result<ProjectFile, ProjectError> {
    if text.contains('\t') {
        let line = text.lines().position(|l| l.contains('\t')).unwrap_or(0) + 1;
        return Err(ProjectError::Config(format!(
            "line {line}: tabs are not allowed in YAML; indent with spaces"
        )));
    }
    let parsed: Option<ProjectFile> =
        serde_yaml_ng::from_str(text).map_err(|e| ProjectError::Config(located(&e.to_string())))?;
    let file = parsed.unwrap_or_default();
    unsupported(&file)?;
    Ok(file)
}

/// serde_yaml_ng says "unknown field `x`, expected ... at line N column M"; the key and line
/// are what matter, so they go first.
fn located(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((what, place)) => {
            let line = place.split_whitespace().next().unwrap_or(place);
            let what = what.replacen("unknown field", "unknown key", 1);
            format!("line {line}: {what}")
        }
        None => message.replacen("unknown field", "unknown key", 1),
    }
}

/// Keys of Nimbella's schema that Wisp knows but does not do (yet): refused by name rather
/// than silently ignored, so a project never deploys differently from what it says.
fn unsupported(file: &ProjectFile) -> Result<(), ProjectError> {
    let refuse = |what: &str| {
        Err(ProjectError::Config(format!(
            "{what} is not supported by wisp yet; remove it from project.yml"
        )))
    };
    if file.clean_namespace {
        return refuse("`cleanNamespace`");
    }
    if file
        .action_wrap_package
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return refuse("`actionWrapPackage`");
    }
    for package in &file.packages {
        if package.clean {
            return refuse(&format!("`clean` (package {})", package.name));
        }
        for action in &package.actions {
            let at = |key: &str| format!("`{key}` (action {}/{})", package.name, action.name);
            if action.docker.as_deref().is_some_and(|s| !s.is_empty()) {
                return refuse(&at("docker"));
            }
            if action.clean {
                return refuse(&at("clean"));
            }
            if action.remote_build == Some(true) {
                return refuse(&at("remoteBuild"));
            }
            if action.triggers.as_ref().is_some_and(|t| !t.is_empty()) {
                return refuse(&at("triggers"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_and_comment_only_files_are_no_configuration() {
        assert!(parse("").unwrap().packages.is_empty());
        assert!(parse("# nothing yet\n").unwrap().packages.is_empty());
    }

    #[test]
    fn a_full_file_parses() {
        let file = parse(
            "targetNamespace: guest\nparameters: {greeting: hi, n: [1, 2]}\nenvironment: {A: b}\n\
             packages:\n  - name: demo\n    shared: true\n    functions:\n      - name: hello\n\
             \x20       runtime: nodejs:20\n        web: raw\n        webSecure: s3cret\n\
             \x20       limits: {timeout: 3000, memory: 256}\n        state:\n\
             \x20         write: [counter]\n          onConflict: fail\n\
             \x20     - name: pipe\n        sequence: [hello, hello]\n        web: false\n",
        )
        .unwrap();
        assert_eq!(file.target_namespace.as_deref(), Some("guest"));
        assert_eq!(file.parameters["n"], serde_json::json!([1, 2]));
        let demo = &file.packages[0];
        assert_eq!(demo.shared, Some(true));
        let hello = &demo.actions[0];
        assert_eq!(hello.web, Some(WebFlag::Raw(RawWord::Raw)));
        assert_eq!(hello.web_secure, Some(WebSecure::Secret("s3cret".into())));
        assert_eq!(hello.limits.as_ref().unwrap().timeout, Some(3000));
        assert_eq!(hello.state.as_ref().unwrap().write, ["counter"]);
        assert_eq!(demo.actions[1].web, Some(WebFlag::Bool(false)));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_line() {
        let err = error("packages:\n  - name: demo\n    actoins: []\n");
        assert!(err.starts_with("project.yml: line 3: "), "{err}");
        assert!(err.contains("unknown key `actoins`"), "{err}");
        let err = error(
            "packages:\n  - name: d\n    actions:\n      - name: a\n        state: {writes: [x]}\n",
        );
        assert!(err.contains("line 5") && err.contains("`writes`"), "{err}");
        assert!(error("targetNamespaces: x\n").contains("`targetNamespaces`"));
    }

    #[test]
    fn tabs_and_unsupported_keys_are_refused_clearly() {
        assert!(error("packages:\n\t- name: x\n").contains("line 2: tabs"));
        let err =
            error("packages:\n  - name: p\n    actions:\n      - name: a\n        docker: img\n");
        assert!(
            err.contains("`docker` (action p/a) is not supported"),
            "{err}"
        );
        assert!(error("cleanNamespace: true\n").contains("cleanNamespace"));
    }

    #[test]
    fn wrong_types_name_the_line() {
        let err = error("packages:\n  - name: p\n    shared: sometimes\n");
        assert!(err.starts_with("project.yml: line 3:"), "{err}");
    }
}

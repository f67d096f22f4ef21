//! The directory tree and `project.yml` merged into one `Project`: the file tree first, then the
//! configuration over it (config wins per key), config-only entries must be sequences.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::config::{ActionSpec, PackageSpec, ProjectFile, RawWord, WebFlag, WebSecure};
use crate::error::ProjectError;
use crate::kinds::file_action;
use crate::layout::{entry_path, Entry, Tree};
use crate::model::{Action, Package, Parameter, Project, Source};

/// Annotations the deployer writes itself from `web`, `webSecure` and `state`; a project
/// sets them through those keys, never directly.
const RESERVED_ANNOTATIONS: [&str; 6] = [
    "web-export",
    "raw-http",
    "require-whisk-auth",
    "final",
    "state",
    "deployer",
];

pub fn merge(
    root: &Path,
    name: String,
    tree: Tree,
    file: ProjectFile,
) -> Result<Project, ProjectError> {
    let mut specs: BTreeMap<String, PackageSpec> = BTreeMap::new();
    let mut order: Vec<String> = tree.packages.iter().map(|(n, _)| n.clone()).collect();
    for spec in file.packages {
        if specs.contains_key(&spec.name) {
            return Err(config(format!("package {} is listed twice", spec.name)));
        }
        if !order.contains(&spec.name) {
            order.push(spec.name.clone());
        }
        specs.insert(spec.name.clone(), spec);
    }
    let mut on_disk: BTreeMap<String, Vec<Entry>> = tree.packages.into_iter().collect();
    let project_params = parameters(&file.parameters, &file.environment);
    let mut packages = Vec::new();
    for name in order {
        let spec = specs.remove(&name).unwrap_or_else(|| PackageSpec {
            name: name.clone(),
            ..PackageSpec::default()
        });
        let entries = on_disk.remove(&name).unwrap_or_default();
        packages.push(package(spec, entries, &project_params)?);
    }
    Ok(Project {
        root: root.to_path_buf(),
        name,
        target_namespace: file.target_namespace.filter(|s| !s.is_empty()),
        packages,
        web: tree.web,
        web_types: file.web,
        bucket: file.bucket,
        lib_build: tree.lib_build,
        strays: tree.strays,
    })
}

fn package(
    spec: PackageSpec,
    entries: Vec<Entry>,
    project_params: &[Parameter],
) -> Result<Package, ProjectError> {
    let is_default = spec.name == "default";
    let own = parameters(&spec.parameters, &spec.environment);
    if is_default && (spec.shared == Some(true) || !spec.annotations.is_empty() || !own.is_empty())
    {
        return Err(config(
            "package default is no package: it cannot be shared or have annotations, \
             parameters or environment (put them on its actions)",
        ));
    }
    // Project-wide parameters go on each real package; the actions of no package get them
    // directly (Nimbella refused to deploy them instead).
    let (package_params, inherited) = match is_default {
        true => (vec![], project_params.to_vec()),
        false => (overlay(project_params, &own), vec![]),
    };
    let mut configured: Vec<ActionSpec> = spec.actions;
    let mut actions = Vec::new();
    let pkg = (!is_default).then(|| spec.name.clone());
    for entry in &entries {
        let from_file = match entry {
            Entry::File(f) => file_action(f),
            Entry::Directory(d) => crate::kinds::FileAction {
                name: d.clone(),
                kind: None,
                binary: true,
            },
        };
        if actions.iter().any(|a: &Action| a.name == from_file.name) {
            return Err(ProjectError::Layout(format!(
                "two entries of packages/{} are action {}; keep one",
                spec.name, from_file.name
            )));
        }
        let position = configured.iter().position(|a| a.name == from_file.name);
        let action_spec = position
            .map(|i| configured.remove(i))
            .unwrap_or_else(|| ActionSpec {
                name: from_file.name.clone(),
                ..ActionSpec::default()
            });
        let relative = entry_path(&spec.name, entry);
        if action_spec.sequence.is_some() {
            return Err(config(format!(
                "action {} is a sequence in project.yml but also {}",
                from_file.name,
                relative.display()
            )));
        }
        let kind = action_spec
            .runtime
            .clone()
            .filter(|r| !r.is_empty())
            .or(from_file.kind);
        if kind.is_none() && matches!(entry, Entry::File(_)) {
            return Err(ProjectError::Layout(format!(
                "cannot tell the runtime kind of {} from its name; set `runtime` for action {} \
                 in project.yml, or remove the file",
                relative.display(),
                from_file.name
            )));
        }
        let source = match entry {
            Entry::File(_) => Source::File { path: relative },
            Entry::Directory(_) => Source::Directory { path: relative },
        };
        let binary = action_spec.binary.unwrap_or(false)
            || (from_file.binary && matches!(source, Source::File { .. }));
        actions.push(action(
            action_spec,
            pkg.clone(),
            source,
            kind,
            binary,
            spec.web,
            &inherited,
        )?);
    }
    for action_spec in configured {
        let Some(components) = action_spec.sequence.clone() else {
            return Err(config(format!(
                "action {} of package {} is in project.yml but has no file or directory in \
                 packages/{} (and is not a sequence)",
                action_spec.name, spec.name, spec.name
            )));
        };
        if actions.iter().any(|a| a.name == action_spec.name) {
            return Err(config(format!(
                "action {} is listed twice",
                action_spec.name
            )));
        }
        if components.is_empty() {
            return Err(config(format!(
                "sequence {} names no actions",
                action_spec.name
            )));
        }
        if action_spec.runtime.is_some()
            || action_spec.main.is_some()
            || action_spec.binary.is_some()
            || action_spec.state.is_some()
        {
            return Err(config(format!(
                "sequence {} cannot have `runtime`, `main`, `binary` or `state`",
                action_spec.name
            )));
        }
        let source = Source::Sequence { components };
        actions.push(action(
            action_spec,
            pkg.clone(),
            source,
            None,
            false,
            spec.web,
            &inherited,
        )?);
    }
    Ok(Package {
        name: spec.name,
        is_default,
        shared: spec.shared.unwrap_or(false),
        parameters: package_params,
        annotations: spec.annotations,
        actions,
    })
}

fn action(
    spec: ActionSpec,
    package: Option<String>,
    source: Source,
    kind: Option<String>,
    binary: bool,
    package_web: Option<WebFlag>,
    inherited: &[Parameter],
) -> Result<Action, ProjectError> {
    let mut annotations = Map::new();
    for (key, value) in spec.annotations {
        if RESERVED_ANNOTATIONS.contains(&key.as_str()) {
            return Err(config(format!(
                "action {}: annotation `{key}` is written by the deployer; use `web`, \
                 `webSecure` or `state` instead",
                spec.name
            )));
        }
        annotations.insert(key, value);
    }
    // Project actions are web actions unless they say otherwise, as in Nimbella.
    let (export, raw) = match spec.web.or(package_web).unwrap_or(WebFlag::Bool(true)) {
        WebFlag::Bool(export) => (export, false),
        WebFlag::Raw(RawWord::Raw) => (true, true),
    };
    annotations.insert("web-export".into(), json!(export));
    annotations.insert("raw-http".into(), json!(raw));
    annotations.insert("final".into(), json!(export));
    match spec.web_secure {
        None | Some(WebSecure::Off(false)) => {}
        Some(WebSecure::Off(true)) => {
            return Err(config(format!(
                "action {}: `webSecure: true` is not supported; give the secret callers must \
                 send, e.g. webSecure: ${{SECRET}}",
                spec.name
            )))
        }
        Some(WebSecure::Secret(secret)) => {
            annotations.insert("require-whisk-auth".into(), json!(secret));
        }
    }
    if let Some(state) = spec.state {
        let value = serde_json::to_value(state).expect("a state spec is plain data");
        annotations.insert("state".into(), value);
    }
    let own = parameters(&spec.parameters, &spec.environment);
    Ok(Action {
        name: spec.name,
        package,
        source,
        kind,
        main: spec.main.filter(|m| !m.is_empty()),
        binary,
        parameters: overlay(inherited, &own),
        annotations,
        limits: spec.limits.unwrap_or_default(),
    })
}

/// `parameters` then `environment` (as init parameters), sorted by key.
fn parameters(
    plain: &Map<String, Value>,
    environment: &BTreeMap<String, String>,
) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = plain
        .iter()
        .map(|(k, v)| Parameter {
            key: k.clone(),
            value: v.clone(),
            init: false,
        })
        .collect();
    for (key, value) in environment {
        out.retain(|p| &p.key != key);
        out.push(Parameter {
            key: key.clone(),
            value: json!(value),
            init: true,
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// `base` with `over` replacing entries of the same key.
fn overlay(base: &[Parameter], over: &[Parameter]) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = base
        .iter()
        .filter(|p| !over.iter().any(|o| o.key == p.key))
        .cloned()
        .chain(over.iter().cloned())
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn config(message: impl Into<String>) -> ProjectError {
    ProjectError::Config(message.into())
}

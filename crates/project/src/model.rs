//! The parsed project: what the directory and `project.yml` say together, validated, before
//! anything is built. `wisp project get-metadata` prints it; the serde derives here describe
//! that output (our own format, not OpenWhisk's wire).

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{BucketSpec, LimitsSpec, WebFileSpec};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub root: PathBuf,
    /// The project's identity on the server (the directory's name): it is recorded on every
    /// entity deployed, and `--prune` only ever deletes entities recorded with it.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    pub packages: Vec<Package>,
    /// Files of `web/`, relative to it, `/`-separated and sorted.
    pub web: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub web_types: Vec<WebFileSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<BucketSpec>,
    /// `lib/` holds a build step that runs before any action is built.
    pub lib_build: bool,
    /// Entries that are not part of any project layout, relative to the root; ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub strays: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub name: String,
    /// `packages/default`: its actions belong to no package and no package is written.
    pub is_default: bool,
    pub shared: bool,
    pub parameters: Vec<Parameter>,
    pub annotations: Map<String, Value>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub key: String,
    pub value: Value,
    /// An `environment` entry: handed to the runtime at init, as process environment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub name: String,
    /// The package it is in; `None` for `packages/default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub source: Source,
    /// The runtime kind when known before the build (from `runtime` or the file name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// Force base64 upload of a single file.
    pub binary: bool,
    pub parameters: Vec<Parameter>,
    /// Every annotation written on the action: the user's, the web ones, `state`.
    pub annotations: Map<String, Value>,
    pub limits: LimitsSpec,
}

impl Action {
    /// `pkg/name`, or `name` for an action of no package: how it is named on the server.
    pub fn path(&self) -> String {
        match &self.package {
            Some(package) => format!("{package}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Source {
    /// One file is the action (relative to the project root).
    File { path: PathBuf },
    /// A directory built and zipped (relative to the project root).
    Directory { path: PathBuf },
    /// A sequence of these actions, as written (`pkg/name`, `name` or `/ns/pkg/name`).
    Sequence { components: Vec<String> },
}

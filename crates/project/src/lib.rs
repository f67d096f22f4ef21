//! Wisp projects: a directory of functions, static web content and a `project.yml`, in the
//! layout Nimbella defined, read into a validated `Project`; its actions built locally
//! (`builder`), turned into entity bodies stamped with content digests (`put`), in the order a
//! deploy writes them (`order`); `snapshot` tells a watcher which of its files changed.
//!
//! No HTTP here: the CLI (`wisp project ...`) compares the digests with the server's and sends
//! what changed. `docs/PROJECTS.md` is the user's description of all this.

mod builder;
pub mod config;
mod digest;
mod error;
mod files;
mod kinds;
mod layout;
mod merge;
mod model;
mod order;
pub mod put;
mod snapshot;
mod substitute;
mod web;

#[cfg(test)]
mod test_support;

use std::path::Path;

pub use builder::{build_action, build_lib, Built};
pub use error::ProjectError;
pub use model::{Action, Package, Parameter, Project, Source};
pub use order::deploy_order;
pub use snapshot::Snapshot;
pub use substitute::{parse_env_file, Variables};
pub use web::{site_settings, web_files, WebFile};

/// Reads the project at `root`: the directory tree merged with `project.yml` (after `${VAR}`
/// substitution from `vars`). Nothing is built or run.
pub fn read(root: &Path, vars: &Variables) -> Result<Project, ProjectError> {
    let meta = std::fs::metadata(root).map_err(|e| ProjectError::io(root, e))?;
    if !meta.is_dir() {
        return Err(ProjectError::Layout(format!(
            "{} is not a directory; a project is a directory with packages/, web/ or project.yml",
            root.display()
        )));
    }
    let root = root.canonicalize().map_err(|e| ProjectError::io(root, e))?;
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let file = match config_text(&root)? {
        Some(text) => config::parse(&substitute::substitute(&text, vars)?)?,
        None => config::ProjectFile::default(),
    };
    let tree = layout::read_tree(&root)?;
    merge::merge(&root, name, tree, file)
}

/// The env file a project uses when none is given: `.env` at its root, if any.
pub fn default_env_file(root: &Path) -> Option<std::path::PathBuf> {
    Some(root.join(".env")).filter(|p| p.is_file())
}

fn config_text(root: &Path) -> Result<Option<String>, ProjectError> {
    for name in ["project.yml", "projectConfig.yml"] {
        let path = root.join(name);
        if path.is_file() {
            return std::fs::read_to_string(&path)
                .map(Some)
                .map_err(|e| ProjectError::io(&path, e));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;

//! The directory tree of a project: `packages/<pkg>/<action>[.<ext>]`, `web/`, `lib/`, and
//! what is stray. Only names are read here; nothing is built.

use std::path::{Path, PathBuf};

use crate::error::ProjectError;
use crate::kinds::is_never_an_action;

/// One action found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(String),
    Directory(String),
}

impl Entry {
    pub fn file_name(&self) -> &str {
        match self {
            Entry::File(name) | Entry::Directory(name) => name,
        }
    }
}

#[derive(Debug, Default)]
pub struct Tree {
    /// Package directory names with their entries, both sorted.
    pub packages: Vec<(String, Vec<Entry>)>,
    pub web: Vec<String>,
    pub lib_build: bool,
    pub strays: Vec<String>,
}

/// Files that mean a directory is built before it is deployed.
pub const BUILD_TRIGGERS: [&str; 3] = ["build.sh", ".build", "package.json"];

/// Top-level names that are part of the layout, or the deployer's own, and so not strays.
const KNOWN: [&str; 10] = [
    "packages",
    "web",
    "lib",
    "project.yml",
    "projectConfig.yml",
    ".env",
    ".deployed",
    ".nimbella",
    ".gitignore",
    ".git",
];

pub fn read_tree(root: &Path) -> Result<Tree, ProjectError> {
    let mut tree = Tree::default();
    for (name, is_dir) in sorted_entries(root)? {
        if !KNOWN.contains(&name.as_str()) && !is_never_an_action(&name) {
            tree.strays.push(name.clone());
        }
        let path = root.join(&name);
        match (name.as_str(), is_dir) {
            ("packages", true) => read_packages(&path, &mut tree)?,
            ("web", true) => walk_files(&path, "", &mut tree.web)?,
            ("lib", true) => {
                tree.lib_build = BUILD_TRIGGERS.iter().any(|t| path.join(t).is_file());
            }
            _ => {}
        }
    }
    Ok(tree)
}

fn read_packages(dir: &Path, tree: &mut Tree) -> Result<(), ProjectError> {
    for (name, is_dir) in sorted_entries(dir)? {
        if !is_dir {
            // Loose files in packages/ belong to no package.
            if !is_never_an_action(&name) {
                tree.strays.push(format!("packages/{name}"));
            }
            continue;
        }
        if name.starts_with('.') {
            continue;
        }
        let mut entries = Vec::new();
        for (entry, is_dir) in sorted_entries(&dir.join(&name))? {
            if is_never_an_action(&entry) {
                continue;
            }
            entries.push(match is_dir {
                true => Entry::Directory(entry),
                false => Entry::File(entry),
            });
        }
        tree.packages.push((name, entries));
    }
    Ok(())
}

/// Every regular file under `dir`, as `/`-separated paths below it.
fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), ProjectError> {
    for (name, is_dir) in sorted_entries(dir)? {
        if is_never_an_action(&name) && name != ".well-known" {
            continue;
        }
        let relative = format!("{prefix}{name}");
        if is_dir {
            walk_files(&dir.join(&name), &format!("{relative}/"), out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

/// Names in `dir` with whether each is a directory (symbolic links followed), sorted.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, bool)>, ProjectError> {
    let io = |e| ProjectError::io(dir, e);
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(ProjectError::Layout(format!(
                "{} has a name that is not UTF-8",
                entry.path().display()
            )));
        };
        let is_dir = std::fs::metadata(entry.path())
            .map(|m| m.is_dir())
            .unwrap_or(false);
        entries.push((name, is_dir));
    }
    entries.sort();
    Ok(entries)
}

/// The path of an entry relative to the project root, for messages and the metadata.
pub fn entry_path(package: &str, entry: &Entry) -> PathBuf {
    Path::new("packages").join(package).join(entry.file_name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn a_tree_is_read_into_packages_web_and_strays() {
        let dir = TempDir::new();
        dir.file("packages/default/hello.js", "x");
        dir.file("packages/default/hello.js.map", "x");
        dir.file("packages/demo/multi/index.js", "x");
        dir.file("packages/demo/add.py", "x");
        dir.file("packages/loose.js", "x");
        dir.file("web/index.html", "x");
        dir.file("web/css/site.css", "x");
        dir.file("lib/build.sh", "x");
        dir.file("README.md", "x");
        dir.file("project.yml", "");
        let tree = read_tree(dir.path()).unwrap();
        assert_eq!(
            tree.packages,
            vec![
                ("default".to_string(), vec![Entry::File("hello.js".into())]),
                (
                    "demo".to_string(),
                    vec![
                        Entry::File("add.py".into()),
                        Entry::Directory("multi".into())
                    ]
                ),
            ]
        );
        assert_eq!(tree.web, ["css/site.css", "index.html"]);
        assert!(tree.lib_build);
        assert_eq!(tree.strays, ["README.md", "packages/loose.js"]);
    }
}

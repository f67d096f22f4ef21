//! Which files of an action directory are the action (`.include`, or everything but `.ignore`
//! patterns), and the zip they become.

use std::io::Write;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::ProjectError;

/// Build material that is never part of the deployed action.
const BUILD_FILES: [&str; 6] = [
    ".ignore",
    ".include",
    ".build",
    "build.sh",
    "build.cmd",
    "__deployer__.zip",
];

/// A file of the action: its path inside the zip and on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub path: PathBuf,
}

/// The action's files, sorted by name.
pub fn select(dir: &Path, part: &str) -> Result<Vec<Member>, ProjectError> {
    let include = dir.join(".include");
    let ignore = dir.join(".ignore");
    let mut members = Vec::new();
    if include.is_file() {
        if ignore.is_file() {
            return Err(ProjectError::Layout(format!(
                "{part} has both .include and .ignore; keep one"
            )));
        }
        let text = read(&include)?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let line = line
                .strip_prefix("./")
                .unwrap_or(line)
                .trim_end_matches('/');
            if line.starts_with('/') || line.split('/').any(|s| s == "..") {
                return Err(ProjectError::Layout(format!(
                    "{part}/.include: `{line}` is outside the action's directory; list paths inside it"
                )));
            }
            let path = dir.join(line);
            if path.is_dir() {
                walk(&path, &format!("{line}/"), &|_, _| false, &mut members)?;
            } else if path.is_file() {
                members.push(Member {
                    name: line.to_string(),
                    path,
                });
            } else {
                return Err(ProjectError::Layout(format!(
                    "{part}/.include lists `{line}`, which does not exist"
                )));
            }
        }
    } else {
        let patterns = ignore_patterns(dir, &ignore)?;
        let skip = |name: &str, is_dir: bool| {
            (!name.contains('/') && BUILD_FILES.contains(&name))
                || patterns
                    .matched_path_or_any_parents(name, is_dir)
                    .is_ignore()
        };
        walk(dir, "", &skip, &mut members)?;
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    members.dedup_by(|a, b| a.name == b.name);
    Ok(members)
}

fn ignore_patterns(dir: &Path, file: &Path) -> Result<Gitignore, ProjectError> {
    let mut builder = GitignoreBuilder::new(dir);
    if file.is_file() {
        if let Some(err) = builder.add(file) {
            return Err(ProjectError::Layout(format!("{}: {err}", file.display())));
        }
    }
    builder
        .build()
        .map_err(|e| ProjectError::Layout(format!("{}: {e}", file.display())))
}

/// Regular files under `dir` (symbolic links followed), minus the system's leftovers and what
/// `skip` says, as `/`-separated names after `prefix`.
fn walk(
    dir: &Path,
    prefix: &str,
    skip: &dyn Fn(&str, bool) -> bool,
    out: &mut Vec<Member>,
) -> Result<(), ProjectError> {
    let io = |e| ProjectError::io(dir, e);
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if is_system_leftover(&file_name) {
            continue;
        }
        let name = format!("{prefix}{file_name}");
        let path = entry.path();
        let is_dir = path.is_dir();
        if skip(&name, is_dir) {
            continue;
        }
        if is_dir {
            walk(&path, &format!("{name}/"), skip, out)?;
        } else if path.is_file() {
            out.push(Member { name, path });
        }
    }
    Ok(())
}

/// Files no project means to deploy: VCS and editor droppings, the deployer's own state.
pub(crate) fn is_system_leftover(name: &str) -> bool {
    matches!(
        name,
        ".git" | ".gitignore" | ".DS_Store" | ".deployed" | ".nimbella"
    ) || name.contains("_tmp_")
        || name.contains(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
}

/// A zip of the members that is the same bytes for the same files: fixed timestamps, sorted
/// names, so its digest only changes when a file does.
pub fn zip(members: &[Member]) -> Result<Vec<u8>, ProjectError> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    for member in members {
        let bytes = std::fs::read(&member.path).map_err(|e| ProjectError::io(&member.path, e))?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(if is_executable(&member.path) {
                0o755
            } else {
                0o644
            });
        writer
            .start_file(member.name.as_str(), options)
            .and_then(|()| writer.write_all(&bytes).map_err(Into::into))
            .map_err(|e| ProjectError::Layout(format!("cannot zip {}: {e}", member.name)))?;
    }
    writer
        .finish()
        .map_err(|e| ProjectError::Layout(format!("cannot zip the action: {e}")))?;
    Ok(buffer.into_inner())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn read(path: &Path) -> Result<String, ProjectError> {
    std::fs::read_to_string(path).map_err(|e| ProjectError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn names(members: &[Member]) -> Vec<&str> {
        members.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn everything_but_ignored_and_build_files() {
        let dir = TempDir::new();
        dir.file("index.js", "x");
        dir.file("build.sh", "x");
        dir.file(".ignore", "*.md\ntest/\n");
        dir.file("README.md", "x");
        dir.file("test/a.js", "x");
        dir.file("lib/util.js", "x");
        dir.file("node_modules/m/index.js", "x");
        dir.file("x.js~", "x");
        let members = select(dir.path(), "packages/p/a").unwrap();
        assert_eq!(
            names(&members),
            ["index.js", "lib/util.js", "node_modules/m/index.js"]
        );
    }

    #[test]
    fn include_lists_the_files() {
        let dir = TempDir::new();
        dir.file("dist/main.js", "x");
        dir.file("dist/sub/x.js", "x");
        dir.file("src/main.ts", "x");
        dir.file("package.json", "{}");
        dir.file(".include", "./dist/\npackage.json\n# comment\n");
        let members = select(dir.path(), "a").unwrap();
        assert_eq!(
            names(&members),
            ["dist/main.js", "dist/sub/x.js", "package.json"]
        );
        dir.file(".include", "../secret\n");
        assert!(select(dir.path(), "a")
            .unwrap_err()
            .to_string()
            .contains("outside"));
        dir.file(".ignore", "x");
        assert!(select(dir.path(), "a")
            .unwrap_err()
            .to_string()
            .contains("keep one"));
    }

    #[test]
    fn zips_are_reproducible() {
        let dir = TempDir::new();
        dir.file("index.js", "exports.main = () => ({})");
        dir.file("package.json", "{}");
        let members = select(dir.path(), "a").unwrap();
        let first = zip(&members).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        dir.file("index.js", "exports.main = () => ({})");
        assert_eq!(first, zip(&members).unwrap());
        dir.file("index.js", "exports.main = () => ({changed: 1})");
        assert_ne!(first, zip(&members).unwrap());
    }
}

//! What a project's files hold at one moment, for `wisp project watch`: every file that could
//! change a deploy, with its size, modification time and content hash. Two snapshots compare
//! by content, so a file rewritten with the same bytes (an editor's save with no edit, a build
//! step that writes the same output again) is no change, and a watcher does not redeploy in a
//! loop.
//!
//! Skipped: `.git`, `node_modules` (dependencies, written by builds; hashing them on every
//! scan would also be slow), the deployers' own state, Python's caches, and editors' temporary
//! and backup files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::files::is_system_leftover;

/// Directories never looked into.
const SKIPPED_DIRS: [&str; 5] = [
    ".git",
    "node_modules",
    ".deployed",
    ".nimbella",
    "__pycache__",
];

/// One file as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    hash: [u8; 32],
}

/// The project's files (paths relative to its root) as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    files: BTreeMap<PathBuf, Stamp>,
}

impl Snapshot {
    /// Reads the tree under `root`. A file whose size and modification time are the same as in
    /// `previous` keeps its hash there: only new and touched files are read.
    pub fn scan(root: &Path, previous: Option<&Snapshot>) -> Snapshot {
        let mut files = BTreeMap::new();
        walk(root, Path::new(""), previous, &mut files);
        Snapshot { files }
    }

    /// The files added, removed or changed in content from `self` to `later`, sorted.
    pub fn changes(&self, later: &Snapshot) -> BTreeSet<PathBuf> {
        let mut changed: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter(|(path, stamp)| later.files.get(*path).is_none_or(|s| s.hash != stamp.hash))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(
            later
                .files
                .keys()
                .filter(|path| !self.files.contains_key(*path))
                .cloned(),
        );
        changed
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Whether a file name is an editor's temporary or backup file (beyond the system leftovers
/// that a deploy skips too): vim's `4913` probe and `.swo`, Emacs's `#autosave#`, JetBrains'
/// `___jb_old___`, Kate's swap files, gedit's output streams.
fn is_editor_temporary(name: &str) -> bool {
    name == "4913"
        || name.ends_with(".swo")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with("___jb_old___")
        || name.ends_with(".kate-swp")
        || name.starts_with(".goutputstream-")
}

fn walk(
    dir: &Path,
    relative: &Path,
    previous: Option<&Snapshot>,
    out: &mut BTreeMap<PathBuf, Stamp>,
) {
    // A directory that vanished mid-scan (an editor's or a build's rename) is simply absent:
    // the next scan sees the tree as it settles.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_system_leftover(&name) || is_editor_temporary(&name) || name == "__deployer__.zip" {
            continue;
        }
        let path = entry.path();
        let relative = relative.join(&name);
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(&path, &relative, previous, out);
            }
            continue;
        }
        // A symbolic link counts as the file it names; links to directories are not followed
        // (they can form cycles, and Nimbella's watcher looped on them).
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let (len, modified) = (meta.len(), meta.modified().ok());
        let known = previous
            .and_then(|p| p.files.get(&relative))
            .filter(|s| s.len == len && s.modified == modified);
        let hash = match known {
            Some(stamp) => stamp.hash,
            None => match hash(&path) {
                Some(hash) => hash,
                None => continue,
            },
        };
        out.insert(
            relative,
            Stamp {
                len,
                modified,
                hash,
            },
        );
    }
}

fn hash(path: &Path) -> Option<[u8; 32]> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn names(set: BTreeSet<PathBuf>) -> Vec<String> {
        set.into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn changes_are_by_content() {
        let dir = TempDir::new();
        dir.file("packages/p/a.js", "a");
        dir.file("packages/p/b.js", "b");
        dir.file("web/index.html", "<h1>");
        let first = Snapshot::scan(dir.path(), None);
        assert_eq!(first.len(), 3);

        // The same bytes again (a later mtime) are no change; new bytes, a new and a removed
        // file are.
        std::thread::sleep(std::time::Duration::from_millis(20));
        dir.file("packages/p/a.js", "a");
        dir.file("web/index.html", "<h2>");
        dir.file("packages/p/c.py", "c");
        std::fs::remove_file(dir.path().join("packages/p/b.js")).unwrap();
        let second = Snapshot::scan(dir.path(), Some(&first));
        assert_eq!(
            names(first.changes(&second)),
            ["packages/p/b.js", "packages/p/c.py", "web/index.html"]
        );
        assert!(second
            .changes(&Snapshot::scan(dir.path(), Some(&second)))
            .is_empty());
    }

    #[test]
    fn dependencies_vcs_and_editor_files_are_not_watched() {
        let dir = TempDir::new();
        dir.file("packages/p/a.js", "a");
        let first = Snapshot::scan(dir.path(), None);
        for junk in [
            ".git/index",
            "packages/p/node_modules/x/index.js",
            "packages/p/.a.js.swp",
            "packages/p/.a.js.swo",
            "packages/p/a.js~",
            "packages/p/.#a.js",
            "packages/p/#a.js#",
            "packages/p/4913",
            "packages/p/a.js___jb_tmp___",
            "packages/p/a.js___jb_old___",
            "packages/p/__pycache__/a.cpython-311.pyc",
            "packages/p/__deployer__.zip",
            ".deployed/versions.json",
            ".DS_Store",
        ] {
            dir.file(junk, "x");
        }
        let second = Snapshot::scan(dir.path(), Some(&first));
        assert!(first.changes(&second).is_empty(), "{second:?}");
    }
}

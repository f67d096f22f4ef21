//! The npm modules bundled with the Node.js runtime (`openwhisk` and its dependencies, pinned in
//! `runtime/nodejs/package-lock.json`): `runtime/nodejs/node_modules.zip`, committed and refreshed
//! by `scripts/vendor-node-modules.sh`, checked against its recorded SHA-256 by `build.rs`,
//! embedded in the binary and unpacked to disk at start. Node.js processes find them through
//! `NODE_PATH`, which Node consults after every `node_modules` directory above the requiring
//! file: an action's own `node_modules` wins, as in OpenWhisk's Node.js runtime.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The modules as a zip, paths relative to `node_modules`; `build.rs` checked its SHA-256.
const ARCHIVE: &[u8] = include_bytes!("../runtime/nodejs/node_modules.zip");
/// Names this archive on disk (set by `build.rs` from its SHA-256).
const DIGEST: &str = env!("WISP_BUNDLE_DIGEST");

/// Writes the bundled modules to `<root>/<digest>/node_modules` unless they are there already
/// exactly as built (a changed or missing file, a backdoor left by a function run without the
/// sandbox say, makes it write them all again), read-only; removes other versions, and returns
/// that `node_modules` directory.
pub fn install(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(DIGEST);
    let modules = dir.join("node_modules");
    let files = files()?;
    if !intact(&modules, &files) {
        // Written aside and renamed, so a crash never leaves a half-written bundle in place.
        let staging = root.join(format!("{DIGEST}.{}.partial", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        for (file, contents) in &files {
            let path = staging.join("node_modules").join(file);
            std::fs::create_dir_all(path.parent().expect("files are under node_modules"))?;
            std::fs::write(&path, contents)?;
            read_only(&path)?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir)?;
    }
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_name() != DIGEST {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(modules)
}

/// The bundled files, unpacked in memory (half a megabyte, a few milliseconds): paths relative
/// to `node_modules`, and contents.
fn files() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(ARCHIVE)).map_err(std::io::Error::other)?;
    let mut files = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(std::io::Error::other)?;
        if !entry.is_file() {
            continue;
        }
        let path = entry.enclosed_name().ok_or_else(|| {
            std::io::Error::other(format!("bundled module path {:?}", entry.name()))
        })?;
        let mut contents = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut contents)?;
        files.push((path, contents));
    }
    Ok(files)
}

/// Whether every bundled file is in `modules` with the contents it was built with.
fn intact(modules: &Path, files: &[(PathBuf, Vec<u8>)]) -> bool {
    files.iter().all(|(file, contents)| {
        std::fs::read(modules.join(file)).is_ok_and(|found| found == *contents)
    })
}

pub(crate) fn read_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openwhisk_module_is_bundled() {
        let files = files().unwrap();
        let paths: Vec<&str> = files
            .iter()
            .map(|(path, _)| path.to_str().unwrap())
            .collect();
        assert!(paths.contains(&"openwhisk/package.json"), "{paths:?}");
        assert!(paths.contains(&"openwhisk/lib/main.js"), "{paths:?}");
        // What scripts/vendor-node-modules.sh leaves out: docs, test suites, dotfiles (`.bin`).
        assert!(paths.iter().all(|p| !p.ends_with(".md")
            && !p.contains("/test/")
            && !p.split('/').any(|part| part.starts_with('.'))));
    }

    #[test]
    fn install_writes_once_and_replaces_other_versions() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().to_path_buf();
        std::fs::create_dir_all(root.join("0000stale/node_modules")).unwrap();
        let modules = install(&root).unwrap();
        assert!(modules.join("openwhisk/lib/main.js").is_file());
        assert!(!root.join("0000stale").exists());
        assert_eq!(install(&root).unwrap(), modules);
        // A file changed behind the server's back is put back at the next start.
        let main = modules.join("openwhisk/lib/main.js");
        let built = std::fs::read(&main).unwrap();
        std::fs::remove_file(&main).unwrap();
        std::fs::write(&main, "module.exports = 'backdoor'").unwrap();
        assert_eq!(install(&root).unwrap(), modules);
        assert_eq!(std::fs::read(&main).unwrap(), built);
    }
}

//! The npm modules bundled with the Node.js runtime (`openwhisk` and its dependencies, pinned in
//! `runtime/nodejs/package-lock.json`), installed by `build.rs`, embedded in the binary and
//! written to disk at start. Node.js processes find them through `NODE_PATH`, which Node consults
//! after every `node_modules` directory above the requiring file: an action's own
//! `node_modules` wins, as in OpenWhisk's Node.js runtime.

use std::path::{Path, PathBuf};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/bundled_modules.rs"));
}

/// Writes the bundled modules to `<root>/<digest>/node_modules` unless they are there already
/// exactly as built (a changed or missing file, a backdoor left by a function run without the
/// sandbox say, makes it write them all again), read-only; removes other versions, and returns
/// that `node_modules` directory.
pub fn install(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(generated::DIGEST);
    let modules = dir.join("node_modules");
    if !intact(&modules) {
        // Written aside and renamed, so a crash never leaves a half-written bundle in place.
        let staging = root.join(format!(
            "{}.{}.partial",
            generated::DIGEST,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&staging);
        for (file, contents) in generated::FILES {
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
        if entry.file_name() != generated::DIGEST {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(modules)
}

/// Whether every bundled file is in `modules` with the contents it was built with.
fn intact(modules: &Path) -> bool {
    generated::FILES.iter().all(|(file, contents)| {
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
        let paths: Vec<&str> = generated::FILES.iter().map(|(path, _)| *path).collect();
        assert!(paths.contains(&"openwhisk/package.json"), "{paths:?}");
        assert!(paths.contains(&"openwhisk/lib/main.js"), "{paths:?}");
        assert!(paths
            .iter()
            .all(|p| !p.ends_with(".md") && !p.contains("/test/")));
    }

    #[test]
    fn install_writes_once_and_replaces_other_versions() {
        let root = std::env::temp_dir().join(format!("wisp-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
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
        std::fs::remove_dir_all(&root).unwrap();
    }
}

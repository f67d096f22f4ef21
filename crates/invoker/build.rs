//! Checks the npm modules bundled with the Node.js runtime before `src/bundle.rs` embeds them:
//! `runtime/nodejs/node_modules.zip` (`openwhisk` and its dependencies, as
//! `runtime/nodejs/package-lock.json` pins them) must have the SHA-256 that
//! `node_modules.zip.sha256` records, and the lock file the one it was made from. Both are
//! committed and refreshed by `scripts/vendor-node-modules.sh`, so building needs no npm. Sets
//! `WISP_BUNDLE_DIGEST`, the name of this set of modules on disk.

use std::path::Path;

use sha2::{Digest, Sha256};

const PROJECT: &str = "runtime/nodejs";
const ARCHIVE: &str = "node_modules.zip";
const LOCK: &str = "package-lock.json";
const SUMS: &str = "node_modules.zip.sha256";
const REFRESH: &str = "scripts/vendor-node-modules.sh";

fn main() {
    for file in [ARCHIVE, LOCK, SUMS] {
        println!("cargo:rerun-if-changed={PROJECT}/{file}");
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join(PROJECT);
    let sums = std::fs::read_to_string(project.join(SUMS)).unwrap_or_else(|e| {
        panic!("read crates/invoker/{PROJECT}/{SUMS}: {e}; run {REFRESH} to make it")
    });
    let archive = sha256(&project.join(ARCHIVE));
    check(
        &sums,
        ARCHIVE,
        &archive,
        "the archive is not the one the script wrote (a Git LFS pointer, or edited by hand?)",
    );
    check(
        &sums,
        LOCK,
        &sha256(&project.join(LOCK)),
        "the lock file changed since the archive was made from it",
    );
    println!("cargo:rustc-env=WISP_BUNDLE_DIGEST={}", &archive[..16]);
}

/// Fails the build unless `sums` (`sha256sum` output) records `digest` for `file`.
fn check(sums: &str, file: &str, digest: &str, problem: &str) {
    let recorded = sums.lines().find_map(|line| {
        let (sum, name) = line.split_once(char::is_whitespace)?;
        (name.trim_start().trim_start_matches('*') == file).then_some(sum)
    });
    if recorded != Some(digest) {
        panic!(
            "crates/invoker/{PROJECT}/{file} has SHA-256 {digest}, but {SUMS} records {}: \
             {problem}. Run {REFRESH} (it needs npm) and commit {ARCHIVE} and {SUMS}",
            recorded.unwrap_or("none")
        );
    }
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

//! What the store's tests share: a scratch directory per test.

use std::path::Path;

/// A directory removed when dropped; `label` names it for whoever looks in /tmp meanwhile.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new(label: &str) -> Dir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("wisp-store-{label}-"))
            .tempdir()
            .expect("a scratch directory");
        Dir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

//! What the store's tests share: a scratch directory per test.

use std::path::PathBuf;

use wisp_core::ActivationId;

pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(label: &str) -> Dir {
        let path = std::env::temp_dir().join(format!(
            "wisp-store-{label}-{}-{}",
            std::process::id(),
            ActivationId::generate()
        ));
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

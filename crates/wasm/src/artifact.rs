//! Compiled modules and components on disk: `<cache dir>/<code digest>-<engine tag>.cwasm`.
//!
//! The engine tag is a hash of everything that makes an artifact loadable by this engine
//! (wasmtime's version, target, compiler settings and features), so a server upgraded or
//! configured differently compiles again instead of loading an artifact it cannot run.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::validate::Format;
use crate::WasmError;

/// Code compiled by the engine: a core module or a component.
pub(crate) enum Compiled {
    Module(Module),
    Component(Component),
}

pub(crate) struct Cache {
    dir: PathBuf,
    tag: String,
}

impl Cache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Cache, WasmError> {
        // Owner-only, as everything under the data directory: compiled namespaces' code.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| WasmError::Engine(format!("cannot create {}: {e}", dir.display())))?;
        // `DefaultHasher::new()` has fixed keys: the same engine gives the same tag in every
        // run of this build, which is all a cache key needs.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Cache {
            dir: dir.to_path_buf(),
            tag: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.tag))
    }

    /// The artifact of `digest`, if one was stored by an engine like this one.
    pub(crate) fn load(&self, engine: &Engine, digest: &str, format: Format) -> Option<Compiled> {
        let path = self.path(digest);
        if !path.is_file() {
            return None;
        }
        // SAFETY: wasmtime trusts a serialized module to be its own output. Only this server
        // writes this directory (under its data dir), by `store`, atomically; a file it cannot
        // use (wrong engine, damaged, or of the other format) is refused by wasmtime's header
        // checks and compiled again.
        let loaded = match format {
            Format::Module => {
                unsafe { Module::deserialize_file(engine, &path) }.map(Compiled::Module)
            }
            Format::Component => {
                unsafe { Component::deserialize_file(engine, &path) }.map(Compiled::Component)
            }
        };
        match loaded {
            Ok(compiled) => Some(compiled),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compiled module unusable, compiling again");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes the artifact; a failure only costs a compile after the next restart.
    pub(crate) fn store(&self, digest: &str, compiled: &Compiled) {
        static STAGING: AtomicU64 = AtomicU64::new(0);
        let path = self.path(digest);
        let staging = self.dir.join(format!(
            "{digest}.{}.{}.partial",
            std::process::id(),
            STAGING.fetch_add(1, Ordering::Relaxed)
        ));
        // Written aside and renamed, so a crash never leaves half an artifact under the name.
        let serialized = match compiled {
            Compiled::Module(module) => module.serialize(),
            Compiled::Component(component) => component.serialize(),
        };
        let written = serialized
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_private(&staging, &bytes).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&staging, &path).map_err(|e| e.to_string()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staging);
            tracing::warn!(path = %path.display(), error = %e, "compiled module not cached");
        }
    }
}

/// A file readable by its owner only (a staging name is new, so the mode applies).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

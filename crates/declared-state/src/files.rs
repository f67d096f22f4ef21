//! Declared files: local, read-only copies of data objects, fetched once per host and shared
//! by every process of every action that declares them. The cache is bounded in bytes (least
//! recently used copies go first) and keyed by the object's version, so a replaced object is
//! fetched again and its old copy dropped.
//!
//! Sandboxed functions see the cache read-only at its host path, so its directories can be
//! entered but not listed by them (0711), and each object's directory is named by a keyed hash
//! of namespace and name with a key drawn at start: a function learns only the paths of its own
//! namespace's files, the ones it is handed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::{LocalFile, StateBackend};

pub(crate) struct FileCache {
    dir: PathBuf,
    /// Where functions see `dir`.
    seen_at: PathBuf,
    /// Keys the directory names (see the module doc).
    key: [u8; 32],
    budget_bytes: u64,
    index: Mutex<Index>,
    /// One fetch at a time per object: concurrent first uses wait for the same download.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Index {
    /// By `<namespace>/<name>`: the copy of its current version.
    copies: HashMap<String, CachedCopy>,
    /// Bumped on every use; the smallest is the least recently used.
    clock: u64,
    bytes: u64,
}

struct CachedCopy {
    version: String,
    dir: PathBuf,
    path: PathBuf,
    size: u64,
    used: u64,
}

impl FileCache {
    /// A cache in `dir` (emptied: copies from an earlier run are not trusted) holding at most
    /// `budget_bytes` (one file larger than that is still served, alone).
    pub(crate) fn new(
        dir: PathBuf,
        budget_bytes: u64,
        seen_at: PathBuf,
    ) -> std::io::Result<FileCache> {
        // Emptied in place: sandboxes made before this bind the directory itself.
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        enter_only(&dir)?;
        Ok(FileCache {
            dir,
            seen_at,
            key: rand::random(),
            budget_bytes,
            index: Mutex::default(),
            fetching: Mutex::default(),
        })
    }

    /// The local copy of `namespace`'s data object `name`, fetched through `backend` when the
    /// host has no copy of its current version.
    pub(crate) async fn local(
        &self,
        backend: &dyn StateBackend,
        namespace: &str,
        name: &str,
    ) -> Result<LocalFile, String> {
        let id = format!("{namespace}/{name}");
        let version = backend
            .object_version(namespace, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "there is no such object in the namespace's data store".to_string())?;
        if let Some(file) = self.hit(&id, &version) {
            return Ok(file);
        }
        let gate = self.gate(&id);
        let _fetching = gate.lock().await;
        // Whoever held the gate before may have fetched this very version.
        if let Some(file) = self.hit(&id, &version) {
            return Ok(file);
        }
        let result = self.fetch(backend, namespace, name, &id).await;
        drop(_fetching);
        self.release_gate(&id, gate);
        result
    }

    fn hit(&self, id: &str, version: &str) -> Option<LocalFile> {
        let mut index = self.lock();
        index.clock += 1;
        let now = index.clock;
        let copy = index.copies.get_mut(id).filter(|c| c.version == version)?;
        copy.used = now;
        Some(LocalFile {
            path: self.seen(&copy.path),
            version: copy.version.clone(),
            fetched: false,
        })
    }

    async fn fetch(
        &self,
        backend: &dyn StateBackend,
        namespace: &str,
        name: &str,
        id: &str,
    ) -> Result<LocalFile, String> {
        let staging = self.dir.join(format!(".fetch-{}", self.name_of(id)));
        let _ = tokio::fs::remove_file(&staging).await;
        // The version is the one of the bytes actually fetched, whatever a head said before.
        let fetched = backend.download(namespace, name, &staging).await;
        let (version, size) = match fetched {
            Ok(v) => v,
            Err(e) => {
                let _ = tokio::fs::remove_file(&staging).await;
                return Err(e.to_string());
            }
        };
        let object_dir = self.dir.join(self.name_of(id));
        let dir = object_dir.join(hex(version.as_bytes()));
        let file_name = Path::new(name)
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_owned());
        let path = dir.join(file_name);
        let placed = async {
            tokio::fs::create_dir_all(&dir).await?;
            enter_only(&object_dir)?;
            enter_only(&dir)?;
            tokio::fs::rename(&staging, &path).await?;
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).await
        };
        if let Err(e) = placed.await {
            let _ = tokio::fs::remove_file(&staging).await;
            return Err(format!("cannot place the copy in the host's cache: {e}"));
        }
        let evicted = self.insert(
            id,
            CachedCopy {
                version: version.clone(),
                dir,
                path: path.clone(),
                size,
                used: 0,
            },
        );
        for dir in evicted {
            // A process that opened the file keeps reading it; the name goes now.
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        Ok(LocalFile {
            path: self.seen(&path),
            version,
            fetched: true,
        })
    }

    /// Records `copy` as `id`'s current one; returns the directories to delete: the older
    /// version's, and the least recently used copies past the budget.
    fn insert(&self, id: &str, mut copy: CachedCopy) -> Vec<PathBuf> {
        let mut index = self.lock();
        index.clock += 1;
        copy.used = index.clock;
        index.bytes += copy.size;
        let mut evicted = Vec::new();
        if let Some(old) = index.copies.insert(id.to_string(), copy) {
            index.bytes -= old.size;
            evicted.push(old.dir);
        }
        while index.bytes > self.budget_bytes {
            let Some(oldest) = index
                .copies
                .iter()
                .filter(|(key, _)| key.as_str() != id)
                .min_by_key(|(_, c)| c.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            let old = index.copies.remove(&oldest).expect("just found");
            index.bytes -= old.size;
            evicted.push(old.dir);
        }
        evicted
    }

    fn gate(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.fetching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Forgets the gate when nobody else holds or waits for it.
    fn release_gate(&self, id: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        drop(gate);
        if gates.get(id).is_some_and(|g| Arc::strong_count(g) == 1) {
            gates.remove(id);
        }
    }

    /// The files a copy is kept of, as (namespace, name).
    pub(crate) fn cached(&self) -> Vec<(String, String)> {
        self.lock()
            .copies
            .keys()
            .filter_map(|id| id.split_once('/'))
            .map(|(namespace, name)| (namespace.to_owned(), name.to_owned()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A short, filesystem-safe name for arbitrary text.
impl FileCache {
    /// Where functions see the copy at `path`.
    fn seen(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.dir)
            .map_or_else(|_| path.to_path_buf(), |rest| self.seen_at.join(rest))
    }

    /// The directory name of object `id`: unguessable without the cache's key.
    fn name_of(&self, id: &str) -> String {
        let mut keyed = self.key.to_vec();
        keyed.extend_from_slice(id.as_bytes());
        hex(&keyed)
    }
}

/// Others (sandboxed functions) may pass through the directory but not list it.
fn enter_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{KeyValues, StateBackendError};
    use wisp_core::BoxFuture;

    /// Objects held in memory, counting downloads: what the cache must save.
    #[derive(Default)]
    struct Objects {
        files: Mutex<HashMap<String, (String, Vec<u8>)>>,
        downloads: AtomicUsize,
    }

    impl Objects {
        fn put(&self, name: &str, version: &str, bytes: &[u8]) {
            let mut files = self.files.lock().unwrap();
            files.insert(name.into(), (version.into(), bytes.to_vec()));
        }
    }

    impl StateBackend for Objects {
        fn load<'a>(
            &'a self,
            _: &'a str,
            _: Vec<String>,
        ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StateBackendError>> {
            unreachable!("files only")
        }
        fn commit<'a>(
            &'a self,
            _: &'a str,
            _: KeyValues,
            _: KeyValues,
        ) -> BoxFuture<'a, Result<bool, StateBackendError>> {
            unreachable!("files only")
        }
        fn object_version<'a>(
            &'a self,
            _: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<String>, StateBackendError>> {
            let found = self.files.lock().unwrap().get(name).map(|f| f.0.clone());
            Box::pin(async move { Ok(found) })
        }
        fn download<'a>(
            &'a self,
            _: &'a str,
            name: &'a str,
            dest: &'a Path,
        ) -> BoxFuture<'a, Result<(String, u64), StateBackendError>> {
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                self.downloads.fetch_add(1, Ordering::SeqCst);
                let (version, bytes) = self.files.lock().unwrap()[name].clone();
                std::fs::write(dest, &bytes).map_err(|e| StateBackendError::LocalCopy(e.kind()))?;
                Ok((version, bytes.len() as u64))
            })
        }
    }

    fn cache(budget: u64) -> (tempfile::TempDir, FileCache) {
        let dir = tempfile::Builder::new()
            .prefix("wisp-file-cache-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("cache");
        let cache = FileCache::new(root.clone(), budget, root).unwrap();
        (dir, cache)
    }

    #[tokio::test]
    async fn concurrent_first_uses_share_one_fetch_and_later_uses_hit() {
        let objects = Arc::new(Objects::default());
        objects.put("models/m.bin", "v1", b"weights");
        let (_dir, cache) = cache(1 << 20);
        let cache = Arc::new(cache);
        let mut uses = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (objects, cache) = (objects.clone(), cache.clone());
            uses.spawn(async move { cache.local(objects.as_ref(), "ns", "models/m.bin").await });
        }
        let mut files = Vec::new();
        while let Some(used) = uses.join_next().await {
            files.push(used.unwrap().unwrap());
        }
        assert_eq!(objects.downloads.load(Ordering::SeqCst), 1);
        assert_eq!(files.iter().filter(|f| f.fetched).count(), 1);
        let path = &files[0].path;
        assert!(files.iter().all(|f| &f.path == path && f.version == "v1"));
        assert_eq!(std::fs::read(path).unwrap(), b"weights");
        assert!(std::fs::metadata(path).unwrap().permissions().readonly());
        // What the invoker's heartbeat says it holds, for placement.
        assert_eq!(
            cache.cached(),
            [("ns".to_owned(), "models/m.bin".to_owned())]
        );
        // Sandboxed functions may read it and pass through its directories, not list them.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path), 0o444);
        for dir in path.ancestors().skip(1).take(3) {
            assert_eq!(mode(dir), 0o711, "{}", dir.display());
        }
        // Another namespace's object of the same name is another copy.
        objects.put("models/m.bin", "v1", b"weights");
        let other = cache
            .local(objects.as_ref(), "other", "models/m.bin")
            .await
            .unwrap();
        assert!(other.fetched && &other.path != path);
    }

    #[tokio::test]
    async fn a_new_version_is_fetched_and_the_old_copy_removed() {
        let objects = Objects::default();
        objects.put("m", "v1", b"old");
        let (_dir, cache) = cache(1 << 20);
        let first = cache.local(&objects, "ns", "m").await.unwrap();
        objects.put("m", "v2", b"new");
        let second = cache.local(&objects, "ns", "m").await.unwrap();
        assert!(second.fetched && second.version == "v2");
        assert_eq!(std::fs::read(&second.path).unwrap(), b"new");
        assert!(!first.path.exists(), "the old version's copy is gone");
        assert!(cache.local(&objects, "ns", "absent").await.is_err());
    }

    #[tokio::test]
    async fn past_the_budget_the_least_recently_used_copy_goes() {
        let objects = Objects::default();
        for name in ["a", "b", "c"] {
            objects.put(name, "v", &[0; 40]);
        }
        let (_dir, cache) = cache(100);
        let a = cache.local(&objects, "ns", "a").await.unwrap();
        let b = cache.local(&objects, "ns", "b").await.unwrap();
        assert!(
            !cache.local(&objects, "ns", "a").await.unwrap().fetched,
            "a is used again"
        );
        let c = cache.local(&objects, "ns", "c").await.unwrap();
        assert!(a.path.exists() && c.path.exists());
        assert!(!b.path.exists(), "b was the least recently used");
        assert!(cache.local(&objects, "ns", "b").await.unwrap().fetched);
    }
}

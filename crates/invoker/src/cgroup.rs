//! Memory limits enforced by the kernel: one cgroup (v1 memory controller) per runtime
//! process, created under the server's own cgroup, limited when the process is specialised.
//!
//! Where no writable memory controller exists (cgroup v2 hosts, unprivileged users) there are
//! no cgroups and `run.rs` falls back to polling each process's resident memory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const V1_MEMORY: &str = "/sys/fs/cgroup/memory";

/// The subtree of cgroups this server creates, removed when it is dropped.
pub struct MemoryCgroups {
    root: PathBuf,
    next: AtomicU64,
}

impl MemoryCgroups {
    /// A subtree under the server's own v1 memory cgroup, if one can be created.
    pub fn detect() -> Option<Arc<MemoryCgroups>> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let own = own.lines().find_map(v1_memory_path)?;
        let parent = Path::new(V1_MEMORY).join(own.trim_start_matches('/'));
        remove_stale(&parent);
        let root = parent.join(format!("wisp-{}", std::process::id()));
        match std::fs::create_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        root.join("memory.limit_in_bytes").exists().then(|| {
            Arc::new(MemoryCgroups {
                root,
                next: AtomicU64::new(0),
            })
        })
    }

    /// A new, unlimited cgroup for one process.
    pub fn create(self: &Arc<Self>) -> io::Result<MemoryCgroup> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.root.join(format!("p{n}"));
        std::fs::create_dir(&dir)?;
        Ok(MemoryCgroup {
            dir,
            _tree: self.clone(),
        })
    }
}

impl Drop for MemoryCgroups {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// The memory cgroup of one runtime process; removed when dropped (after the process is gone).
pub struct MemoryCgroup {
    dir: PathBuf,
    /// Keeps the subtree alive while any of its cgroups is.
    _tree: Arc<MemoryCgroups>,
}

impl MemoryCgroup {
    /// The file a process joins the cgroup through: writing `0` to it moves the writer in.
    /// Opened before a fork so the child can join between fork and exec, before it allocates
    /// anything (v1 charges memory to the cgroup a page was allocated in).
    pub fn procs_file(&self) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
    }

    /// Caps the memory of everything in the cgroup; past it the kernel kills the process.
    pub fn limit(&self, bytes: u64) -> io::Result<()> {
        std::fs::write(self.dir.join("memory.limit_in_bytes"), bytes.to_string())?;
        // With swap accounting, also cap memory + swap so the limit cannot be dodged by
        // swapping. The file is absent without it.
        let memsw = self.dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            std::fs::write(memsw, bytes.to_string())?;
        }
        Ok(())
    }

    /// Whether the kernel has killed a process here for exceeding the limit.
    pub fn oom_killed(&self) -> bool {
        std::fs::read_to_string(self.dir.join("memory.oom_control"))
            .ok()
            .and_then(|control| oom_kills(&control))
            .is_some_and(|n| n > 0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Fails (EBUSY) only if something in it is still alive; the process group was killed.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The path of the v1 memory controller in one line of `/proc/self/cgroup`
/// (`4:memory:/some/path`).
fn v1_memory_path(line: &str) -> Option<&str> {
    let mut fields = line.splitn(3, ':');
    let _id = fields.next()?;
    let controllers = fields.next()?;
    let path = fields.next()?;
    controllers
        .split(',')
        .any(|c| c == "memory")
        .then_some(path)
}

/// `oom_kill N` from `memory.oom_control`.
fn oom_kills(control: &str) -> Option<u64> {
    control
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// Removes the empty subtrees of servers that are no longer running.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("wisp-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(entry.path()) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_memory_controller_line() {
        assert_eq!(v1_memory_path("4:memory:/a/b"), Some("/a/b"));
        assert_eq!(v1_memory_path("3:cpu,memory:/"), Some("/"));
        assert_eq!(v1_memory_path("0::/user.slice"), None);
        assert_eq!(v1_memory_path("2:cpuacct:/"), None);
    }

    #[test]
    fn reads_the_oom_kill_count() {
        let control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(oom_kills(control), Some(2));
        assert_eq!(oom_kills("oom_kill_disable 0\n"), None);
    }
}

//! cgroups of sandboxes: one group per sandbox in each controller the host lets the server
//! write (memory, pids, CPU), v1 hierarchies or one v2 tree, all under a `wisp-<pid>` subtree
//! of the server's own cgroups.
//!
//! A process is placed in its groups by the spawner before it may run, so everything it ever
//! starts is accounted there. A server that died without cleaning up (`kill -9`) left its
//! subtree behind; the next start empties and removes every subtree whose server is gone.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

/// Where one controller's groups go.
#[derive(Debug)]
struct Hierarchy {
    /// The controllers this directory tree carries (one per v1 hierarchy, several on v2).
    controllers: Vec<Controller>,
    root: PathBuf,
    v2: bool,
}

/// This server's subtrees, removed when dropped.
#[derive(Debug)]
pub(crate) struct CgroupTree {
    hierarchies: Vec<Hierarchy>,
    next: AtomicU64,
}

impl CgroupTree {
    /// The controllers among `wanted` the server can create groups in.
    pub(crate) fn detect(wanted: &[Controller]) -> Option<Arc<CgroupTree>> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mut hierarchies = Vec::new();
        for controller in Controller::ALL.into_iter().filter(|c| wanted.contains(c)) {
            if let Some(path) = own.lines().find_map(|l| v1_path(l, controller.name())) {
                let mount = Path::new("/sys/fs/cgroup").join(controller.name());
                if let Some(root) = make_subtree(&mount.join(path.trim_start_matches('/'))) {
                    if controller == Controller::Cpu {
                        weigh_subtree(&root, false);
                    }
                    hierarchies.push(Hierarchy {
                        controllers: vec![controller],
                        root,
                        v2: false,
                    });
                }
            }
        }
        let missing: Vec<Controller> = wanted
            .iter()
            .copied()
            .filter(|c| !hierarchies.iter().any(|h| h.controllers.contains(c)))
            .collect();
        if !missing.is_empty() {
            if let Some(v2) = detect_v2(&own, &missing) {
                hierarchies.push(v2);
            }
        }
        (!hierarchies.is_empty()).then(|| {
            Arc::new(CgroupTree {
                hierarchies,
                next: AtomicU64::new(0),
            })
        })
    }

    pub(crate) fn has(&self, controller: Controller) -> bool {
        self.hierarchies
            .iter()
            .any(|h| h.controllers.contains(&controller))
    }

    /// New, empty groups for one sandbox.
    pub(crate) fn create(self: &Arc<Self>) -> io::Result<Cgroup> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut dirs = Vec::new();
        for h in &self.hierarchies {
            let dir = h.root.join(format!("s{n}"));
            std::fs::create_dir(&dir)?;
            dirs.push(Group {
                controllers: h.controllers.clone(),
                dir,
                v2: h.v2,
            });
        }
        Ok(Cgroup {
            dirs,
            _tree: self.clone(),
        })
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        for h in &self.hierarchies {
            let _ = std::fs::remove_dir(&h.root);
        }
    }
}

#[derive(Debug)]
struct Group {
    controllers: Vec<Controller>,
    dir: PathBuf,
    v2: bool,
}

/// The groups of one sandbox; removed when dropped (after its processes are gone).
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<Group>,
    /// Keeps the subtree alive while any of its groups is.
    _tree: Arc<CgroupTree>,
}

impl Cgroup {
    fn dir(&self, controller: Controller) -> Option<&Group> {
        self.dirs
            .iter()
            .find(|g| g.controllers.contains(&controller))
    }

    /// Moves `pid` (and the threads of that process) into every group.
    pub(crate) fn attach(&self, pid: i32) -> io::Result<()> {
        for group in &self.dirs {
            std::fs::write(group.dir.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    pub(crate) fn limit_pids(&self, max: u64) -> io::Result<()> {
        match self.dir(Controller::Pids) {
            Some(group) => std::fs::write(group.dir.join("pids.max"), max.to_string()),
            None => Ok(()),
        }
    }

    /// Whether the kernel enforces memory limits on this sandbox.
    pub fn limits_memory(&self) -> bool {
        self.dir(Controller::Memory).is_some()
    }

    /// Caps the memory of everything in the sandbox; past it the kernel kills a process.
    pub fn limit_memory(&self, bytes: u64) -> io::Result<()> {
        let Some(group) = self.dir(Controller::Memory) else {
            return Ok(());
        };
        if group.v2 {
            std::fs::write(group.dir.join("memory.max"), bytes.to_string())?;
            // Swapping past the limit would only slow the limit down.
            let _ = std::fs::write(group.dir.join("memory.swap.max"), "0");
            return Ok(());
        }
        std::fs::write(group.dir.join("memory.limit_in_bytes"), bytes.to_string())?;
        // With swap accounting, also cap memory + swap so the limit cannot be dodged by
        // swapping. The file is absent without it.
        let memsw = group.dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            std::fs::write(memsw, bytes.to_string())?;
        }
        Ok(())
    }

    /// A CPU share in proportion to the memory the action reserved, as OpenWhisk gives
    /// containers (256 MB weighs as much as an ordinary process).
    pub fn weigh_cpu(&self, memory_mb: u64) -> io::Result<()> {
        let Some(group) = self.dir(Controller::Cpu) else {
            return Ok(());
        };
        let shares = (memory_mb * 1024 / 256).clamp(2, 262_144);
        if group.v2 {
            let weight = 1 + (shares - 2) * 9999 / 262_142;
            std::fs::write(group.dir.join("cpu.weight"), weight.to_string())
        } else {
            std::fs::write(group.dir.join("cpu.shares"), shares.to_string())
        }
    }

    /// Whether the kernel has killed a process here for exceeding the memory limit.
    pub fn oom_killed(&self) -> bool {
        let Some(group) = self.dir(Controller::Memory) else {
            return false;
        };
        let file = if group.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(group.dir.join(file))
            .ok()
            .and_then(|text| oom_kills(&text))
            .is_some_and(|n| n > 0)
    }

    /// How many forks the pids limit has refused.
    pub fn pids_refused(&self) -> u64 {
        let Some(group) = self.dir(Controller::Pids) else {
            return 0;
        };
        std::fs::read_to_string(group.dir.join("pids.events"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("max "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    }

    /// The most tasks the sandbox may have.
    pub fn pids_max(&self) -> Option<u64> {
        let group = self.dir(Controller::Pids)?;
        std::fs::read_to_string(group.dir.join("pids.max"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The host pids of the processes in the sandbox.
    pub fn processes(&self) -> io::Result<Vec<i32>> {
        // Opened afresh each time: cgroup v1 keeps the list it read for an open file for a
        // second, so a file kept open would miss a process started meanwhile.
        let group = self.dirs.first().ok_or(io::ErrorKind::NotFound)?;
        let text = std::fs::read_to_string(group.dir.join("cgroup.procs"))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Memory charged to the sandbox, in bytes.
    pub fn memory_used(&self) -> Option<u64> {
        let group = self.dir(Controller::Memory)?;
        let file = if group.v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        std::fs::read_to_string(group.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for group in &self.dirs {
            // Fails (EBUSY) only if something in it is still alive.
            if std::fs::remove_dir(&group.dir).is_err() {
                kill_all(&group.dir);
                let _ = std::fs::remove_dir(&group.dir);
            }
        }
    }
}

/// `<own>/wisp-<pid>`, after removing what servers that are gone left beside it.
fn make_subtree(own: &Path) -> Option<PathBuf> {
    remove_stale(own);
    let root = own.join(format!("wisp-{}", std::process::id()));
    match std::fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    // A group we cannot place processes in is of no use.
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("cgroup.procs"))
        .ok()
        .map(|_| root)
}

/// The weight of all sandboxes together against the server's own threads and the host's
/// other processes: as much as 32 ordinary processes, what the runtimes had before they were
/// grouped (one group of default weight would make every runtime together weigh as one
/// process, and starve them under load).
fn weigh_subtree(root: &Path, v2: bool) {
    let written = if v2 {
        std::fs::write(root.join("cpu.weight"), "3200")
    } else {
        std::fs::write(root.join("cpu.shares"), (32 * 1024).to_string())
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "the sandboxes' cpu weight is the default");
    }
}

/// cgroup v2: controllers must be enabled down to our subtree, which the kernel allows only
/// from a group with no processes of its own; the server's own group usually has them, so v2
/// works where the operator delegated an empty parent (systemd `Delegate=yes`) and the server
/// runs in a leaf below it.
fn detect_v2(own: &str, wanted: &[Controller]) -> Option<Hierarchy> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mount = Path::new("/sys/fs/cgroup");
    let available = std::fs::read_to_string(mount.join("cgroup.controllers")).ok()?;
    let mine = mount.join(path.trim_start_matches('/'));
    // The root group may hold processes and still enable controllers; any other group of
    // ours does, so the subtree goes beside it.
    let parent = if path == "/" {
        mine
    } else {
        mine.parent()?.to_path_buf()
    };
    let controllers: Vec<Controller> = wanted
        .iter()
        .copied()
        .filter(|c| available.split_whitespace().any(|a| a == c.name()))
        .collect();
    if controllers.is_empty() {
        return None;
    }
    let enable: String = controllers
        .iter()
        .map(|c| format!("+{} ", c.name()))
        .collect();
    // Enabled in the parent (ours are its children), then in our subtree root.
    std::fs::write(parent.join("cgroup.subtree_control"), enable.trim()).ok()?;
    let root = make_subtree(&parent)?;
    std::fs::write(root.join("cgroup.subtree_control"), enable.trim()).ok()?;
    if controllers.contains(&Controller::Cpu) {
        weigh_subtree(&root, true);
    }
    Some(Hierarchy {
        controllers,
        root,
        v2: true,
    })
}

/// The path of v1 `controller` in one line of `/proc/self/cgroup` (`4:memory:/some/path`).
fn v1_path<'a>(line: &'a str, controller: &str) -> Option<&'a str> {
    let mut fields = line.splitn(3, ':');
    let _id = fields.next()?;
    let controllers = fields.next()?;
    let path = fields.next()?;
    controllers
        .split(',')
        .any(|c| c == controller)
        .then_some(path)
}

/// `oom_kill N` from v1 `memory.oom_control` or v2 `memory.events`.
fn oom_kills(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// Kills every process left in a group (v2 has `cgroup.kill`; v1 is killed pid by pid, a
/// few rounds in case one forked meanwhile).
fn kill_all(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for _ in 0..10 {
        let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
            return;
        };
        let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: plain syscall on a pid read from the group.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Empties and removes the subtrees of servers that are no longer running.
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
                kill_all(&child.path());
                // Processes take a moment to leave the group after SIGKILL.
                for _ in 0..50 {
                    if std::fs::remove_dir(child.path()).is_ok() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_controller_line() {
        assert_eq!(v1_path("4:memory:/a/b", "memory"), Some("/a/b"));
        assert_eq!(v1_path("3:cpu,cpuacct:/", "cpu"), Some("/"));
        assert_eq!(v1_path("0::/user.slice", "memory"), None);
        assert_eq!(v1_path("2:cpuacct:/", "cpu"), None);
    }

    #[test]
    fn reads_the_oom_kill_count() {
        let control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(oom_kills(control), Some(2));
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            Some(1)
        );
        assert_eq!(oom_kills("oom_kill_disable 0\n"), None);
    }
}

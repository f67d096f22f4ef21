//! The root file system of a sandbox, as a list of steps prepared before `clone(2)`: the child
//! runs them with no allocation (see `child.rs`), so every path is a ready C string here.
//!
//! The root is a small tmpfs holding only: `/usr` (and the `/bin`, `/lib` ... links into it)
//! read-only, a few files of `/etc` read-only plus generated `passwd`, `group` and `hosts`,
//! device nodes `null`, `zero`, `full`, `random`, `urandom`, a fresh `/proc` of the sandbox's
//! own PID namespace, a private `/tmp` of limited size, the operator's read-only binds
//! (interpreters outside `/usr`, the launchers, bundled modules) and an empty `/action` where
//! an action's unpacked code is mounted later. Everything else of the host is absent.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::Bind;

/// Where an action's unpacked code is mounted, read-only.
pub const ACTION_DIR: &str = "/action";

/// Host files of `/etc` a runtime may read (TLS roots, name resolution, time zone, the
/// loader's cache). Absent ones are skipped.
const ETC_FILES: &[&str] = &[
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/mime.types",
];

const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// Top-level links of merged-`/usr` systems; bound instead where the host has directories.
const USR_LINKS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

pub(crate) enum Step {
    Mkdir(CString),
    Symlink {
        target: CString,
        path: CString,
    },
    /// An empty file to bind a file onto.
    Touch(CString),
    File {
        path: CString,
        contents: Vec<u8>,
    },
    Tmpfs {
        path: CString,
        options: CString,
    },
    /// A read-only bind of `Plan::sources[source]`; `flags` keeps the source's
    /// nosuid/nodev/noexec, which a user namespace may not drop.
    Bind {
        source: usize,
        path: CString,
        flags: libc::c_ulong,
    },
    Proc(CString),
}

/// Most host paths one sandbox binds (the child keeps their mounts in a fixed array).
pub(crate) const MAX_SOURCES: usize = 64;

pub(crate) struct Plan {
    /// The mount point of the new root (on the host, the same for every sandbox: each
    /// mounts its own tmpfs there in its own mount namespace).
    pub root: CString,
    /// Host paths to bind, opened (as detached mounts) before the child gives up the
    /// server's uid, which alone may look them up.
    pub sources: Vec<CString>,
    /// Steps with paths relative to the new root, the child's working directory.
    pub steps: Vec<Step>,
}

pub(crate) struct Sizes {
    pub tmp_mb: u64,
}

impl Plan {
    pub(crate) fn new(root: &Path, binds: &[Bind], sizes: Sizes, uid: u32, gid: u32) -> Plan {
        let mut plan = Plan {
            root: c_path(root),
            sources: Vec::new(),
            steps: Vec::new(),
        };
        let at = |inside: &str| PathBuf::from(inside.trim_start_matches('/'));
        let root = Path::new("");
        plan.bind_dir(Path::new("/usr"), &at("/usr"));
        for name in USR_LINKS {
            let host = Path::new("/").join(name);
            match std::fs::read_link(&host) {
                Ok(target) => plan.steps.push(Step::Symlink {
                    target: c_path(&target),
                    path: c_path(&at(name)),
                }),
                Err(_) if host.is_dir() => plan.bind_dir(&host, &at(name)),
                Err(_) => {}
            }
        }
        plan.mkdir(&at("/etc"));
        for file in ETC_FILES {
            let host = Path::new(file);
            if host.is_dir() {
                plan.bind_dir(host, &at(file));
            } else if host.exists() {
                plan.bind_file(host, &at(file));
            }
        }
        plan.file(
            &at("/etc/passwd"),
            format!(
                "root:x:0:0:root:/:/bin/false\nsandbox:x:{uid}:{gid}:sandbox:/tmp:/bin/false\n"
            ),
        );
        plan.file(&at("/etc/group"), format!("root:x:0:\nsandbox:x:{gid}:\n"));
        plan.file(
            &at("/etc/hosts"),
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n".into(),
        );
        plan.file(&at("/etc/hostname"), "wisp\n".into());

        plan.mkdir(&at("/dev"));
        for device in DEVICES {
            plan.bind_file(
                &Path::new("/dev").join(device),
                &at(&format!("/dev/{device}")),
            );
        }
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            plan.steps.push(Step::Symlink {
                target: c_str(target),
                path: c_path(&at(&format!("/dev/{name}"))),
            });
        }
        plan.mkdir(&at("/dev/shm"));
        plan.steps.push(Step::Tmpfs {
            path: c_path(&at("/dev/shm")),
            options: c_str(&format!("size={}m,mode=1777", sizes.tmp_mb.min(64))),
        });

        plan.mkdir(&at("/proc"));
        plan.steps.push(Step::Proc(c_path(&at("/proc"))));
        plan.mkdir(&at("/tmp"));
        plan.steps.push(Step::Tmpfs {
            path: c_path(&at("/tmp")),
            options: c_str(&format!("size={}m,mode=1777", sizes.tmp_mb)),
        });
        plan.mkdir(&at(ACTION_DIR));
        for bind in binds {
            let target = at(&bind.inside.to_string_lossy());
            for parent in target
                .ancestors()
                .skip(1)
                .take_while(|p| *p != root)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                plan.mkdir(parent);
            }
            if bind.host.is_dir() {
                plan.bind_dir(&bind.host, &target);
            } else {
                plan.bind_file(&bind.host, &target);
            }
        }
        plan
    }

    fn mkdir(&mut self, path: &Path) {
        let path = c_path(path);
        let exists = self.steps.iter().any(|s| match s {
            Step::Mkdir(p) => *p == path,
            _ => false,
        });
        if !exists {
            self.steps.push(Step::Mkdir(path));
        }
    }

    fn bind_dir(&mut self, host: &Path, path: &Path) {
        self.mkdir(path);
        self.bind(host, path);
    }

    fn bind_file(&mut self, host: &Path, path: &Path) {
        self.steps.push(Step::Touch(c_path(path)));
        self.bind(host, path);
    }

    fn bind(&mut self, host: &Path, path: &Path) {
        if self.sources.len() >= MAX_SOURCES {
            tracing::warn!(path = %host.display(), "too many binds for a sandbox; left out");
            return;
        }
        self.sources.push(c_path(host));
        self.steps.push(Step::Bind {
            source: self.sources.len() - 1,
            path: c_path(path),
            flags: locked_flags(host),
        });
    }

    fn file(&mut self, path: &Path, contents: String) {
        self.steps.push(Step::File {
            path: c_path(path),
            contents: contents.into_bytes(),
        });
    }
}

/// The mount flags of `path`'s file system that a read-only remount must repeat.
fn locked_flags(path: &Path) -> libc::c_ulong {
    let mut flags = 0;
    // SAFETY: `stat` is a valid out-parameter and the path a valid C string.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path(path).as_ptr(), &mut stat) == 0 {
            for (st, ms) in [
                (libc::ST_NOSUID, libc::MS_NOSUID),
                (libc::ST_NODEV, libc::MS_NODEV),
                (libc::ST_NOEXEC, libc::MS_NOEXEC),
            ] {
                if stat.f_flag & st != 0 {
                    flags |= ms;
                }
            }
        }
    }
    flags
}

pub(crate) fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_else(|_| c_str("/nonexistent"))
}

pub(crate) fn c_str(text: &str) -> CString {
    CString::new(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Bind { path, .. } => Some(path.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn binds_usr_and_the_operators_paths_and_nothing_of_the_data_dir() {
        let binds = [Bind {
            host: PathBuf::from("/usr/share"),
            inside: PathBuf::from("/wisp/share"),
        }];
        let plan = Plan::new(Path::new("/r"), &binds, Sizes { tmp_mb: 8 }, 1000, 1000);
        let bound = names(&plan);
        assert!(bound.contains(&"usr".to_string()), "{bound:?}");
        assert!(bound.contains(&"wisp/share".to_string()), "{bound:?}");
        assert!(bound.contains(&"dev/null".to_string()), "{bound:?}");
        let sources: Vec<_> = plan.sources.iter().map(|s| s.to_string_lossy()).collect();
        assert!(sources.contains(&"/usr/share".into()), "{sources:?}");
        assert!(!sources.iter().any(|b| b.contains("/root")), "{sources:?}");
        // The bind's parent is made before the bind.
        let mkdir = plan
            .steps
            .iter()
            .position(|s| matches!(s, Step::Mkdir(p) if p.to_bytes() == b"wisp"));
        let bind = plan
            .steps
            .iter()
            .position(|s| matches!(s, Step::Bind { path, .. } if path.to_bytes() == b"wisp/share"));
        assert!(mkdir.unwrap() < bind.unwrap());
    }

    #[test]
    fn tmp_has_the_configured_size() {
        let plan = Plan::new(Path::new("/r"), &[], Sizes { tmp_mb: 8 }, 1000, 1000);
        assert!(plan.steps.iter().any(|s| matches!(s,
            Step::Tmpfs { path, options } if path.to_bytes() == b"tmp"
                && options.to_bytes() == b"size=8m,mode=1777")));
    }
}

//! The tenant sandbox: every runtime process Wisp starts runs in a Linux sandbox of its own.
//!
//! A sandbox is made with one `clone(2)` into new user, PID, mount, IPC, UTS and (unless the
//! operator chose the host's network) network namespaces. The cloned child, still privileged
//! inside its namespaces, builds a read-only root of only what a runtime needs, drops to an
//! unprivileged host uid that owns nothing of the platform, installs a seccomp filter, forks the
//! runtime and becomes a tiny init (the `wisp` binary re-executed, see [`init`]) that reaps
//! orphans; when the runtime exits, init exits and the kernel ends everything left in the PID
//! namespace. cgroups (memory, pids, CPU; v1 or v2) bound what the whole sandbox can use.
//!
//! All of it happens when a stem cell is made, off the invoke path. What is deliberately absent:
//! this crate knows nothing of kinds, actions or the pipe protocol; the invoker says which
//! program to run, with which read-only binds, and owns the pipes.
//!
//! `docs/SECURITY.md` is the threat model; each layer is named there with the attack it stops.

mod cgroup;
mod child;
mod forward;
mod ids;
pub mod init;
mod namespace;
mod netlink;
mod plan;
mod policy;
mod probe;
mod redirect;
mod seccomp;
mod spawner;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cgroup::Cgroup;
pub use forward::Forwarders;
pub use policy::{Cidr, Outbound};
pub use spawner::Sandboxed;

/// How strictly the operator wants functions sandboxed (`--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse to start unless every layer is available.
    Required,
    /// Use every layer the host allows and say which.
    Auto,
    /// No sandbox: functions run as the server's user, as processes of the host.
    Off,
}

/// What a function's network namespace reaches (`--function-network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Its own network namespace whose TCP connections and DNS queries the server carries:
    /// to the platform's endpoints (API, key-value, S3) and to the outside network as the
    /// [`Outbound`] policy allows, never to the host's other services.
    Isolated,
    /// Its own network namespace with only a loopback interface.
    None,
    /// The host's network, loopback services included: for trusted single-user machines.
    Host,
}

/// A read-only bind of a host path into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: PathBuf,
    pub inside: PathBuf,
}

/// Operator settings of the sandbox.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub network: Network,
    /// Read-only binds every sandbox gets (interpreters outside `/usr`, launchers, modules).
    pub binds: Vec<Bind>,
    /// Size of each sandbox's private `/tmp`, in MB.
    pub tmp_mb: u64,
    /// Most tasks (processes and threads) a sandbox may have.
    pub pids_max: u64,
    /// The per-process kernel memory limits, by cgroup, instead of polling.
    pub memory_cgroups: bool,
    /// An empty directory the server owns, mount point of every sandbox's root.
    pub scratch: PathBuf,
    /// The platform's endpoints (API, key-value, S3) as they listen, which functions in
    /// isolated networks reach at the same addresses; one listening on an unspecified address
    /// (`0.0.0.0:port`) is reached at 127.0.0.1 and at every address of the host.
    pub endpoints: Vec<std::net::SocketAddr>,
    /// What functions in isolated networks reach beyond the platform.
    pub outbound: Outbound,
    /// The program run as each sandbox's init: a binary whose `main` starts with
    /// [`init::run_if_requested`] (the `wisp` binary).
    pub init_program: PathBuf,
}

/// The layers in force, as detected at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layers {
    /// User, PID, mount, IPC and UTS namespaces, a read-only root and an unprivileged uid.
    pub namespaces: bool,
    pub network_namespace: bool,
    /// Isolated networks reach the outside (TCP and DNS) through the server.
    pub outbound: bool,
    pub seccomp: bool,
    pub memory_cgroup: bool,
    pub pids_cgroup: bool,
    pub cpu_cgroup: bool,
}

impl Layers {
    /// Whether anything is missing that `--sandbox=required` needs.
    pub fn missing(&self, network: Network) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.namespaces {
            missing.push("user, PID and mount namespaces");
        }
        if network != Network::Host && !self.network_namespace {
            missing.push("network namespaces");
        }
        if network == Network::Isolated && !self.outbound {
            missing.push("nf_tables redirection for functions' outbound connections");
        }
        if !self.seccomp {
            missing.push("seccomp");
        }
        if !self.pids_cgroup {
            missing.push("a pids cgroup");
        }
        if !self.memory_cgroup {
            missing.push("a memory cgroup");
        }
        missing
    }
}

impl std::fmt::Display for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut on = Vec::new();
        if self.namespaces {
            on.push("user/pid/mount/ipc/uts namespaces, read-only root, unprivileged uid");
        }
        if self.network_namespace {
            on.push(if self.outbound {
                "network namespace (outbound through the server)"
            } else {
                "network namespace"
            });
        }
        if self.seccomp {
            on.push("seccomp");
        }
        let cgroups: Vec<&str> = [
            (self.memory_cgroup, "memory"),
            (self.pids_cgroup, "pids"),
            (self.cpu_cgroup, "cpu"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        if !cgroups.is_empty() {
            on.push("cgroups");
        }
        if on.is_empty() {
            return f.write_str("none");
        }
        write!(f, "{}", on.join(", "))?;
        if !cgroups.is_empty() {
            write!(f, " ({})", cgroups.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox is required but this host lacks {0}; run as root or enable unprivileged user namespaces, or start with --sandbox=auto")]
    Unavailable(String),
    #[error("could not start a sandboxed process: {0}")]
    Spawn(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One program to start in a sandbox.
pub struct Spec<'a> {
    /// The program and its arguments, as paths inside the sandbox.
    pub program: &'a Path,
    pub args: &'a [String],
    /// The whole environment (nothing of the server's is inherited).
    pub env: &'a [(String, String)],
    /// The working directory inside the sandbox.
    pub cwd: &'a Path,
    /// The child's stdin, stdout, stderr and fd 3.
    pub stdio: [OwnedFd; 4],
}

/// The sandbox factory of one server: detected layers, its cgroup tree, its uid range.
#[derive(Clone)]
pub struct Sandboxes {
    inner: Arc<spawner::Spawner>,
}

impl Sandboxes {
    /// Detects the layers the host allows and prepares what sandboxes share. With
    /// [`Mode::Required`], a missing layer is an error.
    pub fn new(config: Config) -> Result<Sandboxes, SandboxError> {
        let mut spawner = spawner::Spawner::start(config)?;
        probe::layers(&mut spawner)?;
        Ok(Sandboxes {
            inner: Arc::new(spawner),
        })
    }

    pub fn layers(&self) -> Layers {
        self.inner.layers
    }

    /// Where a host path bound into every sandbox (`Config::binds`) is seen by the process:
    /// inside the sandbox when it has a root of its own, else on the host.
    pub fn visible(&self, bind: &Bind) -> PathBuf {
        if self.inner.layers.namespaces {
            bind.inside.clone()
        } else {
            bind.host.clone()
        }
    }

    /// Starts `spec` in a new sandbox. Blocking for the sandbox's setup (about a
    /// millisecond): call it off the async threads.
    pub fn spawn(&self, spec: Spec<'_>) -> Result<Sandboxed, SandboxError> {
        self.inner.spawn(spec)
    }
}

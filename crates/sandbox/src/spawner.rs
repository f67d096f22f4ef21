//! Making sandboxes: the layers detected at start, and [`Spawner::spawn`].
//!
//! Every `clone(2)` happens on one long-lived thread of the spawner's own: the child's
//! parent-death signal follows the thread that made it, so a thread pool's thread ending would
//! kill sandboxes. That thread only clones, writes the uid and gid maps, places the child in
//! its cgroups and lets it go (a fraction of a millisecond); the caller then waits on its own
//! thread for the child's report that the runtime is executing.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use nix::sched::CloneFlags;
use seccompiler::BpfProgram;

use crate::cgroup::{CgroupTree, Controller};
use crate::child::{self, Exec, Isolation, Prepared, Stage};
use crate::forward::Forwarders;
use crate::ids::Ids;
use crate::plan::{c_path, c_str, Plan, Sizes};
use crate::policy::Policy;
use crate::{Cgroup, Config, Layers, Mode, Network, SandboxError, Spec};

/// The uid and gid of a sandboxed process inside its user namespace.
const INSIDE_ID: u32 = 1000;
/// Stack of the cloned child until it executes.
const CHILD_STACK: usize = 256 * 1024;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Spawner {
    pub(crate) config: Config,
    pub(crate) layers: Layers,
    cgroups: Option<Arc<CgroupTree>>,
    ids: Arc<Ids>,
    filters: Option<[BpfProgram; 2]>,
    /// The server's own executable, run as each sandbox's init.
    exe: OwnedFd,
    jobs: Mutex<mpsc::Sender<Job>>,
    runtime: Option<tokio::runtime::Handle>,
    /// What isolated networks reach: the platform's endpoints and the outside.
    policy: Arc<Policy>,
}

impl Spawner {
    pub(crate) fn start(config: Config) -> Result<Spawner, SandboxError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("wisp-sandbox-spawner".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })?;
        let exe = open_path(&config.init_program)?;
        let off = config.mode == Mode::Off;
        let mut wanted = Vec::new();
        if config.memory_cgroups {
            wanted.push(Controller::Memory);
        }
        if !off {
            wanted.extend([Controller::Pids, Controller::Cpu]);
        }
        let cgroups = CgroupTree::detect(&wanted);
        let filters = if off || !crate::seccomp::available() {
            None
        } else {
            crate::seccomp::filters().ok()
        };
        // Only a mount point (each sandbox mounts its root over it, in its own namespace).
        std::fs::create_dir_all(&config.scratch)?;
        std::fs::set_permissions(
            &config.scratch,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let spawner = Spawner {
            layers: Layers {
                seccomp: filters.is_some(),
                memory_cgroup: cgroups.as_ref().is_some_and(|c| c.has(Controller::Memory)),
                pids_cgroup: cgroups.as_ref().is_some_and(|c| c.has(Controller::Pids)),
                cpu_cgroup: cgroups.as_ref().is_some_and(|c| c.has(Controller::Cpu)),
                ..Layers::default()
            },
            cgroups,
            ids: Arc::new(Ids::for_server(std::process::id())),
            filters,
            exe,
            jobs: Mutex::new(jobs),
            runtime: tokio::runtime::Handle::try_current().ok(),
            policy: Arc::new(Policy {
                outbound: config.outbound.clone(),
                endpoints: config.endpoints.clone(),
            }),
            config,
        };
        Ok(spawner)
    }

    pub(crate) fn spawn(&self, spec: Spec<'_>) -> Result<Sandboxed, SandboxError> {
        self.spawn_with(spec, true)
    }

    /// [`spawn`](Self::spawn); `forward`: whether to serve the platform's endpoints in an
    /// isolated network (not for the probe, whose program has exited by then).
    pub(crate) fn spawn_with(
        &self,
        spec: Spec<'_>,
        forward: bool,
    ) -> Result<Sandboxed, SandboxError> {
        let namespaces = self.layers.namespaces;
        let uid = if namespaces {
            Some(self.ids.take().ok_or_else(|| {
                SandboxError::Spawn("every sandbox uid of this server is in use".into())
            })?)
        } else {
            None
        };
        let lease = uid.map(|uid| UidLease {
            uid,
            ids: self.ids.clone(),
        });
        let cgroup = match &self.cgroups {
            Some(tree) => Some(tree.create()?),
            None => None,
        };
        if let Some(cgroup) = &cgroup {
            cgroup.limit_pids(self.config.pids_max)?;
        }
        let (go_read, go_write) = pipe()?;
        let (report_read, report_write) = pipe()?;
        let exec = Exec::new(
            c_path(spec.program),
            std::iter::once(c_path(spec.program))
                .chain(spec.args.iter().map(|a| c_str(a)))
                .collect(),
            spec.env
                .iter()
                .map(|(k, v)| c_str(&format!("{k}={v}")))
                .collect(),
        );
        let isolation = namespaces.then(|| Isolation {
            plan: Plan::new(
                &self.config.scratch,
                &self.config.binds,
                Sizes {
                    tmp_mb: self.config.tmp_mb,
                },
                INSIDE_ID,
                INSIDE_ID,
            ),
            lo_up: self.layers.network_namespace,
            uid: INSIDE_ID,
            gid: INSIDE_ID,
            init_exe: self.exe.as_raw_fd(),
            init_argv0: c_str(crate::init::ARGV0),
        });
        let prepared = Prepared {
            go: go_read.as_raw_fd(),
            report: report_write.as_raw_fd(),
            stdio: spec.stdio.each_ref().map(|fd| fd.as_raw_fd()),
            cwd: c_path(spec.cwd),
            exec,
            isolation,
            filters: self.filters.clone(),
        };
        let mut flags = CloneFlags::empty();
        if namespaces {
            flags |= CloneFlags::CLONE_NEWUSER
                | CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWIPC
                | CloneFlags::CLONE_NEWUTS;
            if self.layers.network_namespace {
                flags |= CloneFlags::CLONE_NEWNET;
            }
        }
        let host_uid = uid;
        let setup_uid = self.ids.setup();
        let cgroup_ref = cgroup.as_ref().map(|c| c as *const Cgroup as usize);
        // The job runs on the spawner thread while this thread waits, so what it borrows
        // outlives it; pointers cross as integers because the closure must be 'static.
        let prepared_addr = &prepared as *const Prepared as usize;
        let go_write_fd = go_write.as_raw_fd();
        let (done, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // SAFETY: the caller blocks on `result` until this job has finished.
            let prepared = unsafe { &*(prepared_addr as *const Prepared) };
            let cgroup = cgroup_ref.map(|c| unsafe { &*(c as *const Cgroup) });
            let _ = done.send(clone_child(
                prepared,
                go_write_fd,
                flags,
                setup_uid,
                host_uid,
                cgroup,
            ));
        });
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| SandboxError::Spawn("the spawner thread is gone".into()))?;
        let cloned = result
            .recv()
            .map_err(|_| SandboxError::Spawn("the spawner thread is gone".into()))?;
        let (pid, pidfd) = cloned?;
        // The child has its copies; closing ours lets the report pipe end at its exec.
        drop(prepared);
        drop(spec.stdio);
        drop(go_read);
        drop(report_write);
        let mut sandboxed = Sandboxed {
            pid,
            pidfd,
            cgroup,
            _uid: lease,
            namespaces,
            _forwarders: None,
        };
        if let Some(failure) = read_report(report_read)? {
            sandboxed.kill();
            sandboxed.wait_blocking();
            drop(go_write);
            return Err(SandboxError::Spawn(failure));
        }
        drop(go_write);
        if forward
            && namespaces
            && self.layers.network_namespace
            && self.config.network == Network::Isolated
        {
            if let Some(runtime) = &self.runtime {
                let listeners = crate::namespace::listen(
                    pid,
                    self.policy.endpoints.clone(),
                    self.layers.outbound,
                )?;
                sandboxed._forwarders =
                    Some(Forwarders::start(runtime, listeners, self.policy.clone())?);
            }
        }
        Ok(sandboxed)
    }
}

/// On the spawner thread: clone, maps, cgroups, go.
fn clone_child(
    prepared: &Prepared,
    go_write: i32,
    flags: CloneFlags,
    setup_uid: u32,
    host_uid: Option<u32>,
    cgroup: Option<&Cgroup>,
) -> Result<(i32, OwnedFd), SandboxError> {
    let mut stack = vec![0u8; CHILD_STACK];
    // The child reads its own copy of `prepared` (no CLONE_VM).
    let child_view = prepared as *const Prepared as usize;
    // SAFETY: the callback runs in the child, which makes only async-signal-safe calls
    // (child.rs) and never returns into Rust code of the parent.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(move || child::run(&*(child_view as *const Prepared))),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| SandboxError::Spawn(format!("clone: {e}")))?;
    let pid = pid.as_raw();
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).expect("a child's pid is positive"),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(std::io::Error::from)?;
    let setup = (|| -> std::io::Result<()> {
        if let Some(uid) = host_uid {
            // Root inside (for setup and nothing else) is the server's setup uid; the runtime's
            // uid is the sandbox's own.
            let map = format!("0 {setup_uid} 1\n{INSIDE_ID} {uid} 1\n");
            let write = |file: &str| {
                std::fs::write(format!("/proc/{pid}/{file}"), &map)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{file}: {e}")))
            };
            write("uid_map")?;
            write("gid_map")?;
        }
        if let Some(cgroup) = cgroup {
            cgroup
                .attach(pid)
                .map_err(|e| std::io::Error::new(e.kind(), format!("cgroup: {e}")))?;
        }
        // SAFETY: a one-byte write to a pipe we own.
        if unsafe { libc::write(go_write, [1u8].as_ptr().cast(), 1) } != 1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })();
    if let Err(e) = setup {
        // SAFETY: our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(SandboxError::Spawn(format!("preparing the sandbox: {e}")));
    }
    Ok((pid, pidfd))
}

/// Reads the child's report: `None` when the pipe ended without one (the runtime runs).
fn read_report(report: OwnedFd) -> std::io::Result<Option<String>> {
    let mut file = std::fs::File::from(report);
    let mut message = Vec::with_capacity(12);
    file.read_to_end(&mut message)?;
    if message.len() < 12 {
        return Ok(None);
    }
    let stage = u32::from_ne_bytes(message[..4].try_into().expect("4 bytes"));
    let step = u32::from_ne_bytes(message[4..8].try_into().expect("4 bytes"));
    let errno = i32::from_ne_bytes(message[8..12].try_into().expect("4 bytes"));
    let what = Stage::from_u32(stage).map_or("setting up", Stage::describe);
    let error = std::io::Error::from_raw_os_error(errno);
    Ok(Some(if stage == Stage::Step as u32 {
        format!("{what} (step {step}): {error}")
    } else {
        format!("{what}: {error}")
    }))
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-element array; on success both fds are new and owned here.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

fn open_path(path: &Path) -> std::io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: a valid C string; the fd is new and owned here.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// A sandbox's uid, given back when the sandbox is gone.
struct UidLease {
    uid: u32,
    ids: Arc<Ids>,
}

impl Drop for UidLease {
    fn drop(&mut self) {
        self.ids.give_back(self.uid);
    }
}

/// A running sandbox: its init (or, without namespaces, the process itself), its cgroups, its
/// uid and endpoint forwarders. Dropping it kills everything in it.
pub struct Sandboxed {
    pid: i32,
    pidfd: OwnedFd,
    cgroup: Option<Cgroup>,
    _uid: Option<UidLease>,
    namespaces: bool,
    _forwarders: Option<Forwarders>,
}

impl Sandboxed {
    /// The host pid of the sandbox's first process.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Readable when the sandbox's first process has exited.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Kills everything in the sandbox: its init (the kernel then ends the whole PID
    /// namespace) or, without namespaces, its process group.
    pub fn kill(&self) {
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        if !self.namespaces {
            // SAFETY: plain syscall; a negative pid addresses the process group it made.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }

    /// Collects the exit status once the process has exited (`None` while it runs).
    pub fn try_wait(&self) -> Option<i32> {
        let mut status = 0;
        // SAFETY: our own child; status is a valid out-parameter.
        let pid = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        (pid == self.pid).then_some(status)
    }

    fn wait_blocking(&self) {
        // SAFETY: as for try_wait.
        unsafe {
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }

    /// Whether processes other than the runtime (and its init) are alive in the sandbox:
    /// something a function started has outlived its activation. `false` where no cgroup
    /// can tell.
    pub fn has_strays(&self) -> bool {
        let expected = if self.namespaces { 2 } else { 1 };
        self.cgroup
            .as_ref()
            .and_then(|c| c.processes().ok())
            .is_some_and(|procs| procs.len() > expected)
    }

    /// Mounts an action's unpacked code read-only at [`crate::plan::ACTION_DIR`] and returns
    /// where the process sees it.
    pub fn mount_code(&self, host_dir: &Path) -> std::io::Result<std::path::PathBuf> {
        if !self.namespaces {
            return Ok(host_dir.to_path_buf());
        }
        crate::namespace::mount_code(self.pid, host_dir, crate::plan::ACTION_DIR)?;
        Ok(crate::plan::ACTION_DIR.into())
    }
}

impl Drop for Sandboxed {
    fn drop(&mut self) {
        self.kill();
        let _ = self.try_wait();
    }
}

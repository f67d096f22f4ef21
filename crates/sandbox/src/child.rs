//! What the cloned child does, from `clone(2)` to `execve(2)`.
//!
//! The child is a copy of a multi-threaded server, so until it executes a program it may only
//! make async-signal-safe calls: no allocation, no locks, no formatting. Everything it needs
//! (paths, argument vectors, seccomp programs) is prepared by the parent in [`Prepared`]; this
//! file is raw syscalls on that memory, in the order the kernel requires:
//!
//! 1. wait for the parent to write the uid/gid maps and place the child in its cgroups;
//! 2. move the pipes to fds 0–3 and mark every other fd close-on-exec;
//! 3. inside the new namespaces: private mount propagation, a tmpfs root built by the
//!    [`Plan`], `pivot_root` with the old root detached, the root remounted read-only, the
//!    hostname, the loopback interface up;
//! 4. drop every capability (the bounding set first, while it may), become the sandbox's
//!    unprivileged uid, `no_new_privs` and the seccomp filters;
//! 5. fork the runtime (PID 2), which executes the launcher; the child itself executes the
//!    init (`crate::init`) as PID 1.
//!
//! A failure is reported to the parent as (stage, step, errno) on a close-on-exec pipe, whose
//! end of file means both programs are running.

use std::ffi::{c_char, CString};
use std::os::fd::RawFd;

use seccompiler::BpfProgram;

use crate::plan::{Plan, Step, MAX_SOURCES};

/// Where setup stopped, reported to the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stage {
    Wait = 1,
    Stdio,
    Propagation,
    Root,
    Source,
    Step,
    Pivot,
    ReadOnly,
    Hostname,
    Loopback,
    Capabilities,
    Ids,
    Seccomp,
    Fork,
    Exec,
    Init,
    ProcessGroup,
}

impl Stage {
    pub(crate) fn from_u32(n: u32) -> Option<Stage> {
        use Stage::*;
        [
            Wait,
            Stdio,
            Propagation,
            Root,
            Source,
            Step,
            Pivot,
            ReadOnly,
            Hostname,
            Loopback,
            Capabilities,
            Ids,
            Seccomp,
            Fork,
            Exec,
            Init,
            ProcessGroup,
        ]
        .into_iter()
        .find(|s| *s as u32 == n)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Stage::Wait => "waiting for the parent",
            Stage::Stdio => "setting up the pipes",
            Stage::Propagation => "making mounts private",
            Stage::Root => "mounting the root",
            Stage::Source => "opening a bind source",
            Stage::Step => "building the root",
            Stage::Pivot => "changing root",
            Stage::ReadOnly => "making the root read-only",
            Stage::Hostname => "setting the hostname",
            Stage::Loopback => "bringing up the loopback interface",
            Stage::Capabilities => "dropping capabilities",
            Stage::Ids => "changing to the sandbox's user",
            Stage::Seccomp => "installing the seccomp filter",
            Stage::Fork => "starting the runtime",
            Stage::Exec => "executing the runtime",
            Stage::Init => "executing the sandbox's init",
            Stage::ProcessGroup => "making a process group",
        }
    }
}

/// How long the child waits for the parent's go-ahead (which comes within a millisecond).
const GO_TIMEOUT_MS: libc::c_int = 30_000;

/// A program and its vectors, ready for `execve`.
pub(crate) struct Exec {
    pub program: CString,
    _strings: Vec<CString>,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
}

impl Exec {
    pub(crate) fn new(program: CString, argv: Vec<CString>, envp: Vec<CString>) -> Exec {
        let argv_ptrs: Vec<*const c_char> = argv
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp_ptrs: Vec<*const c_char> = envp
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let mut strings = argv;
        strings.extend(envp);
        Exec {
            program,
            _strings: strings,
            argv: argv_ptrs,
            envp: envp_ptrs,
        }
    }
}

/// The sandbox's namespaces and what is done inside them.
pub(crate) struct Isolation {
    pub plan: Plan,
    pub lo_up: bool,
    /// The uid and gid inside the user namespace (mapped to the sandbox's host uid).
    pub uid: u32,
    pub gid: u32,
    /// `/proc/self/exe` of the server, opened `O_PATH`, executed as the init.
    pub init_exe: RawFd,
    /// `argv[0]` of the init; the runtime's pid follows it.
    pub init_argv0: CString,
}

pub(crate) struct Prepared {
    pub go: RawFd,
    pub report: RawFd,
    pub stdio: [RawFd; 4],
    pub cwd: CString,
    pub exec: Exec,
    pub isolation: Option<Isolation>,
    pub filters: Option<[BpfProgram; 2]>,
}

/// Runs in the cloned child; never returns.
pub(crate) fn run(p: &Prepared) -> isize {
    // SAFETY: only async-signal-safe syscalls on memory prepared by the parent.
    unsafe {
        // Dies with the server from the start: a server killed while it makes sandboxes must
        // not leave children waiting here, each holding copies of the others' pipes. (The
        // credential change below clears it; it is set again after.) The wait is bounded for
        // a server that died before this line ran.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        let mut go = libc::pollfd {
            fd: p.go,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut byte = 0u8;
        if libc::poll(&mut go, 1, GO_TIMEOUT_MS) != 1
            || libc::read(p.go, (&mut byte as *mut u8).cast(), 1) != 1
        {
            fail(p.report, Stage::Wait, 0);
        }
        setup_stdio(p);
        if let Some(isolation) = &p.isolation {
            enter(p.report, isolation);
            drop_privileges(p.report, isolation.uid, isolation.gid);
        } else if libc::setpgid(0, 0) != 0 {
            fail(p.report, Stage::ProcessGroup, 0);
        }
        // Dies with the server (the spawner thread is its parent): nothing outlives it.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if let Some(filters) = &p.filters {
            if !crate::seccomp::install(filters) {
                fail(p.report, Stage::Seccomp, 0);
            }
        }
        let Some(isolation) = &p.isolation else {
            exec_runtime(p);
        };
        // The raw syscall, not glibc's fork(): that one takes the allocator's locks, which
        // another thread of the server may have held when it was cloned.
        let runtime = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0)
            as libc::pid_t;
        if runtime < 0 {
            fail(p.report, Stage::Fork, 0);
        }
        if runtime == 0 {
            exec_runtime(p);
        }
        // The init keeps none of the runtime's pipes, so they end when the runtime does.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::close(3);
        let mut pid = [0u8; 16];
        let len = write_decimal(&mut pid, runtime as u32);
        pid[len] = 0;
        let argv = [
            isolation.init_argv0.as_ptr(),
            pid.as_ptr().cast(),
            std::ptr::null(),
        ];
        let envp: [*const c_char; 1] = [std::ptr::null()];
        libc::syscall(
            libc::SYS_execveat,
            isolation.init_exe,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        libc::kill(runtime, libc::SIGKILL);
        fail(p.report, Stage::Init, 0);
    }
}

unsafe fn exec_runtime(p: &Prepared) -> ! {
    // SAFETY: as for `run`.
    unsafe {
        libc::chdir(p.cwd.as_ptr());
        libc::execve(
            p.exec.program.as_ptr(),
            p.exec.argv.as_ptr(),
            p.exec.envp.as_ptr(),
        );
        fail(p.report, Stage::Exec, 0);
    }
}

unsafe fn setup_stdio(p: &Prepared) {
    // SAFETY: as for `run`. Copies above 3 first, so no dup2 overwrites a source still needed.
    unsafe {
        let mut high = [0; 4];
        for (i, fd) in p.stdio.iter().enumerate() {
            high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
            if high[i] < 0 {
                fail(p.report, Stage::Stdio, i as u32);
            }
        }
        for (target, fd) in high.iter().enumerate() {
            if libc::dup2(*fd, target as RawFd) < 0 {
                fail(p.report, Stage::Stdio, target as u32);
            }
        }
        // Nothing of the server's (sockets, database files) crosses an exec.
        if libc::syscall(
            libc::SYS_close_range,
            4u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            fail(p.report, Stage::Stdio, 4);
        }
    }
}

unsafe fn enter(report: RawFd, isolation: &Isolation) {
    // SAFETY: as for `run`.
    unsafe {
        let none = std::ptr::null();
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            none.cast(),
        ) != 0
        {
            fail(report, Stage::Propagation, 0);
        }
        let plan = &isolation.plan;
        if libc::mount(
            c"tmpfs".as_ptr(),
            plan.root.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"size=1m,mode=0755,uid=0,gid=0".as_ptr().cast(),
        ) != 0
            || libc::chdir(plan.root.as_ptr()) != 0
        {
            fail(report, Stage::Root, 0);
        }
        // Still the server's uid, which alone may look the sources up (they may sit in
        // directories only it can enter): each becomes a detached copy of its mount.
        let mut sources = [-1; MAX_SOURCES];
        for (i, source) in plan.sources.iter().enumerate() {
            let fd = libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                source.as_ptr(),
                OPEN_TREE_CLONE
                    | libc::O_CLOEXEC as libc::c_uint
                    | libc::AT_RECURSIVE as libc::c_uint,
            );
            if fd < 0 {
                fail(report, Stage::Source, i as u32);
            }
            sources[i] = fd as RawFd;
        }
        // Root of the new namespaces (the server's uid is not mapped in them, and a file
        // system mounted there cannot hold files owned by it).
        if !become_ids(0, 0) {
            fail(report, Stage::Ids, 0);
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if !apply(step, &sources) {
                fail(report, Stage::Step, i as u32);
            }
        }
        for fd in sources.iter().filter(|fd| **fd >= 0) {
            libc::close(*fd);
        }
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0
            || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0
            || libc::chdir(c"/".as_ptr()) != 0
        {
            fail(report, Stage::Pivot, 0);
        }
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            none.cast(),
        ) != 0
        {
            fail(report, Stage::ReadOnly, 0);
        }
        if libc::sethostname(c"wisp".as_ptr(), 4) != 0 {
            fail(report, Stage::Hostname, 0);
        }
        if isolation.lo_up && !loopback_up() {
            fail(report, Stage::Loopback, 0);
        }
    }
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

unsafe fn apply(step: &Step, sources: &[RawFd; MAX_SOURCES]) -> bool {
    // SAFETY: as for `run`.
    unsafe {
        let none = std::ptr::null();
        match step {
            Step::Mkdir(path) => {
                libc::mkdir(path.as_ptr(), 0o755) == 0 || *libc::__errno_location() == libc::EEXIST
            }
            Step::Symlink { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()) == 0,
            Step::Touch(path) => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                fd >= 0 && libc::close(fd) == 0
            }
            Step::File { path, contents } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                fd >= 0
                    && libc::write(fd, contents.as_ptr().cast(), contents.len())
                        == contents.len() as isize
                    && libc::close(fd) == 0
            }
            Step::Tmpfs { path, options } => {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    path.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    options.as_ptr().cast(),
                ) == 0
            }
            Step::Bind {
                source,
                path,
                flags,
            } => {
                libc::syscall(
                    libc::SYS_move_mount,
                    sources[*source],
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ) == 0
                    && libc::mount(
                        none,
                        path.as_ptr(),
                        none,
                        libc::MS_REMOUNT
                            | libc::MS_BIND
                            | libc::MS_RDONLY
                            | libc::MS_NOSUID
                            | flags,
                        none.cast(),
                    ) == 0
            }
            Step::Proc(path) => {
                libc::mount(
                    c"proc".as_ptr(),
                    path.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    none.cast(),
                ) == 0
            }
        }
    }
}

unsafe fn loopback_up() -> bool {
    // SAFETY: as for `run`; `request` is a zeroed ifreq naming `lo`.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket < 0 {
            return false;
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as c_char;
        request.ifr_name[1] = b'o' as c_char;
        request.ifr_ifru.ifru_flags =
            (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
        let ok = libc::ioctl(socket, libc::SIOCSIFFLAGS, &request) == 0;
        libc::close(socket);
        ok
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

unsafe fn drop_privileges(report: RawFd, uid: u32, gid: u32) {
    // SAFETY: as for `run`.
    unsafe {
        // The bounding set can only shrink while CAP_SETPCAP is still held.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong) != 0
                && *libc::__errno_location() != libc::EINVAL
            {
                fail(report, Stage::Capabilities, cap);
            }
        }
        if !become_ids(uid, gid) {
            fail(report, Stage::Ids, 0);
        }
        let header = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0
            || libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
        {
            fail(report, Stage::Capabilities, 64);
        }
    }
}

/// Changes this thread's ids with raw syscalls: glibc's wrappers would signal every other
/// thread of the server (gone in this copy) and may wait on a lock one of them held.
unsafe fn become_ids(uid: u32, gid: u32) -> bool {
    // SAFETY: plain syscalls.
    unsafe {
        libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
            && libc::syscall(libc::SYS_setresgid, gid, gid, gid) == 0
            && libc::syscall(libc::SYS_setresuid, uid, uid, uid) == 0
    }
}

/// Reports where setup stopped and exits. Never returns.
fn fail(report: RawFd, stage: Stage, step: u32) -> ! {
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut message = [0u8; 12];
        message[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
        message[4..8].copy_from_slice(&step.to_ne_bytes());
        message[8..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(report, message.as_ptr().cast(), message.len());
        libc::_exit(127);
    }
}

/// Writes `n` in decimal at the start of `buf`, returning its length; no allocation.
fn write_decimal(buf: &mut [u8; 16], mut n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_without_allocation() {
        let mut buf = [0u8; 16];
        let len = write_decimal(&mut buf, 4_294_967_295);
        assert_eq!(&buf[..len], b"4294967295");
        let len = write_decimal(&mut buf, 0);
        assert_eq!(&buf[..len], b"0");
    }

    #[test]
    fn every_stage_round_trips() {
        for n in 1..=17 {
            let stage = Stage::from_u32(n).unwrap();
            assert_eq!(stage as u32, n);
        }
        assert_eq!(Stage::from_u32(99), None);
    }
}

//! The init of a sandbox: PID 1 of its PID namespace, the `wisp` binary executed again with
//! `argv[0]` = [`ARGV0`]. It reaps every process orphaned inside the sandbox (so a daemon a
//! function leaves behind never piles up as a zombie) and exits with the runtime's status when
//! the runtime ends; the kernel then kills whatever is left in the namespace.
//!
//! It runs unprivileged, under the same seccomp filters as the runtime, and holds nothing: it
//! was executed afresh, so none of the server's memory is in it, and it is not dumpable, so the
//! runtime cannot read it.

/// `argv[0]` that makes the `wisp` binary an init.
pub const ARGV0: &str = "wisp-sandbox-init";

/// Becomes the init if this process was started as one; returns otherwise. Call first thing
/// in `main`.
pub fn run_if_requested() {
    let mut args = std::env::args_os();
    if args.next().as_deref() != Some(std::ffi::OsStr::new(ARGV0)) {
        return;
    }
    let runtime: libc::pid_t = args
        .next()
        .and_then(|a| a.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    // SAFETY: plain syscalls.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
    }
    std::process::exit(reap(runtime));
}

fn reap(runtime: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error();
            if errno == Some(libc::EINTR) {
                continue;
            }
            return 1;
        }
        if pid == runtime {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
        }
    }
}

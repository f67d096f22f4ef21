//! The seccomp filters every sandboxed process runs under: a deny list of what a function never
//! needs (debugging other processes, mounting, kernel modules and keyrings, BPF, perf, new
//! namespaces, clock and host settings), compiled once per server by `seccompiler`.
//!
//! A deny list rather than an allow list: Node.js and Python (and the native programs a zip
//! may carry) use a changing set of ordinary syscalls; what must never be reachable is short.
//! Two filters, because a filter has one action on a match: `clone3` and io_uring answer
//! `ENOSYS` (so glibc and libuv fall back to `clone`, whose flags a filter can read, and to
//! ordinary IO), the rest `EPERM`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Syscalls refused with `EPERM`.
const DENIED: &[libc::c_long] = &[
    // Reading or changing other processes.
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    // File systems and namespaces.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_mount_setattr,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_quotactl,
    // The kernel itself.
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_keyctl,
    libc::SYS_syslog,
    libc::SYS_acct,
    libc::SYS_lookup_dcookie,
    libc::SYS_personality,
    libc::SYS_uselib,
    libc::SYS_ustat,
    libc::SYS_sysfs,
    libc::SYS_vhangup,
    // The host's clock and names.
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
];

/// Syscalls that answer `ENOSYS`, so callers fall back to what the deny list can judge.
const UNIMPLEMENTED: &[libc::c_long] = &[
    libc::SYS_clone3,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
];

/// `clone` flags that would make new namespaces.
const NEW_NAMESPACES: [libc::c_int; 8] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

#[derive(Debug, thiserror::Error)]
#[error("cannot build the seccomp filter: {0}")]
pub(crate) struct FilterError(String);

/// The two programs, in the order they are installed.
pub(crate) fn filters() -> Result<[BpfProgram; 2], FilterError> {
    let arch = target_arch()?;
    let unimplemented = program(
        UNIMPLEMENTED.iter().map(|n| (*n, Vec::new())).collect(),
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|n| (*n, Vec::new())).collect();
    // `clone` is allowed (threads, fork, vfork) unless it asks for a namespace.
    let namespace_rules = NEW_NAMESPACES
        .iter()
        .map(|flag| {
            let condition = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(*flag as u64),
                *flag as u64,
            )
            .map_err(|e| FilterError(e.to_string()))?;
            SeccompRule::new(vec![condition]).map_err(|e| FilterError(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_clone, namespace_rules);
    let denied = program(denied, SeccompAction::Errno(libc::EPERM as u32), arch)?;
    Ok([unimplemented, denied])
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    on_match: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, FilterError> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch)
        .map_err(|e| FilterError(e.to_string()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| FilterError(e.to_string()))
}

fn target_arch() -> Result<TargetArch, FilterError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| FilterError(e.to_string()))
}

/// Installs `filters` on the calling thread (with `no_new_privs`). Async-signal-safe: it only
/// makes syscalls on memory prepared before.
pub(crate) fn install(filters: &[BpfProgram; 2]) -> bool {
    filters
        .iter()
        .all(|filter| seccompiler::apply_filter(filter).is_ok())
}

/// Whether the kernel offers seccomp filters.
pub(crate) fn available() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|l| l.starts_with("Seccomp:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filters_compile() {
        let [unimplemented, denied] = filters().unwrap();
        assert!(!unimplemented.is_empty());
        assert!(denied.len() > DENIED.len());
    }
}

//! Work the server does inside a running sandbox's namespaces, each on a thread of its own
//! that joins them and then ends (a thread that changed namespace is never reused):
//!
//! - mounting an action's unpacked code read-only at `/action` when a stem cell is
//!   specialised (a detached copy of the host directory made with `open_tree`, moved into the
//!   sandbox's mount namespace);
//! - listening, inside an isolated network namespace, on the addresses of the platform's own
//!   endpoints (API, key-value, S3), and redirecting the rest of its TCP and DNS to the server
//!   ([`crate::redirect`]); the server serves these sockets ([`crate::forward`]).

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::mount::{MountFlags, MoveMountFlags, OpenTreeFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

use crate::forward::Listeners;

/// Runs `work` on a new thread that has joined the namespace `kind` of process `pid`.
fn inside<T: Send + 'static>(
    pid: i32,
    kind: LinkNameSpaceType,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let file = match kind {
        LinkNameSpaceType::Mount => "mnt",
        _ => "net",
    };
    let namespace = std::fs::File::open(format!("/proc/{pid}/ns/{file}"))?;
    std::thread::Builder::new()
        .name("wisp-sandbox-ns".into())
        .spawn(move || {
            if kind == LinkNameSpaceType::Mount {
                // A thread sharing its file system view with others cannot change mount
                // namespace.
                // SAFETY: unsharing only the file system view of a thread that runs nothing
                // else and ends after `work`.
                unsafe { rustix::thread::unshare_unsafe(UnshareFlags::FS)? };
            }
            rustix::thread::move_into_link_name_space(namespace.as_fd(), Some(kind))?;
            work()
        })?
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
}

/// Mounts `host_dir` read-only at `target` inside the sandbox of `pid`.
pub(crate) fn mount_code(pid: i32, host_dir: &Path, target: &'static str) -> std::io::Result<()> {
    let tree: OwnedFd = rustix::mount::open_tree(
        rustix::fs::CWD,
        host_dir,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )?;
    inside(pid, LinkNameSpaceType::Mount, move || {
        rustix::mount::move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        rustix::mount::mount_remount(
            target,
            MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
            "",
        )?;
        Ok(())
    })
}

/// The listening sockets of the isolated network of `pid`: one at each loopback endpoint
/// address and, with `outbound`, the redirect of everything else to the server.
pub(crate) fn listen(
    pid: i32,
    endpoints: Vec<SocketAddr>,
    outbound: bool,
) -> std::io::Result<Listeners> {
    inside(pid, LinkNameSpaceType::Network, move || {
        let mut listeners = Vec::new();
        // An endpoint at a loopback address is served at that address inside (one on every
        // address, at 127.0.0.1); one at another address is reached through the outbound
        // redirect, whose policy lets it through.
        let inside: Vec<SocketAddr> = endpoints
            .into_iter()
            .filter_map(|a| {
                if a.ip().is_unspecified() {
                    Some(SocketAddr::from(([127, 0, 0, 1], a.port())))
                } else {
                    a.ip().is_loopback().then_some(a)
                }
            })
            .collect();
        for address in inside {
            match std::net::TcpListener::bind(address) {
                Ok(listener) => {
                    listener.set_nonblocking(true)?;
                    listeners.push((address, listener));
                }
                Err(e) => tracing::warn!(%address, error = %e,
                    "functions in isolated networks cannot reach this endpoint"),
            }
        }
        let outbound = if outbound {
            crate::redirect::route_everything_to_loopback()?;
            crate::redirect::redirect_to_server()?;
            let tcp = std::net::TcpListener::bind(("127.0.0.1", crate::redirect::OUTBOUND_PORT))?;
            tcp.set_nonblocking(true)?;
            let dns = std::net::UdpSocket::bind(("127.0.0.1", crate::redirect::DNS_PORT))?;
            Some((tcp, dns))
        } else {
            None
        };
        Ok(Listeners {
            endpoints: listeners,
            outbound,
        })
    })
}

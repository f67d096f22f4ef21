//! Work the server does inside a running sandbox's namespaces, each on a thread of its own
//! that joins them and then ends (a thread that changed namespace is never reused):
//!
//! - mounting an action's unpacked code read-only at `/action` when a stem cell is
//!   specialised (a detached copy of the host directory made with `open_tree`, moved into the
//!   sandbox's mount namespace);
//! - listening, inside an isolated network namespace, on the addresses of the platform's own
//!   endpoints (API, key-value, S3); the server accepts there and forwards each connection to
//!   the same address on the host. Nothing else of the host's network is reachable.

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::mount::{MountFlags, MoveMountFlags, OpenTreeFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

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

/// Listening sockets on `addresses` inside the network namespace of `pid`.
pub(crate) fn listen(
    pid: i32,
    addresses: Vec<SocketAddr>,
) -> std::io::Result<Vec<(SocketAddr, std::net::TcpListener)>> {
    inside(pid, LinkNameSpaceType::Network, move || {
        let mut listeners = Vec::new();
        for address in addresses {
            match std::net::TcpListener::bind(address) {
                Ok(listener) => {
                    listener.set_nonblocking(true)?;
                    listeners.push((address, listener));
                }
                Err(e) => tracing::warn!(%address, error = %e,
                    "functions in isolated networks cannot reach this endpoint"),
            }
        }
        Ok(listeners)
    })
}

/// The tasks forwarding a sandbox's endpoint connections to the host; they end when dropped.
#[derive(Default)]
pub struct Forwarders(Vec<tokio::task::JoinHandle<()>>);

impl Forwarders {
    /// Accepts on each listener and copies each connection to and from the same address on
    /// the host. Needs a tokio runtime.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        listeners: Vec<(SocketAddr, std::net::TcpListener)>,
    ) -> std::io::Result<Forwarders> {
        let _entered = runtime.enter();
        let mut tasks = Vec::new();
        for (target, listener) in listeners {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.push(runtime.spawn(accept(listener, target)));
        }
        Ok(Forwarders(tasks))
    }
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

async fn accept(listener: tokio::net::TcpListener, target: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin on the error.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}

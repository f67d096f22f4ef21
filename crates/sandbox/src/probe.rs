//! Whether this host lets the server make a sandbox with the layers it thinks it has: one
//! sandbox running `true`, at start.

use std::os::fd::OwnedFd;
use std::path::Path;

use crate::spawner::Spawner;
use crate::Spec;

pub(crate) fn runs(spawner: &Spawner) -> Result<(), String> {
    let program = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or("no `true` program to probe with")?;
    let null = || -> Result<OwnedFd, String> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| e.to_string())
    };
    let sandboxed = spawner
        .spawn_with(
            Spec {
                program,
                args: &[],
                env: &[],
                cwd: Path::new("/"),
                stdio: [null()?, null()?, null()?, null()?],
            },
            false,
        )
        .map_err(|e| e.to_string())?;
    for _ in 0..2000 {
        if let Some(status) = sandboxed.try_wait() {
            return if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else {
                Err(format!("the probe ended with status {status}"))
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err("the probe did not end".into())
}

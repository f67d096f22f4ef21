//! Which layers this host really allows, found at start: namespaces by running `true` in a
//! sandbox that has them, outbound redirection by trying it in a throwaway namespace.

use std::os::fd::OwnedFd;
use std::path::Path;

use crate::spawner::Spawner;
use crate::{Mode, Network, SandboxError, Spec};

/// Turns on the layers `spawner` can really use here; with [`Mode::Required`], one missing
/// is an error.
pub(crate) fn layers(spawner: &mut Spawner) -> Result<(), SandboxError> {
    if spawner.config.mode != Mode::Off {
        namespaces(spawner);
        outbound(spawner);
    }
    let missing = spawner.layers.missing(spawner.config.network);
    if spawner.config.mode == Mode::Required && !missing.is_empty() {
        return Err(SandboxError::Unavailable(missing.join(", ")));
    }
    Ok(())
}

/// Turns on the namespace layers if a sandbox with them can run a program here.
fn namespaces(spawner: &mut Spawner) {
    spawner.layers.namespaces = true;
    spawner.layers.network_namespace = spawner.config.network != Network::Host;
    let failure = match runs(spawner) {
        Ok(()) => return,
        Err(e) => e,
    };
    if spawner.layers.network_namespace {
        spawner.layers.network_namespace = false;
        if runs(spawner).is_ok() {
            tracing::warn!(error = %failure, "sandboxes without a network namespace");
            return;
        }
    }
    tracing::warn!(error = %failure, "this host allows no sandbox namespaces");
    spawner.layers.namespaces = false;
    spawner.layers.network_namespace = false;
}

/// Turns on outbound traffic for isolated networks if this host lets the server redirect
/// a namespace's connections (root, with nf_tables).
fn outbound(spawner: &mut Spawner) {
    if !spawner.layers.network_namespace || spawner.config.network != Network::Isolated {
        return;
    }
    match crate::redirect::probe() {
        Ok(()) => spawner.layers.outbound = true,
        Err(e) => tracing::warn!(error = %e,
            "functions in isolated networks reach only the platform's endpoints"),
    }
}

/// Whether a sandbox with the layers `spawner` has now runs `true` to a clean exit.
fn runs(spawner: &Spawner) -> Result<(), String> {
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

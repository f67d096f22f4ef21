//! Turns an action's code into something a launcher can load: source text as is, a zip archive
//! unpacked once per code digest into a directory that every process of that code shares.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine;
use sha2::{Digest, Sha256};
use wisp_core::CodeExec;

pub enum Loadable {
    Text,
    Directory(PathBuf),
}

/// Prepares `exec` under `root`; errors are messages for the activation's developer error.
pub fn prepare(exec: &CodeExec, root: &Path) -> Result<Loadable, String> {
    if !exec.binary {
        return Ok(Loadable::Text);
    }
    let digest = hex(&Sha256::digest(exec.code.as_bytes()));
    let dir = root.join(&digest);
    if dir.is_dir() {
        return Ok(Loadable::Directory(dir));
    }
    // One unpack at a time: a burst of cold starts of one big archive waits for the first
    // instead of unpacking it once each. Unpacks are rare (once per code digest).
    static UNPACKING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = UNPACKING.lock().unwrap_or_else(|p| p.into_inner());
    if dir.is_dir() {
        return Ok(Loadable::Directory(dir));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(exec.code.trim())
        .map_err(|e| format!("the action code is not valid base64: {e}"))?;
    if !bytes.starts_with(b"PK") {
        return Err("the action code is binary but not a zip archive".into());
    }
    // A staging directory of its own, so a crash mid-unpack leaves no half directory under
    // the digest's name.
    static STAGING: AtomicU64 = AtomicU64::new(0);
    let staging = root.join(format!(
        "{digest}.{}.{}.partial",
        std::process::id(),
        STAGING.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the action's zip archive cannot be read: {e}"))?;
    archive
        .extract(&staging)
        .map_err(|e| format!("the action's zip archive cannot be unpacked: {e}"))?;
    readable_by_all(&staging)
        .map_err(|e| format!("the action's zip archive cannot be unpacked: {e}"))?;
    // Another activation may have unpacked the same code meanwhile; either copy is good.
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    if dir.is_dir() {
        Ok(Loadable::Directory(dir))
    } else {
        Err("the action's zip archive could not be unpacked".into())
    }
}

/// Sandboxed runtimes run as a uid of their own, "other" to these files: every directory is
/// made enterable and every file readable (executables stay executable), whatever modes the
/// archive carried.
fn readable_by_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            readable_by_all(&entry.path())?;
        } else if kind.is_file() {
            let mode = entry.metadata()?.permissions().mode() & 0o777;
            let executable = if mode & 0o100 != 0 { 0o111 } else { 0 };
            let wanted = (mode | 0o444 | executable) & !0o022;
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(wanted))?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

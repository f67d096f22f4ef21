//! Turns an action's code into something a launcher can load: source text as is, a zip archive
//! unpacked once per code digest into a directory that every process of that code shares.
//!
//! An archive may unpack to at most a configured number of bytes (a few KB of zip can hold
//! gigabytes of zeros): the sizes its entries declare are checked before anything is written,
//! and the bytes actually written are counted as it unpacks, since a declared size can lie.
//! What is unpacked is readable by all (`FILE_MODE`, `DIR_MODE`): a sandboxed runtime runs as
//! a uid of its own and sees the directory at `/action`. The `code` directory above it is the
//! server's alone, so no other user of the host can reach it.

use std::io::{Cursor, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine;
use sha2::{Digest, Sha256};
use wisp_core::CodeExec;

/// Modes of what an archive unpacks to, whatever the archive says: readable by the sandbox's
/// uid, writable by no one but the server; an entry the archive marks executable (a native
/// binary, a script in `node_modules/.bin`) stays executable.
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;
const EXECUTABLE_MODE: u32 = 0o755;

/// Longest symlink target read from an archive (Linux's `PATH_MAX`).
const MAX_LINK_TARGET: u64 = 4096;

pub enum Loadable {
    Text,
    Directory(PathBuf),
}

/// Prepares `exec` under `root`, unpacking at most `max_unpacked` bytes; errors are messages
/// for the activation's developer error.
pub fn prepare(exec: &CodeExec, root: &Path, max_unpacked: u64) -> Result<Loadable, String> {
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
    if let Err(e) = unpack(&mut archive, &staging, max_unpacked) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
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

/// Unpacks every entry of `archive` under `dir` (made here), or says why not.
fn unpack<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    dir: &Path,
    limit: u64,
) -> Result<(), String> {
    let too_big = || {
        // The limit is configured in MB (`--max-unpacked-mb`).
        let most = match limit % (1 << 20) {
            0 => format!("{} MB", limit >> 20),
            _ => format!("{limit} bytes"),
        };
        format!(
            "the action's zip archive unpacks to more than {most}, the most this server unpacks"
        )
    };
    let unreadable =
        |e: zip::result::ZipError| format!("the action's zip archive cannot be read: {e}");
    let unpacking = |e: std::io::Error| format!("the action's zip archive cannot be unpacked: {e}");
    // What the entries declare, before a byte is written.
    let mut declared = 0u64;
    for i in 0..archive.len() {
        declared = declared.saturating_add(archive.by_index_raw(i).map_err(unreadable)?.size());
    }
    if declared > limit {
        return Err(too_big());
    }
    make_dirs(dir).map_err(unpacking)?;
    let mut written = 0u64;
    // Symlinks are made after every file is written, and every entry's folders are made as
    // real folders first (where a symlink of the archive stands, there is then a folder), so no
    // write and no symlink can pass through one.
    let mut links = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(unreadable)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!(
                "the action's zip archive has an entry outside its own directory: '{}'",
                entry.name()
            ));
        };
        let path = dir.join(relative);
        if entry.is_dir() {
            make_dirs(&path).map_err(unpacking)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            make_dirs(parent).map_err(unpacking)?;
        }
        if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET)
                .read_to_end(&mut target)
                .map_err(unpacking)?;
            links.push((path, target));
            continue;
        }
        let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(if executable {
                EXECUTABLE_MODE
            } else {
                FILE_MODE
            })
            .open(&path)
            .map_err(unpacking)?;
        // One byte past what is left is enough to know the archive is too big.
        let left = limit - written;
        let copied =
            std::io::copy(&mut (&mut entry).take(left + 1), &mut file).map_err(unpacking)?;
        if copied > left {
            return Err(too_big());
        }
        written += copied;
    }
    for (path, target) in links {
        link(&path, &target)?;
    }
    Ok(())
}

fn make_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Makes the symlink `path` → `target`.
fn link(path: &Path, target: &[u8]) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path)
        .map_err(|e| format!("the action's zip archive cannot be unpacked: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A zip of `files` (name, contents), compressed.
    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buffer = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, contents) in files {
            writer.start_file(*name, options).unwrap();
            writer.write_all(contents).unwrap();
        }
        writer.finish().unwrap();
        buffer.into_inner()
    }

    fn exec_of(zip: &[u8]) -> CodeExec {
        serde_json::from_value(serde_json::json!({
            "kind": "nodejs:20",
            "code": base64::engine::general_purpose::STANDARD.encode(zip),
            "binary": true,
        }))
        .unwrap()
    }

    fn entries(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Rewrites every uncompressed size the archive declares (local headers and central
    /// directory) to `size`: an archive that lies about what it holds.
    fn lie_about_sizes(zip: &mut [u8], size: u32) {
        let mut i = 0;
        while i + 4 <= zip.len() {
            match &zip[i..i + 4] {
                [b'P', b'K', 3, 4] => zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
                [b'P', b'K', 1, 2] => zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
                _ => {}
            }
            i += 1;
        }
    }

    #[test]
    fn an_archive_within_the_limit_unpacks_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let exec = exec_of(&zip_of(&[
            ("index.js", b"exports.main = () => ({})"),
            ("lib/a.txt", b"a"),
        ]));
        let Loadable::Directory(dir) = prepare(&exec, root.path(), 1 << 20).unwrap() else {
            panic!("a zip is a directory");
        };
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o755);
        assert_eq!(mode(&dir.join("lib")), 0o755);
        assert_eq!(mode(&dir.join("index.js")), 0o644);
        assert_eq!(std::fs::read(dir.join("lib/a.txt")).unwrap(), b"a");
    }

    #[test]
    fn an_archive_declaring_more_than_the_limit_is_refused_before_writing() {
        let root = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 3 << 20];
        let exec = exec_of(&zip_of(&[("zeros.bin", &zeros)]));
        let Err(error) = prepare(&exec, root.path(), 1 << 20) else {
            panic!("3 MB of zeros is more than 1 MB");
        };
        assert!(error.contains("unpacks to more than 1 MB,"), "{error}");
        assert!(entries(root.path()).is_empty(), "nothing is left behind");
    }

    #[test]
    fn an_archive_lying_about_its_sizes_is_stopped_at_the_limit() {
        let root = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 3 << 20];
        let mut zip = zip_of(&[("a.bin", &zeros), ("b.bin", &zeros)]);
        lie_about_sizes(&mut zip, 10);
        let Err(error) = prepare(&exec_of(&zip), root.path(), 1 << 20) else {
            panic!("the archive holds 6 MB whatever it says");
        };
        // The reader does not stop at a declared size: the count of bytes written does.
        assert!(error.contains("unpacks to more than 1 MB,"), "{error}");
        assert!(entries(root.path()).is_empty(), "nothing is left behind");
    }

    #[test]
    fn entries_are_not_written_through_the_archives_own_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mut buffer = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        writer
            .add_symlink("escape", outside.path().to_str().unwrap(), options)
            .unwrap();
        writer.add_symlink("escape/x", "y", options).unwrap();
        writer.finish().unwrap();
        let Err(error) = prepare(&exec_of(&buffer.into_inner()), root.path(), 1 << 20) else {
            panic!("a link inside a link is refused");
        };
        assert!(error.contains("cannot be unpacked"), "{error}");
        assert!(entries(outside.path()).is_empty());
    }
}

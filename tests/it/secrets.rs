//! What a server keeps on disk is its user's alone, and no command line on the machine shows
//! a key.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::support::{Scratch, Server};

const GUEST: &str = "0b8a3e5c-3d4f-4e6a-9b1c-2f7d8e9a0b1c:\
                     Secr3tGuestKeyThatNoCommandLineMayShow0123456789abcdefghijklmnop";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every folder under `dir` that is not owner-only, and every file others may read or write.
fn open_to_others(dir: &Path, root: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // What sandboxed runtimes (a uid of their own each) read through mounts of their
        // own: the launchers and bundled modules, each action's unpacked code (the `code`
        // directory above it is checked: owner-only), and the declared-file cache, which they
        // may enter but not list (its own test checks its modes).
        let sandbox_reads = relative == "runtime/launchers"
            || relative == "runtime/nodejs"
            || relative == "state-cache"
            || relative.starts_with("runtime/code/");
        if sandbox_reads {
            continue;
        }
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        let mode = mode(&path);
        if kind.is_dir() {
            if mode != 0o700 {
                found.push(format!("{relative}/ {mode:o}"));
            }
            open_to_others(&path, root, found);
        } else if kind.is_file() && mode & 0o077 != 0 {
            found.push(format!("{relative} {mode:o}"));
        }
    }
}

/// The command lines of every process on the machine that holds `secret`.
fn command_lines_holding(secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Processes come and go while the listing is read.
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(secret) {
            found.push(format!("{name}: {line}"));
        }
    }
    found
}

#[tokio::test]
async fn the_data_directory_is_private_and_no_command_line_shows_the_guest_key() {
    let keys = Scratch::new("keys");
    let key_file = keys.path().join("guest.key");
    std::fs::write(&key_file, format!("{GUEST}\n")).unwrap();
    let mut server = Server::start_with(&["--guest-key-file", key_file.to_str().unwrap()]);
    assert_eq!(server.auth, GUEST, "the key comes from the file");

    // An activation of a zip action: unpacked code, the namespace's key-value password and
    // S3 key pair are made now.
    server
        .zip_action(
            "zipped",
            "nodejs:20",
            &[("index.js", "exports.main = () => ({ ok: true })")],
        )
        .await;
    assert_eq!(
        server.result("zipped", json!({})).await,
        json!({"ok": true})
    );

    let secret = GUEST.split_once(':').unwrap().1;
    let shown = command_lines_holding(secret);
    assert!(shown.is_empty(), "command lines show the key: {shown:?}");
    assert!(
        command_lines_holding(&format!("--guest-key-file {}", key_file.display()))
            .iter()
            .any(|line| line.starts_with(&format!("{}:", server.pid()))),
        "the server's command line names the file, not the key"
    );

    let data = server.data_dir();
    assert_eq!(mode(&data), 0o700);
    for made in [
        "db/entities.db",
        "kv/kv.db",
        "objects-url.key",
        "s3-credentials.json",
    ] {
        assert!(data.join(made).exists(), "{made} is made at start");
    }
    assert!(
        std::fs::read_dir(data.join("runtime/code"))
            .unwrap()
            .next()
            .is_some(),
        "the zip action was unpacked"
    );
    let mut open = Vec::new();
    open_to_others(&data, &data, &mut open);
    assert!(open.is_empty(), "open to other users: {open:?}");
    let wskprops = server.home().join(".wskprops");
    assert_eq!(mode(&wskprops), 0o600);

    // Loosened by hand, both are tightened at the next start.
    server.terminate();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&wskprops, std::fs::Permissions::from_mode(0o644)).unwrap();
    server.launch(&["--guest-key-file", key_file.to_str().unwrap()]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&wskprops), 0o600);
}

#[tokio::test]
async fn the_guest_key_can_come_from_the_environment() {
    let server = Server::start_with_env(&[], &[("WISP_GUEST_KEY", GUEST)]);
    assert_eq!(server.auth, GUEST);
    let secret = GUEST.split_once(':').unwrap().1;
    assert!(command_lines_holding(secret).is_empty());
    let (status, _) = server.get("namespaces").await;
    assert_eq!(status, 200, "the guest key given works");
}

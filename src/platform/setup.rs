//! What `wisp serve` does on this machine around the platform: the data directory kept
//! private, the guest namespace's key, and the client's properties file.

use std::path::Path;

use anyhow::Context;
use wisp_core::EntityName;
use wisp_store::EntityStore;

use crate::admin::split_auth;

/// Creates the data directory owner-only, or makes an existing one of ours so: it holds every
/// namespace's secrets (keys, key-value passwords, S3 key pairs, the URL signing key). A
/// directory that holds no store yet is not changed, only named (it may be a home directory).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.mode() & 0o077 == 0 || meta.uid() != effective_uid() {
        return Ok(());
    }
    if dir.join("db").is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        println!(
            "wisp: {} was open to other users; now only its owner may enter it",
            dir.display()
        );
    } else {
        println!(
            "wisp: {} can be entered by other users of this machine (what Wisp keeps in it is \
             its owner's alone): `chmod 700` it",
            dir.display()
        );
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The guest key given by the operator: the file `--guest-key-file` names, else the
/// environment variable `WISP_GUEST_KEY` (whose value a child of the server never sees:
/// runtime processes get a clean environment).
pub fn given_guest_key(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        use std::os::unix::fs::PermissionsExt;
        let auth = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the guest key file {}", file.display()))?;
        if std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            println!(
                "wisp: {} can be read by other users of this machine: `chmod 600` it",
                file.display()
            );
        }
        return Ok(Some(auth.trim().to_string()));
    }
    Ok(std::env::var("WISP_GUEST_KEY")
        .ok()
        .map(|auth| auth.trim().to_string())
        .filter(|auth| !auth.is_empty()))
}

/// The guest namespace's `uuid:key`: as given, else as kept in the data directory, else new.
pub async fn ensure_guest_key(
    store: &dyn EntityStore,
    data_dir: &Path,
    given: Option<&str>,
) -> anyhow::Result<String> {
    let file = data_dir.join("guest.key");
    let auth = match given {
        Some(auth) => auth.to_string(),
        None => match std::fs::read_to_string(&file) {
            Ok(kept) => kept.trim().to_string(),
            Err(_) => {
                let (uuid, key) = wisp_controller::generate_key();
                let auth = format!("{uuid}:{key}");
                wisp_cli::write_private(&file, auth.as_bytes())
                    .with_context(|| format!("cannot keep the guest key in {}", file.display()))?;
                auth
            }
        },
    };
    let (uuid, key) = split_auth(&auth).context("invalid guest key")?;
    let guest = EntityName::parse("guest").expect("a valid name");
    // Storing the key is idempotent; it also refuses a uuid that belongs to another namespace.
    wisp_controller::add_key(store, guest, Some((uuid, key))).await?;
    Ok(auth)
}

/// Makes a properties file of ours (it holds a key) readable by its owner only.
fn tighten_wskprops(path: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.mode() & 0o077 == 0 || meta.uid() != effective_uid() {
        return;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Ok(()) => println!(
            "wisp: {} was readable by other users; now only by its owner",
            path.display()
        ),
        Err(e) => println!("wisp: could not make {} private: {e}", path.display()),
    }
}

/// Writes `~/.wskprops` for this server when there is none; never replaces a different one.
pub fn write_wskprops(api_host: &str, auth: &str) {
    let path = crate::paths::wskprops();
    let wanted = format!("APIHOST={api_host}\nAUTH={auth}\n");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == wanted => tighten_wskprops(&path),
        Ok(_) => {
            tighten_wskprops(&path);
            println!(
                "wisp: {} exists and points elsewhere; left unchanged (use `wisp property set --apihost {api_host} --auth ...`)",
                path.display()
            )
        }
        Err(_) => match wisp_cli::write_private(&path, wanted.as_bytes()) {
            Ok(()) => println!("wisp: wrote {}", path.display()),
            Err(e) => println!("wisp: could not write {}: {e}", path.display()),
        },
    }
}

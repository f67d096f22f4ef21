//! Where Wisp keeps things on this machine.

use std::path::PathBuf;

/// The default data directory: `$XDG_DATA_HOME/wisp`, else `~/.local/share/wisp`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("wisp");
    }
    home().join(".local").join("share").join("wisp")
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The OpenWhisk properties file: `$WSK_CONFIG_FILE`, else `~/.wskprops`.
pub fn wskprops() -> PathBuf {
    match std::env::var_os("WSK_CONFIG_FILE").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => home().join(".wskprops"),
    }
}

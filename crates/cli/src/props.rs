//! The `wsk` properties file (`~/.wskprops`): `KEY=VALUE` lines shared with the `wsk` CLI.
//!
//! The file is kept as lines so that rewriting it leaves keys we do not know (and comments) exactly
//! as the user or `wsk` wrote them.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Environment variable that moves the properties file, as `wsk` reads it.
pub const CONFIG_FILE_ENV: &str = "WSK_CONFIG_FILE";

pub const APIHOST: &str = "APIHOST";
pub const AUTH: &str = "AUTH";
pub const NAMESPACE: &str = "NAMESPACE";

/// Where the properties file lives: `$WSK_CONFIG_FILE`, else `~/.wskprops`.
pub fn default_path() -> Option<PathBuf> {
    path_from(
        std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn path_from(config_file: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    match config_file {
        Some(path) if !path.as_os_str().is_empty() => Some(path),
        _ => home
            .filter(|h| !h.as_os_str().is_empty())
            .map(|h| h.join(".wskprops")),
    }
}

/// The lines of a properties file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    lines: Vec<String>,
}

impl Props {
    pub fn parse(text: &str) -> Self {
        Self {
            lines: text.lines().map(str::to_string).collect(),
        }
    }

    /// Reads the file; a missing file is an empty one, since nothing has been set yet.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_private(path, self.render().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn render(&self) -> String {
        let mut text = self.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }

    /// The value of `key`; when it appears more than once the last line wins, as in `wsk`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .filter_map(|line| split_line(line))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .next_back()
            .filter(|v| !v.is_empty())
    }

    /// Sets `key` in place of its first line (dropping any repeats) or appends it.
    pub fn set(&mut self, key: &str, value: &str) {
        let new_line = format!("{key}={value}");
        let mut placed = false;
        self.lines.retain_mut(|line| {
            if split_line(line).is_some_and(|(k, _)| k == key) {
                if placed {
                    return false;
                }
                *line = new_line.clone();
                placed = true;
            }
            true
        });
        if !placed {
            self.lines.push(new_line);
        }
    }
}

/// Writes the file readable by its owner only (it holds a key), whatever the umask, and makes
/// an existing one so; durable when this returns.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)?;
    file.sync_all()
}

fn split_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    Some((key.trim(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_ignores_others() {
        let props =
            Props::parse("# comment\nAPIHOST=localhost:3233\nAPIGW_ACCESS_TOKEN=x\nAUTH = a:b \n");
        assert_eq!(props.get(APIHOST), Some("localhost:3233"));
        assert_eq!(props.get(AUTH), Some("a:b"));
        assert_eq!(props.get(NAMESPACE), None);
    }

    #[test]
    fn last_repeat_wins_and_empty_means_unset() {
        let props = Props::parse("AUTH=a:b\nAUTH=c:d\nNAMESPACE=\n");
        assert_eq!(props.get(AUTH), Some("c:d"));
        assert_eq!(props.get(NAMESPACE), None);
    }

    #[test]
    fn set_preserves_unknown_lines_and_order() {
        let mut props = Props::parse("# mine\nAPIHOST=old\nAPIGW_ACCESS_TOKEN=x\nAPIHOST=older\n");
        props.set(APIHOST, "http://127.0.0.1:3233");
        props.set(AUTH, "u:k");
        assert_eq!(
            props.render(),
            "# mine\nAPIHOST=http://127.0.0.1:3233\nAPIGW_ACCESS_TOKEN=x\nAUTH=u:k\n"
        );
    }

    #[test]
    fn file_round_trip() {
        let dir = crate::test_support::TempDir::new();
        let path = dir.path().join("nested").join("wskprops");
        assert_eq!(Props::load(&path).unwrap(), Props::default());
        let mut props = Props::parse("OTHER=1");
        props.set(NAMESPACE, "guest");
        props.save(&path).unwrap();
        let back = Props::load(&path).unwrap();
        assert_eq!(back.render(), "OTHER=1\nNAMESPACE=guest\n");
    }

    #[test]
    fn config_file_env_wins_over_home() {
        assert_eq!(
            path_from(Some("/tmp/p".into()), Some("/home/u".into())),
            Some(PathBuf::from("/tmp/p"))
        );
        assert_eq!(
            path_from(Some("".into()), Some("/home/u".into())),
            Some(PathBuf::from("/home/u/.wskprops"))
        );
        assert_eq!(path_from(None, None), None);
    }
}

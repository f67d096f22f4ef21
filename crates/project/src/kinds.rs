//! Action names and runtime kinds from file names, as Nimbella's layout defines them:
//! `hello.js` is action `hello` of kind `nodejs:default`; `a.b.py` is `a.b`;
//! `hello.nodejs-20.zip` is a zipped `hello` of kind `nodejs:20`; `hello.wasm` is a `wasm`
//! action (binary).

/// What a file name says about the action it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAction {
    pub name: String,
    /// `None` when the name does not tell (a bare `.zip`, no extension, an unknown one).
    pub kind: Option<String>,
    /// Deployed base64-encoded (a zip).
    pub binary: bool,
}

/// The default kind of each source extension Wisp runs.
pub fn kind_of_extension(ext: &str) -> Option<&'static str> {
    match ext.to_ascii_lowercase().as_str() {
        "js" | "mjs" | "cjs" => Some("nodejs:default"),
        "py" => Some("python:default"),
        _ => None,
    }
}

/// Splits a file name into its action name, kind and whether it is binary.
pub fn file_action(file_name: &str) -> FileAction {
    let Some((stem, ext)) = file_name.rsplit_once('.').filter(|(s, _)| !s.is_empty()) else {
        return FileAction {
            name: file_name.to_string(),
            kind: None,
            binary: true,
        };
    };
    if ext.eq_ignore_ascii_case("zip") {
        // `name.lang-version.zip`: the middle segment names the kind. A version split by a dot
        // (`python-3.11`) is joined again.
        let (name, kind) = match stem.split_once('.') {
            Some((name, runtime)) => (name, Some(kind_of_segment(runtime))),
            None => (stem, None),
        };
        return FileAction {
            name: name.to_string(),
            kind,
            binary: true,
        };
    }
    if ext.eq_ignore_ascii_case("wasm") {
        // A compiled WebAssembly module or component: the `wasm` kind, sent as base64.
        return FileAction {
            name: stem.to_string(),
            kind: Some("wasm".to_string()),
            binary: true,
        };
    }
    FileAction {
        name: stem.to_string(),
        kind: kind_of_extension(ext).map(str::to_string),
        binary: false,
    }
}

fn kind_of_segment(runtime: &str) -> String {
    match runtime.split_once('-') {
        Some((lang, version)) => format!("{lang}:{version}"),
        None => format!("{runtime}:default"),
    }
}

/// The kind agreed by the files of a zipped action: the one kind their known extensions name.
/// Files with other extensions (data, `package.json`) do not vote.
pub fn agreed_kind<'a>(
    files: impl IntoIterator<Item = &'a str>,
) -> Result<Option<String>, Vec<String>> {
    let mut kinds: Vec<String> = files
        .into_iter()
        .filter_map(|f| {
            f.rsplit_once('.')
                .and_then(|(_, ext)| kind_of_extension(ext))
        })
        .map(str::to_string)
        .collect();
    kinds.sort();
    kinds.dedup();
    match kinds.len() {
        0 => Ok(None),
        1 => Ok(kinds.pop()),
        _ => Err(kinds),
    }
}

/// Files that sit beside actions but never are one: source maps (nimbella-cli #120), editor
/// leftovers and dotfiles.
pub fn is_never_an_action(file_name: &str) -> bool {
    file_name.starts_with('.')
        || file_name.ends_with(".map")
        || file_name.ends_with('~')
        || file_name.ends_with(".swp")
        || file_name.ends_with(".swx")
        || file_name.contains("_tmp_")
        || file_name.contains(".#")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fa(name: &str, kind: Option<&str>, binary: bool) -> FileAction {
        FileAction {
            name: name.into(),
            kind: kind.map(Into::into),
            binary,
        }
    }

    #[test]
    fn kinds_come_from_extensions() {
        assert_eq!(
            file_action("hello.js"),
            fa("hello", Some("nodejs:default"), false)
        );
        assert_eq!(
            file_action("add.PY"),
            fa("add", Some("python:default"), false)
        );
        assert_eq!(
            file_action("a.b.mjs"),
            fa("a.b", Some("nodejs:default"), false)
        );
        assert_eq!(file_action("notes.rb"), fa("notes", None, false));
        assert_eq!(file_action("tool"), fa("tool", None, true));
        assert_eq!(file_action("fast.wasm"), fa("fast", Some("wasm"), true));
    }

    #[test]
    fn zips_may_name_their_kind() {
        assert_eq!(
            file_action("h.nodejs-20.zip"),
            fa("h", Some("nodejs:20"), true)
        );
        assert_eq!(
            file_action("h.python.zip"),
            fa("h", Some("python:default"), true)
        );
        assert_eq!(
            file_action("h.python-3.11.zip"),
            fa("h", Some("python:3.11"), true)
        );
        assert_eq!(file_action("h.zip"), fa("h", None, true));
    }

    #[test]
    fn zipped_files_agree_on_a_kind() {
        assert_eq!(
            agreed_kind(["index.js", "package.json", "lib/x.js"]),
            Ok(Some("nodejs:default".into()))
        );
        assert_eq!(agreed_kind(["data.bin"]), Ok(None));
        assert!(agreed_kind(["a.js", "b.py"]).is_err());
    }

    #[test]
    fn leftovers_are_never_actions() {
        for name in ["index.js.map", ".env", "x.js~", ".#x.js", "a.swp"] {
            assert!(is_never_an_action(name), "{name}");
        }
        assert!(!is_never_an_action("index.js"));
    }
}

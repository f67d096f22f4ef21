//! Runtime kinds: the closed set of languages Wisp can run.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A runtime kind. `nodejs:default` and `python:default` resolve to the family default on input
/// and are stored as the concrete kind, as OpenWhisk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "nodejs:20")]
    Nodejs20,
    #[serde(rename = "python:3")]
    Python3,
    /// A WebAssembly module (a WASI preview-1 command), run in-process by the wasm engine
    /// rather than in a launcher process.
    #[serde(rename = "wasm")]
    Wasm,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Nodejs20, Kind::Python3, Kind::Wasm];
    /// The kinds that run in launcher processes (stem cells are kept for these).
    pub const LAUNCHED: [Kind; 2] = [Kind::Nodejs20, Kind::Python3];

    /// Parses a kind as a client sends it.
    pub fn parse(raw: &str) -> Option<Kind> {
        match raw {
            "nodejs:20" | "nodejs:default" => Some(Kind::Nodejs20),
            "python:3" | "python:3.11" | "python:default" => Some(Kind::Python3),
            "wasm" => Some(Kind::Wasm),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nodejs20 => "nodejs:20",
            Kind::Python3 => "python:3",
            Kind::Wasm => "wasm",
        }
    }

    /// The language family (`nodejs`, `python`), as grouped in `GET /`.
    pub fn family(self) -> &'static str {
        match self {
            Kind::Nodejs20 => "nodejs",
            Kind::Python3 => "python",
            Kind::Wasm => "wasm",
        }
    }

    /// Whether its code must be binary (base64 of a file) rather than source text.
    pub fn is_binary_only(self) -> bool {
        self == Kind::Wasm
    }

    /// Whether this kind is the default of its family.
    pub fn is_default(self) -> bool {
        true
    }

    /// The message for an unknown kind, listing the valid ones.
    pub fn unsupported_message(raw: &str) -> String {
        let valid: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "The specified runtime '{raw}' is not supported by this platform. Valid values are: '{}'.",
            valid.join("', '")
        )
    }

    /// The kind implied by a file extension, for the CLI.
    pub fn from_extension(ext: &str) -> Option<Kind> {
        match ext {
            "js" | "mjs" | "cjs" => Some(Kind::Nodejs20),
            "py" => Some(Kind::Python3),
            "wasm" => Some(Kind::Wasm),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_kinds_resolve_to_concrete_ones() {
        assert_eq!(Kind::parse("nodejs:default"), Some(Kind::Nodejs20));
        assert_eq!(Kind::parse("python:default"), Some(Kind::Python3));
        assert_eq!(Kind::parse("java:8"), None);
        assert_eq!(Kind::parse("wasm"), Some(Kind::Wasm));
        assert_eq!(Kind::from_extension("wasm"), Some(Kind::Wasm));
        assert!(Kind::unsupported_message("java:8").contains("'nodejs:20', 'python:3'"));
    }
}

//! Actions: the functions users create and invoke.

use serde::{Deserialize, Serialize};

use crate::{ActionLimits, Annotations, EntityPath, Kind, Parameter, SemVer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub path: EntityPath,
    pub version: SemVer,
    pub publish: bool,
    pub exec: Exec,
    pub parameters: Vec<Parameter>,
    pub annotations: Annotations,
    pub limits: ActionLimits,
    /// Epoch milliseconds of the last write.
    pub updated: u64,
}

/// What runs: the kind and the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exec {
    pub kind: Kind,
    /// Source text, or the base64 of a zip archive when `binary`.
    pub code: String,
    /// Computed from `code`, never taken from the client.
    pub binary: bool,
    /// The entry point; `main` when absent.
    pub main: Option<String>,
}

impl Exec {
    pub fn new(kind: Kind, code: String, main: Option<String>) -> Exec {
        let binary = looks_like_base64(&code);
        Exec {
            kind,
            code,
            binary,
            main,
        }
    }

    pub fn entry_point(&self) -> &str {
        self.main.as_deref().unwrap_or("main")
    }
}

/// OpenWhisk's rule for `exec.binary`: the trimmed code is non-empty, a multiple of four long
/// and strict base64.
pub fn looks_like_base64(code: &str) -> bool {
    let code = code.trim();
    if code.is_empty() || !code.len().is_multiple_of(4) {
        return false;
    }
    let body = code.trim_end_matches('=');
    code.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

impl Action {
    /// A key that changes whenever anything a running process depends on changes: processes
    /// are warm for exactly one such key.
    pub fn revision_key(&self) -> String {
        format!("{}@{}#{}", self.path, self.version, self.updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_computed_from_the_code() {
        assert!(!Exec::new(Kind::Nodejs20, "function main(){}".into(), None).binary);
        assert!(Exec::new(Kind::Nodejs20, "UEsDBA==".into(), None).binary);
        assert!(!looks_like_base64("abc"));
        assert!(!looks_like_base64("ab=c"));
        assert!(!looks_like_base64(""));
    }
}

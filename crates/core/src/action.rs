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

/// What runs when the action is invoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Exec {
    /// Code a runtime process loads and runs.
    Code(CodeExec),
    /// Work the platform itself does, such as a system feed: never reaches a runtime process
    /// and cannot be created through the API.
    Builtin(BuiltinExec),
    /// Other actions run one after another by the controller, each one's result the next
    /// one's input.
    Sequence(SequenceExec),
}

/// The components of a sequence, fully qualified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceExec {
    pub components: Vec<EntityPath>,
}

/// A builtin's name, such as `alarms/alarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltinExec {
    pub builtin: String,
}

/// Code in one of the runtime kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeExec {
    pub kind: Kind,
    /// Source text, or the base64 of a zip archive when `binary`.
    pub code: String,
    /// Computed from `code`, never taken from the client.
    pub binary: bool,
    /// The entry point; `main` when absent.
    pub main: Option<String>,
}

impl Exec {
    /// The kind as clients see it: a runtime kind, or `builtin`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Exec::Code(code) => code.kind.as_str(),
            Exec::Builtin(_) => "builtin",
            Exec::Sequence(_) => "sequence",
        }
    }

    pub fn code(&self) -> Option<&CodeExec> {
        match self {
            Exec::Code(code) => Some(code),
            _ => None,
        }
    }
}

impl CodeExec {
    pub fn new(kind: Kind, code: String, main: Option<String>) -> CodeExec {
        let binary = looks_like_base64(&code);
        CodeExec {
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
    /// Whether invoking it runs a conductor composition: code with a truthy `conductor`
    /// annotation (the annotation means nothing on a sequence).
    pub fn is_conductor(&self) -> bool {
        matches!(self.exec, Exec::Code(_))
            && self
                .annotations
                .get("conductor")
                .is_some_and(crate::params::is_truthy)
    }

    /// Whether invoking it runs a composition the controller drives: a sequence or a
    /// conductor action.
    pub fn is_composition(&self) -> bool {
        matches!(self.exec, Exec::Sequence(_)) || self.is_conductor()
    }

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
        assert!(!CodeExec::new(Kind::Nodejs20, "function main(){}".into(), None).binary);
        assert!(CodeExec::new(Kind::Nodejs20, "UEsDBA==".into(), None).binary);
        assert!(!looks_like_base64("abc"));
        assert!(!looks_like_base64("ab=c"));
        assert!(!looks_like_base64(""));
    }
}

//! The one error type of the crate: what is wrong with a project, said so that its author
//! knows what to change.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// `project.yml` is invalid (the message starts with `line N:` where the parser knows).
    #[error("project.yml: {0}")]
    Config(String),
    #[error("project.yml names variables that are set neither in the environment nor in the env file: {}", .0.join(", "))]
    Unresolved(Vec<String>),
    /// The directory tree breaks a layout rule.
    #[error("{0}")]
    Layout(String),
    /// A build step of an action (or of `lib/`) failed; `output` is what it printed.
    #[error("build of {part} failed: {reason}{}", if .output.is_empty() { String::new() } else { format!("\n{}", .output.trim_end()) })]
    Build {
        part: String,
        reason: String,
        output: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ProjectError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

//! The two kinds of failure a script needs to tell apart, and the exit code of each.
//!
//! Everything else is a plain `anyhow::Error`; these marker types survive `.context()` so that
//! `run` can find them anywhere in the chain.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when the server refused a request or a function failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for bad command lines and missing or broken configuration.
pub const EXIT_USAGE: i32 = 2;

/// A problem with how the command was called or configured: nothing was sent to the server.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds a usage error from a message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The exit code for a failed command.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// True when the error only says that whoever read our output went away (`wisp ... | head`),
/// which is not worth a message.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_keep_their_exit_code_under_context() {
        let err = Err::<(), _>(usage("no auth key"))
            .context("cannot list actions")
            .unwrap_err();
        assert_eq!(exit_code(&err), EXIT_USAGE);
        assert_eq!(format!("{err:#}"), "cannot list actions: no auth key");
    }

    #[test]
    fn other_errors_exit_with_one() {
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), EXIT_FAILED);
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::new(io).context("cannot write output");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}

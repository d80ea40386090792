//! The exit codes korthbox ends with, and which error ends with which.

use crate::base::error::{Error, ErrorKind};

/// Process exit codes, the same for every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// A check or an operation failed, or was refused.
    Failure = 1,
    /// The command line or the configuration is wrong.
    Usage = 2,
    /// Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl From<&Error> for ExitCode {
    fn from(err: &Error) -> Self {
        match err.kind {
            ErrorKind::Failure | ErrorKind::Silent | ErrorKind::Declined => ExitCode::Failure,
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::Interrupted => ExitCode::Interrupted,
        }
    }
}

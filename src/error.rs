//! The one error type commands return: what happened, why, and the fix; printed once by main.

use std::fmt;

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

#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub code: ExitCode,
}

impl Error {
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            code: ExitCode::Failure,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            code: ExitCode::Usage,
        }
    }

    pub fn caused_by(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        for cause in &self.causes {
            write!(f, "\n  caused by: {cause}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`korthbox doctor | head`): nothing left to say.
            return Error {
                message: String::new(),
                causes: Vec::new(),
                hint: None,
                code: ExitCode::Failure,
            };
        }
        Error::failure("could not write the output").caused_by(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

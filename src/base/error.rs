//! The one error type: what happened, why (causes, with the source errors' own chains kept),
//! and the fixes (hints, several allowed). Its kind decides the exit code; `main` prints it once.

use std::fmt;

/// What sort of failure this is; `commands` turns it into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A check or an operation failed, or was refused.
    Failure,
    /// The command line or the configuration is wrong.
    Usage,
    /// The user stopped korthbox (Ctrl-C at a prompt).
    Interrupted,
    /// The user answered no: not a failure, so no `error:` and no hint; the message says what
    /// was kept. Exit code 1, so that a script sees the work was not done.
    Declined,
    /// Nothing left to say: the reader of the output went away (`korthbox doctor | head`).
    Silent,
}

/// Why something failed: a sentence, or an error with its own chain of sources.
enum Cause {
    Text(String),
    Error(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Text(t) => write!(f, "{t:?}"),
            Cause::Error(e) => write!(f, "{e:?}"),
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    causes: Vec<Cause>,
    hints: Vec<String>,
    /// The command's own JSON document already says what failed (`prove --json`'s steps,
    /// `upload --json`'s counts), so no error document follows it on stdout.
    pub reported_as_json: bool,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
            reported_as_json: false,
        }
    }

    /// Marks the error as said by the JSON document the command printed (with `json`).
    pub fn reported_in_json(mut self, json: bool) -> Self {
        self.reported_as_json = json;
        self
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failure, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }

    /// The user said no at a question; `message` says what was kept.
    pub fn declined(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Declined, message)
    }

    /// Adds a cause in words.
    pub fn caused_by(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(Cause::Text(cause.to_string()));
        self
    }

    /// Adds a cause that is an error, keeping its chain of sources (a kube or bollard error's
    /// underlying I/O or TLS error is printed too).
    pub fn because(mut self, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.causes.push(Cause::Error(Box::new(error)));
        self
    }

    /// Adds a fix; every hint added is printed.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        if !hint.is_empty() && !self.hints.contains(&hint) {
            self.hints.push(hint);
        }
        self
    }

    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    /// Every cause as a line: sentences as written, errors followed by their sources (a
    /// source whose text the line before already says is left out).
    pub fn cause_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for cause in &self.causes {
            match cause {
                Cause::Text(t) => lines.push(t.clone()),
                Cause::Error(e) => {
                    let mut said = e.to_string();
                    lines.push(said.clone());
                    let mut next = e.source();
                    while let Some(source) = next {
                        let text = source.to_string();
                        if !said.contains(&text) {
                            lines.push(text.clone());
                        }
                        said = text;
                        next = source.source();
                    }
                }
            }
        }
        lines.iter().map(|l| redact(l)).collect()
    }
}

/// An error and its sources as one line ("client error (Connect): tcp connect error:
/// Connection refused (os error 111)"), a source whose text is already said left out.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ErrorKind::Declined {
            return f.write_str(&redact(&self.message));
        }
        let mut text = format!("error: {}", self.message);
        for cause in self.cause_lines() {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        for hint in &self.hints {
            text.push_str(&format!("\nhint: {hint}"));
        }
        f.write_str(&redact(&text))
    }
}

/// `text` with every credential in a URL masked — `scheme://user:password@host` becomes
/// `scheme://***@host`, and so does a scheme-less `*_PROXY=user:password@host` — the one rule
/// for every line korthbox shows or stores (errors, tools' output, logs, JSON).
///
/// ```
/// use korthbox::base::error::redact;
/// assert_eq!(redact("Found network options: - HTTPS_PROXY=http://alice:PW@proxy:3128"),
///            "Found network options: - HTTPS_PROXY=http://***@proxy:3128");
/// assert_eq!(redact("no_proxy=a https_proxy=alice:PW@proxy:3128"), "no_proxy=a https_proxy=***@proxy:3128");
/// assert_eq!(redact("mail me@example.org"), "mail me@example.org");
/// ```
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = next_authority(rest) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || "/?#\"'<>,;)]}".contains(c))
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(i) => {
                out.push_str("***");
                out.push_str(&after[i..end]);
            }
            None => out.push_str(&after[..end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next URL authority starts: after `://`, or after `PROXY=` (any case) when the
/// value has no scheme of its own.
fn next_authority(text: &str) -> Option<usize> {
    let scheme = text.find("://").map(|i| i + 3);
    let proxy = text
        .as_bytes()
        .windows(6)
        .position(|w| w.eq_ignore_ascii_case(b"proxy="))
        .map(|i| i + "proxy=".len())
        .filter(|&i| {
            let word = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map(|end| &text[i + end..]);
            !word.is_some_and(|w| w.starts_with("://"))
        });
    match (scheme, proxy) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.causes.iter().find_map(|c| match c {
            Cause::Error(e) => Some(e.as_ref() as &(dyn std::error::Error + 'static)),
            Cause::Text(_) => None,
        })
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Error::new(ErrorKind::Silent, "");
        }
        Error::failure("could not write the output").because(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_accumulate_and_sources_are_kept() {
        let io = std::io::Error::other("disk full");
        let err = Error::failure("could not write x")
            .because(io)
            .caused_by("the original is intact")
            .hint("free some space")
            .hint("or write elsewhere");
        let text = err.to_string();
        assert_eq!(
            text,
            "error: could not write x\n  caused by: disk full\n  caused by: the original is intact\nhint: free some space\nhint: or write elsewhere"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}

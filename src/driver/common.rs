//! What every driver shares: running a tool with its output streamed and a timeout, quoting
//! command lines for people, and reading Kubernetes versions.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::Invocation;
use crate::env::Env;
use crate::error::Error;
use crate::host::tools;

/// How a finished command went, with everything it printed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr lines interleaved as they arrived, for error messages.
    pub lines: Vec<String>,
}

impl Outcome {
    /// The last `n` lines of output, for an error message.
    pub fn tail(&self, n: usize) -> String {
        let start = self.lines.len().saturating_sub(n);
        self.lines[start..].join("\n")
    }
}

/// Runs `inv` with the program's environment plus the invocation's own, handing each output
/// line to `on_line` as it arrives; gives up (and kills the tool) after `timeout`.
pub async fn run(
    env: &Env,
    inv: &Invocation,
    timeout: Duration,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Outcome, Error> {
    let program = tools::find(env, inv.tool).ok_or_else(|| {
        Error::failure(format!("{} is not installed", inv.tool.executable()))
            .hint("run `korthbox doctor` to see how to install it")
    })?;
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&inv.args)
        .env_clear()
        .envs(env.vars())
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        Error::failure(format!("could not start `{}`", inv.display()))
            .caused_by(format!("{}: {e}", program.display()))
    })?;

    let (tx, mut rx) = mpsc::unbounded_channel::<(bool, String)>();
    for (is_err, pipe) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send((is_err, line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut outcome = Outcome {
        success: false,
        code: None,
        stdout: String::new(),
        stderr: String::new(),
        lines: Vec::new(),
    };
    let collect = async {
        while let Some((is_err, line)) = rx.recv().await {
            on_line(&line);
            let buf = if is_err {
                &mut outcome.stderr
            } else {
                &mut outcome.stdout
            };
            buf.push_str(&line);
            buf.push('\n');
            outcome.lines.push(line);
        }
        child.wait().await
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok(Ok(status)) => {
            outcome.success = status.success();
            outcome.code = status.code();
            Ok(outcome)
        }
        Ok(Err(e)) => {
            Err(Error::failure(format!("`{}` could not be waited for", inv.display())).caused_by(e))
        }
        Err(_) => {
            let _ = child.start_kill();
            let mut err = Error::failure(format!(
                "`{}` did not finish within {}",
                inv.display(),
                crate::ui::seconds(timeout)
            ));
            if !outcome.lines.is_empty() {
                err = err.caused_by(format!("its last output:\n{}", outcome.tail(15)));
            }
            Err(err.hint(
                "raise the limit with --timeout, or run the command by hand to see where it stops",
            ))
        }
    }
}

/// An error for a tool that exited unsuccessfully, carrying the command and its last output.
pub fn failed(what: &str, inv: &Invocation, outcome: &Outcome) -> Error {
    let status = match outcome.code {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    let mut err = Error::failure(what.to_string())
        .caused_by(format!("`{}` failed ({status})", inv.display()));
    if !outcome.lines.is_empty() {
        err = err.caused_by(format!("its output ended with:\n{}", outcome.tail(25)));
    }
    err
}

/// Writes a definition file, creating its directory.
pub fn write_definition(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::failure(format!("could not create {}", dir.display())).caused_by(e)
        })?;
    }
    std::fs::write(path, text)
        .map_err(|e| Error::failure(format!("could not write {}", path.display())).caused_by(e))
}

/// Quotes a word for a POSIX shell when it needs it.
///
/// ```
/// use korthbox::driver::common::shell_quote;
/// assert_eq!(shell_quote("--nodes=3"), "--nodes=3");
/// assert_eq!(shell_quote("a b"), "'a b'");
/// assert_eq!(shell_quote("it's"), r#"'it'\''s'"#);
/// ```
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=/.:,@+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A Kubernetes version as a user writes it: `1.36`, `v1.36.4`, `1.36.4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: Option<u64>,
}

impl KubeVersion {
    /// ```
    /// use korthbox::driver::common::KubeVersion;
    /// let v = KubeVersion::parse("v1.36.4").unwrap();
    /// assert_eq!((v.major, v.minor, v.patch), (1, 36, Some(4)));
    /// assert_eq!(KubeVersion::parse("1.35").unwrap().patch, None);
    /// assert!(KubeVersion::parse("latest").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a Kubernetes version: write it as v1.36.4 (or 1.36 where the driver allows)"
            )
        };
        let core = text.strip_prefix('v').unwrap_or(text);
        let mut parts = core.split('.');
        let mut number = |required: bool| -> Result<Option<u64>, String> {
            match parts.next() {
                Some(p) => p.parse().map(Some).map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(None),
            }
        };
        let major = number(true)?.ok_or_else(bad)?;
        let minor = number(true)?.ok_or_else(bad)?;
        let patch = number(false)?;
        if parts.next().is_some() || major != 1 {
            return Err(bad());
        }
        Ok(Self {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.patch {
            Some(p) => write!(f, "v{}.{}.{p}", self.major, self.minor),
            None => write!(f, "v{}.{}", self.major, self.minor),
        }
    }
}

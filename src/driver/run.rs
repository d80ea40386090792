//! Running a tool: its output streamed line by line into the phase, everything kept for error
//! messages, and a timeout after which it is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use super::api::Invocation;
use crate::base::env::Env;
use crate::base::error::Error;
use crate::base::report::{Phase, seconds};
use crate::host::{process, tools};

/// How a finished command went, with everything it printed.
#[derive(Debug, Clone, Default)]
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

    fn push(&mut self, is_err: bool, line: String) {
        let buf = if is_err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        buf.push_str(&line);
        buf.push('\n');
        self.lines.push(line);
    }
}

/// Runs `inv` with the program's environment plus the invocation's own, handing each output
/// line to `phase` as it arrives; gives up (and kills the tool) after `timeout`.
pub async fn run(
    env: &Env,
    inv: &Invocation,
    timeout: Duration,
    phase: Option<&Phase<'_>>,
) -> Result<Outcome, Error> {
    let mut group = process::Group(spawn(env, inv)?);
    let child = &mut group.0;
    let mut lines = stream_lines(child);
    let mut outcome = Outcome::default();
    let collect = async {
        while let Some((is_err, line)) = lines.recv().await {
            if let Some(phase) = phase {
                phase.output(&line);
            }
            outcome.push(is_err, line);
        }
        child.wait().await
    };
    let waited = tokio::time::timeout(timeout, collect).await;
    match waited {
        Ok(Ok(status)) => {
            outcome.success = status.success();
            outcome.code = status.code();
            Ok(outcome)
        }
        Ok(Err(e)) => {
            Err(Error::failure(format!("`{}` could not be waited for", inv.display())).because(e))
        }
        Err(_) => {
            // The tool and whatever it started (a kind create runs docker, kubeadm, …).
            process::kill_group(&mut group.0);
            Err(timed_out(inv, timeout, &outcome))
        }
    }
}

fn spawn(env: &Env, inv: &Invocation) -> Result<Child, Error> {
    let program = tools::find(env, inv.tool).ok_or_else(|| {
        Error::failure(format!("{} is not installed", inv.tool.executable()))
            .hint("run `korthbox doctor` to see how to install it")
    })?;
    let mut cmd = tokio::process::Command::new(&program);
    process::own_group(&mut cmd)
        .args(&inv.args)
        .env_clear()
        .envs(env.vars())
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::failure(format!("could not start `{}`", inv.display()))
                .caused_by(format!("{}: {e}", program.display()))
        })
}

/// stdout and stderr, line by line as they arrive (`true` marks stderr).
fn stream_lines(child: &mut Child) -> mpsc::UnboundedReceiver<(bool, String)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let pipes: [(bool, Option<Box<dyn AsyncRead + Send + Unpin>>); 2] = [
        (false, child.stdout.take().map(|p| Box::new(p) as _)),
        (true, child.stderr.take().map(|p| Box::new(p) as _)),
    ];
    for (is_err, pipe) in pipes {
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
    rx
}

fn timed_out(inv: &Invocation, timeout: Duration, outcome: &Outcome) -> Error {
    let mut err = Error::failure(format!(
        "`{}` did not finish within {}",
        inv.display(),
        seconds(timeout)
    ));
    if !outcome.lines.is_empty() {
        err = err.caused_by(format!("its last output:\n{}", outcome.tail(15)));
    }
    err.hint(format!(
        "raise the limit with {}, or run the command by hand to see where it stops",
        limit_flag(inv)
    ))
}

/// The flag that limits what `inv` does: korthbox's time limits are named for what they limit.
fn limit_flag(inv: &Invocation) -> &'static str {
    let has = |word: &str| inv.args.iter().any(|a| a == word);
    if has("delete") {
        "--delete-timeout"
    } else if has("stop") {
        "--stop-timeout"
    } else if has("load") || has("import") {
        "--load-timeout"
    } else {
        // create, and start (minikube starts a new profile; `korthbox start` takes up's flags)
        "--create-timeout"
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

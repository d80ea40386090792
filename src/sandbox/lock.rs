//! One lock per sandbox name, so that two `up`/`down`/`reset` never work on the same sandbox at
//! once. An advisory lock on a file in korthbox's cache directory (`flock` on Unix, `LockFileEx`
//! on Windows, through std): the system releases it when the process ends, however it ends
//! (Ctrl-C, a crash), so a lock is never left stale.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::base::env::Env;
use crate::base::error::Error;
use crate::base::report::{Reporter, seconds};
use crate::base::spec::SandboxName;

/// Held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

/// Who holds a lock, as its holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    /// Seconds since the epoch.
    pub since: u64,
}

impl Holder {
    fn parse(text: &str) -> Option<Holder> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok()?;
        let since = words.next()?.parse().ok()?;
        let command = words.collect::<Vec<_>>().join(" ");
        Some(Holder {
            pid,
            command,
            since,
        })
    }

    pub fn describe(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(self.since);
        format!(
            "`korthbox {}` (pid {}, for {})",
            self.command,
            self.pid,
            seconds(Duration::from_secs(now.saturating_sub(self.since)))
        )
    }
}

/// Who holds the lock of sandbox `name` right now, if anyone does (`status` says so).
pub fn holder(env: &Env, name: &SandboxName) -> Option<Holder> {
    let path = env.cache_dir()?.join("locks").join(format!("{name}.lock"));
    let mut file = File::open(&path).ok()?;
    // Free: taken and released at once (dropping the file releases it).
    if try_lock(&file).ok()? {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Holder::parse(&text)
}

fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Takes the lock of sandbox `name` for `command`, waiting up to `wait` for another holder to
/// finish (and saying once whom it waits for).
pub async fn acquire(
    env: &Env,
    name: &SandboxName,
    command: &str,
    wait: Duration,
    reporter: &dyn Reporter,
) -> Result<Lock, Error> {
    let dir = env
        .cache_dir()
        .ok_or_else(|| Error::failure("korthbox has no cache directory for its locks"))?
        .join("locks");
    crate::host::fs::create_private_dir(&dir)
        .map_err(|e| Error::failure(format!("could not create {}", dir.display())).because(e))?;
    let path = dir.join(format!("{name}.lock"));
    let mut file = crate::host::fs::private_options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::failure(format!("could not open {}", path.display())).because(e))?;
    let deadline = Instant::now() + wait;
    let mut told = false;
    loop {
        if try_lock(&file)
            .map_err(|e| Error::failure(format!("could not lock {}", path.display())).because(e))?
        {
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{} {since} {command}", std::process::id());
            let _ = file.flush();
            return Ok(Lock { _file: file, path });
        }
        let mut text = String::new();
        let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut text));
        let holder = Holder::parse(&text);
        if Instant::now() >= deadline {
            let who = holder
                .as_ref()
                .map(Holder::describe)
                .unwrap_or_else(|| "another korthbox".into());
            let mut err = Error::failure(format!("sandbox {name} is busy: {who} is working on it"));
            if !wait.is_zero() {
                err = err.caused_by(format!("it was still busy after waiting {}", seconds(wait)));
            }
            let hint = match &holder {
                Some(h) => format!(
                    "wait for it to finish (or stop it: `kill {}`), or wait longer with --lock-wait",
                    h.pid
                ),
                None => "wait for it to finish, or wait longer with --lock-wait".into(),
            };
            return Err(err.hint(hint));
        }
        if !told && let Some(h) = &holder {
            reporter.note(&format!(
                "waiting for {} to finish with sandbox {name}",
                h.describe()
            ));
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_line_round_trips() {
        let h = Holder::parse("4242 1700000000 up --driver kind").unwrap();
        assert_eq!(h.pid, 4242);
        assert_eq!(h.command, "up --driver kind");
    }
}

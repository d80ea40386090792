//! Writing files safely: atomically (a failed write leaves the original as it was), privately
//! (secrets readable by their owner only), and executables. The only file code that differs
//! between Unix and Windows.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a `<file>.lock` that another program holds is waited for.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Replaces `path` with `contents` so that a failure at any point leaves the original intact:
/// a temporary file beside it (with the original's permissions) is written, flushed to disk and
/// renamed over it. Where the directory cannot take a new file, the file is rewritten in
/// place instead. Honours client-go's `<file>.lock` (kubectl's), holding it while writing. A
/// link is followed: the file it leads to is replaced, and the link stays a link (a dotfiles
/// repository's kubeconfig keeps getting the change).
pub fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let _lock = LockFile::take(path)?;
    let resolved = std::fs::canonicalize(path)?;
    let path = resolved.as_path();
    let permissions = std::fs::metadata(path).map(|m| m.permissions()).ok();
    let temporary = temporary_beside(path);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| {
            if let Some(permissions) = &permissions {
                file.set_permissions(permissions.clone())?;
            }
            file.write_all(contents)?;
            file.sync_all()
        });
    match written {
        Ok(()) => std::fs::rename(&temporary, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        }),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let _ = std::fs::remove_file(&temporary);
            rewrite_in_place(path, contents)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// The last resort for a file in a directory korthbox may not write to.
fn rewrite_in_place(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.korthbox-{}.tmp", std::process::id()))
}

/// client-go's lock: `<file>.lock`, created exclusively, removed when done.
struct LockFile(PathBuf);

impl LockFile {
    fn take(path: &Path) -> std::io::Result<LockFile> {
        let lock = PathBuf::from(format!("{}.lock", path.display()));
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(_) => return Ok(LockFile(lock)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(std::io::Error::new(
                            e.kind(),
                            format!(
                                "{} exists: another program (kubectl?) is changing the file; if none is, remove it",
                                lock.display()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates directory `dir` (and its missing parents) so that only its owner can enter it:
/// korthbox's cache holds tools' output, definitions and locks.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Opens `path` for writing with a mode only its owner can read (0600) when it is created.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes a file only its owner can read (it holds a secret, or tools' output), creating its
/// directory the same way.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file: File = options.open(path)?;
    // An existing file keeps its mode through open; make it private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)
}

/// Creates `path` for writing, failing if anything is there already (no following a link
/// someone planted, no sharing with another korthbox).
pub fn create_exclusive(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Lets everyone run the file at `path` (a downloaded driver); nothing to do on Windows.
pub fn make_executable(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("korthbox-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config");
        std::fs::write(&file, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        replace(&file, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

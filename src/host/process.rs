//! Child processes korthbox runs (the cluster tools): each in a process group of its own, so
//! that a timeout ends everything the tool started, not just the tool.

use tokio::process::{Child, Command};

/// Starts the command's process in a new process group (Unix; nothing to do on Windows, where
/// killing the child is all there is).
pub fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    cmd.process_group(0);
    cmd
}

/// Kills the child and, on Unix, every process in its group.
pub fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.start_kill();
}

/// A child started with [`own_group`] whose whole group is killed when this is dropped before
/// the child ended (korthbox interrupted, a timeout): nothing it started outlives it.
pub struct Group(pub Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            kill_group(&mut self.0);
        }
    }
}

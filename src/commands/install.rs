//! `korthbox install kind|k3d|minikube`.

use std::io::IsTerminal;

use crate::cli::{InstallArgs, InstallTool};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host::os::{Arch, OsFamily};
use crate::host::tools::ToolName;
use crate::install;
use crate::ui::{self, Phase, Style};

pub fn tool_name(tool: InstallTool) -> ToolName {
    match tool {
        InstallTool::Kind => ToolName::Kind,
        InstallTool::K3d => ToolName::K3d,
        InstallTool::Minikube => ToolName::Minikube,
    }
}

/// The release names' OS and architecture for this host.
pub fn platform(env: &Env) -> Result<(&'static str, &'static str)> {
    let host = crate::host::os::detect(env);
    let os = match host.family {
        OsFamily::Linux | OsFamily::Wsl2 => "linux",
        OsFamily::Macos => "darwin",
        OsFamily::Windows | OsFamily::Other => {
            return Err(
                Error::usage("korthbox installs drivers on Linux, WSL2 and macOS only").hint(
                    "on Windows: `winget install -e --id Kubernetes.kind` (or k3d, minikube)",
                ),
            );
        }
    };
    let arch = match host.arch {
        Arch::X86_64 => "amd64",
        Arch::Arm64 => "arm64",
        Arch::Other => {
            return Err(Error::usage(
                "the drivers publish amd64 and arm64 builds only",
            ));
        }
    };
    Ok((os, arch))
}

/// The phase's progress for a download: one line moving through its states.
struct Shown<'a>(&'a Phase);

impl install::Progress for Shown<'_> {
    fn state(&self, state: &str) {
        self.0.line(state);
    }
    fn bytes(&self, done: u64, total: Option<u64>) {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        self.0.line(&match total {
            Some(t) => format!("downloading {:.1} of {:.1} MiB", mib(done), mib(t)),
            None => format!("downloading {:.1} MiB", mib(done)),
        });
    }
}

pub async fn install_tool(
    env: &Env,
    style: Style,
    tool: ToolName,
    timeout: std::time::Duration,
) -> Result<()> {
    let (os, arch) = platform(env)?;
    let version = install::pinned(tool)
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let phase = Phase::start(style, format!("Installing {}{version}", tool.executable()));
    match install::install(env, tool, os, arch, timeout, &Shown(&phase)).await {
        Ok(done) => {
            phase.finish(
                true,
                &format!(
                    "{} ({} bytes, SHA-256 {} verified)",
                    done.path.display(),
                    done.bytes,
                    done.sha256
                ),
            );
            Ok(())
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

pub async fn run(args: InstallArgs, env: &Env, style: Style) -> Result<ExitCode> {
    install_tool(env, style, tool_name(args.tool), args.timeout).await?;
    if let Some(dir) = env.bin_dir() {
        ui::note(
            style,
            &format!(
                "korthbox finds it there; to run it yourself, add {} to PATH",
                dir.display()
            ),
        );
    }
    Ok(ExitCode::Success)
}

/// When no driver is installed and a person is at the terminal, `up` offers to install kind.
pub async fn offer(env: &Env, style: Style) -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    let dir = env
        .bin_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let version = install::pinned(ToolName::Kind)
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    eprint!("No cluster driver is installed. Download kind{version} into {dir} now? [Y/n] ");
    let mut answer = String::new();
    std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer)?;
    if matches!(answer.trim(), "" | "y" | "Y" | "yes") {
        install_tool(
            env,
            style,
            ToolName::Kind,
            std::time::Duration::from_secs(600),
        )
        .await?;
        return Ok(true);
    }
    Ok(false)
}

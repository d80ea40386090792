//! argv → run → exit code; the error, if any, is printed here and only here.

use std::sync::Arc;

use clap::FromArgMatches;

use korthbox::cli::{Cli, Command};
use korthbox::commands::{self, ExitCode};
use korthbox::env::Env;
use korthbox::ui::{Style, Ui};

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // korthbox.toml changes the defaults clap parses with, so it is read first.
    let config = match korthbox::config::load(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return exit(ExitCode::from(&e));
        }
    };
    let matches =
        korthbox::config::command(config.as_ref().map(|(_, c)| c)).get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let env = Env::from_process();
    let ui = Arc::new(Ui::new(Style::detect(&env, cli.verbose, cli.quiet)));
    // Before deleting anything, say which settings of the file chose the sandbox.
    if let (Some((path, config)), Command::Down(_) | Command::Reset(_)) = (&config, &cli.command) {
        let chosen = korthbox::config::chose_target(config, &matches);
        if !chosen.is_empty() {
            ui.note(&format!(
                "{} chose the sandbox: {}",
                path.display(),
                chosen.join(", ")
            ));
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime\n  caused by: {e}");
            return exit(ExitCode::Failure);
        }
    };
    // `forward` and `open` (when it forwards) end with Ctrl-C by design, and `upload` stops
    // cleanly on it; everything else is interrupted by it.
    let ends_with_ctrl_c = matches!(
        cli.command,
        Command::Forward(_) | Command::Open(_) | Command::Upload(_)
    );
    let code = runtime.block_on(async {
        let typed = args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let work = commands::run(cli, env, ui.clone(), typed);
        let result = if ends_with_ctrl_c {
            work.await
        } else {
            tokio::select! {
                result = work => result,
                _ = tokio::signal::ctrl_c() => {
                    ui.clear();
                    eprintln!("\n{}", ui.interrupted());
                    return ExitCode::Interrupted;
                }
            }
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                ui.error(&e);
                ExitCode::from(&e)
            }
        }
    });
    // Probes that timed out may still hold a socket; do not wait for them.
    runtime.shutdown_background();
    exit(code)
}

fn exit(code: ExitCode) -> std::process::ExitCode {
    std::process::ExitCode::from(code as u8)
}

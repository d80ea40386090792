//! argv → run → exit code; the error, if any, is printed here and only here.

use clap::FromArgMatches;

use korthbox::cli::{Cli, Command};
use korthbox::env::Env;
use korthbox::error::ExitCode;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // korthbox.toml changes the defaults clap parses with, so it is read first.
    let config = match korthbox::config::load(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(e.code as u8);
        }
    };
    let matches =
        korthbox::config::command(config.as_ref().map(|(_, c)| c)).get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let env = Env::from_process();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime\n  caused by: {e}");
            return std::process::ExitCode::from(ExitCode::Failure as u8);
        }
    };
    // `forward` ends with Ctrl-C by design; everything else is interrupted by it.
    let ends_with_ctrl_c = matches!(cli.command, Command::Forward(_));
    let code = runtime.block_on(async {
        let work = korthbox::commands::run(cli, env);
        let result = if ends_with_ctrl_c {
            work.await
        } else {
            tokio::select! {
                result = work => result,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("\n{}", korthbox::ui::interrupted());
                    return ExitCode::Interrupted;
                }
            }
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                if !e.message.is_empty() {
                    eprintln!("{e}");
                }
                e.code
            }
        }
    });
    // Probes that timed out may still hold a socket; do not wait for them.
    runtime.shutdown_background();
    std::process::ExitCode::from(code as u8)
}

//! argv → run → exit code; the error, if any, is printed here and only here.

use clap::Parser;

use korthbox::cli::Cli;
use korthbox::env::Env;
use korthbox::error::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
    let code = match runtime.block_on(korthbox::commands::run(cli, env)) {
        Ok(code) => code,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("{e}");
            }
            e.code
        }
    };
    // Probes that timed out may still hold a socket; do not wait for them.
    runtime.shutdown_background();
    std::process::ExitCode::from(code as u8)
}

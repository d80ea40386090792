//! What each command does, from parsed arguments to an exit code.

use crate::cli::{Cli, Command, DoctorArgs};
use crate::doctor::{self, LocalFacts, Status};
use crate::env::Env;
use crate::error::{ExitCode, Result};
use crate::host;
use crate::spec::HostPorts;
use crate::ui::{self, Style};

pub async fn run(cli: Cli, env: Env) -> Result<ExitCode> {
    let style = Style::detect(&env, cli.verbose, cli.quiet);
    match cli.command {
        Command::Doctor(args) => doctor(args, &env, style).await,
    }
}

async fn doctor(args: DoctorArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let facts = host::gather(env, args.timeout).await;
    let ports = HostPorts {
        http: args.http_port,
        dicom: args.dicom_port,
        api_server: args.api_server_port,
    };
    let local = LocalFacts::read(env, &facts, ports);
    let checks = doctor::checks(&facts, &local);
    let mut out = std::io::stdout().lock();
    if args.json {
        ui::json(&mut out, &doctor::Report::new(&facts, &checks))?;
    } else {
        ui::doctor(&mut out, style, &facts, &checks)?;
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

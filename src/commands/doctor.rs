//! `korthbox doctor`.

use crate::cli::DoctorArgs;
use crate::doctor::{self, LocalFacts, Status};
use crate::env::Env;
use crate::error::{ExitCode, Result};
use crate::host;
use crate::ui::{self, Style};

pub async fn run(args: DoctorArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let facts = host::gather(env, args.timeout).await;
    let ports = super::host_ports(&args.ports);
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

//! `korthbox doctor`.

use super::args::host_ports;
use super::exit::ExitCode;
use crate::base::env::Env;
use crate::base::error::Result;
use crate::cli::grammar::DoctorArgs;
use crate::cli::ui::{Ui, render};
use crate::doctor::{self, LocalFacts, Status};
use crate::host;

pub async fn run(args: DoctorArgs, env: &Env, ui: &Ui) -> Result<ExitCode> {
    // The engine doctor checks is asked `/info`; the others only whether they answer,
    // unless -v asks for everything about every engine.
    let scope = match ui.style.verbose {
        true => host::Scope::Everything,
        false => host::Scope::Listed,
    };
    let facts = host::gather(env, args.probe_timeout, scope).await;
    let local = LocalFacts::read(env, &facts, host_ports(&args.ports)?);
    let checks = doctor::checks(&facts, &local);
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &doctor::Report::new(&facts, &checks))?;
    } else {
        render::doctor(&mut out, ui.style, &facts, &checks)?;
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

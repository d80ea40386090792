//! `status`, `down`, `forward`, `password`, `prove` and `completions`: the commands around `up`.

use super::args::{distinct, wanted};
use super::exit::ExitCode;
use crate::cli::{CompletionsArgs, DownArgs, ForwardArgs, PasswordArgs, StatusArgs};
use crate::error::Result;
use crate::sandbox::down::{self, DownRequest};
use crate::sandbox::status::State;
use crate::sandbox::{Context, access, status as sandbox_status};
use crate::ui::{Ui, render};

pub async fn status(args: StatusArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let report = sandbox_status::status(ctx, &wanted(&args.target), &args.ns.namespace).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &report)?;
    } else {
        render::status(&mut out, ui.style, &report)?;
    }
    Ok(match report.state {
        State::Healthy => ExitCode::Success,
        State::Degraded | State::Absent => ExitCode::Failure,
    })
}

pub async fn down(args: DownArgs, ctx: &Context) -> Result<ExitCode> {
    let req = DownRequest {
        wanted: wanted(&args.target),
        namespace: args.ns.namespace.clone(),
        yes: args.yes,
        force: args.force,
        timeout: args.timeout,
        lock_wait: args.lock_wait,
    };
    down::down(ctx, &req).await?;
    Ok(ExitCode::Success)
}

pub async fn password(args: PasswordArgs, ctx: &Context) -> Result<ExitCode> {
    let password = access::password(ctx, &wanted(&args.target), &args.ns.namespace).await?;
    println!("{password}");
    Ok(ExitCode::Success)
}

/// Forwards until Ctrl-C, which ends it well.
pub async fn forward(args: ForwardArgs, ctx: &Context) -> Result<ExitCode> {
    distinct(&[
        ("--http-port", args.http_port),
        ("--dicom-port", args.dicom_port),
    ])?;
    let target = wanted(&args.target);
    let forwarding = access::forward(
        ctx,
        &target,
        &args.ns.namespace,
        args.http_port,
        args.dicom_port,
    );
    tokio::select! {
        result = forwarding => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::Success)
}

pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut command, "korthbox", &mut std::io::stdout());
    Ok(ExitCode::Success)
}

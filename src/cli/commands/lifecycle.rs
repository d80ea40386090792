//! `status`, `down`, `forward`, `password`, `prove` and `completions`: the commands around `up`.

use super::args::{distinct, wanted};
use super::exit::ExitCode;
use crate::base::error::Result;
use crate::cli::grammar::{
    CompletionsArgs, DownArgs, ForwardArgs, LogsArgs, PasswordArgs, StatusArgs, VersionArgs,
};
use crate::cli::ui::{Ui, render};
use crate::sandbox::down::{self, DownRequest};
use crate::sandbox::status::State;
use crate::sandbox::{Context, access, status as sandbox_status};

pub async fn status(mut args: StatusArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    args.word.clone().into(&mut args.target);
    let report = sandbox_status::status(ctx, &wanted(&args.target), &args.ns.namespace).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &report)?;
    } else {
        render::status(&mut out, ui.style, &report)?;
    }
    Ok(match report.state {
        State::Healthy => ExitCode::Success,
        State::Degraded | State::Absent | State::Busy | State::Stopped | State::PartlyStopped => {
            ExitCode::Failure
        }
    })
}

pub async fn down(mut args: DownArgs, ctx: &Context) -> Result<ExitCode> {
    args.word.clone().into(&mut args.target);
    let req = DownRequest {
        wanted: wanted(&args.target),
        namespace: args.ns.namespace.clone(),
        yes: args.yes,
        force: args.force,
        timeout: args.delete_timeout,
        lock_wait: args.lock_wait,
    };
    down::down(ctx, &req).await?;
    Ok(ExitCode::Success)
}

pub async fn stop(mut args: crate::cli::grammar::StopArgs, ctx: &Context) -> Result<ExitCode> {
    args.word.clone().into(&mut args.target);
    let req = crate::sandbox::pause::StopRequest {
        wanted: wanted(&args.target),
        timeout: args.stop_timeout,
        lock_wait: args.lock_wait,
    };
    crate::sandbox::pause::stop(ctx, &req).await?;
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

/// Copies the component's log to stdout, until its end or, with --follow, until Ctrl-C.
pub async fn logs(args: LogsArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    use futures_util::AsyncBufReadExt;
    use std::io::Write;
    let namespace = &args.ns.namespace;
    let log = access::logs(
        ctx,
        &wanted(&args.target),
        namespace,
        args.component.name(),
        args.follow,
        args.tail,
    )
    .await?;
    ui.note(&format!(
        "pod/{} in namespace {namespace} (kubectl --context {} -n {namespace} logs{} pod/{})",
        log.pod,
        log.context,
        if args.follow { " -f" } else { "" },
        log.pod
    ));
    let mut lines = log.lines.lines();
    let mut out = std::io::stdout().lock();
    let copy = async {
        use futures_util::StreamExt;
        while let Some(line) = lines.next().await {
            let line = line.map_err(|e| {
                crate::base::error::Error::failure("the log stream broke off").because(e)
            })?;
            if writeln!(out, "{line}").is_err() {
                break; // stdout closed (`| head`): stop quietly, as kubectl does
            }
        }
        Ok::<(), crate::base::error::Error>(())
    };
    tokio::select! {
        result = copy => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::Success)
}

/// korthbox's version, and what it pins: the default Kubernetes version of each driver and
/// the driver releases `korthbox install` gets.
pub fn version(args: VersionArgs) -> Result<ExitCode> {
    use crate::driver::DriverKind;
    let version = env!("CARGO_PKG_VERSION");
    let kinds = [DriverKind::Kind, DriverKind::K3d, DriverKind::Minikube];
    let drivers: Vec<(&str, String, String)> = kinds
        .into_iter()
        .map(|kind| {
            let d = kind.driver();
            let release = d
                .release()
                .map(|r| r.version.to_string())
                .unwrap_or_default();
            (
                kind.label(),
                release,
                d.default_kubernetes_version().to_string(),
            )
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let drivers: serde_json::Map<String, serde_json::Value> = drivers
            .iter()
            .zip(kinds)
            .map(|((name, release, kubernetes), kind)| {
                let images = kind.driver().pinned_images();
                (
                    name.to_string(),
                    serde_json::json!({"release": release, "kubernetes": kubernetes, "node_images": images}),
                )
            })
            .collect();
        // Every image the stack can run, as pinned.
        let images = crate::kube::stack::images::StackImages::default();
        crate::cli::ui::render::json(
            &mut out,
            &serde_json::json!({"version": version, "drivers": drivers, "images": images}),
        )?;
    } else {
        use std::io::Write;
        let _ = writeln!(out, "korthbox {version}");
        for (name, release, kubernetes) in &drivers {
            let _ = writeln!(
                out,
                "  {name:<9} {release:<8} (installs), Kubernetes {kubernetes} by default"
            );
        }
    }
    Ok(ExitCode::Success)
}

pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut command = crate::cli::grammar::Cli::command();
    clap_complete::generate(args.shell, &mut command, "korthbox", &mut std::io::stdout());
    Ok(ExitCode::Success)
}

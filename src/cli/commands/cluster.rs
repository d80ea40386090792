//! `korthbox cluster create|check|list|delete|load`: the sandbox's cluster on its own.

use super::args::{cluster_spec, wanted};
use super::exit::ExitCode;
use crate::base::error::Result;
use crate::cli::grammar::{CheckArgs, CreateArgs, DeleteArgs, ListArgs, LoadArgs};
use crate::cli::ui::{Ui, render};
use crate::kube::cluster::ClusterReport;
use crate::sandbox::{Context, parts};

pub async fn create(args: CreateArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let spec = cluster_spec(&args.spec)?;
    let target = wanted(&args.spec.target);
    let report = parts::create(
        ctx,
        &target,
        &spec,
        args.retain,
        args.create_timeout,
        args.wait,
    )
    .await?;
    show(ui, &report, args.json)
}

pub async fn check(args: CheckArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let report = parts::check(ctx, &wanted(&args.target), args.wait).await?;
    show(ui, &report, args.json)
}

fn show(ui: &Ui, report: &ClusterReport, json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        render::json(&mut out, report)?;
    } else if !ui.style.quiet {
        render::cluster_report(&mut out, report)?;
    }
    Ok(ExitCode::Success)
}

pub async fn list(args: ListArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let entries = parts::list(ctx, args.driver.0, args.provider).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &entries)?;
    } else if entries.is_empty() {
        ui.note("no clusters");
    } else {
        render::cluster_list(&mut out, &entries)?;
    }
    Ok(ExitCode::Success)
}

pub async fn delete(args: DeleteArgs, ctx: &Context) -> Result<ExitCode> {
    parts::delete(
        ctx,
        &wanted(&args.target),
        (args.force, args.yes),
        args.delete_timeout,
    )
    .await?;
    Ok(ExitCode::Success)
}

pub async fn load(args: LoadArgs, ctx: &Context) -> Result<ExitCode> {
    parts::load(ctx, &wanted(&args.target), &args.images, args.load_timeout).await?;
    Ok(ExitCode::Success)
}

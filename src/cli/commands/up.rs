//! `korthbox up` and `korthbox reset`.

use super::args::{choices, cluster_spec, wanted};
use super::exit::ExitCode;
use crate::base::error::Result;
use crate::base::spec::ClusterSpec;
use crate::cli::grammar::{ResetArgs, UpArgs};
use crate::cli::ui::{Ui, render};
use crate::sandbox::Context;
use crate::sandbox::down::{self, ResetRequest};
use crate::sandbox::up::{self as sandbox_up, Request, Summary};

fn request(args: &UpArgs) -> Result<Request> {
    Ok(Request {
        wanted: wanted(&args.spec.target),
        cluster: ClusterSpec {
            registry_mirror: args.stack.registry_mirror.clone(),
            ..cluster_spec(&args.spec)?
        },
        stack: choices(&args.stack)?,
        retain: args.retain,
        timeout: args.create_timeout,
        wait: args.wait,
        lock_wait: args.lock_wait,
        offer_install: !args.json,
        samples: if args.samples {
            crate::evaluate::dicom::phantom::DEFAULT_STUDIES
        } else {
            0
        },
    })
}

/// `up dev` (a name after `--`) as `up --name dev`.
fn named(mut args: UpArgs) -> UpArgs {
    args.word.clone().into(&mut args.spec.target);
    args
}

pub async fn up(args: UpArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let args = named(args);
    let summary = sandbox_up::up(ctx, &request(&args)?, None, None).await;
    show(&args, ctx, ui, &failed_timings(&args, ctx, summary)?)
}

/// `start`: the nodes back, then `up`'s checks, repairs and proof.
pub async fn start(args: UpArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let args = named(args);
    let summary = crate::sandbox::pause::start(ctx, &request(&args)?).await;
    show(&args, ctx, ui, &failed_timings(&args, ctx, summary)?)
}

pub async fn reset(mut args: ResetArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    args.up = named(args.up);
    let req = ResetRequest {
        up: request(&args.up)?,
        yes: args.yes,
        force: args.force,
        keep_cluster: args.keep_cluster,
        keep_studies: args.keep_studies,
    };
    let summary = down::reset(ctx, &req).await;
    show(&args.up, ctx, ui, &failed_timings(&args.up, ctx, summary)?)
}

/// With `--timings`, a failure too shows how long each phase that ran took.
fn failed_timings(args: &UpArgs, ctx: &Context, result: Result<Summary>) -> Result<Summary> {
    if args.timings && result.is_err() {
        let (phases, total) = ctx.steps.timings().relative();
        render::timings(&mut std::io::stderr().lock(), &phases, total)?;
    }
    result
}

fn show(args: &UpArgs, ctx: &Context, ui: &Ui, summary: &Summary) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, summary)?;
    } else {
        render::up_summary(&mut out, ui.style, summary)?;
    }
    if args.timings {
        let (phases, total) = ctx.steps.timings().relative();
        render::timings(&mut std::io::stderr().lock(), &phases, total)?;
    }
    Ok(ExitCode::Success)
}

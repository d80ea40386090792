//! `stop` and `start`: a sandbox's nodes stopped with everything kept (the database, every
//! DICOM file, the images loaded), and brought back — by the tool's own command where it has
//! one (`k3d cluster stop|start`, `minikube stop|start`), by the node containers through the
//! engine for kind, which has none. Only a cluster korthbox made; never an existing one.

use std::time::Duration;

use super::Context;
use super::repair;
use super::target::{self, Target, Wanted};
use super::up::{self, Summary};
use crate::base::error::Error;
use crate::sandbox::lock;

/// What `stop` is asked.
#[derive(Debug, Clone)]
pub struct StopRequest {
    pub wanted: Wanted,
    pub timeout: Duration,
    pub lock_wait: Duration,
}

/// A cluster korthbox may stop and start: one it made.
fn check(ctx: &Context, found: &Target, command: &str) -> Result<(), Error> {
    if !found.driver().makes_cluster() {
        return Err(Error::usage(format!(
            "context {} is an existing cluster; korthbox does not {command} a cluster it did not make",
            found.context
        ))
        .hint("stop or start it the way it is run (its own tool, or its provider's console)"));
    }
    if !found.made_by_korthbox(&ctx.env) {
        return Err(found.not_ours(&ctx.env, None));
    }
    Ok(())
}

/// Stops the sandbox's nodes, keeping everything; `None` when there is no sandbox.
pub async fn stop(ctx: &Context, req: &StopRequest) -> Result<Option<String>, Error> {
    req.wanted.check()?;
    let reporter = ctx.steps.reporter();
    let _lock = lock::acquire(&ctx.env, &req.wanted.name, "stop", req.lock_wait, reporter).await?;
    let facts = ctx.gather_for(req.wanted.provider).await;
    let Some(found) = target::existing(&ctx.env, &facts, &req.wanted).await? else {
        ctx.steps.note(&format!(
            "there is no sandbox {}; nothing to stop",
            req.wanted.name
        ));
        return Ok(None);
    };
    check(ctx, &found, "stop")?;
    let title = format!(
        "Stopping {} cluster {} (everything in it is kept)",
        found.driver.label(),
        found.name
    );
    let done = ctx
        .steps
        .run(
            title,
            async |phase| repair::set_running(ctx, &found, false, req.timeout, phase).await,
            Clone::clone,
        )
        .await?;
    ctx.steps.note(&format!(
        "sandbox {} is stopped; `{}` brings it back",
        found.name,
        ctx.same_target("start")
    ));
    Ok(Some(done))
}

/// Starts a stopped sandbox's nodes, then does what `up` does — cluster checks, the stack
/// applied again where anything changed, the proof — under the same lock.
pub async fn start(ctx: &Context, req: &up::Request) -> Result<Summary, Error> {
    let wanted = &req.wanted;
    wanted.check()?;
    let reporter = ctx.steps.reporter();
    let lock = lock::acquire(&ctx.env, &wanted.name, "start", req.lock_wait, reporter).await?;
    let facts = ctx.gather_for(wanted.provider).await;
    let Some(found) = target::existing(&ctx.env, &facts, wanted).await? else {
        return Err(
            Error::failure(format!("there is no sandbox {} to start", wanted.name))
                .hint(format!("`{}` makes one", ctx.same_target("up"))),
        );
    };
    check(ctx, &found, "start")?;
    let title = format!("Starting {} cluster {}", found.driver.label(), found.name);
    ctx.steps
        .run(
            title,
            async |phase| repair::set_running(ctx, &found, true, req.timeout, phase).await,
            Clone::clone,
        )
        .await?;
    up::up(ctx, req, Some(lock), Some(facts)).await
}

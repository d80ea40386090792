//! `down` and `reset`: deleting the sandbox, after asking. `reset` deletes it whatever state it
//! is in (a dead API server included), cleans up what the driver left, and brings it up again.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};

use super::Context;
use super::steps::deleted_detail;
use super::target::{self, Target, Wanted};
use super::up::{self, Summary};
use crate::driver::actions::{self, Deleted};
use crate::driver::{cleanup, run};
use crate::error::Error;
use crate::lock;
use crate::report::{Answer, Phase};

/// Asks "are you sure?"; with `yes` it does not ask, and with no one to ask it is a usage
/// error saying to add `--yes`.
pub async fn confirm(ctx: &Context, question: &str, yes: bool, command: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    match ctx.steps.reporter().confirm(question, false).await {
        Answer::Yes => Ok(()),
        Answer::NoTerminal => Err(Error::usage(format!(
            "`korthbox {command}` deletes data and asks first, but there is no terminal to ask on"
        ))
        .hint(format!("add --yes: `korthbox {command} --yes`"))),
        Answer::No => Err(Error::failure("nothing was deleted")
            .hint(format!("`korthbox {command} --yes` does not ask"))),
    }
}

/// What `down` is asked to do.
#[derive(Debug, Clone)]
pub struct DownRequest {
    pub wanted: Wanted,
    pub namespace: String,
    pub yes: bool,
    pub timeout: Duration,
    pub lock_wait: Duration,
}

/// Deletes the sandbox; `None` when there was none.
pub async fn down(ctx: &Context, req: &DownRequest) -> Result<Option<Deleted>, Error> {
    req.wanted.check()?;
    // The lock first: what exists can change until korthbox holds it.
    let reporter = ctx.steps.reporter();
    let _lock = lock::acquire(&ctx.env, &req.wanted.name, "down", req.lock_wait, reporter).await?;
    let facts = ctx.gather().await;
    let Some(found) = target::existing(&ctx.env, &facts, &req.wanted).await? else {
        ctx.steps.note(&format!(
            "there is no sandbox {}; nothing to delete",
            req.wanted.name
        ));
        return Ok(None);
    };
    let what = if found.driver().makes_cluster() {
        format!(
            "the {} cluster {} and all data in it",
            found.driver.label(),
            found.name
        )
    } else {
        format!(
            "everything korthbox installed in context {} (namespace {}; the cluster itself stays)",
            found.context, req.namespace
        )
    };
    confirm(ctx, &format!("Delete {what}?"), req.yes, "down").await?;
    let deleted = ctx
        .steps
        .run(
            format!("Deleting {what}"),
            async |phase| {
                if found.driver().makes_cluster() {
                    let d = found.driver();
                    actions::delete(
                        &ctx.env,
                        &found.name,
                        d,
                        &found.provider,
                        req.timeout,
                        Some(phase),
                    )
                    .await
                } else {
                    delete_owned(ctx, &found.context, &req.namespace).await
                }
            },
            |deleted| deleted_detail(*deleted).to_string(),
        )
        .await?;
    Ok(Some(deleted))
}

/// Deletes what korthbox installed into an existing cluster: the stack's namespace and the
/// cluster-wide objects it labelled as its own.
async fn delete_owned(ctx: &Context, context: &str, namespace: &str) -> Result<Deleted, Error> {
    let client = crate::cluster::client(&ctx.env, context).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let gone = match namespaces.delete(namespace, &DeleteParams::default()).await {
        Ok(_) => Deleted::Deleted,
        Err(kube::Error::Api(s)) if s.code == 404 => Deleted::Absent,
        Err(e) => {
            return Err(
                Error::failure(format!("could not delete namespace {namespace}")).because(e),
            );
        }
    };
    crate::apply::delete_labelled_cluster_objects(&client).await?;
    Ok(gone)
}

/// What `reset` is asked to do: `up`'s request, and whether to ask first.
#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub up: up::Request,
    pub yes: bool,
}

/// Deletes the sandbox whatever state it is in, then brings it up again, holding the lock from
/// the first look to the end of `up`.
pub async fn reset(ctx: &Context, req: &ResetRequest) -> Result<Summary, Error> {
    let wanted = &req.up.wanted;
    wanted.check()?;
    let reporter = ctx.steps.reporter();
    let lock = lock::acquire(&ctx.env, &wanted.name, "reset", req.up.lock_wait, reporter).await?;
    let facts = ctx.gather().await;
    if let Some(found) = target::locate(&ctx.env, &facts, wanted).await? {
        let what = if found.driver().makes_cluster() {
            format!(
                "sandbox {} ({} cluster) and all data in it — the database and every DICOM file",
                found.name,
                found.driver.label()
            )
        } else {
            format!(
                "everything korthbox installed in context {} (its PostgreSQL data and DICOM files)",
                found.context
            )
        };
        ctx.steps.note(&format!(
            "reset deletes {what}, then brings the sandbox up again"
        ));
        confirm(ctx, "Reset it?", req.yes, "reset").await?;
        let namespace = &req.up.stack.namespace;
        ctx.steps
            .run(
                format!("Deleting sandbox {}", found.name),
                async |phase| wipe(ctx, &found, namespace, phase).await,
                Clone::clone,
            )
            .await?;
    }
    // The host has not changed since it was probed above: `up` reuses those facts.
    up::up(ctx, &req.up, Some(lock), Some(facts)).await
}

/// Deletes the cluster even when its API server is dead, then what the driver left behind.
async fn wipe(
    ctx: &Context,
    found: &Target,
    namespace: &str,
    phase: &Phase<'_>,
) -> Result<String, Error> {
    let driver = found.driver();
    if !driver.makes_cluster() {
        delete_owned(ctx, &found.context, namespace).await?;
        return Ok("korthbox's objects deleted".into());
    }
    if let Some(inv) = driver.delete(&found.name, &found.provider) {
        // Straight to the tool, without asking its list first: a half-made cluster may not be
        // listed, and deleting a missing one is harmless here.
        let outcome = run::run(&ctx.env, &inv, actions::DELETE_TIMEOUT, Some(phase)).await?;
        if !outcome.success {
            phase.output(&format!("`{}` failed; cleaning up directly", inv.display()));
        }
    }
    let removed = cleanup::engine_leftovers(
        driver,
        &found.name,
        &found.provider,
        Duration::from_secs(60),
    )
    .await?;
    let files = cleanup::kubeconfig_entries(&ctx.env, &found.context)?;
    let mut parts = Vec::new();
    if !removed.containers.is_empty() {
        parts.push(format!(
            "removed containers {}",
            removed.containers.join(", ")
        ));
    }
    if !removed.networks.is_empty() {
        parts.push(format!("networks {}", removed.networks.join(", ")));
    }
    if !removed.volumes.is_empty() {
        parts.push(format!("volumes {}", removed.volumes.join(", ")));
    }
    if !files.is_empty() {
        parts.push(format!("kube context {} removed", found.context));
    }
    Ok(parts.join("; "))
}

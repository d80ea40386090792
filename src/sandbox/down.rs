//! `down` and `reset`: deleting the sandbox, after asking, and only what korthbox made: a
//! cluster whose definition korthbox keeps (others need `--force`), or on an existing cluster the
//! namespace and cluster-wide objects labelled for the sandbox. `reset` deletes it whatever
//! state it is in (a dead API server included), cleans up what the driver left, and brings it
//! up again.

use std::time::Duration;

use super::Context;
use super::steps::{self, deleted_detail};
use super::target::{self, Target, Wanted};
use super::up::{self, Summary};
use crate::driver::actions::{self, Deleted};
use crate::driver::{cleanup, owned, run};
use crate::error::Error;
use crate::lock;
use crate::ownership;
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
        .hint(format!(
            "add --yes: `{}`",
            ctx.command_with(command, &["--yes"])
        ))),
        Answer::No => Err(Error::failure("nothing was deleted").hint(format!(
            "`{}` does not ask",
            ctx.command_with(command, &["--yes"])
        ))),
    }
}

/// What `down` is asked to do.
#[derive(Debug, Clone)]
pub struct DownRequest {
    pub wanted: Wanted,
    pub namespace: String,
    pub yes: bool,
    /// Delete a same-named cluster korthbox did not make.
    pub force: bool,
    pub timeout: Duration,
    pub lock_wait: Duration,
}

/// Refuses a cluster korthbox did not make, unless `force`.
fn check_ours(ctx: &Context, found: &Target, force: bool, command: &str) -> Result<(), Error> {
    if force || !found.driver().makes_cluster() || found.made_by_korthbox(&ctx.env) {
        return Ok(());
    }
    let again = ctx.command_with(command, &["--force"]);
    Err(found.not_ours(&ctx.env, Some(&again)))
}

/// What `down` deletes, in words.
fn what(found: &Target, namespace: &str) -> String {
    if found.driver().makes_cluster() {
        format!(
            "the {} cluster {} and all data in it",
            found.driver.label(),
            found.name
        )
    } else {
        format!(
            "sandbox {} in context {} (namespace {namespace}; the cluster itself stays)",
            found.name, found.context
        )
    }
}

/// Deletes the sandbox; `None` when there was none.
pub async fn down(ctx: &Context, req: &DownRequest) -> Result<Option<Deleted>, Error> {
    req.wanted.check()?;
    // The lock first: what exists can change until korthbox holds it.
    let reporter = ctx.steps.reporter();
    let _lock = lock::acquire(&ctx.env, &req.wanted.name, "down", req.lock_wait, reporter).await?;
    let facts = ctx.gather_for(req.wanted.provider).await;
    let Some(found) = target::existing(&ctx.env, &facts, &req.wanted).await? else {
        ctx.steps.note(&format!(
            "there is no sandbox {}; nothing to delete",
            req.wanted.name
        ));
        return Ok(None);
    };
    check_ours(ctx, &found, req.force, "down")?;
    let what = what(&found, &req.namespace);
    confirm(ctx, &format!("Delete {what}?"), req.yes, "down").await?;
    let title = format!("Deleting {what}");
    let deleted = if found.driver().makes_cluster() {
        let how = (req.force, "down");
        steps::delete_cluster(ctx, title, &found, how, req.timeout).await?
    } else {
        let delete =
            async |_: &Phase<'_>| delete_owned(ctx, &found, &req.namespace, req.timeout).await;
        let detail = |deleted: &Deleted| deleted_detail(*deleted).to_string();
        ctx.steps.run(title, delete, detail).await?
    };
    Ok(Some(deleted))
}

/// Deletes what korthbox installed into an existing cluster for the sandbox: its namespace and
/// the cluster-wide objects labelled for it.
async fn delete_owned(
    ctx: &Context,
    found: &Target,
    namespace: &str,
    wait: Duration,
) -> Result<Deleted, Error> {
    let client = crate::cluster::client(&ctx.env, &found.context).await?;
    crate::cluster::reachable(&ctx.env, &client, &found.context).await?;
    let removed = ownership::delete_sandbox(&client, namespace, &found.name, wait).await?;
    if let Some(kept) = &removed.kept_provisioner {
        ctx.steps.note(kept);
    }
    Ok(if removed.namespace {
        Deleted::Deleted
    } else {
        Deleted::Absent
    })
}

/// What `reset` is asked to do: `up`'s request, and whether to ask first.
#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub up: up::Request,
    pub yes: bool,
    /// Delete a same-named cluster korthbox did not make.
    pub force: bool,
    /// Delete only the sandbox's namespace; the cluster stays as it is.
    pub keep_cluster: bool,
}

/// Deletes the sandbox whatever state it is in, then brings it up again, holding the lock from
/// the first look to the end of `up`.
pub async fn reset(ctx: &Context, req: &ResetRequest) -> Result<Summary, Error> {
    let wanted = &req.up.wanted;
    wanted.check()?;
    let reporter = ctx.steps.reporter();
    let lock = lock::acquire(&ctx.env, &wanted.name, "reset", req.up.lock_wait, reporter).await?;
    let facts = ctx.gather_for(wanted.provider).await;
    if req.keep_cluster {
        wipe_stack(ctx, req, &facts).await?;
    } else if let Some(found) = target::locate(&ctx.env, &facts, wanted).await? {
        if found.exists {
            check_ours(ctx, &found, req.force, "reset")?;
        }
        // A cluster that is not listed may be half-made; korthbox cleans up after its own only.
        if found.exists || found.made_by_korthbox(&ctx.env) {
            wipe_after_asking(ctx, req, &found).await?;
        }
    }
    // The host has not changed since it was probed above: `up` reuses those facts.
    up::up(ctx, &req.up, Some(lock), Some(facts)).await
}

/// How long the volumes of a deleted namespace are waited for (their provisioner removes
/// them, and their data); those still there then are named, not waited for.
const VOLUMES_GONE: Duration = Duration::from_secs(60);

/// `reset --keep-cluster`: the sandbox's namespace deleted, with everything in it — the
/// database, every DICOM file, the claims and so the volumes behind them — and nothing else;
/// `up` then applies the stack again on the same cluster, with the images its nodes have.
async fn wipe_stack(
    ctx: &Context,
    req: &ResetRequest,
    facts: &crate::host::HostFacts,
) -> Result<(), Error> {
    let wanted = &req.up.wanted;
    let Some(found) = target::existing(&ctx.env, facts, wanted).await? else {
        ctx.steps.note(&format!(
            "there is no sandbox {}, so no cluster to keep: `up` makes one",
            wanted.name
        ));
        return Ok(());
    };
    check_ours(ctx, &found, req.force, "reset")?;
    let client = crate::cluster::client(&ctx.env, &found.context).await?;
    crate::cluster::reachable(&ctx.env, &client, &found.context)
        .await
        .map_err(|e| {
            e.hint("--keep-cluster needs a cluster that answers; `korthbox reset` without it deletes the cluster and makes it again")
        })?;
    let namespace = &req.up.stack.namespace;
    ctx.steps.note(&format!(
        "reset --keep-cluster deletes namespace {namespace} of sandbox {} — the database and every DICOM file — then applies the stack again; the cluster, its nodes and their images stay",
        found.name
    ));
    confirm(ctx, "Reset it?", req.yes, "reset").await?;
    let delete = async |_: &Phase<'_>| {
        if !ownership::delete_namespace(&client, namespace, &found.name).await? {
            return Ok::<_, Error>("there was none".to_string());
        }
        Ok(
            match ownership::wait_volumes_gone(&client, namespace, VOLUMES_GONE).await? {
                Ok(()) => "deleted, with its volumes".to_string(),
                Err(left) => format!(
                    "deleted; volumes {} are still being removed by their provisioner",
                    left.join(", ")
                ),
            },
        )
    };
    ctx.steps
        .run(
            format!("Deleting namespace {namespace}"),
            delete,
            Clone::clone,
        )
        .await?;
    Ok(())
}

/// Whether the sandbox's API server answers within a few seconds.
async fn answers(ctx: &Context, found: &Target) -> bool {
    let probe = async {
        let client = crate::cluster::client(&ctx.env, &found.context)
            .await
            .ok()?;
        crate::cluster::reachable(&ctx.env, &client, &found.context)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), probe).await,
        Ok(Some(_))
    )
}

async fn wipe_after_asking(ctx: &Context, req: &ResetRequest, found: &Target) -> Result<(), Error> {
    let what = if found.driver().makes_cluster() {
        format!(
            "sandbox {} ({} cluster) and all data in it — the database and every DICOM file",
            found.name,
            found.driver.label()
        )
    } else {
        format!(
            "sandbox {} in context {} (its PostgreSQL data and DICOM files)",
            found.name, found.context
        )
    };
    ctx.steps.note(&format!(
        "reset deletes {what}, then brings the sandbox up again"
    ));
    if found.driver().makes_cluster() && answers(ctx, found).await {
        ctx.steps.note(&format!(
            "its cluster answers: `{}` resets only the stack and keeps the cluster, which is faster",
            ctx.command_with("reset", &["--keep-cluster"])
        ));
    }
    confirm(ctx, "Reset it?", req.yes, "reset").await?;
    let namespace = &req.up.stack.namespace;
    ctx.steps
        .run(
            format!("Deleting sandbox {}", found.name),
            async |phase| wipe(ctx, found, (namespace, req.up.wait), phase).await,
            Clone::clone,
        )
        .await?;
    Ok(())
}

/// Deletes the cluster even when its API server is dead, then what the driver left behind.
async fn wipe(
    ctx: &Context,
    found: &Target,
    (namespace, wait): (&str, Duration),
    phase: &Phase<'_>,
) -> Result<String, Error> {
    let driver = found.driver();
    if !driver.makes_cluster() {
        delete_owned(ctx, found, namespace, wait).await?;
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
    // The kube context the driver wrote for this cluster (and its cluster and user entries,
    // unless another context uses them); nobody else's.
    let files = crate::host::kubeconfig::remove_context(&ctx.env, &found.context)?;
    owned::forget(ctx.env.cache_dir().as_deref(), driver, &found.name);
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

//! `down` and `reset`: deleting the sandbox, after asking, and only what korthbox made: a
//! cluster whose definition korthbox keeps (others need `--force`), or on an existing cluster the
//! namespace and cluster-wide objects labelled for the sandbox. `reset` deletes it whatever
//! state it is in (a dead API server included), cleans up what the driver left, and brings it
//! up again.

use std::time::Duration;

use super::Context;
use super::steps::{self, deleted_detail};
use super::studies;
use super::target::{self, Target, Wanted};
use super::up::{self, Summary};
use crate::base::error::Error;
use crate::base::report::{Answer, Phase};
use crate::driver::actions::{self, Deleted};
use crate::driver::{cleanup, owned, run};
use crate::kube::ownership;
use crate::sandbox::lock;

/// Asks "are you sure?"; with `yes` it does not ask, and with no one to ask it is a usage
/// error saying to add `--yes`. A no is not an error: the answer says that `kept` was kept.
pub async fn confirm(
    ctx: &Context,
    question: &str,
    yes: bool,
    command: &str,
    kept: &str,
) -> Result<(), Error> {
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
        Answer::No => Err(Error::declined(format!(
            "Kept {kept}: nothing was deleted."
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
pub fn check_ours(ctx: &Context, found: &Target, force: bool, command: &str) -> Result<(), Error> {
    if force || !found.driver().makes_cluster() || found.made_by_korthbox(&ctx.env) {
        return Ok(());
    }
    let again = ctx.command_with(command, &["--force"]);
    Err(found.not_ours(&ctx.env, Some(&again)))
}

/// What `down` deletes, in words.
pub fn what(found: &Target, namespace: &str) -> String {
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
    confirm(ctx, &format!("Delete {what}?"), req.yes, "down", &what).await?;
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
    let client = crate::kube::cluster::client(&ctx.env, &found.context).await?;
    crate::kube::cluster::reachable(&ctx.env, &client, &found.context).await?;
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
    /// Export the studies first and upload them to the new sandbox.
    pub keep_studies: bool,
}

/// Deletes the sandbox whatever state it is in, then brings it up again, holding the lock from
/// the first look to the end of `up`; with `keep_studies`, exports the studies after asking
/// and before deleting, and uploads them to the new sandbox.
pub async fn reset(ctx: &Context, req: &ResetRequest) -> Result<Summary, Error> {
    let wanted = &req.up.wanted;
    wanted.check()?;
    let reporter = ctx.steps.reporter();
    let lock = lock::acquire(&ctx.env, &wanted.name, "reset", req.up.lock_wait, reporter).await?;
    let facts = ctx.gather_for(wanted.provider).await;
    let wipe = ask(ctx, req, &facts).await?;
    let namespace = &req.up.stack.namespace;
    let saved = match (req.keep_studies, wipe.has_studies()) {
        (true, true) => Some(studies::save(ctx, wanted, namespace).await?),
        (true, false) => {
            ctx.steps.note(&format!(
                "there is no sandbox {}, so no studies to keep",
                wanted.name
            ));
            None
        }
        (false, _) => None,
    };
    let summary = async {
        carry_out(ctx, req, &wipe).await?;
        // The host has not changed since it was probed above: `up` reuses those facts.
        up::up(ctx, &req.up, Some(lock), Some(facts)).await
    }
    .await;
    let Some((dir, instances)) = saved else {
        return summary;
    };
    let summary = summary.map_err(|e| e.hint(studies::finish_by_hand(&dir)))?;
    // The lock again (`up` let it go), so that no other korthbox works on the sandbox while
    // its studies go back.
    let reporter = ctx.steps.reporter();
    let _lock = lock::acquire(&ctx.env, &wanted.name, "reset", req.up.lock_wait, reporter)
        .await
        .map_err(|e| e.hint(studies::finish_by_hand(&dir)))?;
    let back = studies::restore(ctx, wanted, namespace, &dir).await?;
    ctx.steps
        .note(&format!("{back} ({instances} exported before the reset)"));
    Ok(summary)
}

/// What a reset deletes, decided (and agreed to) before anything is.
enum Wipe {
    /// There is nothing of the sandbox's.
    Nothing,
    /// `--keep-cluster`: the sandbox's namespace in this cluster, which answers.
    Stack(Box<Target>, kube::Client),
    /// The whole sandbox (its cluster, or on an existing cluster what korthbox put there).
    Sandbox(Box<Target>),
}

impl Wipe {
    /// Whether there is a sandbox whose studies could be exported.
    fn has_studies(&self) -> bool {
        match self {
            Wipe::Nothing => false,
            Wipe::Stack(..) => true,
            Wipe::Sandbox(found) => found.exists,
        }
    }
}

/// Finds what a reset deletes, checks it is korthbox's, says what goes, and asks.
async fn ask(
    ctx: &Context,
    req: &ResetRequest,
    facts: &crate::host::HostFacts,
) -> Result<Wipe, Error> {
    let wanted = &req.up.wanted;
    let keeps = match req.keep_studies {
        true => "; the studies are exported first and put back",
        false => "",
    };
    if req.keep_cluster {
        let Some(found) = target::existing(&ctx.env, facts, wanted).await? else {
            ctx.steps.note(&format!(
                "there is no sandbox {}, so no cluster to keep: `up` makes one",
                wanted.name
            ));
            return Ok(Wipe::Nothing);
        };
        check_ours(ctx, &found, req.force, "reset")?;
        let client = crate::kube::cluster::client(&ctx.env, &found.context).await?;
        crate::kube::cluster::reachable(&ctx.env, &client, &found.context)
            .await
            .map_err(|e| {
                e.hint("--keep-cluster needs a cluster that answers; `korthbox reset` without it deletes the cluster and makes it again")
            })?;
        ctx.steps.note(&format!(
            "reset --keep-cluster deletes namespace {} of sandbox {} — the database and every DICOM file — then applies the stack again; the cluster, its nodes and their images stay{keeps}",
            req.up.stack.namespace, found.name
        ));
        let kept = format!("sandbox {} and its data", found.name);
        confirm(ctx, "Reset it?", req.yes, "reset", &kept).await?;
        return Ok(Wipe::Stack(Box::new(found), client));
    }
    let Some(found) = target::locate(&ctx.env, facts, wanted).await? else {
        return Ok(Wipe::Nothing);
    };
    if found.exists {
        check_ours(ctx, &found, req.force, "reset")?;
    }
    // A cluster that is not listed may be half-made; korthbox cleans up after its own only.
    if !(found.exists || found.made_by_korthbox(&ctx.env)) {
        return Ok(Wipe::Nothing);
    }
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
        "reset deletes {what}, then brings the sandbox up again{keeps}"
    ));
    if found.driver().makes_cluster() && answers(ctx, &found).await {
        ctx.steps.note(&format!(
            "its cluster answers: `{}` resets only the stack and keeps the cluster, which is faster",
            ctx.command_with("reset", &["--keep-cluster"])
        ));
    }
    let kept = format!("sandbox {} and its data", found.name);
    confirm(ctx, "Reset it?", req.yes, "reset", &kept).await?;
    Ok(Wipe::Sandbox(Box::new(found)))
}

/// How long the volumes of a deleted namespace are waited for (their provisioner removes
/// them, and their data); those still there then are named, not waited for.
const VOLUMES_GONE: Duration = Duration::from_secs(60);

/// Deletes what [`ask`] found.
async fn carry_out(ctx: &Context, req: &ResetRequest, what: &Wipe) -> Result<(), Error> {
    let namespace = &req.up.stack.namespace;
    match what {
        Wipe::Nothing => {}
        // The sandbox's namespace, with everything in it — the database, every DICOM file,
        // the claims and so the volumes behind them — and nothing else.
        Wipe::Stack(found, client) => {
            let delete = async |_: &Phase<'_>| delete_stack(client, namespace, &found.name).await;
            let title = format!("Deleting namespace {namespace}");
            ctx.steps.run(title, delete, Clone::clone).await?;
        }
        Wipe::Sandbox(found) => {
            let wait = req.up.wait;
            let delete = async |phase: &Phase<'_>| wipe(ctx, found, (namespace, wait), phase).await;
            let title = format!("Deleting sandbox {}", found.name);
            ctx.steps.run(title, delete, Clone::clone).await?;
        }
    }
    Ok(())
}

/// Deletes the sandbox's namespace and waits a while for the volumes behind its claims.
async fn delete_stack(
    client: &kube::Client,
    namespace: &str,
    instance: &crate::base::spec::SandboxName,
) -> Result<String, Error> {
    if !ownership::delete_namespace(client, namespace, instance).await? {
        return Ok("there was none".to_string());
    }
    Ok(
        match ownership::wait_volumes_gone(client, namespace, VOLUMES_GONE).await? {
            Ok(()) => "deleted, with its volumes".to_string(),
            Err(left) => format!(
                "deleted; volumes {} are still being removed by their provisioner",
                left.join(", ")
            ),
        },
    )
}

/// Whether the sandbox's API server answers within a few seconds.
async fn answers(ctx: &Context, found: &Target) -> bool {
    let probe = async {
        let client = crate::kube::cluster::client(&ctx.env, &found.context)
            .await
            .ok()?;
        crate::kube::cluster::reachable(&ctx.env, &client, &found.context)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), probe).await,
        Ok(Some(_))
    )
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

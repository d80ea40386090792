//! The sandbox's parts on their own, for `cluster create|check|list|delete|load` and `stack
//! apply`: the same steps `up` runs, under the sandbox's lock where they change something.

use std::time::Duration;

use super::Context;
use super::steps::{self, Deployed};
use super::target::{self, Target, Wanted};
use crate::base::error::Error;
use crate::base::spec::{ClusterSpec, SandboxName};
use crate::driver::actions::{self, Deleted};
use crate::driver::{self, ClusterEntry, DriverKind, NodeProvider, ProviderKind};
use crate::kube::cluster::ClusterReport;
use crate::kube::stack::{Choices, StackSpec};
use crate::sandbox::lock::{self, Lock};

/// How long the commands without a --lock-wait flag wait for another korthbox on the sandbox.
const LOCK_WAIT: Duration = Duration::from_secs(30);

async fn lock(ctx: &Context, name: &SandboxName, command: &str) -> Result<Lock, Error> {
    lock::acquire(&ctx.env, name, command, LOCK_WAIT, ctx.steps.reporter()).await
}

/// The driver and engine for a cluster of `wanted`, the tool and the engine checked.
async fn resolve(ctx: &Context, wanted: &Wanted) -> Result<Target, Error> {
    let facts = ctx.gather_for(wanted.provider).await;
    let (kind, provider) = target::for_cluster(&facts, wanted)?;
    if let Some(warning) = kind
        .driver()
        .tool()
        .and_then(|t| facts.tool(t)?.version.as_ref())
        .and_then(|v| kind.driver().version_warning(v))
    {
        ctx.steps.note(&format!("warning: {warning}"));
    }
    Ok(Target::new(wanted, kind, provider, false))
}

/// Creates the cluster (unless it exists), then checks it.
pub async fn create(
    ctx: &Context,
    wanted: &Wanted,
    spec: &ClusterSpec,
    retain: bool,
    timeout: Duration,
    wait: Duration,
) -> Result<ClusterReport, Error> {
    let target = resolve(ctx, wanted).await?;
    let _lock = lock(ctx, &spec.name, "cluster create").await?;
    // A bad version or size is a usage error, found before anything runs.
    target
        .driver()
        .render(spec, &target.provider)
        .map_err(Error::usage)?;
    if target.driver().makes_cluster() {
        steps::create_cluster(ctx, spec, &target, retain, timeout).await?;
    }
    steps::check_cluster(ctx, &target.context, wait).await
}

/// Checks the sandbox's cluster, or any cluster named with `--context`.
pub async fn check(ctx: &Context, wanted: &Wanted, wait: Duration) -> Result<ClusterReport, Error> {
    let (_, context) = target::context_of(ctx, wanted, "check").await?;
    steps::check_cluster(ctx, &context, wait).await
}

/// The clusters of the driver asked for, or of every installed one.
pub async fn list(
    ctx: &Context,
    choice: Option<DriverKind>,
    provider: Option<ProviderKind>,
) -> Result<Vec<ClusterEntry>, Error> {
    let facts = ctx.gather_for(provider).await;
    let provider = driver::provider(&facts, provider)
        .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker));
    let mut entries = Vec::new();
    for kind in driver::candidates(choice, &facts) {
        let d = kind.driver();
        if !d.makes_cluster() {
            continue;
        }
        if !kind.installed(&facts) {
            driver::require(Some(kind), &facts)?;
        }
        for name in actions::list(&ctx.env, d, &provider, actions::LIST_TIMEOUT).await? {
            let context = SandboxName::parse(&name)
                .map(|n| d.context(&n))
                .unwrap_or_default();
            entries.push(ClusterEntry {
                driver: kind,
                name,
                context,
            });
        }
    }
    Ok(entries)
}

/// Deletes the sandbox's cluster; one that does not exist is not an error, one that korthbox
/// did not make is refused unless `force`.
pub async fn delete(
    ctx: &Context,
    wanted: &Wanted,
    (force, yes): (bool, bool),
    timeout: Duration,
) -> Result<Deleted, Error> {
    let target = resolve(ctx, wanted).await?;
    let _lock = lock(ctx, &wanted.name, "cluster delete").await?;
    // Asked like `down`, but only about a cluster that is there to delete (with --yes there is
    // nothing to ask, and the delete lists the clusters itself).
    if !yes {
        let driver = target.driver();
        let clusters =
            actions::list(&ctx.env, driver, &target.provider, actions::LIST_TIMEOUT).await?;
        if clusters.iter().any(|c| c == target.name.as_str()) {
            // A driver's own cluster: the namespace does not enter the words.
            let what = crate::sandbox::down::what(&target, "");
            crate::sandbox::down::check_ours(ctx, &target, force, "cluster delete")?;
            let question = format!("Delete {what}?");
            crate::sandbox::down::confirm(ctx, &question, yes, "cluster delete", &what).await?;
        }
    }
    let title = format!("Deleting {} cluster {}", target.driver.label(), target.name);
    steps::delete_cluster(ctx, title, &target, (force, "cluster delete"), timeout).await
}

/// Loads images from the engine into every node of the sandbox's cluster.
pub async fn load(
    ctx: &Context,
    wanted: &Wanted,
    images: &[String],
    timeout: Duration,
) -> Result<(), Error> {
    let target = resolve(ctx, wanted).await?;
    // The cluster must be there, and every image in the engine, before the tool is run.
    let driver = target.driver();
    let clusters = actions::list(&ctx.env, driver, &target.provider, actions::LIST_TIMEOUT).await?;
    if driver.makes_cluster() && !clusters.iter().any(|c| c == target.name.as_str()) {
        return Err(target::absent(&wanted.name));
    }
    if let Some(uri) = &target.provider.endpoint {
        let missing = crate::sandbox::pull::missing(uri, images).await?;
        if !missing.is_empty() {
            let (engine, cli) = match target.provider.kind {
                ProviderKind::Docker => ("Docker", "docker"),
                ProviderKind::Podman => ("Podman", "podman"),
            };
            return Err(Error::failure(format!(
                "not in the {engine} engine, so there is nothing to load: {}",
                missing.join(", ")
            ))
            .hint(format!(
                "pull or build it there first: `{cli} pull {}`",
                missing[0]
            )));
        }
    }
    let title = format!(
        "Loading {} image{} into {} cluster {}",
        images.len(),
        if images.len() == 1 { "" } else { "s" },
        target.driver.label(),
        target.name
    );
    steps::load_images(ctx, title, &target, images, timeout).await
}

/// Checks the cluster, then applies the stack to it and waits for it.
pub async fn apply_stack(
    ctx: &Context,
    wanted: &Wanted,
    choices: &Choices,
    wait: Duration,
) -> Result<Deployed, Error> {
    wanted.check()?;
    // A bad combination is a usage error before anything is read or written.
    let provisional = driver::for_context().driver().placement(None);
    let spec = StackSpec::new(choices, &wanted.name, provisional).map_err(Error::usage)?;
    let (kind, context) = target::context_of(ctx, wanted, "apply to").await?;
    let target = Target {
        context,
        ..Target::new(
            wanted,
            kind,
            NodeProvider::assumed(ProviderKind::Docker),
            true,
        )
    };
    let _lock = lock(ctx, &wanted.name, "stack apply").await?;
    steps::check_cluster(ctx, &target.context, wait).await?;
    steps::apply_stack(ctx, &target, spec, wait).await
}

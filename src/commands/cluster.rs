//! `korthbox cluster create|check|list|delete|load`: the sandbox's cluster on its own.

use super::{check_target, cluster_spec, context_of, probe_timeout};
use crate::cli::{CheckArgs, CreateArgs, DeleteArgs, ListArgs, LoadArgs, TargetArgs};
use crate::cluster;
use crate::driver::actions::{self, Deleted};
use crate::driver::kind::NODE_IMAGES_RELEASE;
use crate::driver::{AUTO_ORDER, ClusterEntry, DriverKind, NodeProvider, ProviderKind};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host::tools::ToolName;
use crate::host::{self, HostFacts};
use crate::spec::DriverChoice;
use crate::ui::{self, Phase, Style};

/// The driver and engine for a target, with the tool checked.
async fn resolve(target: &TargetArgs, env: &Env) -> Result<(HostFacts, DriverKind, NodeProvider)> {
    check_target(target)?;
    let facts = host::gather(env, probe_timeout(env)).await;
    let kind = actions::require(target.driver, &facts)?;
    let provider = if kind == DriverKind::Existing {
        actions::provider(&facts, target.provider)
            .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker))
    } else {
        actions::require_provider(&facts, target.provider)?
    };
    Ok((facts, kind, provider))
}

pub async fn create(args: CreateArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.spec.target;
    let spec = cluster_spec(&args.spec);
    let (facts, kind, provider) = resolve(target, env).await?;
    let _lock = super::lock(env, style, &spec.name, "cluster create").await?;
    let driver = kind.driver();
    // A bad version or size is a usage error, found before anything runs.
    driver.render(&spec, &provider).map_err(Error::usage)?;
    if kind == DriverKind::Kind
        && let Some(have) = facts.tool(ToolName::Kind).and_then(|t| t.version.as_ref())
        && *have < NODE_IMAGES_RELEASE
    {
        ui::note(
            style,
            &format!(
                "warning: the pinned node images are kind {}'s and kind {have} may not boot them; if creation fails, upgrade kind",
                NODE_IMAGES_RELEASE
            ),
        );
    }

    let context = if kind == DriverKind::Existing {
        context_of(target, driver)
    } else {
        create_phase(
            env,
            style,
            &spec,
            kind,
            &provider,
            args.retain,
            args.timeout,
            &mut Vec::new(),
        )
        .await?
        .context
    };
    check_and_report(env, style, &context, args.wait, args.json).await
}

pub async fn check(args: CheckArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    check_target(target)?;
    let context = match &target.context {
        Some(context) => context.clone(),
        None => {
            let facts = host::gather(env, probe_timeout(env)).await;
            let kind = actions::pick(target.driver, &facts).ok_or_else(|| {
                Error::usage(
                    "no cluster driver is installed, so there is no sandbox cluster to check",
                )
                .hint("name any cluster with --context NAME")
            })?;
            context_of(target, kind.driver())
        }
    };
    check_and_report(env, style, &context, args.wait, args.json).await
}

async fn check_and_report(
    env: &Env,
    style: Style,
    context: &str,
    wait: std::time::Duration,
    json: bool,
) -> Result<ExitCode> {
    let phase = Phase::start(style, format!("Checking the cluster of context {context}"));
    match cluster::check(env, context, wait).await {
        Ok(report) => {
            phase.finish(
                true,
                &format!("{} nodes Ready on containerd", report.nodes.len()),
            );
            let mut out = std::io::stdout().lock();
            if json {
                ui::json(&mut out, &report)?;
            } else if !style.quiet {
                ui::cluster_report(&mut out, &report)?;
            }
            Ok(ExitCode::Success)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

pub async fn list(args: ListArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let facts = host::gather(env, probe_timeout(env)).await;
    let provider = actions::provider(&facts, args.provider)
        .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker));
    let kinds: Vec<DriverKind> = match DriverKind::from_choice(args.driver) {
        Some(kind) => vec![kind],
        None => AUTO_ORDER.to_vec(),
    };
    let mut entries = Vec::new();
    for kind in kinds {
        let Some(tool) = kind.tool() else { continue };
        if !facts.tool(tool).is_some_and(|t| t.installed()) {
            if args.driver != DriverChoice::Auto {
                return Err(actions::require(args.driver, &facts)
                    .err()
                    .unwrap_or_else(|| {
                        Error::failure(format!("{} is not installed", tool.executable()))
                    }));
            }
            continue;
        }
        let driver = kind.driver();
        for name in actions::list(env, driver, &provider, actions::LIST_TIMEOUT).await? {
            let context = crate::spec::SandboxName::parse(&name)
                .map(|n| driver.context(&n))
                .unwrap_or_default();
            entries.push(ClusterEntry {
                driver: kind,
                name,
                context,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        ui::json(&mut out, &entries)?;
    } else if entries.is_empty() {
        ui::note(style, "no clusters");
    } else {
        ui::cluster_list(&mut out, &entries)?;
    }
    Ok(ExitCode::Success)
}

pub async fn delete(args: DeleteArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    let (_facts, kind, provider) = resolve(target, env).await?;
    let _lock = super::lock(env, style, &target.name, "cluster delete").await?;
    let driver = kind.driver();
    let phase = Phase::start(
        style,
        format!("Deleting {} cluster {}", kind.label(), target.name),
    );
    let result = actions::delete(
        env,
        &target.name,
        driver,
        &provider,
        args.timeout,
        &mut |line| phase.line(line),
    )
    .await;
    match result {
        Ok(deleted) => {
            phase.finish(true, deleted_detail(deleted));
        }
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    }
    Ok(ExitCode::Success)
}

pub async fn load(args: LoadArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    let (_facts, kind, provider) = resolve(target, env).await?;
    let driver = kind.driver();
    let phase = Phase::start(
        style,
        format!(
            "Loading {} image{} into {} cluster {}",
            args.images.len(),
            if args.images.len() == 1 { "" } else { "s" },
            kind.label(),
            target.name
        ),
    );
    let result = actions::load(
        env,
        &target.name,
        driver,
        &provider,
        &args.images,
        args.timeout,
        &mut |line| phase.line(line),
    )
    .await;
    match result {
        Ok(()) => {
            phase.finish(true, "");
            Ok(ExitCode::Success)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

/// How a finished delete is described.
pub(super) fn deleted_detail(deleted: Deleted) -> &'static str {
    match deleted {
        Deleted::Deleted => "",
        Deleted::Absent => "there was no such cluster",
        Deleted::NotOurs => "an existing cluster is the user's own; korthbox deletes nothing of it",
    }
}

/// Creating the cluster as a phase (kept when it exists), timed into `timings`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn create_phase(
    env: &Env,
    style: Style,
    spec: &crate::spec::ClusterSpec,
    kind: DriverKind,
    provider: &NodeProvider,
    retain: bool,
    timeout: std::time::Duration,
    timings: &mut super::stack::Timings,
) -> Result<actions::Created> {
    let title = format!("Creating {} cluster {}", kind.label(), spec.name);
    let phase = Phase::start(style, title.clone());
    let result = actions::create(
        env,
        spec,
        kind.driver(),
        provider,
        retain,
        timeout,
        &mut |line| phase.line(line),
    )
    .await;
    match result {
        Ok(created) => {
            let detail = if created.created {
                ""
            } else {
                "it exists; reusing it"
            };
            super::stack::record(timings, title, phase.finish(true, detail));
            Ok(created)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

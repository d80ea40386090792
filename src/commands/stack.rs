//! `korthbox stack apply`: check the cluster, then apply the stack and wait for it.

use super::{check_target, context_of, probe_timeout, stack_spec};
use crate::apply::{self, Change, Event};
use crate::cli::StackApplyArgs;
use crate::driver::{DriverKind, actions};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host;
use crate::spec::VolumeSource;
use crate::stack::Secrets;
use crate::ui::{self, Phase, Style};

pub async fn apply(args: StackApplyArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    check_target(target)?;
    // A bad combination is a usage error before anything is read or written.
    crate::stack::render(
        &stack_spec(
            &args.stack,
            &target.name,
            VolumeSource::ClusterDefault,
            false,
        ),
        &Secrets::redacted(),
    )
    .map_err(Error::usage)?;

    let (kind, context) = match &target.context {
        Some(context) => (
            DriverKind::from_choice(target.driver).unwrap_or(DriverKind::Existing),
            context.clone(),
        ),
        None => {
            let facts = host::gather(env, probe_timeout(env)).await;
            let kind = actions::pick(target.driver, &facts).ok_or_else(|| {
                Error::usage(
                    "no cluster driver is installed, so there is no sandbox cluster to apply to",
                )
                .hint("name a cluster with --context NAME")
            })?;
            (kind, context_of(target, kind.driver()))
        }
    };

    let _lock = super::lock(env, style, &target.name, "stack apply").await?;
    check_cluster(env, style, &context, args.wait, &mut Vec::new()).await?;
    let outcome = apply_stack(
        env,
        style,
        kind,
        &context,
        &args.stack,
        &target.name,
        args.wait,
        &mut Vec::new(),
    )
    .await?;
    let (applied, changed) = (outcome.applied, outcome.changed);
    let mut out = std::io::stdout().lock();
    if args.json {
        ui::json(&mut out, &applied)?;
    } else if !style.quiet {
        ui::applied(&mut out, &applied)?;
        ui::note(
            style,
            &if changed == 0 {
                "the stack was already as planned; nothing changed".to_string()
            } else {
                format!("{changed} objects created or changed")
            },
        );
    }
    Ok(ExitCode::Success)
}

/// Each phase: its name, when it started, how long it took (for `--timings`).
pub(super) type Timings = Vec<(String, std::time::Instant, std::time::Duration)>;

/// Records a phase that just ended after `took`.
pub(super) fn record(timings: &mut Timings, title: String, took: std::time::Duration) {
    timings.push((title, std::time::Instant::now() - took, took));
}

/// The cluster checks as a phase; every refusal happens here, before the first write.
pub(super) async fn check_cluster(
    env: &Env,
    style: Style,
    context: &str,
    wait: std::time::Duration,
    timings: &mut Timings,
) -> Result<crate::cluster::ClusterReport> {
    let title = format!("Checking the cluster of context {context}");
    let phase = Phase::start(style, title.clone());
    match crate::cluster::check(env, context, wait).await {
        Ok(report) => {
            let took = phase.finish(
                true,
                &format!("{} nodes Ready on containerd", report.nodes.len()),
            );
            record(timings, title, took);
            Ok(report)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

/// What applying the stack did.
pub(super) struct Outcome {
    pub applied: Vec<apply::Applied>,
    /// Objects created or changed.
    pub changed: usize,
    pub client: kube::Client,
    pub spec: crate::spec::StackSpec,
}

/// The stack, stage by stage, each stage a phase.
#[allow(clippy::too_many_arguments)]
pub(super) async fn apply_stack(
    env: &Env,
    style: Style,
    kind: DriverKind,
    context: &str,
    stack: &crate::cli::StackArgs,
    name: &crate::spec::SandboxName,
    wait: std::time::Duration,
    timings: &mut Timings,
) -> Result<Outcome> {
    let client = crate::cluster::client(env, context).await?;
    let volumes = match (kind, apply::default_storage_class(&client).await?) {
        // minikube's default (hostpath) does not work across nodes.
        (DriverKind::Minikube, _) => VolumeSource::InstallLocalPath { default: false },
        (_, Some(_)) => VolumeSource::ClusterDefault,
        (_, None) => VolumeSource::InstallLocalPath { default: true },
    };
    let spec = stack_spec(stack, name, volumes, kind != DriverKind::Existing);
    let secrets = Secrets::generate().map_err(|e| {
        Error::failure("could not read random bytes for the passwords").caused_by(e)
    })?;
    let manifests = crate::stack::render(&spec, &secrets).map_err(Error::usage)?;

    let mut phase: Option<(String, Phase)> = None;
    let mut changed = 0usize;
    let result = apply::apply(&client, &manifests, wait, &mut |event| match event {
        Event::StageStarted(stage) => {
            let title = format!("Applying {}", stage.label());
            phase = Some((title.clone(), Phase::start(style, title)));
        }
        Event::Applied(a) => {
            if matches!(a.change, Change::Created | Change::Configured) {
                changed += 1;
            }
            if let Some((_, p)) = &phase {
                p.line(&format!("{} {}", a.object, a.change.label()));
            }
        }
        Event::Waiting(what) => {
            if let Some((_, p)) = &phase {
                p.line(&format!("waiting for {what}"));
            }
        }
        Event::StageDone(_) => {
            if let Some((title, p)) = phase.take() {
                record(timings, title, p.finish(true, ""));
            }
        }
    })
    .await;
    match result {
        Ok(applied) => Ok(Outcome {
            applied,
            changed,
            client,
            spec,
        }),
        Err(e) => {
            if let Some((_, p)) = phase.take() {
                p.finish(false, "");
            }
            Err(e)
        }
    }
}

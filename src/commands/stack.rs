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
        &stack_spec(&args.stack, &target.name, VolumeSource::ClusterDefault),
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

    // Every refusal happens here, before the first write.
    let phase = Phase::start(style, format!("Checking the cluster of context {context}"));
    match crate::cluster::check(env, &context, args.wait).await {
        Ok(report) => phase.finish(
            true,
            &format!("{} nodes Ready on containerd", report.nodes.len()),
        ),
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    }

    let client = crate::cluster::client(env, &context).await?;
    let volumes = match (kind, apply::default_storage_class(&client).await?) {
        // minikube's default (hostpath) does not work across nodes.
        (DriverKind::Minikube, _) => VolumeSource::InstallLocalPath { default: false },
        (_, Some(_)) => VolumeSource::ClusterDefault,
        (_, None) => VolumeSource::InstallLocalPath { default: true },
    };
    let spec = stack_spec(&args.stack, &target.name, volumes);
    let secrets = Secrets::generate().map_err(|e| {
        Error::failure("could not read random bytes for the passwords").caused_by(e)
    })?;
    let manifests = crate::stack::render(&spec, &secrets).map_err(Error::usage)?;

    let mut phase: Option<Phase> = None;
    let mut changed = 0usize;
    let result = apply::apply(&client, &manifests, args.wait, &mut |event| match event {
        Event::StageStarted(stage) => {
            phase = Some(Phase::start(style, format!("Applying {}", stage.label())));
        }
        Event::Applied(a) => {
            if matches!(a.change, Change::Created | Change::Configured) {
                changed += 1;
            }
            if let Some(p) = &phase {
                p.line(&format!("{} {}", a.object, a.change.label()));
            }
        }
        Event::Waiting(what) => {
            if let Some(p) = &phase {
                p.line(&format!("waiting for {what}"));
            }
        }
        Event::StageDone(_) => {
            if let Some(p) = phase.take() {
                p.finish(true, "");
            }
        }
    })
    .await;
    let applied = match result {
        Ok(applied) => applied,
        Err(e) => {
            if let Some(p) = phase.take() {
                p.finish(false, "");
            }
            return Err(e);
        }
    };
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

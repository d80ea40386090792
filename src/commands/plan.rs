//! `korthbox plan`: what `up` would create, printed or written to files, creating nothing.
//! It needs neither the driver's executable nor a cluster.

use std::io::Write;

use super::{check_target, cluster_spec, probe_timeout};
use crate::cli::{PlanArgs, PlanPart};
use crate::driver::{Definition, DriverKind, NodeProvider, ProviderKind, actions, minikube};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host;
use crate::ui::{self, Style};

pub async fn run(args: PlanArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.spec.target;
    check_target(target)?;
    let spec = cluster_spec(&args.spec);
    // The host is only asked what the flags leave open: which driver is installed, which
    // engine answers. With both named, plan starts no probe at all.
    let explicit_driver = DriverKind::from_choice(target.driver);
    let needs_engine = target.provider.is_none() && explicit_driver != Some(DriverKind::Existing);
    let facts = if explicit_driver.is_none() || needs_engine {
        Some(host::gather(env, probe_timeout(env)).await)
    } else {
        None
    };

    let kind = explicit_driver
        .or_else(|| facts.as_ref().and_then(|f| actions::pick(target.driver, f)))
        .unwrap_or_else(|| {
            ui::note(
                style,
                "note: no cluster driver is installed; planning as for kind, the first one `up` would use",
            );
            DriverKind::Kind
        });
    let driver = kind.driver();
    let provider = facts
        .as_ref()
        .and_then(|f| actions::provider(f, target.provider))
        .or_else(|| target.provider.map(NodeProvider::assumed))
        .unwrap_or_else(|| {
            if kind != DriverKind::Existing {
                ui::note(
                    style,
                    "note: no container engine answered; planning for Docker",
                );
            }
            NodeProvider::assumed(ProviderKind::Docker)
        });
    let definition = driver.render(&spec, &provider).map_err(|e| {
        Error::usage(e).hint(format!(
            "{}'s default is {}",
            kind.label(),
            driver.default_kubernetes_version()
        ))
    })?;

    // The cluster is the only part so far; the stack's manifests join it later.
    match args.only {
        None | Some(PlanPart::Cluster) => {}
    }

    let (file_name, file_text, printed) = match &definition {
        Definition::File { file_name, yaml } => (*file_name, yaml.clone(), yaml.clone()),
        Definition::Args(argv) => {
            let inv = driver
                .create(&spec, &provider, None, false)
                .map_err(Error::failure)?;
            let mut file = argv.join("\n");
            file.push('\n');
            (minikube::FILE_NAME, file, format!("{}\n", inv.display()))
        }
        Definition::Nothing => {
            ui::note(
                style,
                &format!(
                    "existing cluster: context `{}` is used as it is; there is nothing to create",
                    target.context.as_deref().unwrap_or_default()
                ),
            );
            return Ok(ExitCode::Success);
        }
    };

    let written = match &args.output_dir {
        Some(dir) => {
            let path = dir.join(file_name);
            crate::driver::common::write_definition(&path, &file_text)?;
            Some(path)
        }
        None => {
            std::io::stdout().lock().write_all(printed.as_bytes())?;
            None
        }
    };
    if let Some(path) = &written {
        ui::note(style, &format!("wrote {}", path.display()));
    }
    if style.verbose || written.is_some() {
        let config = written.clone().or_else(|| {
            env.cache_dir()
                .map(|d| crate::driver::definition_path(&d, &spec.name, file_name))
        });
        if let Ok(inv) = driver.create(&spec, &provider, config.as_deref(), false) {
            ui::note(
                style,
                &format!("`korthbox up` would run: {}", inv.display()),
            );
        }
    }
    Ok(ExitCode::Success)
}

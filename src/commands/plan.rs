//! `korthbox plan`: what `up` would create, printed or written to files, creating nothing.
//! It needs neither the driver's executable nor a cluster.

use std::io::Write;

use super::{check_target, cluster_spec, probe_timeout, stack_spec};
use crate::cli::{PlanArgs, PlanPart};
use crate::driver::{Definition, DriverKind, NodeProvider, ProviderKind, actions, minikube};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host;
use crate::spec::VolumeSource;
use crate::stack::Secrets;
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

    let want_cluster = matches!(args.only, None | Some(PlanPart::Cluster));
    let want_manifests = matches!(args.only, None | Some(PlanPart::Manifests));
    let want_images = matches!(args.only, None | Some(PlanPart::Images));

    // The stack: where the cluster's volumes come from is decided by the driver here, since
    // plan looks at no cluster.
    let volumes = match kind {
        DriverKind::Kind | DriverKind::K3d => VolumeSource::ClusterDefault,
        DriverKind::Minikube => VolumeSource::InstallLocalPath { default: false },
        DriverKind::Existing => {
            if want_manifests {
                ui::note(
                    style,
                    "note: the local-path-provisioner objects are skipped when the cluster already has a default StorageClass",
                );
            }
            VolumeSource::InstallLocalPath { default: true }
        }
    };
    let stack = stack_spec(
        &args.stack,
        &target.name,
        volumes,
        kind != DriverKind::Existing,
    );
    let secrets = if args.show_secrets {
        Secrets::generate().map_err(|e| {
            Error::failure("could not read random bytes for the passwords").caused_by(e)
        })?
    } else {
        Secrets::redacted()
    };
    let manifests = crate::stack::render(&stack, &secrets).map_err(Error::usage)?;
    let manifests_yaml = crate::stack::to_yaml(&manifests);
    let images: String = crate::stack::images::used(&stack)
        .iter()
        .map(|(_, image)| format!("{image}\n"))
        .collect();

    // (file name, file contents, what stdout shows) of the cluster part.
    let cluster = match &definition {
        Definition::File { file_name, yaml } => Some((*file_name, yaml.clone(), yaml.clone())),
        Definition::Args(argv) => {
            let inv = driver
                .create(&spec, &provider, None, false)
                .map_err(Error::failure)?;
            let mut file = argv.join("\n");
            file.push('\n');
            Some((minikube::FILE_NAME, file, format!("{}\n", inv.display())))
        }
        Definition::Nothing => None,
    };
    if want_cluster && cluster.is_none() {
        ui::note(
            style,
            &format!(
                "existing cluster: context `{}` is used as it is; there is nothing to create",
                target.context.as_deref().unwrap_or_default()
            ),
        );
    }

    let mut written = Vec::new();
    match &args.output_dir {
        Some(dir) => {
            if want_cluster && let Some((file_name, text, _)) = &cluster {
                let path = dir.join(file_name);
                crate::driver::common::write_definition(&path, text)?;
                written.push(path);
            }
            if want_manifests {
                let path = dir.join(MANIFESTS_FILE);
                crate::driver::common::write_definition(&path, &manifests_yaml)?;
                written.push(path);
            }
            if want_images {
                let path = dir.join(IMAGES_FILE);
                crate::driver::common::write_definition(&path, &images)?;
                written.push(path);
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            match (want_cluster, want_manifests, &cluster) {
                (false, false, _) => out.write_all(images.as_bytes())?,
                (true, false, Some((_, _, shown))) => out.write_all(shown.as_bytes())?,
                (true, false, None) => {}
                (false, _, _) => out.write_all(manifests_yaml.as_bytes())?,
                (true, true, cluster) => {
                    writeln!(out, "# images (pulled on the host, loaded into the nodes):")?;
                    for line in images.lines() {
                        writeln!(out, "#   {line}")?;
                    }
                    match cluster {
                        Some((_, _, shown)) if shown.starts_with(driver.kind().label()) => {
                            writeln!(out, "# cluster: {}", shown.trim_end())?
                        }
                        Some((file_name, _, shown)) => {
                            writeln!(out, "# cluster: {file_name}")?;
                            out.write_all(shown.as_bytes())?;
                            writeln!(out, "---")?;
                        }
                        None => writeln!(out, "# cluster: the existing one; nothing to create")?,
                    }
                    writeln!(out, "# manifests, in the order they are applied")?;
                    out.write_all(manifests_yaml.as_bytes())?;
                }
            }
        }
    }
    for path in &written {
        ui::note(style, &format!("wrote {}", path.display()));
    }
    if want_cluster
        && (style.verbose || !written.is_empty())
        && let Some((file_name, _, _)) = &cluster
    {
        let config = written
            .iter()
            .find(|p| p.ends_with(file_name))
            .cloned()
            .or_else(|| {
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

/// The file `--output-dir` writes the manifests to.
pub const MANIFESTS_FILE: &str = "manifests.yaml";
/// The file `--output-dir` writes the image list to.
pub const IMAGES_FILE: &str = "images.txt";

//! `korthbox plan`: what `up` would create, printed or written to files, creating nothing.
//! It needs neither the driver's executable nor a cluster.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::{choices, cluster_spec, wanted};
use super::exit::ExitCode;
use crate::base::error::{Error, Result};
use crate::base::spec::ClusterSpec;
use crate::cli::grammar::{PlanArgs, PlanPart};
use crate::cli::ui::Ui;
use crate::driver::common;
use crate::sandbox::Context;
use crate::sandbox::plan::{self, Plan};

/// The file `--output-dir` writes the manifests to.
pub const MANIFESTS_FILE: &str = "manifests.yaml";
/// The file `--output-dir` writes the image list to.
pub const IMAGES_FILE: &str = "images.txt";

/// Which parts to show.
struct Parts {
    cluster: bool,
    manifests: bool,
    images: bool,
}

pub async fn run(args: PlanArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let parts = Parts {
        cluster: matches!(args.only, None | Some(PlanPart::Cluster)),
        manifests: matches!(args.only, None | Some(PlanPart::Manifests)),
        images: matches!(args.only, None | Some(PlanPart::Images)),
    };
    let req = plan::Request {
        wanted: wanted(&args.spec.target),
        cluster: ClusterSpec {
            registry_mirror: args.stack.registry_mirror.clone(),
            ..cluster_spec(&args.spec)?
        },
        stack: choices(&args.stack)?,
        show_secrets: args.show_secrets,
        manifests_wanted: parts.manifests,
        cluster_wanted: parts.cluster,
    };
    let plan = plan::plan(ctx, &req).await?;
    if parts.cluster && plan.cluster.is_none() {
        ui.note(&format!(
            "existing cluster: context `{}` is used as it is; there is nothing to create",
            req.wanted.context.as_deref().unwrap_or_default()
        ));
    }
    let written = match &args.output_dir {
        Some(dir) => write(dir, &plan, &parts, args.show_secrets)?,
        None => {
            print(&mut std::io::stdout().lock(), &plan, &parts)?;
            Vec::new()
        }
    };
    for path in &written {
        ui.note(&format!("wrote {}", path.display()));
    }
    if parts.cluster && (ui.style.verbose || !written.is_empty()) {
        would_run(ctx, ui, &plan, &req, &written);
    }
    Ok(ExitCode::Success)
}

/// The plan's files in `dir`; the manifests readable by their owner only when they hold the
/// secrets.
fn write(dir: &Path, plan: &Plan, parts: &Parts, secrets: bool) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(PathBuf, &str, bool)> = Vec::new();
    if parts.cluster
        && let Some(cluster) = &plan.cluster
    {
        files.push((dir.join(cluster.file_name), &cluster.file, false));
    }
    if parts.manifests {
        files.push((dir.join(MANIFESTS_FILE), &plan.manifests, secrets));
    }
    if parts.images {
        files.push((dir.join(IMAGES_FILE), &plan.images, false));
    }
    for (path, text, private) in &files {
        if *private {
            crate::host::fs::write_private(path, text.as_bytes()).map_err(|e| {
                Error::failure(format!("could not write {}", path.display())).because(e)
            })?;
        } else {
            // The user's own folder: files as readable as anything they write there.
            let dir = path.parent().unwrap_or(path);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(path, text))
                .map_err(|e| {
                    Error::failure(format!("could not write {}", path.display())).because(e)
                })?;
        }
    }
    Ok(files.into_iter().map(|(path, _, _)| path).collect())
}

/// The plan on stdout: one part as it is, or everything with comments between the parts.
fn print(out: &mut impl Write, plan: &Plan, parts: &Parts) -> std::io::Result<()> {
    match (parts.cluster, parts.manifests, &plan.cluster) {
        (false, false, _) => out.write_all(plan.images.as_bytes()),
        (true, false, Some(cluster)) => writeln!(out, "{}", cluster.shown.trim_end()),
        (true, false, None) => Ok(()),
        (false, _, _) => out.write_all(plan.manifests.as_bytes()),
        (true, true, cluster) => {
            writeln!(out, "# images (pulled on the host, loaded into the nodes):")?;
            for line in plan.images.lines() {
                writeln!(out, "#   {line}")?;
            }
            // One object per YAML document: a definition (kind's, k3d's) is a document of its
            // own; a command line (minikube's) is a comment.
            match cluster {
                Some(c) if c.file_name.ends_with(".yaml") => {
                    writeln!(out, "# cluster: {}", c.file_name)?;
                    writeln!(out, "{}", c.shown.trim_end())?;
                    writeln!(out, "---")?;
                }
                Some(c) => {
                    for line in c.shown.trim_end().lines() {
                        writeln!(out, "# cluster: {line}")?;
                    }
                }
                None => writeln!(out, "# cluster: the existing one; nothing to create")?,
            }
            writeln!(out, "# manifests, in the order they are applied")?;
            out.write_all(plan.manifests.as_bytes())
        }
    }
}

/// Says the command line `up` would run with the definition.
fn would_run(ctx: &Context, ui: &Ui, plan: &Plan, req: &plan::Request, written: &[PathBuf]) {
    let Some(cluster) = &plan.cluster else {
        return;
    };
    let config = written
        .iter()
        .find(|p| p.ends_with(cluster.file_name))
        .cloned()
        .or_else(|| {
            ctx.env
                .cache_dir()
                .map(|d| common::definition_path(&d, &req.cluster.name, cluster.file_name))
        });
    if let Ok(mut inv) =
        plan.driver()
            .create(&req.cluster, &plan.provider, config.as_deref(), false)
    {
        inv.env
            .extend(crate::driver::actions::proxy_env(&ctx.env, plan.driver()));
        ui.note(&format!("`korthbox up` would run: {}", inv.display()));
    }
}

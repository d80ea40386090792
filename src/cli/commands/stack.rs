//! `korthbox stack apply`: check the cluster, then apply the stack and wait for it.

use super::args::{choices, wanted};
use super::exit::ExitCode;
use crate::base::error::Result;
use crate::cli::grammar::StackApplyArgs;
use crate::cli::ui::{Ui, render};
use crate::sandbox::{Context, parts};

pub async fn apply(args: StackApplyArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let deployed = parts::apply_stack(
        ctx,
        &wanted(&args.target),
        &choices(&args.stack)?,
        args.wait,
    )
    .await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &deployed.applied)?;
    } else if !ui.style.quiet {
        render::applied(&mut out, &deployed.applied)?;
        ui.note(&if deployed.changed == 0 {
            "the stack was already as planned; nothing changed".to_string()
        } else {
            format!("{} objects created or changed", deployed.changed)
        });
    }
    Ok(ExitCode::Success)
}

//! `korthbox install kind|k3d|minikube`.

use super::exit::ExitCode;
use crate::base::error::Result;
use crate::cli::grammar::InstallArgs;
use crate::cli::ui::Ui;
use crate::sandbox::{Context, host};

pub async fn run(args: InstallArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let facts = ctx.gather().await;
    host::install(ctx, args.tool.driver(), &facts, args.download_timeout).await?;
    if let Some(dir) = ctx.env.bin_dir() {
        ui.note(&format!(
            "korthbox finds it there; to run it yourself, add {} to PATH",
            dir.display()
        ));
    }
    Ok(ExitCode::Success)
}

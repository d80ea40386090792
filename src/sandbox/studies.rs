//! `reset --keep-studies`: the sandbox's studies exported to korthbox's cache before anything is
//! deleted, uploaded again once the new sandbox is proven, and the export deleted only when
//! Orthanc holds every file of it. If any step fails the export stays, and the error says
//! where it is and how to finish by hand.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::Context;
use super::access;
use super::target::Wanted;
use crate::base::error::Error;
use crate::evaluate::{export, upload};

/// How long one file may take to be fetched or sent.
const FILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Where sandbox `name`'s studies wait during a reset.
pub fn export_dir(ctx: &Context, name: &str) -> Result<PathBuf, Error> {
    let cache = ctx.env.cache_dir().ok_or_else(|| {
        Error::failure("--keep-studies needs a cache folder to export the studies to, and this machine has none")
            .hint("set KORTHBOX_CACHE_DIR to a folder with room for the sandbox's studies")
    })?;
    Ok(cache.join("exports").join(name))
}

/// What to tell someone whose reset stopped with the studies in `dir`.
pub fn finish_by_hand(dir: &Path) -> String {
    format!(
        "the studies are kept in {dir}: once the sandbox is up, `korthbox upload {dir}` puts them back; delete the folder after",
        dir = dir.display()
    )
}

/// Exports every instance of the sandbox's Orthanc to [`export_dir`]; the folder and how many
/// instances it holds. Nothing has been deleted when this fails.
pub async fn save(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
) -> Result<(PathBuf, u64), Error> {
    let dir = export_dir(ctx, wanted.name.as_str())?;
    let unreached = |e: Error| {
        e.hint("--keep-studies exports the studies before deleting anything, so the sandbox's Orthanc must answer; nothing was deleted")
            .hint("`korthbox up` repairs the sandbox first; `korthbox reset` without --keep-studies deletes the studies")
    };
    let reached = access::reach(ctx, wanted, namespace, FILE_TIMEOUT)
        .await
        .map_err(unreached)?;
    let rest = reached.orthanc.rest()?;
    crate::host::fs::create_private_dir(&dir)
        .map_err(|e| Error::failure(format!("could not make {}", dir.display())).because(e))?;
    let title = format!("Exporting the sandbox's studies to {}", dir.display());
    let phase = ctx.steps.phase(title);
    let stop = Arc::new(AtomicBool::new(false));
    let done = export::export(&rest, &dir, export::WORKERS, stop, &phase).await;
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            phase.finish(false, "");
            return Err(e.hint("nothing was deleted"));
        }
    };
    phase.finish(done.complete(), &done.describe());
    if !done.complete() {
        let first = done
            .failures
            .first()
            .map(|(p, why)| format!("{}: {why}", p.display()));
        return Err(Error::failure(format!(
            "{} of {} instances could not be exported; nothing was deleted",
            done.failed, done.instances
        ))
        .caused_by(first.unwrap_or_default())
        .hint(format!(
            "what was exported is in {}; run the same reset again to continue, or `korthbox reset` without --keep-studies",
            dir.display()
        )));
    }
    Ok((dir, done.instances))
}

/// Uploads the export in `dir` to the new sandbox's Orthanc, checks that Orthanc now holds
/// every file of it, and then deletes it; what was done, in words.
pub async fn restore(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    dir: &Path,
) -> Result<String, Error> {
    let kept = |e: Error| e.hint(finish_by_hand(dir));
    let reached = access::reach(ctx, wanted, namespace, FILE_TIMEOUT)
        .await
        .map_err(kept)?;
    let rest = reached.orthanc.rest()?;
    let counted = async || {
        export::count(&rest)
            .await
            .map_err(|e| kept(Error::failure(e)))
    };
    let before = counted().await?;
    let found = upload::files(&[dir.to_path_buf()]).map_err(kept)?;
    let files = found.files.len() as u64;
    let title = format!("Uploading the {files} exported instances again");
    let phase = ctx.steps.phase(title);
    let stop = Arc::new(AtomicBool::new(false));
    let done = upload::upload(&rest, found, upload::WORKERS, stop, &phase).await;
    let after = counted().await?;
    let whole = done.failed == 0
        && done.stored + done.already_stored == files
        && after == before + done.stored;
    phase.finish(whole, &done.describe());
    if !whole {
        let first = done.failures.first().map(|f| match &f.outcome {
            upload::Outcome::Failed { reason } => format!("{}: {reason}", f.path.display()),
            _ => String::new(),
        });
        return Err(kept(
            Error::failure(format!(
                "Orthanc holds {after} instances after the upload of {files} (it had {before}); the export is kept"
            ))
            .caused_by(first.unwrap_or_else(|| format!("{} files failed", done.failed))),
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| {
        Error::failure(format!(
            "every study is back, but the export in {} could not be deleted",
            dir.display()
        ))
        .because(e)
        .hint(format!("delete it by hand: `rm -r {}`", dir.display()))
    })?;
    Ok(format!(
        "{files} instances back in Orthanc; the export was deleted"
    ))
}

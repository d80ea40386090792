//! `samples`, `upload` and `open`: something to look at in Orthanc, the user's own files in
//! it, and the browser on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::wanted;
use super::exit::ExitCode;
use super::reach::reach;
use crate::base::error::{Error, Result};
use crate::cli::grammar::{ExportArgs, OpenArgs, SamplesArgs, UploadArgs};
use crate::cli::ui::{Ui, render};
use crate::evaluate::upload;
use crate::sandbox::{Context, access};

pub async fn samples(args: SamplesArgs, ctx: &Context) -> Result<ExitCode> {
    if let Some(dir) = &args.output_dir {
        let title = format!(
            "Writing {} sample studies to {}",
            args.studies,
            dir.display()
        );
        let written = ctx
            .steps
            .run(
                title,
                async |_| crate::evaluate::samples::write(args.studies, dir),
                // The result is said once, on stdout.
                |_| String::new(),
            )
            .await?;
        for kept in &written.kept {
            ctx.steps.note(&format!(
                "kept {}: something is there already; korthbox writes new files only",
                kept.display()
            ));
        }
        println!("{} DICOM files under {}", written.written, dir.display());
        return Ok(ExitCode::Success);
    }
    let reached = reach(&args.orthanc, ctx, args.exchange_timeout, Some("samples")).await?;
    let title = format!(
        "Sending {} sample studies to {}",
        args.studies,
        reached.describe(&args.orthanc)
    );
    let peer = &reached.orthanc().dicom;
    let sent = ctx
        .steps
        .run(
            title,
            async |phase| {
                crate::evaluate::samples::send(peer, args.studies, args.workers, phase).await
            },
            // The result is said once, on stdout.
            |_| String::new(),
        )
        .await?;
    let mut out = std::io::stdout().lock();
    match args.json {
        true => render::json(&mut out, &sent)?,
        false => {
            use std::io::Write;
            writeln!(out, "{}", sent.describe())?;
        }
    }
    Ok(ExitCode::Success)
}

pub async fn upload(args: UploadArgs, ctx: &Context) -> Result<ExitCode> {
    let files = upload::files(&args.paths)?;
    let reached = reach(&args.orthanc, ctx, args.file_timeout, None).await?;
    let rest = reached.orthanc().rest()?;
    let title = format!(
        "Uploading {} files to {}",
        files.files.len(),
        reached.describe(&args.orthanc)
    );
    // Ctrl-C stops sending new files; those in flight finish, and the summary says how far
    // it got.
    let (stop, watch) = stop_on_ctrl_c();
    let total = files.files.len();
    for skipped in &files.skipped {
        if let upload::Outcome::Skipped { reason } = &skipped.outcome {
            ctx.steps
                .note(&format!("skipped {}: {reason}", skipped.path.display()));
        }
    }
    let phase = ctx.steps.phase(title);
    let done = upload::upload(&rest, files, args.workers, stop, &phase).await;
    watch.abort();
    phase.finish(done.failed == 0 && !done.interrupted, &done.describe());
    let mut out = std::io::stdout().lock();
    match args.json {
        true => render::json(&mut out, &done)?,
        false => render::uploaded(&mut out, &done)?,
    }
    if done.interrupted {
        return Err(Error::interrupted(format!(
            "interrupted after {} of {total} files",
            done.files
        ))
        .hint("run the same upload again: what is stored already is reported as such, not stored twice")
        .reported_in_json(args.json));
    }
    if done.failed > 0 {
        return Err(Error::failure(format!(
            "{} of {} files could not be stored",
            done.failed, done.files
        ))
        .hint("the reason for each is above; a file Orthanc cannot parse is usually truncated or not DICOM")
        .reported_in_json(args.json));
    }
    Ok(ExitCode::Success)
}

/// Ctrl-C sets the flag that stops new work; the task ends when aborted.
fn stop_on_ctrl_c() -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let watch = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        })
    };
    (stop, watch)
}

pub async fn export(args: ExportArgs, ctx: &Context) -> Result<ExitCode> {
    let reached = reach(&args.orthanc, ctx, args.file_timeout, None).await?;
    let rest = reached.orthanc().rest()?;
    let title = format!(
        "Exporting {} to {}",
        reached.describe(&args.orthanc),
        args.dir.display()
    );
    let (stop, watch) = stop_on_ctrl_c();
    let phase = ctx.steps.phase(title);
    let done = crate::evaluate::export::export(&rest, &args.dir, args.workers, stop, &phase).await;
    watch.abort();
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    };
    phase.finish(done.complete(), &done.describe());
    let mut out = std::io::stdout().lock();
    match args.json {
        true => render::json(&mut out, &done)?,
        false => {
            use std::io::Write;
            writeln!(out, "{}", done.describe())?;
            for (path, reason) in &done.failures {
                writeln!(out, "  failed: {}: {reason}", path.display())?;
            }
            writeln!(
                out,
                "under {}; `korthbox upload {}` puts them back",
                args.dir.display(),
                args.dir.display()
            )?;
        }
    }
    if done.interrupted {
        return Err(Error::interrupted(format!(
            "interrupted after {} of {} instances",
            done.written + done.kept + done.failed,
            done.instances
        ))
        .hint("run the same export again: files already there, whole, are kept")
        .reported_in_json(args.json));
    }
    if done.failed > 0 {
        return Err(Error::failure(format!(
            "{} of {} instances could not be written",
            done.failed, done.instances
        ))
        .hint("the reason for each is above; run the same export again once it is fixed")
        .reported_in_json(args.json));
    }
    Ok(ExitCode::Success)
}

pub async fn open(args: OpenArgs, ctx: &Context, ui: &Ui) -> Result<ExitCode> {
    let target = wanted(&args.target);
    let web = access::web(
        ctx,
        &target,
        &args.ns.namespace,
        args.viewer,
        args.http_port,
    )
    .await?;
    let url = web.url.clone();
    let login = "log in as admin; `korthbox password` prints the password";
    let opened = match args.print {
        true => false,
        false => webbrowser::open(&url).is_ok(),
    };
    match opened {
        true => ctx.steps.note(&format!("Opened {url} ({login})")),
        false if args.print => println!("{url}"),
        false => {
            println!("{url}");
            ctx.steps.note(&format!(
                "no browser could be started here: open the URL above ({login})"
            ));
        }
    }
    if web.forwards() {
        ctx.steps.note(&format!(
            "Forwarding {url} to Orthanc until Ctrl-C (the driver maps no port)"
        ));
        tokio::select! {
            _ = web.serve(ctx) => {}
            _ = tokio::signal::ctrl_c() => { ui.clear(); }
        }
    }
    Ok(ExitCode::Success)
}

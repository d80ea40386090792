//! `korthbox prove`: the sandbox's proof run again (and kept on its namespace), or with
//! `--url` and `--dicom` the same proof of any Orthanc. Exit 0 passed, 1 a step failed,
//! 2 the command line is wrong.

use std::io::IsTerminal;

use super::args::wanted;
use super::exit::ExitCode;
use crate::cli::ProveArgs;
use crate::dicom::Peer;
use crate::env::KORTHBOX_ORTHANC_PASSWORD as PASSWORD_VAR;
use crate::error::{Error, Result};
use crate::proof::{self, DICOMWEB_ROOT, Proof, Target};
use crate::sandbox::steps::PROOF_TIMEOUT;
use crate::sandbox::{Context, access};
use crate::ui::render;

pub async fn run(args: ProveArgs, ctx: &Context) -> Result<ExitCode> {
    let proof = match (&args.url, &args.dicom) {
        (Some(url), Some(dicom)) => any(&args, ctx, url, dicom).await?,
        _ => {
            let target = wanted(&args.target);
            access::prove(ctx, &target, &args.ns.namespace, args.step_timeout).await?
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        render::json(&mut out, &proof)?;
    } else {
        render::proof(&mut out, &proof)?;
    }
    if proof.passed {
        return Ok(ExitCode::Success);
    }
    let mut err = proof.error("the proof");
    if args.url.is_none() {
        err = err.hint(format!(
            "`kubectl -n {} logs deployment/orthanc` shows Orthanc's side",
            args.ns.namespace
        ));
    }
    Err(err)
}

/// The proof of the Orthanc at `url` and `dicom`.
async fn any(args: &ProveArgs, ctx: &Context, url: &str, dicom: &str) -> Result<Proof> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(
            Error::usage(format!("--url {url} is not an http:// or https:// URL"))
                .hint("give Orthanc's base URL, e.g. --url http://127.0.0.1:8042"),
        );
    }
    let user = args.user.clone().unwrap_or_else(|| "admin".into());
    let password = password(ctx, &user, url).await?;
    let target = Target {
        url: url.to_string(),
        user,
        password,
        dicomweb: args
            .dicomweb_root
            .clone()
            .unwrap_or_else(|| DICOMWEB_ROOT.into()),
        dicom: Peer {
            address: dicom.to_string(),
            called: args.aet.clone().unwrap_or_else(|| "ORTHANC".into()),
            timeout: args.step_timeout,
        },
        storage: None,
        step_timeout: args.step_timeout,
    };
    let phase = ctx.steps.phase(format!("Proving Orthanc at {url}"));
    match proof::run(&target, PROOF_TIMEOUT, Some(&phase)).await {
        Ok(proof) => {
            let detail = match proof.failed() {
                None => format!("all {} steps passed", proof.steps.len()),
                Some(step) => format!("failed at step {}", step.name),
            };
            phase.finish(proof.passed, &detail);
            Ok(proof)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

/// From the environment (empty: no authentication), or asked on a terminal, never a flag.
async fn password(ctx: &Context, user: &str, url: &str) -> Result<Option<String>> {
    if let Some(value) = ctx.env.var(PASSWORD_VAR) {
        return Ok((!value.is_empty()).then(|| value.to_string()));
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::usage(format!("no password for {user} at {url}"))
            .hint(format!("set {PASSWORD_VAR} (empty when Orthanc has no authentication); korthbox asks only on a terminal")));
    }
    let prompt = format!("Password for {user} at {url}: ");
    let read = tokio::task::spawn_blocking(move || {
        let term = console::Term::stderr();
        term.write_str(&prompt)?;
        term.read_secure_line()
    });
    match read.await {
        Ok(Ok(p)) => Ok((!p.is_empty()).then_some(p)),
        Ok(Err(e)) => Err(Error::failure("could not read the password").because(e)),
        Err(e) => Err(Error::failure("could not read the password").because(e)),
    }
}

//! `korthbox prove`: the sandbox's proof run again (and kept on its namespace), or with
//! `--url` and `--dicom` the same proof of any Orthanc. Exit 0 passed, 1 a step failed,
//! 2 the command line is wrong.

use super::args::wanted;
use super::exit::ExitCode;
use super::reach::reach;
use crate::base::error::Result;
use crate::cli::grammar::ProveArgs;
use crate::cli::ui::render;
use crate::evaluate::proof::{self, Proof, Target};
use crate::sandbox::{Context, access};

pub async fn run(args: ProveArgs, ctx: &Context) -> Result<ExitCode> {
    let sandbox = args.orthanc.url.is_none();
    let proof = match sandbox {
        true => {
            let target = wanted(&args.orthanc.target);
            let ns = &args.orthanc.ns.namespace;
            access::prove(ctx, &target, ns, args.step_timeout).await?
        }
        false => any(&args, ctx).await?,
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
    if sandbox {
        err = err.hint(format!(
            "`{}` shows Orthanc's side",
            ctx.same_target("logs orthanc")
        ));
    }
    Err(err.reported_in_json(args.json))
}

/// The proof of the Orthanc at `--url` and `--dicom`.
async fn any(args: &ProveArgs, ctx: &Context) -> Result<Proof> {
    let reached = reach(&args.orthanc, ctx, args.step_timeout, Some("prove")).await?;
    let target = Target {
        orthanc: reached.orthanc().clone(),
        storage: None,
        instances: Vec::new(),
    };
    let title = format!("Proving Orthanc at {}", reached.describe(&args.orthanc));
    let phase = ctx.steps.phase(title);
    match proof::run(&target, Some(&phase)).await {
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

//! The proof: korthbox stores a synthetic study in Orthanc and gets it back through every
//! interface a team uses — DICOM echo, store and find; the REST API; DICOMweb (QIDO-RS,
//! WADO-RS, STOW-RS) — then, in a sandbox, asks the storage backend itself whether the files
//! landed where the storage mode says, and deletes what it stored. Any Orthanc can be proven
//! (`korthbox prove --url … --dicom …`); a sandbox's result is kept on its namespace, for
//! `status`.

mod model;
pub mod sandbox;
mod steps;
pub mod storage;

pub use model::{Cleaned, LastProof, Outcome, Proof, Step, Target};

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::base::error::Error;
use crate::base::report::{Phase, seconds};

/// The field manager of the proof's annotations, apart from the stack's own.
const FIELD_MANAGER: &str = "korthbox-proof";
pub const LAST_PROOF: &str = "korthbox.io/last-proof";
pub const LAST_PROOF_AT: &str = "korthbox.io/last-proof-at";
/// The Orthanc version the last proof found running.
pub const ORTHANC_VERSION: &str = "korthbox.io/orthanc-version";
/// How long the whole proof may take, cleanup aside: four times a step's limit (120 s at
/// the default 30 s), so that a longer `--step-timeout` lengthens it too.
pub fn overall(step_timeout: Duration) -> Duration {
    step_timeout * 4
}

/// Runs the proof; a step that fails is in the `Proof`, not an `Err`. Each step is reported
/// on `phase` as it ends. Once something may have been stored, the cleanup runs whatever
/// ends the other steps — a failure, the overall limit, Ctrl-C — on its own step limit, and
/// an error names the study it could not delete.
pub async fn run(target: &Target, phase: Option<&Phase<'_>>) -> Result<Proof, Error> {
    let rest = target.orthanc.rest()?;
    let mut run = steps::Run::new(target, rest).map_err(|e| {
        Error::failure("could not read random bytes for the proof's UIDs").because(e)
    })?;
    // Ctrl-C is heard here, so that the study is deleted before korthbox stops.
    let _shield = crate::base::report::Shield::raise();
    let limit = overall(target.orthanc.timeout);
    let mut proof = Proof::default();
    let ended = {
        let steps = tokio::time::timeout(limit, run.steps(&mut proof, phase));
        tokio::select! {
            done = steps => done.err().map(|_| Ended::TimedOut),
            _ = tokio::signal::ctrl_c() => Some(Ended::Interrupted),
        }
    };
    let cleaned = run.clean_up(&mut proof, phase).await;
    let Some(ended) = ended else {
        return Ok(proof);
    };
    let last = proof
        .steps
        .iter()
        .rfind(|s| s.name != "cleanup")
        .map_or("none", |s| s.name);
    let mut err = match ended {
        Ended::TimedOut => Error::failure(format!(
            "the proof did not finish within {} (4 × the step limit of {}; its last step: {last})",
            seconds(limit),
            seconds(target.orthanc.timeout)
        )),
        Ended::Interrupted => {
            Error::interrupted(format!("the proof was interrupted (its last step: {last})"))
        }
    };
    err = match cleaned {
        Cleaned::Nothing => err,
        Cleaned::Deleted(uid) => err.caused_by(format!("its study {uid} was deleted")),
        Cleaned::Left(uid) => err
            .caused_by(format!("its study {uid} could not be deleted"))
            .hint(format!(
                "delete the study whose StudyInstanceUID is {uid} in Orthanc (its web UI, or DELETE /studies/ID)"
            )),
    };
    Err(match target.storage.is_some() {
        true => err.hint("`korthbox status` shows the stack; Orthanc's log shows its side"),
        false => err.hint("Orthanc's log shows its side; raise the limits with --step-timeout"),
    })
}

/// What ended the proof before its steps did.
enum Ended {
    TimedOut,
    Interrupted,
}

/// Keeps the result on the namespace, where `status` finds it without a state file.
pub async fn record(client: &Client, namespace: &str, proof: &Proof) -> Result<(), Error> {
    let result = proof.outcome().annotation();
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string();
    let patch = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": {
            LAST_PROOF: result,
            LAST_PROOF_AT: at,
            ORTHANC_VERSION: proof.orthanc_version.clone().unwrap_or_default(),
        }},
    });
    let api: Api<Namespace> = Api::all(client.clone());
    api.patch(
        namespace,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        Error::failure(format!(
            "could not record the proof on namespace {namespace}"
        ))
        .because(e)
    })
}

/// What the namespace says about the last proof.
pub fn last(namespace: &Namespace) -> Option<LastProof> {
    let annotations = namespace.metadata.annotations.as_ref()?;
    Some(LastProof {
        result: Outcome::parse(annotations.get(LAST_PROOF)?),
        at: annotations.get(LAST_PROOF_AT).cloned().unwrap_or_default(),
        orthanc_version: annotations
            .get(ORTHANC_VERSION)
            .filter(|v| !v.is_empty())
            .cloned(),
    })
}

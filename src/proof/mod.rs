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

pub use model::{LastProof, Outcome, Proof, Step, Target};

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::error::Error;
use crate::report::{Phase, seconds};

/// The field manager of the proof's annotations, apart from the stack's own.
const FIELD_MANAGER: &str = "korthbox-proof";
pub const LAST_PROOF: &str = "korthbox.io/last-proof";
pub const LAST_PROOF_AT: &str = "korthbox.io/last-proof-at";
/// Runs the proof; a step that fails is in the `Proof`, not an `Err`. Each step is reported
/// on `phase` as it ends.
pub async fn run(
    target: &Target,
    timeout: Duration,
    phase: Option<&Phase<'_>>,
) -> Result<Proof, Error> {
    let rest = target.orthanc.rest()?;
    let mut run = steps::Run::new(target, rest).map_err(|e| {
        Error::failure("could not read random bytes for the proof's UIDs").because(e)
    })?;
    let mut proof = Proof::default();
    match tokio::time::timeout(timeout, run.all(&mut proof, phase)).await {
        Ok(()) => Ok(proof),
        Err(_) => Err(Error::failure(format!(
            "the proof did not finish within {} (its last step: {})",
            seconds(timeout),
            proof.steps.last().map_or("none", |s| s.name)
        ))
        .hint("`korthbox status` shows the stack; Orthanc's log shows its side")),
    }
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
        "metadata": {"name": namespace, "annotations": {LAST_PROOF: result, LAST_PROOF_AT: at}},
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
    })
}

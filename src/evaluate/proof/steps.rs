//! The proof's steps, in order: echo, store, find, read, dicomweb, storage (sandbox only) and
//! cleanup. Each says what it did, or what it expected and what came back. A failing step
//! ends the proof, but what was stored is still cleaned up. Echo, store and find share one
//! DICOM association; what does not depend on another runs beside it (the counts before the
//! proof beside the echo; find, read and dicomweb at once), and the steps are reported in
//! their order.

use std::time::Instant;

use serde_json::Value;

use super::model::{Cleaned, Proof, Step, Target};
use crate::base::report::Phase;
use crate::evaluate::dicom::scu::Session;
use crate::evaluate::dicom::{Synthetic, instance};
use crate::evaluate::orthanc::rest::{Call, Rest};

/// Why a step failed, and what to do about it.
pub struct Failure {
    pub detail: String,
    pub hint: Option<String>,
}

impl From<String> for Failure {
    fn from(detail: String) -> Self {
        Failure { detail, hint: None }
    }
}

type Outcome = Result<String, Failure>;

/// What the steps share: the REST client, the instances, what was there before.
pub struct Run<'a> {
    target: &'a Target,
    rest: Rest,
    first: Synthetic,
    second: Synthetic,
    /// Instances in Orthanc, and files/rows/objects in the backend, before the proof.
    instances_before: Option<u64>,
    storage_before: Option<Result<u64, String>>,
    /// Orthanc's ids of the instances the proof stored, once known.
    ids: std::sync::Mutex<Vec<String>>,
    /// The association echo, store and find share, while it is open.
    session: tokio::sync::Mutex<Option<Session>>,
    /// Whether the proof may have stored anything (so cleanup must run).
    stored: bool,
}

fn failure(detail: impl Into<String>, hint: impl Into<String>) -> Failure {
    Failure {
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

/// A DICOM JSON attribute's first value ("0020000D": {"vr": "UI", "Value": ["1.2…"]}).
fn first_value<'v>(object: &'v Value, tag: &str) -> Option<&'v str> {
    object[tag]["Value"][0].as_str()
}

impl<'a> Run<'a> {
    pub fn new(target: &'a Target, rest: Rest) -> std::io::Result<Run<'a>> {
        let first = Synthetic::new()?;
        let second = first.next()?;
        Ok(Run {
            target,
            rest,
            first,
            second,
            instances_before: None,
            storage_before: None,
            ids: std::sync::Mutex::new(Vec::new()),
            session: tokio::sync::Mutex::new(None),
            stored: false,
        })
    }

    /// Runs every step but the cleanup into `proof`, each one reported on `phase` as it
    /// ends, until one fails.
    pub async fn steps(&mut self, proof: &mut Proof, phase: Option<&Phase<'_>>) {
        // What was there before, and what Orthanc says it is (kept with the result, shown by
        // `status`), found while the echo runs: the echo changes nothing.
        let ((instances, storage, system), echo) = tokio::join!(self.baseline(), self.step("echo"));
        self.instances_before = instances.ok();
        self.storage_before = storage;
        proof.orthanc_version = system
            .ok()
            .and_then(|system| system["Version"].as_str().map(String::from));
        proof.passed = record(proof, phase, echo);
        if proof.passed {
            self.stored = true;
            proof.passed = record(proof, phase, self.step("store").await);
        }
        if !proof.passed {
            self.end_dicom().await;
            return;
        }
        // Once stored, the study is asked for through each interface at once.
        let find = async {
            let step = self.step("find").await;
            self.end_dicom().await;
            step
        };
        let (find, read, web) = tokio::join!(find, self.step("read"), self.step("dicomweb"));
        for step in [find, read, web] {
            proof.passed = record(proof, phase, step) && proof.passed;
        }
        if proof.passed && self.target.storage.is_some() {
            proof.passed = record(proof, phase, self.step("storage").await);
        }
    }

    /// Releases the association echo, store and find shared, if it is open.
    async fn end_dicom(&self) {
        if let Some(session) = self.session.lock().await.take() {
            session.release().await;
        }
    }

    /// The association echo, store and find share, opened by the first of them.
    async fn session(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Session>>, String> {
        let mut session = self.session.lock().await;
        if session.is_none() {
            *session = Some(self.target.orthanc.dicom.checks().await?);
        }
        Ok(session)
    }

    /// Deletes what the proof stored, when it may have stored anything; a proof whose steps
    /// did not all run (`passed` still true) has not passed.
    pub async fn clean_up(&mut self, proof: &mut Proof, phase: Option<&Phase<'_>>) -> Cleaned {
        let ran_all = proof.steps.len() == self.planned();
        // An association left open by steps that were cut short is dropped, not released:
        // its peer may be the reason they were.
        drop(self.session.lock().await.take());
        if !self.stored {
            proof.passed &= ran_all;
            return Cleaned::Nothing;
        }
        let cleaned = record(proof, phase, self.step("cleanup").await);
        proof.passed &= cleaned && ran_all;
        let uid = self.first.study_uid.clone();
        match cleaned {
            true => Cleaned::Deleted(uid),
            false => Cleaned::Left(uid),
        }
    }

    /// How many steps before the cleanup a whole proof runs.
    fn planned(&self) -> usize {
        5 + usize::from(self.target.storage.is_some())
    }

    /// Runs step `name` on its limit; what it did, timed.
    async fn step(&self, name: &'static str) -> Step {
        let started = Instant::now();
        let limit = self.target.orthanc.timeout;
        let work = async {
            match name {
                "echo" => self.echo().await,
                "store" => self.store().await,
                "find" => self.find().await,
                "read" => self.read().await,
                "dicomweb" => self.dicomweb().await,
                "storage" => self.storage().await,
                _ => self.cleanup().await,
            }
        };
        let outcome = tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(format!(
                "did not finish within {}",
                crate::base::report::seconds(limit)
            )
            .into())
        });
        let (ok, detail, hint) = match outcome {
            Ok(detail) => (true, detail, None),
            Err(f) => (false, f.detail, f.hint),
        };
        Step {
            name,
            ok,
            seconds: started.elapsed().as_secs_f64(),
            detail,
            hint,
        }
    }

    /// What was there before — instances, what the backend holds — and Orthanc's `/system`:
    /// best effort, as the steps that need them say when they failed.
    async fn baseline(
        &self,
    ) -> (
        Result<u64, String>,
        Option<Result<u64, String>>,
        Result<Value, String>,
    ) {
        let storage = async {
            match &self.target.storage {
                Some(backend) => Some(backend.count().await),
                None => None,
            }
        };
        tokio::join!(
            self.instances(),
            storage,
            self.rest.json(Call::get("/system"))
        )
    }

    async fn instances(&self) -> Result<u64, String> {
        let stats = self.rest.json(Call::get("/statistics")).await?;
        stats["CountInstances"]
            .as_u64()
            .ok_or_else(|| format!("GET /statistics has no CountInstances: {stats}"))
    }

    fn dicom_hint(&self, detail: &str) -> String {
        let peer = &self.target.orthanc.dicom;
        if detail.contains("rejected the association") {
            format!(
                "Orthanc does not answer to the called AE title {}: pass the title it does answer to (its DicomAet) with --aet",
                peer.called
            )
        } else if detail.contains("aborted the association") {
            format!(
                "Orthanc refuses this from unknown modalities: list AE title {} in its DicomModalities, or set DicomAlwaysAllowFind (and DicomAlwaysAllowStore) to true",
                crate::evaluate::dicom::CALLING_AET
            )
        } else if detail.contains("could not associate") {
            format!(
                "nothing answers DICOM at {}: is Orthanc's DicomPort there, and reachable from here?",
                peer.address
            )
        } else {
            "Orthanc's log says why it refused".into()
        }
    }

    async fn echo(&self) -> Outcome {
        let peer = &self.target.orthanc.dicom;
        let echoed = match self.session().await {
            Ok(mut session) => match session.as_mut() {
                Some(s) => s.echo().await,
                None => Err("no association".to_string()),
            },
            Err(e) => Err(e),
        };
        match echoed {
            Ok(()) => Ok(format!(
                "C-ECHO to {} at {}: Success",
                peer.called, peer.address
            )),
            Err(e) => Err(failure(
                format!("expected a C-ECHO answer, got: {e}"),
                self.dicom_hint(&e),
            )),
        }
    }

    async fn store(&self) -> Outcome {
        let stored = match self.session().await {
            Ok(mut session) => match session.as_mut() {
                Some(s) => s.store(self.first.object()).await,
                None => Err("no association".to_string()),
            },
            Err(e) => Err(e),
        };
        match stored {
            Ok(stored) => Ok(format!(
                "C-STORE of a synthetic {}×{} Secondary Capture ({} bytes, {}): Success",
                instance::COLUMNS,
                instance::ROWS,
                stored.bytes,
                transfer_syntax_name(&stored.transfer_syntax)
            )),
            Err(e) => Err(failure(
                format!("expected C-STORE status Success, got: {e}"),
                self.dicom_hint(&e),
            )),
        }
    }

    async fn find(&self) -> Outcome {
        let uid = &self.first.study_uid;
        let found = match self.session().await {
            Ok(mut session) => match session.as_mut() {
                Some(s) => s.find_study(uid).await,
                None => Err("no association".to_string()),
            },
            Err(e) => Err(e),
        };
        let found = found.map_err(|e| {
            failure(
                format!("expected C-FIND to answer, got: {e}"),
                self.dicom_hint(&e),
            )
        })?;
        match found.as_slice() {
            [only] if only == uid => Ok(
                "C-FIND (Study Root, STUDY) by StudyInstanceUID matched exactly the study stored"
                    .to_string(),
            ),
            _ => Err(format!(
                "expected C-FIND to match exactly study {uid}, got {} match(es): {}",
                found.len(),
                found.join(", ")
            )
            .into()),
        }
    }

    /// Orthanc's id of the instance with SOP Instance UID `uid`, through /tools/lookup.
    async fn lookup(&self, uid: &str, kind: &str) -> Result<Option<String>, String> {
        let found = self
            .rest
            .json(Call::post("/tools/lookup", "text/plain", uid.to_string()))
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["Type"] == kind)
            .and_then(|r| r["ID"].as_str())
            .map(String::from))
    }

    fn rest_hint(&self, detail: &str) -> String {
        if detail.contains("401") {
            "the user or password is wrong: set KORTHBOX_ORTHANC_PASSWORD to Orthanc's password for --user".into()
        } else {
            format!(
                "is Orthanc's REST API at {}? Check --url (Orthanc's HttpPort)",
                self.rest.base()
            )
        }
    }

    async fn read(&self) -> Outcome {
        let uid = self.first.sop_uid.clone();
        let id = self
            .lookup(&uid, "Instance")
            .await
            .map_err(|e| {
                failure(
                    format!("expected to look the instance up, got: {e}"),
                    self.rest_hint(&e),
                )
            })?
            .ok_or_else(|| {
                format!("expected Orthanc to know SOP Instance UID {uid}, it does not")
            })?;
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.clone());
        let path = format!("/instances/{id}/file");
        let file = self.rest.ok(Call::get(&path)).await.map_err(|e| {
            failure(
                format!("expected the file back, got: {e}"),
                self.rest_hint(&e),
            )
        })?;
        let back = instance::read(&file.body)
            .map_err(|e| format!("expected GET {path} to give a DICOM file: {e}"))?;
        let differences = back.differences(&self.first);
        if !differences.is_empty() {
            return Err(format!(
                "expected the file read back to be the one sent: {}",
                differences.join("; ")
            )
            .into());
        }
        let mut said = format!(
            "GET {path}: UIDs and {} pixel bytes equal what was sent",
            back.pixels.len()
        );
        if !self.target.instances.is_empty() {
            let pods = self.read_through_each(&path, &file.body).await?;
            said.push_str(&format!(
                "; the same file through each Orthanc ({})",
                pods.join(", ")
            ));
        }
        Ok(said)
    }

    /// The file at `path`, read through every Orthanc directly (at once): the pods it came
    /// back from, byte for byte the same as `first`.
    async fn read_through_each(&self, path: &str, first: &[u8]) -> Result<Vec<String>, Failure> {
        let read = async |(pod, rest): &(String, Rest)| {
            let file = rest.ok(Call::get(path)).await.map_err(|e| {
                failure(
                    format!("expected the file through Orthanc {pod}, got: {e}"),
                    "the Orthancs share one database; `korthbox logs orthanc` shows why this one does not answer",
                )
            })?;
            match file.body.as_ref() == first {
                true => Ok(pod.clone()),
                false => Err(Failure::from(format!(
                    "expected the same file through Orthanc {pod}, it sent {} different bytes",
                    file.body.len()
                ))),
            }
        };
        futures_util::future::try_join_all(self.target.instances.iter().map(read)).await
    }

    fn web(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.target.orthanc.dicomweb.trim_end_matches('/')
        )
    }

    fn web_failure(&self, what: &str, e: String) -> Failure {
        let hint = if e.contains(" 404") {
            format!(
                "is the DICOMweb plugin loaded, with its root at {}? Load it in Orthanc's configuration, or pass its root with --dicomweb-root",
                self.target.orthanc.dicomweb
            )
        } else {
            self.rest_hint(&e)
        };
        failure(format!("expected {what}, got: {e}"), hint)
    }

    async fn dicomweb(&self) -> Outcome {
        let study = self.first.study_uid.clone();
        let qido = self.web(&format!("/studies?StudyInstanceUID={study}"));
        let found = self
            .rest
            .json(Call::get(&qido).accept("application/dicom+json"))
            .await
            .map_err(|e| self.web_failure("QIDO-RS to find the study", e))?;
        let matches: Vec<&str> = found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| first_value(s, "0020000D"))
            .collect();
        if matches != [study.as_str()] {
            return Err(
                format!("expected QIDO-RS to find study {study}, it found {matches:?}").into(),
            );
        }
        let wado = self.web(&format!("/studies/{study}/metadata"));
        let metadata = self
            .rest
            .json(Call::get(&wado).accept("application/dicom+json"))
            .await
            .map_err(|e| self.web_failure("WADO-RS metadata", e))?;
        let sop = self.first.sop_uid.as_str();
        let named = metadata
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| first_value(i, "00080018") == Some(sop));
        if !named {
            return Err(format!(
                "expected WADO-RS metadata of study {study} to name instance {sop}, it does not"
            )
            .into());
        }
        self.stow(&study).await?;
        Ok("QIDO-RS found the study; WADO-RS metadata names the instance; STOW-RS stored a second instance".into())
    }

    /// STOW-RS of the second instance into the same study.
    async fn stow(&self, study: &str) -> Result<(), Failure> {
        let file = self.second.file()?;
        let boundary = format!(
            "korthbox-{}",
            &self.second.sop_uid[self.second.sop_uid.len() - 12..]
        );
        let mut body =
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").into_bytes();
        body.extend_from_slice(&file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type =
            format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
        let stow = self.web(&format!("/studies/{study}"));
        let answer = self
            .rest
            .json(Call::post(&stow, &content_type, body).accept("application/dicom+json"))
            .await
            .map_err(|e| self.web_failure("STOW-RS to store the second instance", e))?;
        let sop = self.second.sop_uid.as_str();
        let referenced = answer["00081199"]["Value"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| first_value(r, "00081155") == Some(sop));
        if !referenced
            || answer["00081198"]["Value"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        {
            return Err(
                format!("expected STOW-RS to store instance {sop}, it answered {answer}").into(),
            );
        }
        let id = self.lookup(sop, "Instance").await?.ok_or_else(|| {
            format!("expected Orthanc to know the instance STOW-RS stored ({sop}), it does not")
        })?;
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        Ok(())
    }

    /// The uuid of each stored instance's DICOM attachment (asked at once).
    async fn attachments(&self) -> Result<Vec<String>, String> {
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let uuid = async |id: String| {
            let path = format!("/instances/{id}/attachments/dicom/info");
            let info = self.rest.json(Call::get(&path)).await?;
            info["Uuid"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| format!("GET {path} has no Uuid: {info}"))
        };
        futures_util::future::try_join_all(ids.into_iter().map(uuid)).await
    }

    async fn storage(&self) -> Outcome {
        let Some(backend) = &self.target.storage else {
            return Ok("no backend to ask".into());
        };
        let uuids = self.attachments().await?;
        // Where each file is, and how many there are: asked at once.
        let (found, now) = tokio::join!(backend.find(&uuids), backend.count());
        let found =
            found.map_err(|e| format!("expected to ask {}, got: {e}", backend.describe()))?;
        if let Some((uuid, _)) = uuids.iter().zip(&found).find(|(_, f)| f.is_empty()) {
            return Err(format!(
                "expected attachment {uuid} in {}, it is not there",
                backend.describe()
            )
            .into());
        }
        let before = match &self.storage_before {
            Some(Ok(n)) => *n,
            Some(Err(e)) => {
                return Err(format!(
                    "expected to count what {} holds, got: {e}",
                    backend.describe()
                )
                .into());
            }
            None => 0,
        };
        let now = now?;
        if now < before + uuids.len() as u64 {
            return Err(format!(
                "expected {} to gain {} {}, it went from {before} to {now}",
                backend.describe(),
                uuids.len(),
                backend.unit()
            )
            .into());
        }
        Ok(format!(
            "{}: {} ({} → {now} {})",
            backend.describe(),
            found.join(", "),
            before,
            backend.unit()
        ))
    }

    async fn cleanup(&self) -> Outcome {
        let uid = self.first.study_uid.clone();
        let study = self.lookup(&uid, "Study").await.map_err(|e| {
            failure(
                format!("could not delete the proof's study {uid}: {e}"),
                format!(
                    "delete it in Orthanc (its StudyInstanceUID is {uid}); {}",
                    self.rest_hint(&e)
                ),
            )
        })?;
        let Some(study) = study else {
            return Ok("nothing was stored; nothing to delete".into());
        };
        self.rest
            .ok(Call::delete(&format!("/studies/{study}")))
            .await
            .map_err(|e| {
                failure(
                    format!("could not delete the proof's study {uid}: {e}"),
                    format!("delete it in Orthanc (its StudyInstanceUID is {uid})"),
                )
            })?;
        // Both instances gone, and the counts back to what they were: asked at once.
        let storage = async {
            match (&self.target.storage, &self.storage_before) {
                (Some(backend), Some(Ok(_))) => Some(backend.count().await),
                _ => None,
            }
        };
        let (first, second, instances, stored) = tokio::join!(
            self.lookup(&self.first.sop_uid, "Instance"),
            self.lookup(&self.second.sop_uid, "Instance"),
            async {
                match self.instances_before {
                    Some(_) => Some(self.instances().await),
                    None => None,
                }
            },
            storage
        );
        for (sop, left) in [(&self.first.sop_uid, first), (&self.second.sop_uid, second)] {
            if left?.is_some() {
                return Err(format!(
                    "expected instance {sop} gone after deleting its study, it is still there"
                )
                .into());
            }
        }
        let mut said = vec![format!("study {uid} deleted")];
        if let (Some(before), Some(now)) = (self.instances_before, instances) {
            let now = now?;
            if now != before {
                return Err(format!("expected Orthanc to count {before} instances again, it counts {now} (did another client store or delete meanwhile?)").into());
            }
            said.push(format!("{now} instances as before"));
        }
        if let (Some(backend), Some(Ok(before)), Some(now)) =
            (&self.target.storage, &self.storage_before, stored)
        {
            let now = now?;
            if now != *before {
                return Err(format!(
                    "expected {} to hold {before} {} again, it holds {now}",
                    backend.describe(),
                    backend.unit()
                )
                .into());
            }
            said.push(format!("{now} {} as before", backend.unit()));
        }
        Ok(said.join("; "))
    }
}

/// Adds `step` to `proof` and reports it on `phase`; whether it passed.
fn record(proof: &mut Proof, phase: Option<&Phase<'_>>, step: Step) -> bool {
    if let Some(phase) = phase {
        phase.output(&step.line());
    }
    let ok = step.ok;
    proof.steps.push(step);
    ok
}

fn transfer_syntax_name(uid: &str) -> &str {
    match uid {
        dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN => "Explicit VR Little Endian",
        dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN => "Implicit VR Little Endian",
        other => other,
    }
}

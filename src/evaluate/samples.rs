//! `korthbox samples`: korthbox's synthetic phantom studies (`dicom::phantom`) sent to an
//! Orthanc by C-STORE over a few associations at once. A study the Orthanc already has whole
//! (C-FIND, Number of Study Related Instances) is not sent again.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::base::error::Error;
use crate::base::report::{Phase, Progress};
use crate::evaluate::dicom::Peer;
use crate::evaluate::dicom::phantom::{self, Sample, Series};

/// How many associations send at once unless told otherwise.
pub const WORKERS: usize = 4;

/// What sending the samples did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sent {
    /// Studies sent, and studies the Orthanc already had whole.
    pub studies_sent: u32,
    pub studies_already_there: u32,
    pub instances: u64,
    pub bytes: u64,
    pub seconds: f64,
}

impl Sent {
    /// In words: "3 studies, 192 instances (24.6 MiB) stored in 4.1s", "already there".
    pub fn describe(&self) -> String {
        let there = match self.studies_already_there {
            0 => String::new(),
            n => format!("{n} already there"),
        };
        if self.studies_sent == 0 {
            return match self.studies_already_there {
                0 => "no sample study asked for".into(),
                n => format!("all {n} sample studies already there; nothing sent"),
            };
        }
        let sent = format!(
            "{} {}, {} instances ({:.1} MiB) stored in {:.1}s",
            self.studies_sent,
            if self.studies_sent == 1 {
                "study"
            } else {
                "studies"
            },
            self.instances,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.seconds
        );
        match there.is_empty() {
            true => sent,
            false => format!("{sent}; {there}"),
        }
    }
}

/// Sends sample studies 1..=`studies` to `peer` over `workers` associations; `phase` shows
/// instances and bytes as they go.
pub async fn send(
    peer: &Peer,
    studies: u32,
    workers: usize,
    phase: &Phase<'_>,
) -> Result<Sent, Error> {
    let started = std::time::Instant::now();
    let mut sent = Sent::default();
    let queue = to_send(peer, studies, phase, &mut sent).await;
    let total = queue.len() as u64;
    if total == 0 {
        sent.seconds = started.elapsed().as_secs_f64();
        return Ok(sent);
    }
    // An estimate for the bar: every sample is 256×256 16-bit pixels and a small header.
    let estimate = total * (u64::from(phantom::SIZE) * u64::from(phantom::SIZE) * 2 + 1500);
    let queue = Arc::new(Mutex::new(queue));
    let (done, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let report = |done: &AtomicU64, bytes: &AtomicU64| {
        phase.progress(Progress {
            items: done.load(Ordering::Relaxed),
            total_items: Some(total),
            bytes: bytes.load(Ordering::Relaxed),
            total_bytes: Some(estimate),
        })
    };
    let worker = |_: usize| {
        let (queue, done, bytes) = (queue.clone(), done.clone(), bytes.clone());
        async move {
            let classes = [Series::Ct.class(), Series::Mr.class()];
            let mut session = peer.session(&classes).await?;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(sample) = next else { break };
                // Making an image takes a few milliseconds of CPU: off the async threads.
                let object = tokio::task::spawn_blocking(move || sample.object())
                    .await
                    .map_err(|e| e.to_string())?;
                let stored = session.store(&object).await?;
                done.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(stored.bytes as u64, Ordering::Relaxed);
                report(&done, &bytes);
            }
            session.release().await;
            Ok::<(), String>(())
        }
    };
    let results = futures_util::future::join_all((0..workers.max(1)).map(worker)).await;
    sent.instances = done.load(Ordering::Relaxed);
    sent.bytes = bytes.load(Ordering::Relaxed);
    sent.seconds = started.elapsed().as_secs_f64();
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if let Some(first) = failures.first() {
        return Err(Error::failure(format!(
            "{} of {total} sample instances were stored before a failure",
            sent.instances
        ))
        .caused_by(first)
        .hint("run `korthbox samples` again: what is there already is not sent twice"));
    }
    Ok(sent)
}

/// The instances of the studies `peer` does not have whole, counted into `sent`.
async fn to_send(
    peer: &Peer,
    studies: u32,
    phase: &Phase<'_>,
    sent: &mut Sent,
) -> VecDeque<Sample> {
    let mut queue = VecDeque::new();
    for study in 1..=studies {
        let uid = phantom::study_uid(study);
        // A peer that answers no C-FIND (a plain storage SCP) is sent everything.
        let have = match peer.study_instances(&uid).await {
            Ok(have) => have,
            Err(e) if study == 1 => {
                phase.output(&format!(
                    "cannot ask what is there ({e}); sending everything"
                ));
                None
            }
            Err(_) => None,
        };
        if have.is_some_and(|n| n >= u64::from(phantom::per_study())) {
            phase.output(&format!("sample study {study} is already there"));
            sent.studies_already_there += 1;
            continue;
        }
        sent.studies_sent += 1;
        queue.extend(phantom::all(study).into_iter().filter(|s| s.study == study));
    }
    queue
}

/// What writing the samples into a folder did.
#[derive(Debug, Default)]
pub struct Written {
    pub written: usize,
    /// Files that were there already (or a link was), left as they are.
    pub kept: Vec<std::path::PathBuf>,
}

/// Writes sample studies 1..=`studies` as DICOM files under `dir`. Only new files are made:
/// anything already at a file's path (a file of the user's, a link) is left alone and said.
pub fn write(studies: u32, dir: &Path) -> Result<Written, Error> {
    let mut done = Written::default();
    for sample in &phantom::all(studies) {
        match write_one(sample, dir)? {
            true => done.written += 1,
            false => done.kept.push(dir.join(sample.file_name())),
        }
    }
    Ok(done)
}

/// Writes one sample as a new file; `false` when something is at its path already.
fn write_one(sample: &Sample, dir: &Path) -> Result<bool, Error> {
    use std::io::Write;
    let path = dir.join(sample.file_name());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            Error::failure(format!("could not create {}", parent.display())).because(e)
        })?;
    }
    // Created exclusively: an existing file is not overwritten, and a link is not followed.
    let mut file = match crate::host::fs::create_exclusive(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(Error::failure(format!("could not create {}", path.display())).because(e));
        }
    };
    let bytes = sample.file().map_err(Error::failure)?;
    file.write_all(&bytes)
        .map_err(|e| Error::failure(format!("could not write {}", path.display())).because(e))?;
    Ok(true)
}

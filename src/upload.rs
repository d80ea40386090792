//! `korthbox upload`: a user's own DICOM files and folders sent to Orthanc through its REST
//! API (`POST /instances`) by a few workers at once. DICOM is told by content: the `DICM`
//! marker after a 128-byte preamble, or a data set that starts with the file meta group or
//! with a plausible first element; anything else is skipped and counted.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::error::Error;
use crate::orthanc::rest::{Call, Rest};
use crate::report::{Phase, Progress};

/// How many files are sent at once unless told otherwise.
pub const WORKERS: usize = 4;

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Stored,
    AlreadyStored,
    NotDicom,
    Failed { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The upload's summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Uploaded {
    pub files: u64,
    pub stored: u64,
    pub already_stored: u64,
    pub not_dicom: u64,
    pub failed: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Stopped by Ctrl-C before every file was sent.
    pub interrupted: bool,
    /// The files that failed, and why.
    pub failures: Vec<FileResult>,
}

impl Uploaded {
    /// In words: "3 stored, 1 already stored, 1 not DICOM, 1 failed (1.2 MiB in 0.3s)".
    pub fn describe(&self) -> String {
        format!(
            "{} stored, {} already stored, {} not DICOM, {} failed ({:.1} MiB in {:.1}s)",
            self.stored,
            self.already_stored,
            self.not_dicom,
            self.failed,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.seconds
        )
    }
}

/// Every file under `paths` (folders recursively), in a stable order, with its size.
pub fn files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, u64)>, Error> {
    let mut out = Vec::new();
    for path in paths {
        walk(path, &mut out)?;
    }
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<(PathBuf, u64)>) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::usage(format!("cannot read {}", path.display()))
            .because(e)
            .hint("name files or folders that exist")
    })?;
    if meta.is_file() {
        out.push((path.to_path_buf(), meta.len()));
        return Ok(());
    }
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::failure(format!("cannot list {}", path.display())).because(e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            walk(&entry, out)?;
        }
    }
    Ok(())
}

/// Whether `head` (a file's first bytes) is DICOM: Part 10 with its preamble, Part 10 without
/// it (the file meta group first), or a bare data set whose first element is plausible.
pub fn is_dicom(head: &[u8]) -> bool {
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return true;
    }
    if head.len() < 8 {
        return false;
    }
    let group = u16::from_le_bytes([head[0], head[1]]);
    let element = u16::from_le_bytes([head[2], head[3]]);
    let explicit_vr = head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase();
    match group {
        // The file meta group, written without the preamble.
        0x0002 => element == 0x0000 || element == 0x0001,
        // A data set: its first group is 0008 (or the few before it), in implicit VR (a
        // small length) or explicit VR (two capital letters).
        0x0008 => {
            let implicit_length = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            explicit_vr || implicit_length < 0x1_0000
        }
        _ => false,
    }
}

/// What Orthanc said to one `POST /instances`.
fn outcome(status: u16, body: &[u8]) -> Outcome {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match (status, json["Status"].as_str()) {
        (200, Some("AlreadyStored")) => Outcome::AlreadyStored,
        (200, _) => Outcome::Stored,
        (status, _) => {
            let said = [&json["Message"], &json["Details"]]
                .iter()
                .filter_map(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            let said = match said.is_empty() {
                true => String::from_utf8_lossy(body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
                false => said,
            };
            Outcome::Failed {
                reason: format!("Orthanc answered {status}: {said}"),
            }
        }
    }
}

/// Sends `files` to Orthanc with `workers` at once; `stop` ends it after the files in flight.
pub async fn upload(
    rest: &Rest,
    files: Vec<(PathBuf, u64)>,
    workers: usize,
    stop: Arc<AtomicBool>,
    phase: &Phase<'_>,
) -> Uploaded {
    let started = std::time::Instant::now();
    let total_files = files.len() as u64;
    let total_bytes: u64 = files.iter().map(|(_, size)| size).sum();
    let queue = Arc::new(Mutex::new(VecDeque::from(files)));
    let (done, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let results = Arc::new(Mutex::new(Vec::new()));
    let worker = |_: usize| {
        let (queue, done, bytes, results, stop) = (
            queue.clone(),
            done.clone(),
            bytes.clone(),
            results.clone(),
            stop.clone(),
        );
        async move {
            while !stop.load(Ordering::Relaxed) {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((path, size)) = next else { break };
                let outcome = send_one(rest, &path).await;
                done.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(size, Ordering::Relaxed);
                phase.progress(Progress {
                    items: done.load(Ordering::Relaxed),
                    total_items: Some(total_files),
                    bytes: bytes.load(Ordering::Relaxed),
                    total_bytes: Some(total_bytes),
                });
                if let Outcome::Failed { reason } = &outcome {
                    phase.item(&format!("failed: {}: {reason}", path.display()));
                }
                if let Ok(mut r) = results.lock() {
                    r.push(FileResult { path, outcome });
                }
            }
        }
    };
    futures_util::future::join_all((0..workers.max(1)).map(worker)).await;
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count() as u64;
    let mut failures: Vec<FileResult> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .cloned()
        .collect();
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    Uploaded {
        files: results.len() as u64,
        stored: count(|o| *o == Outcome::Stored),
        already_stored: count(|o| *o == Outcome::AlreadyStored),
        not_dicom: count(|o| *o == Outcome::NotDicom),
        failed: failures.len() as u64,
        bytes: bytes.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        interrupted: (results.len() as u64) < total_files,
        failures,
    }
}

async fn send_one(rest: &Rest, path: &Path) -> Outcome {
    let data = match tokio::fs::read(path).await {
        Ok(data) => data,
        Err(e) => {
            return Outcome::Failed {
                reason: format!("could not read it: {e}"),
            };
        }
    };
    if !is_dicom(&data) {
        return Outcome::NotDicom;
    }
    match rest
        .call(Call::post("/instances", "application/dicom", data))
        .await
    {
        Ok(r) => outcome(r.status, &r.body),
        Err(e) => Outcome::Failed { reason: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicom_is_told_by_content() {
        let mut part10 = vec![0u8; 128];
        part10.extend_from_slice(b"DICM\x02\x00\x00\x00UL\x04\x00");
        assert!(is_dicom(&part10));
        // The meta group without the preamble; a bare implicit data set; explicit VR.
        assert!(is_dicom(b"\x02\x00\x00\x00UL\x04\x00\xc8\x00\x00\x00"));
        assert!(is_dicom(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100"));
        assert!(is_dicom(
            b"\x08\x00\x16\x00UI\x1a\x001.2.840.10008.5.1.4.1.1.7"
        ));
        // Text, a PNG, a short file.
        assert!(!is_dicom(b"patient notes, not an image\n"));
        assert!(!is_dicom(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"));
        assert!(!is_dicom(b"DICM"));
    }

    #[test]
    fn orthancs_answers_are_read() {
        assert_eq!(outcome(200, br#"{"Status": "Success"}"#), Outcome::Stored);
        assert_eq!(
            outcome(200, br#"{"Status": "AlreadyStored"}"#),
            Outcome::AlreadyStored
        );
        assert_eq!(
            outcome(
                400,
                br#"{"Message": "Bad file format", "Details": "Cannot parse an invalid DICOM file (size: 1000 bytes)"}"#
            ),
            Outcome::Failed {
                reason: "Orthanc answered 400: Bad file format: Cannot parse an invalid DICOM file (size: 1000 bytes)".into()
            }
        );
    }
}

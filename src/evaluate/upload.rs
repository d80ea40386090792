//! `korthbox upload`: a user's own DICOM files and folders sent to Orthanc through its REST
//! API (`POST /instances`) by a few workers at once. DICOM is told by content: the `DICM`
//! marker after a 128-byte preamble, or a data set that starts with the file meta group or
//! with a plausible first element; anything else is skipped and counted.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use hyper::body::Bytes;
use serde::Serialize;

use crate::base::error::Error;
use crate::base::report::{Phase, Progress};
use crate::evaluate::orthanc::rest::{Call, Rest};

/// How many files are sent at once unless told otherwise.
pub const WORKERS: usize = 4;

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Stored,
    AlreadyStored,
    NotDicom,
    Failed {
        reason: String,
    },
    /// Inside a folder, and not read: a dangling link, a link to a folder, no permission.
    Skipped {
        reason: String,
    },
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
    /// Entries inside the folders that were not read, and why.
    pub skipped: Vec<FileResult>,
    /// The bytes sent to Orthanc (files that are not DICOM are not sent).
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
        let skipped = match self.skipped.len() {
            0 => String::new(),
            n => format!(", {n} skipped"),
        };
        format!(
            "{} stored, {} already stored, {} not DICOM, {} failed{skipped} ({:.1} MiB sent in {:.1}s)",
            self.stored,
            self.already_stored,
            self.not_dicom,
            self.failed,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.seconds
        )
    }
}

/// What `files` found: the files with their sizes, and the entries inside folders it could
/// not read or would not follow, with why.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<(PathBuf, u64)>,
    pub skipped: Vec<FileResult>,
}

/// Every file under `paths` (folders recursively, in name order), with its size. A path named
/// on the command line that cannot be read is a usage error; an entry inside a folder that
/// cannot be read (a dangling link, a loop, no permission) is skipped and listed, and links to
/// folders are not followed.
pub fn files(paths: &[PathBuf]) -> Result<Found, Error> {
    let mut found = Found::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::usage(format!("cannot read {}", path.display()))
                .because(e)
                .hint("name files or folders that exist")
        })?;
        match meta.is_dir() {
            true => walk(path, &mut found),
            false => found.files.push((path.to_path_buf(), meta.len())),
        }
    }
    Ok(found)
}

fn skip(found: &mut Found, path: &Path, reason: String) {
    found.skipped.push(FileResult {
        path: path.to_path_buf(),
        outcome: Outcome::Skipped { reason },
    });
}

fn walk(dir: &Path, found: &mut Found) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return skip(found, dir, format!("cannot list it: {e}")),
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for entry in entries {
        let link = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        match std::fs::metadata(&entry) {
            Err(e) if link => skip(found, &entry, format!("a link that leads nowhere: {e}")),
            Err(e) => skip(found, &entry, format!("cannot read it: {e}")),
            Ok(m) if m.is_dir() && link => {
                skip(found, &entry, "a link to a folder (not followed)".into())
            }
            Ok(m) if m.is_dir() => walk(&entry, found),
            Ok(m) if m.is_file() => found.files.push((entry, m.len())),
            Ok(_) => skip(found, &entry, "not a regular file".into()),
        }
    }
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
    found: Found,
    workers: usize,
    stop: Arc<AtomicBool>,
    phase: &Phase<'_>,
) -> Uploaded {
    let started = std::time::Instant::now();
    let Found { files, skipped } = found;
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
                let Some((path, _)) = next else { break };
                let progress = |items| Progress {
                    items,
                    total_items: Some(total_files),
                    bytes: bytes.load(Ordering::Relaxed),
                    total_bytes: Some(total_bytes),
                };
                let outcome = send_one(rest, &path, bytes.clone()).await;
                done.fetch_add(1, Ordering::Relaxed);
                phase.progress(progress(done.load(Ordering::Relaxed)));
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
        skipped,
        bytes: bytes.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        interrupted: (results.len() as u64) < total_files,
        failures,
    }
}

/// How much of a file is read to tell whether it is DICOM: the preamble and the marker.
const HEAD: usize = 132;
/// The size of each piece a file is sent in.
const CHUNK: usize = 256 * 1024;
/// Files up to this size are sent whole (most DICOM files are, a CT slice is half a MiB): a
/// proxy that refuses and closes before reading the body is then still heard (407, 403). At
/// most this much per worker is held in memory; larger files are streamed.
const WHOLE: u64 = 4 * 1024 * 1024;

/// Sends one file, told by its first bytes and then streamed in pieces, so that memory does
/// not grow with the file; each piece is counted in `sent` as it goes.
async fn send_one(rest: &Rest, path: &Path, sent: Arc<AtomicU64>) -> Outcome {
    use tokio::io::AsyncReadExt;
    let failed = |e: std::io::Error| Outcome::Failed {
        reason: format!("could not read it: {e}"),
    };
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) => return failed(e),
    };
    let length = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return failed(e),
    };
    let mut head = Vec::with_capacity(HEAD);
    if let Err(e) = (&mut file).take(HEAD as u64).read_to_end(&mut head).await {
        return failed(e);
    }
    if !is_dicom(&head) {
        return Outcome::NotDicom;
    }
    if length <= WHOLE {
        let mut data = head;
        if let Err(e) = file.read_to_end(&mut data).await {
            return failed(e);
        }
        sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        return match rest
            .call(Call::post("/instances", "application/dicom", data))
            .await
        {
            Ok(r) => outcome(r.status, &r.body),
            Err(e) => Outcome::Failed { reason: e },
        };
    }
    // The head, then the rest of the file a piece at a time.
    let first = futures_util::stream::once(async move { Ok(Bytes::from(head)) });
    let rest_of_file = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let body = first.chain(rest_of_file).inspect(move |piece| {
        if let Ok(bytes) = piece {
            sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    });
    match rest
        .post_stream("/instances", "application/dicom", body, length)
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

//! `korthbox export`: every instance of an Orthanc written as a DICOM file under
//! `DIR/PATIENT/STUDY/SERIES/SOP-INSTANCE-UID.dcm`, the original file as Orthanc keeps it
//! (`GET /instances/{id}/file`), streamed to disk by a few workers at once. A file already
//! there with the size Orthanc gives is kept, so an interrupted export continues where it
//! stopped; each file is written as `….dcm.part` and renamed when whole, so a name without
//! `.part` is always a whole file. A different file under the same name is never overwritten.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::base::error::Error;
use crate::base::report::{Phase, Progress};
use crate::evaluate::orthanc::rest::{Call, Rest};

/// How many files are fetched at once unless told otherwise.
pub const WORKERS: usize = 4;
/// How many resources one listing request asks for.
const PAGE: usize = 1000;

/// One instance to write: Orthanc's ID, where it goes under the export folder, its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub path: PathBuf,
    pub size: u64,
}

/// What an export did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exported {
    pub dir: PathBuf,
    /// The instances Orthanc has.
    pub instances: u64,
    /// Written now.
    pub written: u64,
    /// There already, whole, from an earlier export.
    pub kept: u64,
    pub failed: u64,
    /// Each failure: the file, and why.
    pub failures: Vec<(PathBuf, String)>,
    pub bytes: u64,
    pub seconds: f64,
    pub interrupted: bool,
}

impl Exported {
    /// One line: how many, how much, how fast.
    pub fn describe(&self) -> String {
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        let mut text = format!(
            "{} of {} instances written ({mib:.1} MiB in {:.1} s)",
            self.written, self.instances, self.seconds
        );
        if self.kept > 0 {
            text.push_str(&format!(", {} there already", self.kept));
        }
        if self.failed > 0 {
            text.push_str(&format!(", {} failed", self.failed));
        }
        text
    }

    /// Whether every instance is in the folder.
    pub fn complete(&self) -> bool {
        !self.interrupted && self.failed == 0 && self.written + self.kept == self.instances
    }
}

/// A DICOM identifier as a folder or file name: letters, digits, `.`, `-` and `_` kept,
/// anything else `_`; never empty, `.` or `..`; at most 64 characters.
pub fn part(id: &str) -> String {
    let kept: String = id
        .trim()
        .chars()
        .take(64)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    match kept.as_str() {
        "" => "unknown".into(),
        "." | ".." => kept.replace('.', "_"),
        _ => kept,
    }
}

/// Every resource of `level` (`studies`, `series`, `instances`), expanded, a page at a time.
async fn all(rest: &Rest, level: &str) -> Result<Vec<Value>, String> {
    let mut found = Vec::new();
    loop {
        let path = format!("/{level}?expand&limit={PAGE}&since={}", found.len());
        let page = rest.json(Call::get(&path)).await?;
        let items = page.as_array().cloned().unwrap_or_default();
        let last = items.len() < PAGE;
        found.extend(items);
        if last {
            return Ok(found);
        }
    }
}

/// Every instance Orthanc has, with where it goes: its patient's ID, study's and series'
/// instance UIDs and its own SOP instance UID.
pub async fn list(rest: &Rest) -> Result<Vec<Listed>, String> {
    let text = |v: &Value, tag: &str| v["MainDicomTags"][tag].as_str().unwrap_or("").to_string();
    let studies: BTreeMap<String, PathBuf> = all(rest, "studies")
        .await?
        .iter()
        .map(|s| {
            let patient = s["PatientMainDicomTags"]["PatientID"]
                .as_str()
                .unwrap_or("");
            let folder = Path::new(&part(patient)).join(part(&text(s, "StudyInstanceUID")));
            (s["ID"].as_str().unwrap_or("").to_string(), folder)
        })
        .collect();
    let series: BTreeMap<String, PathBuf> = all(rest, "series")
        .await?
        .iter()
        .map(|s| {
            let study = studies
                .get(s["ParentStudy"].as_str().unwrap_or(""))
                .cloned()
                .unwrap_or_else(|| PathBuf::from("unknown/unknown"));
            let folder = study.join(part(&text(s, "SeriesInstanceUID")));
            (s["ID"].as_str().unwrap_or("").to_string(), folder)
        })
        .collect();
    let mut listed: Vec<Listed> = all(rest, "instances")
        .await?
        .iter()
        .map(|i| {
            let id = i["ID"].as_str().unwrap_or("").to_string();
            let folder = series
                .get(i["ParentSeries"].as_str().unwrap_or(""))
                .cloned()
                .unwrap_or_else(|| PathBuf::from("unknown/unknown/unknown"));
            let sop = match text(i, "SOPInstanceUID") {
                uid if uid.is_empty() => id.clone(),
                uid => uid,
            };
            Listed {
                path: folder.join(format!("{}.dcm", part(&sop))),
                size: i["FileSize"].as_u64().unwrap_or(0),
                id,
            }
        })
        .collect();
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listed)
}

/// What became of one instance.
enum Fate {
    Written,
    Kept,
    Failed(String),
}

/// Writes one instance at `dir/item.path` unless a whole copy is there.
async fn fetch(rest: &Rest, dir: &Path, item: &Listed, bytes: &AtomicU64) -> Fate {
    let target = dir.join(&item.path);
    if let Ok(meta) = tokio::fs::metadata(&target).await {
        return match meta.len() == item.size && meta.is_file() {
            true => Fate::Kept,
            false => Fate::Failed(format!(
                "a different file is there ({} bytes, Orthanc's has {}); korthbox does not overwrite it",
                meta.len(),
                item.size
            )),
        };
    }
    let partial = target.with_extension("dcm.part");
    let written = async {
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("could not make {}: {e}", parent.display()))?;
        }
        // A `.part` left by an interrupted export is korthbox's own: started again.
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| format!("could not write {}: {e}", partial.display()))?;
        let path = format!("/instances/{}/file", item.id);
        let got = rest.download(&path, &mut file, bytes).await?;
        if item.size != 0 && got != item.size {
            return Err(format!(
                "Orthanc sent {got} bytes of a {}-byte file",
                item.size
            ));
        }
        tokio::fs::rename(&partial, &target)
            .await
            .map_err(|e| format!("could not rename {}: {e}", partial.display()))?;
        Ok(got)
    };
    match written.await {
        Ok(_) => Fate::Written,
        Err(reason) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Fate::Failed(reason)
        }
    }
}

/// Writes every instance Orthanc has under `dir` with `workers` at once; `stop` ends it after
/// the files in flight.
pub async fn export(
    rest: &Rest,
    dir: &Path,
    workers: usize,
    stop: Arc<AtomicBool>,
    phase: &Phase<'_>,
) -> Result<Exported, Error> {
    let started = std::time::Instant::now();
    let listed = list(rest).await.map_err(|e| {
        Error::failure(format!("could not list the instances of {}", rest.base()))
            .caused_by(e)
            .hint("`korthbox prove` with the same targeting flags checks each of Orthanc's interfaces and says which one fails; nothing was written")
    })?;
    let total_items = listed.len() as u64;
    let total_bytes: u64 = listed.iter().map(|l| l.size).sum();
    let queue = Arc::new(Mutex::new(VecDeque::from(listed)));
    let bytes = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let fates = Mutex::new(Vec::new());
    let worker = |_| async {
        while !stop.load(Ordering::Relaxed) {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(item) = next else { break };
            let fate = fetch(rest, dir, &item, &bytes).await;
            if let Fate::Failed(reason) = &fate {
                phase.item(&format!("failed: {}: {reason}", item.path.display()));
            }
            phase.progress(Progress {
                items: done.fetch_add(1, Ordering::Relaxed) + 1,
                total_items: Some(total_items),
                bytes: bytes.load(Ordering::Relaxed),
                total_bytes: Some(total_bytes),
            });
            if let Ok(mut f) = fates.lock() {
                f.push((item.path, fate));
            }
        }
    };
    futures_util::future::join_all((0..workers.max(1)).map(worker)).await;
    let fates = fates.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Exported {
        dir: dir.to_path_buf(),
        instances: total_items,
        bytes: bytes.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        interrupted: (fates.len() as u64) < total_items,
        ..Exported::default()
    };
    for (path, fate) in fates {
        match fate {
            Fate::Written => out.written += 1,
            Fate::Kept => out.kept += 1,
            Fate::Failed(reason) => out.failures.push((path, reason)),
        }
    }
    out.failures.sort();
    out.failed = out.failures.len() as u64;
    Ok(out)
}

/// How many instances Orthanc has (`GET /statistics`).
pub async fn count(rest: &Rest) -> Result<u64, String> {
    let stats = rest.json(Call::get("/statistics")).await?;
    stats["CountInstances"]
        .as_u64()
        .ok_or_else(|| format!("{}/statistics gave no CountInstances", rest.base()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_make_safe_names() {
        assert_eq!(part("1.2.840.113619.2.55"), "1.2.840.113619.2.55");
        assert_eq!(part("DOE^JOHN/../x"), "DOE_JOHN_.._x");
        assert_eq!(part(""), "unknown");
        assert_eq!(part(" .. "), "__");
        assert_eq!(part(&"9".repeat(80)).len(), 64);
    }

    #[test]
    fn an_export_is_complete_only_with_every_instance() {
        let mut e = Exported {
            instances: 3,
            written: 2,
            kept: 1,
            ..Exported::default()
        };
        assert!(e.complete());
        e.failed = 1;
        assert!(!e.complete());
        e.failed = 0;
        e.interrupted = true;
        assert!(!e.complete());
    }
}

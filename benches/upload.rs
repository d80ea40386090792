//! `korthbox upload` of 200 DICOM files of 0.5 MB each into the local Orthanc (Debian's,
//! running the configuration korthbox renders, on a real PostgreSQL) against dcmtk's
//! `storescu` sending the same files over one association. Orthanc is emptied between runs;
//! the runs alternate. Reports MB/s for both, medians of RUNS (default 3).
//!
//!     cargo bench --bench upload                 # RUNS=3 FILES=200 WORKERS=4

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use support::http::request;
use support::orthanc::{Orthanc, Postgres, available, render, start_orthanc};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `count` files of a 512×512 16-bit image (0.5 MB each), every one its own instance.
fn make_files(dir: &Path, count: usize) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let root = korthbox::evaluate::dicom::UID_ROOT;
    let mut total = 0;
    for i in 0..count {
        let pixels: Vec<u8> = (0..512 * 512)
            .flat_map(|p: u32| (((p * 7 + i as u32 * 13) % 4096) as u16).to_le_bytes())
            .collect();
        let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
        let short = |tag, v: u16| DataElement::new(tag, VR::US, dicom_value!(U16, [v]));
        let object = InMemDicomObject::from_element_iter([
            text(
                tags::SOP_CLASS_UID,
                VR::UI,
                uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            ),
            text(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                &format!("{root}.9.1.{}", i + 1),
            ),
            text(tags::MODALITY, VR::CS, "OT"),
            text(tags::PATIENT_NAME, VR::PN, "KORTHBOX^BENCH"),
            text(tags::PATIENT_ID, VR::LO, "KB-BENCH"),
            text(tags::STUDY_INSTANCE_UID, VR::UI, &format!("{root}.9.1")),
            text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{root}.9.1.0")),
            short(tags::SAMPLES_PER_PIXEL, 1),
            text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            short(tags::ROWS, 512),
            short(tags::COLUMNS, 512),
            short(tags::BITS_ALLOCATED, 16),
            short(tags::BITS_STORED, 12),
            short(tags::HIGH_BIT, 11),
            short(tags::PIXEL_REPRESENTATION, 0),
            DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(pixels)),
        ]);
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .implementation_class_uid(root);
        let path = dir.join(format!("{i:03}.dcm"));
        object
            .with_meta(meta)
            .unwrap()
            .write_to_file(&path)
            .unwrap();
        total += std::fs::metadata(&path).unwrap().len();
    }
    total
}

/// Deletes every study, so the next run stores everything again.
fn empty(orthanc: &Orthanc) {
    let studies = orthanc.get("/studies").json();
    for id in studies.as_array().unwrap() {
        let path = format!("/studies/{}", id.as_str().unwrap());
        request(
            "DELETE",
            orthanc.http,
            &path,
            ("admin", &orthanc.password),
            b"",
        )
        .unwrap();
    }
    assert_eq!(orthanc.get("/statistics").json()["CountInstances"], 0);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !available() {
        eprintln!("upload: needs Orthanc with its plugins, PostgreSQL 15 and dcmtk");
        return;
    }
    let num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (runs, count, workers) = (num("RUNS", 3), num("FILES", 200), num("WORKERS", 4));
    let sandbox = support::Sandbox::new();
    let dir = sandbox.path("orthanc");
    let rendered = render(&sandbox, "pv");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);
    let aet = rendered.config["DicomAet"].as_str().unwrap().to_string();
    let files = sandbox.path("files");
    let bytes = make_files(&files, count);
    let mb = bytes as f64 / 1e6;
    let url = format!("http://127.0.0.1:{}", orthanc.http);
    let dicom = format!("127.0.0.1:{}", orthanc.dicom);
    let mut paths: Vec<_> = std::fs::read_dir(&files)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();

    // One timed run into an emptied Orthanc: the seconds it took, after checking that it
    // succeeded and that every file arrived.
    let timed = |mut command: Command| {
        empty(&orthanc);
        let started = Instant::now();
        let out = command.output().unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(orthanc.get("/statistics").json()["CountInstances"], count);
        seconds
    };
    let storescu = || {
        let mut command = Command::new("storescu");
        command
            .args(["-aec", &aet, "127.0.0.1", &orthanc.dicom.to_string()])
            .args(&paths);
        command
    };
    let (mut ours, mut theirs, mut nodelay) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut upload = sandbox.command();
        upload
            .args(["upload", files.to_str().unwrap()])
            .args(["--workers", &workers.to_string()])
            .args(["--url", &url, "--dicom", &dicom])
            .env("KORTHBOX_ORTHANC_PASSWORD", &orthanc.password);
        ours.push(timed(upload));
        theirs.push(timed(storescu()));
        // The same with Nagle's algorithm off (dcmtk's TCP_NODELAY variable).
        let mut fast = storescu();
        fast.env("TCP_NODELAY", "1");
        nodelay.push(timed(fast));
    }
    let (ours, theirs, nodelay) = (median(ours), median(theirs), median(nodelay));
    println!("{count} files, {mb:.1} MB, into the local Orthanc (pv mode), median of {runs} runs:");
    println!(
        "  korthbox upload ({workers} workers, REST)     {ours:6.2} s  {:6.1} MB/s",
        mb / ours
    );
    println!(
        "  storescu (one association, C-STORE)  {theirs:6.2} s  {:6.1} MB/s",
        mb / theirs
    );
    println!(
        "  storescu with TCP_NODELAY=1           {nodelay:6.2} s  {:6.1} MB/s",
        mb / nodelay
    );
    println!(
        "  korthbox / storescu throughput       {:6.2}×  (goal ≥ 1.0×; {:.2}× against TCP_NODELAY)",
        theirs / ours,
        nodelay / ours
    );
}

//! Peak memory of `korthbox upload` whatever the sizes of the files (issue 22): three sparse
//! 1 GiB files that are not DICOM, and one 600 MB DICOM file (3 frames of 10000×10000 16-bit),
//! into the local Orthanc (Debian's, the rendered configuration, a real PostgreSQL). The peak
//! resident set size comes from `/usr/bin/time -v`; the goal is under 64 MiB. Orthanc must end
//! up with the DICOM file, byte for byte.
//!
//!     cargo bench --bench upload_memory          # needs /usr/bin/time (Debian's `time`)

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::path::Path;
use std::process::Command;

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use support::orthanc::{Postgres, available, render, start_orthanc};

/// A 600 MB DICOM file: 3 frames of 10000×10000 16-bit pixels.
fn big_dicom(path: &Path) -> u64 {
    let root = korthbox::evaluate::dicom::UID_ROOT;
    let (side, frames) = (10_000u16, 3u32);
    let pixels = vec![7u8; side as usize * side as usize * 2 * frames as usize];
    let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let short = |tag, v: u16| DataElement::new(tag, VR::US, dicom_value!(U16, [v]));
    let object = InMemDicomObject::from_element_iter([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, &format!("{root}.9.2.1")),
        text(tags::MODALITY, VR::CS, "OT"),
        text(tags::PATIENT_NAME, VR::PN, "KORTHBOX^MEMORY"),
        text(tags::PATIENT_ID, VR::LO, "KB-MEMORY"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &format!("{root}.9.2")),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{root}.9.2.0")),
        text(tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()),
        short(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        short(tags::ROWS, side),
        short(tags::COLUMNS, side),
        short(tags::BITS_ALLOCATED, 16),
        short(tags::BITS_STORED, 16),
        short(tags::HIGH_BIT, 15),
        short(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(pixels)),
    ]);
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .implementation_class_uid(root);
    object.with_meta(meta).unwrap().write_to_file(path).unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// "Maximum resident set size (kbytes): 12345" from `/usr/bin/time -v`, in MiB.
fn peak_mib(stderr: &str) -> f64 {
    let kib: f64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("time -v reports the peak");
    kib / 1024.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !available() || !Path::new("/usr/bin/time").exists() {
        eprintln!("upload_memory: needs Orthanc with its plugins, PostgreSQL 15 and /usr/bin/time");
        return;
    }
    let sandbox = support::Sandbox::new();
    let dir = sandbox.path("orthanc");
    let rendered = render(&sandbox, "pv");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);
    let url = format!("http://127.0.0.1:{}", orthanc.http);
    let dicom = format!("127.0.0.1:{}", orthanc.dicom);

    let sparse = sandbox.path("sparse");
    std::fs::create_dir_all(&sparse).unwrap();
    for i in 0..3 {
        let f = std::fs::File::create(sparse.join(format!("not-dicom-{i}.bin"))).unwrap();
        f.set_len(1 << 30).unwrap();
    }
    let large = sandbox.path("large");
    std::fs::create_dir_all(&large).unwrap();
    let size = big_dicom(&large.join("big.dcm"));

    let measure = |what: &str, path: &Path| {
        let started = std::time::Instant::now();
        let out = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_korthbox"))
            .args([
                "upload",
                path.to_str().unwrap(),
                "--url",
                &url,
                "--dicom",
                &dicom,
            ])
            .envs(sandbox.envs.iter().map(|(k, v)| (k, v)))
            .env("KORTHBOX_ORTHANC_PASSWORD", &orthanc.password)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        let peak = peak_mib(&stderr);
        println!(
            "  {what:<38} peak RSS {peak:6.1} MiB  ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        peak
    };
    println!("korthbox upload, peak memory (goal: under 64 MiB whatever the sizes):");
    let a = measure("3 sparse 1 GiB files, not DICOM", &sparse);
    let b = measure(
        &format!("one {:.0} MB DICOM file", size as f64 / 1e6),
        &large,
    );
    let stats = orthanc.get("/statistics").json();
    assert_eq!(stats["CountInstances"], 1, "{stats}");
    let id = orthanc.get("/instances").json()[0]
        .as_str()
        .unwrap()
        .to_string();
    let md5 = orthanc
        .get(&format!("/instances/{id}/attachments/dicom/md5"))
        .body;
    let ours = Command::new("md5sum")
        .arg(large.join("big.dcm"))
        .output()
        .unwrap();
    let ours = String::from_utf8_lossy(&ours.stdout);
    assert!(
        ours.starts_with(String::from_utf8_lossy(&md5).trim()),
        "Orthanc's copy differs: {ours} vs {}",
        String::from_utf8_lossy(&md5)
    );
    println!(
        "  the DICOM file arrived intact (MD5 equal); worst peak {:.1} MiB",
        a.max(b)
    );
}

//! korthbox's DICOM judged by an independent implementation: dcmtk's `storescp` answers
//! korthbox's C-ECHO and accepts its C-STORE (in whichever transfer syntax it negotiates), and
//! `dcmdump` parses every file storescp received, and the file STOW-RS sends, without an
//! error or a warning.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use korthbox::evaluate::dicom::{Peer, Synthetic};
use support::Sandbox;
use support::orthanc::free_port;

fn dcmtk() -> bool {
    let present = ["/usr/bin/storescp", "/usr/bin/dcmdump"]
        .iter()
        .all(|p| Path::new(p).exists());
    support::real_part_available(
        "dcmtk's storescp and dcmdump (apt-get install dcmtk)",
        present,
    )
}

struct Storescp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Storescp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// storescp on a free loopback port, writing what it receives into `dir`.
fn storescp(dir: &Path, options: &[&str]) -> Storescp {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let child = Command::new("storescp")
        .args(["--aetitle", "DCMTK", "--output-directory"])
        .arg(dir)
        .args(options)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "storescp did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Storescp {
        child,
        port,
        dir: dir.to_path_buf(),
    }
}

fn peer(port: u16) -> Peer {
    Peer {
        address: format!("127.0.0.1:{port}"),
        called: "DCMTK".into(),
        timeout: Duration::from_secs(20),
    }
}

fn received(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[test]
fn storescp_accepts_korthboxs_store_and_dcmdump_parses_what_it_received() {
    if !dcmtk() {
        return;
    }
    let sandbox = Sandbox::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // storescp's default prefers Explicit VR Little Endian; `+xi` accepts Implicit VR only.
    for (options, syntax, name) in [
        (&[][..], "1.2.840.10008.1.2.1", "LittleEndianExplicit"),
        (&["+xi"][..], "1.2.840.10008.1.2", "LittleEndianImplicit"),
    ] {
        let scp = storescp(&sandbox.path(name), options);
        let instance = Synthetic::new().unwrap();
        let stored = runtime.block_on(async {
            let peer = peer(scp.port);
            peer.echo().await.unwrap();
            peer.store(&instance).await.unwrap()
        });
        assert_eq!(stored.transfer_syntax, syntax);
        let files = received(&scp.dir);
        assert_eq!(files.len(), 1, "{files:?}");
        let dump = support::dcmdump(&files[0]);
        for needle in [
            format!("(0002,0010) UI ={name}"),
            format!("(0008,0018) UI [{}]", instance.sop_uid),
            format!("(0020,000d) UI [{}]", instance.study_uid),
            "(0008,0016) UI =SecondaryCaptureImageStorage".into(),
            "(0010,0010) PN [KORTHBOX^SYNTHETIC]".into(),
            "(0028,0010) US 64".into(),
            "(7fe0,0010) O".into(),
        ] {
            assert!(dump.contains(&needle), "{needle} not in:\n{dump}");
        }
        // The pixel data storescp wrote is korthbox's, byte for byte.
        let back =
            korthbox::evaluate::dicom::instance::read(&std::fs::read(&files[0]).unwrap()).unwrap();
        assert!(back.differences(&instance).is_empty(), "{back:?}");
    }
}

#[test]
fn the_file_stow_sends_is_one_dcmdump_reads_cleanly() {
    if !dcmtk() {
        return;
    }
    let sandbox = Sandbox::new();
    let instance = Synthetic::new().unwrap().next().unwrap();
    let path = sandbox.path("stow.dcm");
    std::fs::write(&path, instance.file().unwrap()).unwrap();
    let dump = support::dcmdump(&path);
    assert!(
        dump.contains("(0002,0010) UI =LittleEndianExplicit"),
        "{dump}"
    );
    assert!(
        dump.contains("(0002,0012) UI [2.25.305828167214931234517716240926712093571]"),
        "{dump}"
    );
    assert!(dump.contains("(0020,0013) IS [2]"), "{dump}");
}

#[test]
fn a_peer_that_is_not_there_is_named_in_the_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = free_port();
    let err = runtime.block_on(peer(port).echo()).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "could not associate with DCMTK at 127.0.0.1:{port}"
        )),
        "{err}"
    );
}

//! `korthbox prove --url … --dicom …` against a real Orthanc: Debian's Orthanc with its
//! PostgreSQL and DICOMweb plugins, running the configuration korthbox renders, against a
//! real PostgreSQL 15. The proof passes in `pv` and `postgres` mode and leaves nothing behind;
//! each interface broken in turn fails the right step with a clear message.

mod support;

use std::process::{Command, Output};

use serde_json::{Value, json};
use support::Sandbox;
use support::orthanc::{Local, free_port};

fn setup(mode: &str, edit: impl FnOnce(&mut Value)) -> Option<Local> {
    Local::start(mode, edit)
}

impl Local {
    fn prove(&self, password: &str, extra: &[&str]) -> (Output, Value) {
        let url = format!("http://127.0.0.1:{}", self.orthanc.http);
        let dicom = format!("127.0.0.1:{}", self.orthanc.dicom);
        let mut args = vec!["prove", "--url", &url, "--dicom", &dicom, "--json"];
        if !extra.contains(&"--aet") {
            args.extend(["--aet", &self.aet]);
        }
        args.extend_from_slice(extra);
        let out = self
            .sandbox
            .command()
            .args(&args)
            .env("KORTHBOX_ORTHANC_PASSWORD", password)
            .output()
            .unwrap();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, doc)
    }

    fn instances(&self) -> Value {
        self.orthanc.get("/statistics").json()["CountInstances"].clone()
    }
}

fn names(doc: &Value) -> Vec<&str> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

fn step<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {doc}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Passed, every step there with its time, and Orthanc as it was before.
fn assert_passes(setup: &Local) {
    let before = setup.instances();
    let (out, doc) = setup.prove(&setup.orthanc.password, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{doc:#}\n{}\n{}",
        stderr(&out),
        setup.orthanc.log()
    );
    assert_eq!(doc["passed"], true);
    assert_eq!(
        names(&doc),
        ["echo", "store", "find", "read", "dicomweb", "cleanup"]
    );
    for s in doc["steps"].as_array().unwrap() {
        assert_eq!(s["ok"], true, "{s}");
        assert!(s["seconds"].as_f64().unwrap() >= 0.0);
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "ok", "seconds", "detail"]);
    }
    assert!(
        step(&doc, "store")["detail"]
            .as_str()
            .unwrap()
            .contains("Success")
    );
    assert_eq!(setup.instances(), before, "the proof left instances behind");
    assert!(
        !stderr(&out).contains(&setup.orthanc.password),
        "the password was printed"
    );
}

#[test]
fn the_proof_passes_in_pv_mode_and_leaves_nothing_behind() {
    let Some(setup) = setup("pv", |_| {}) else {
        return;
    };
    assert_passes(&setup);
    // What the log says Orthanc received: a C-STORE and a STOW-RS, then the study deleted.
    assert_eq!(setup.instances(), json!(0));
    // A second run proves again from scratch (fresh UIDs, nothing left from the first).
    assert_passes(&setup);
    // For people: one line per step, its mark, name, time and what it did.
    let url = format!("http://127.0.0.1:{}", setup.orthanc.http);
    let dicom = format!("127.0.0.1:{}", setup.orthanc.dicom);
    let out = setup
        .sandbox
        .command()
        .args([
            "prove", "--url", &url, "--dicom", &dicom, "--aet", &setup.aet,
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", &setup.orthanc.password)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("✓ echo") && lines[0].contains("s C-ECHO to KORTHBOX"),
        "{text}"
    );
    assert!(lines[5].starts_with("✓ cleanup"), "{text}");
}

#[test]
fn the_proof_passes_in_postgres_mode() {
    let Some(setup) = setup("postgres", |_| {}) else {
        return;
    };
    assert_passes(&setup);
}

#[test]
fn a_closed_dicom_port_fails_the_echo_step() {
    let Some(setup) = setup("pv", |_| {}) else {
        return;
    };
    let closed = format!("127.0.0.1:{}", free_port());
    let url = format!("http://127.0.0.1:{}", setup.orthanc.http);
    let out = setup
        .sandbox
        .command()
        .args(["prove", "--url", &url, "--dicom", &closed, "--json"])
        .env("KORTHBOX_ORTHANC_PASSWORD", &setup.orthanc.password)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["passed"], false);
    assert_eq!(names(&doc), ["echo"], "nothing stored, nothing to clean up");
    let detail = step(&doc, "echo")["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not associate with ORTHANC at"),
        "{detail}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("error: the proof failed at step echo"),
        "{err}"
    );
    assert!(err.contains("hint: nothing answers DICOM at"), "{err}");
}

#[test]
fn a_called_ae_title_orthanc_refuses_fails_the_echo_step() {
    let Some(setup) = setup("pv", |c| c["DicomCheckCalledAet"] = json!(true)) else {
        return;
    };
    let (out, doc) = setup.prove(&setup.orthanc.password, &["--aet", "NOT-ORTHANC"]);
    assert_eq!(out.status.code(), Some(1));
    let detail = step(&doc, "echo")["detail"].as_str().unwrap();
    assert!(
        detail.contains("NOT-ORTHANC at") && detail.contains("rejected the association"),
        "{detail}"
    );
    assert!(
        stderr(&out).contains("pass the title it does answer to (its DicomAet) with --aet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_wrong_password_fails_the_read_step_and_says_the_study_is_left() {
    let Some(setup) = setup("pv", |_| {}) else {
        return;
    };
    let (out, doc) = setup.prove("not-the-password", &[]);
    assert_eq!(out.status.code(), Some(1));
    // DICOM needs no password here; REST does. Find, read and dicomweb run at once, so each
    // says how it went.
    assert_eq!(
        names(&doc),
        ["echo", "store", "find", "read", "dicomweb", "cleanup"],
        "{doc:#}"
    );
    for (name, ok) in [
        ("echo", true),
        ("find", true),
        ("read", false),
        ("dicomweb", false),
        ("cleanup", false),
    ] {
        assert_eq!(step(&doc, name)["ok"], ok, "{name}: {doc:#}");
    }
    let read = step(&doc, "read")["detail"].as_str().unwrap();
    assert!(read.contains("401 Unauthorized"), "{read}");
    let err = stderr(&out);
    assert!(
        err.contains("error: the proof failed at step read"),
        "{err}"
    );
    assert!(err.contains("KORTHBOX_ORTHANC_PASSWORD"), "{err}");
    // The cleanup could not log in either: it says which study is left, for a person to delete.
    assert!(
        err.contains("delete it in Orthanc (its StudyInstanceUID is 2.25."),
        "{err}"
    );
    assert_eq!(setup.instances(), json!(1));
}

#[test]
fn without_the_dicomweb_plugin_the_dicomweb_step_fails_and_cleanup_still_runs() {
    let Some(setup) = setup("pv", |c| {
        let plugins: Vec<Value> = c["Plugins"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.as_str().unwrap_or("").contains("DicomWeb"))
            .collect();
        c["Plugins"] = json!(plugins);
        c["DicomWeb"]["Enable"] = json!(false);
    }) else {
        return;
    };
    let (out, doc) = setup.prove(&setup.orthanc.password, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        names(&doc),
        ["echo", "store", "find", "read", "dicomweb", "cleanup"]
    );
    assert_eq!(step(&doc, "dicomweb")["ok"], false);
    assert_eq!(step(&doc, "cleanup")["ok"], true, "{doc:#}");
    let detail = step(&doc, "dicomweb")["detail"].as_str().unwrap();
    assert!(
        detail.contains("QIDO-RS") && detail.contains("404"),
        "{detail}"
    );
    // Orthanc's error document reduced to its message, on the step's one line (issue 26).
    assert!(
        !detail.contains('\n') && !detail.contains("HttpError") && !detail.contains('{'),
        "{detail}"
    );
    assert!(
        stderr(&out).contains("is the DICOMweb plugin loaded"),
        "{}",
        stderr(&out)
    );
    assert_eq!(setup.instances(), json!(0));
}

#[test]
fn without_a_password_and_a_terminal_prove_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command()
        .args([
            "prove",
            "--url",
            "http://127.0.0.1:1",
            "--dicom",
            "127.0.0.1:2",
        ])
        .env_remove("KORTHBOX_ORTHANC_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("set KORTHBOX_ORTHANC_PASSWORD"));
    // --url needs --dicom, and is not for a sandbox.
    let out = sandbox.run(&["prove", "--url", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&[
        "prove",
        "--url",
        "http://x:1",
        "--dicom",
        "x:2",
        "--name",
        "other",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&["prove", "--url", "http://x:1", "--dicom", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A relay to Orthanc's HTTP port that, at the first DICOMweb request, sends SIGINT to the
/// process `pid` names (once it is set) and holds the request back for `hold`.
fn interrupting_relay(
    orthanc: u16,
    pid: std::sync::Arc<std::sync::atomic::AtomicU32>,
    hold: std::time::Duration,
) -> u16 {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let signalled = std::sync::Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (pid, signalled) = (pid.clone(), signalled.clone());
            std::thread::spawn(move || {
                let upstream = std::net::TcpStream::connect(("127.0.0.1", orthanc)).unwrap();
                let (mut from_up, mut to_client) =
                    (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut from_up, &mut to_client));
                let (mut client, mut upstream) = (client, upstream);
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let dicomweb = buf[..n].windows(11).any(|w| w == b"/dicom-web/");
                    if dicomweb && !signalled.swap(true, Ordering::SeqCst) {
                        let pid = pid.load(Ordering::SeqCst);
                        Command::new("kill")
                            .args(["-INT", &pid.to_string()])
                            .status()
                            .unwrap();
                        std::thread::sleep(hold);
                    }
                    if upstream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

// 7. Ctrl-C after the store: the proof deletes its study before korthbox stops, and says so.
#[test]
fn ctrl_c_during_the_proof_still_cleans_up() {
    let Some(setup) = setup("pv", |_| {}) else {
        return;
    };
    let pid = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let relay = interrupting_relay(
        setup.orthanc.http,
        pid.clone(),
        std::time::Duration::from_secs(3),
    );
    let url = format!("http://127.0.0.1:{relay}");
    let dicom = format!("127.0.0.1:{}", setup.orthanc.dicom);
    let child = setup
        .sandbox
        .command()
        .args([
            "prove", "--url", &url, "--dicom", &dicom, "--aet", &setup.aet,
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", &setup.orthanc.password)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    pid.store(child.id(), std::sync::atomic::Ordering::SeqCst);
    let out = child.wait_with_output().unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{said}");
    assert!(said.contains("the proof was interrupted"), "{said}");
    assert!(said.contains("was deleted"), "{said}");
    assert_eq!(
        setup.instances(),
        json!(0),
        "the proof's study was left: {said}"
    );
}

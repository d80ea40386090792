//! Something to look at: `korthbox samples` and `korthbox upload` against Debian's Orthanc
//! running the rendered configuration (counts after each, nothing added the second time, each
//! kind of file reported as what it is), dcmtk's storescp and dcmdump judging the samples, the
//! viewer in the rendered manifests, and `korthbox open` with a recording browser.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::Sandbox;
use support::orthanc::{Local, dicom_file, free_port, run};

fn local() -> Option<Local> {
    Local::start("pv", |_| {})
}

impl Local {
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let url = format!("http://127.0.0.1:{}", self.orthanc.http);
        let dicom = format!("127.0.0.1:{}", self.orthanc.dicom);
        let mut args = vec![command];
        args.extend_from_slice(extra);
        args.extend(["--url", &url, "--dicom", &dicom, "--aet", &self.aet]);
        self.sandbox
            .command()
            .args(&args)
            .env("KORTHBOX_ORTHANC_PASSWORD", &self.orthanc.password)
            .output()
            .unwrap()
    }

    fn count(&self, what: &str) -> u64 {
        self.orthanc.get("/statistics").json()[what]
            .as_u64()
            .unwrap()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn samples_fill_orthanc_once() {
    let Some(local) = local() else { return };
    let out = local.run("samples", &["--studies", "2", "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}\n{}", local.orthanc.log());
    let sent: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sent["studies_sent"], 2);
    assert_eq!(sent["instances"], 128);
    assert_eq!(local.count("CountInstances"), 128);
    assert_eq!(local.count("CountStudies"), 2);
    assert_eq!(local.count("CountSeries"), 4);
    assert_eq!(local.count("CountPatients"), 2);
    // Again: the studies are whole, nothing is sent.
    let out = local.run("samples", &["--studies", "2"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("all 2 sample studies already there; nothing sent"),
        "{stdout}"
    );
    assert_eq!(local.count("CountInstances"), 128);
    // One more study sends only that one.
    let out = local.run("samples", &["--studies", "3"]);
    let (stdout, stderr) = text(&out);
    assert!(stdout.starts_with("1 study, 64 instances"), "{stdout}");
    // Said once (issue 26): on stdout, not again in the phase's line.
    assert!(!stderr.contains("64 instances"), "{stderr}");
    assert!(stdout.contains("2 already there"), "{stdout}");
    assert_eq!(local.count("CountInstances"), 192);
    // What Orthanc holds is what korthbox made: synthetic studies of synthetic patients.
    let studies = local.orthanc.get("/studies?expand").json();
    for study in studies.as_array().unwrap() {
        let description = study["MainDicomTags"]["StudyDescription"].as_str().unwrap();
        assert!(description.starts_with("korthbox sample "), "{study:#}");
        let patient = study["PatientMainDicomTags"]["PatientName"]
            .as_str()
            .unwrap();
        assert!(patient.starts_with("KORTHBOX^PHANTOM^"), "{study:#}");
    }
}

/// A `w`×`h` 8-bit grey BMP, for img2dcm.
fn bmp(path: &Path, (w, h): (u32, u32)) {
    let row = w.div_ceil(4) * 4;
    let pixels = row * h;
    let palette = 256 * 4;
    let offset = 14 + 40 + palette;
    let mut out = Vec::new();
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&(offset + pixels).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&pixels.to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    for i in 0..=255u8 {
        out.extend_from_slice(&[i, i, i, 0]);
    }
    for y in 0..h {
        for x in 0..row {
            out.push(((x * 16 + y * 8) % 256) as u8);
        }
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn upload_reports_each_kind_of_file_and_fails_for_a_truncated_one() {
    let Some(local) = local() else { return };
    let dir = local.sandbox.path("upload");
    let nested = dir.join("nested/deeper");
    std::fs::create_dir_all(&nested).unwrap();
    // dcmtk-made files: two from dump2dcm (one in a nested folder), one from img2dcm.
    dicom_file(&dir, "a", "11");
    std::fs::rename(dicom_file(&dir, "b", "12"), nested.join("b.dcm")).unwrap();
    bmp(&dir.join("picture.bmp"), (16, 16));
    run(Command::new("img2dcm")
        .args(["-i", "BMP"])
        .arg(dir.join("picture.bmp"))
        .arg(dir.join("from-image.dcm")));
    std::fs::remove_file(dir.join("picture.bmp")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not an image\n").unwrap();
    // A DICOM file cut short inside its pixel data.
    let whole = std::fs::read(dir.join("from-image.dcm")).unwrap();
    std::fs::write(dir.join("truncated.dcm"), &whole[..whole.len() - 100]).unwrap();
    // The dump files dicom_file leaves are not DICOM either.
    let not_dicom = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "dump" || x == "txt")
        })
        .count() as u64;

    let out = local.run("upload", &[dir.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(done["stored"], 3, "{done:#}");
    assert_eq!(done["not_dicom"], not_dicom, "{done:#}");
    assert_eq!(done["failed"], 1, "{done:#}");
    assert_eq!(done["interrupted"], false);
    let failure = &done["failures"][0];
    assert!(
        failure["path"].as_str().unwrap().ends_with("truncated.dcm"),
        "{failure}"
    );
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .starts_with("Orthanc answered 400"),
        "{failure}"
    );
    assert!(stderr.contains("error: 1 of "), "{stderr}");
    assert_eq!(local.count("CountInstances"), 3);

    // Again, without the truncated file: everything is already there, exit 0.
    std::fs::remove_file(dir.join("truncated.dcm")).unwrap();
    let out = local.run("upload", &[dir.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "0 stored, 3 already stored, {not_dicom} not DICOM, 0 failed"
        )),
        "{stdout}"
    );
    assert_eq!(local.count("CountInstances"), 3);
}

// 5, 9. A large file is streamed and arrives intact; a huge file that is not DICOM is told by
// its first bytes and not sent (nor counted as sent); links that lead nowhere, loop, or lead
// to a folder are skipped and listed instead of ending the upload.
#[test]
fn upload_streams_what_it_sends_and_skips_what_it_cannot_read() {
    let Some(local) = local() else { return };
    let dir = local.sandbox.path("stream");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    bmp(&dir.join("big.bmp"), (4096, 4096));
    run(Command::new("img2dcm")
        .args(["-i", "BMP"])
        .arg(dir.join("big.bmp"))
        .arg(dir.join("sub/big.dcm")));
    std::fs::remove_file(dir.join("big.bmp")).unwrap();
    let sent = std::fs::read(dir.join("sub/big.dcm")).unwrap();
    // A sparse 1 GiB file that is not DICOM.
    let huge = std::fs::File::create(dir.join("huge.bin")).unwrap();
    huge.set_len(1 << 30).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.dcm"), dir.join("dangling.dcm")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop-b"), dir.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop-a"), dir.join("loop-b")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("sub/up")).unwrap();

    let out = local.run("upload", &[dir.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(done["stored"], 1, "{done:#}");
    assert_eq!(done["not_dicom"], 1, "{done:#}");
    assert_eq!(
        done["bytes"],
        sent.len() as u64,
        "only what was sent counts: {done:#}"
    );
    let skipped: Vec<(String, String)> = done["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let path = s["path"].as_str().unwrap();
            let name = path.rsplit('/').next().unwrap().to_string();
            (name, s["reason"].as_str().unwrap().to_string())
        })
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["dangling.dcm", "loop-a", "loop-b", "up"],
        "{skipped:?}"
    );
    assert!(skipped[3].1.contains("not followed"), "{skipped:?}");
    assert!(stderr.contains("skipped"), "{stderr}");
    // What Orthanc keeps is the very file.
    let id = local.orthanc.get("/instances").json()[0]
        .as_str()
        .unwrap()
        .to_string();
    let kept = local.orthanc.get(&format!("/instances/{id}/file"));
    assert_eq!(kept.status, 200);
    assert!(kept.body == sent, "the file arrived changed");
}

#[test]
fn upload_of_a_path_that_is_not_there_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command()
        .args([
            "upload",
            "/nonexistent/korthbox",
            "--url",
            "http://127.0.0.1:1",
            "--dicom",
            "127.0.0.1:2",
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/korthbox"));
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn storescp_receives_every_sample_and_dcmdump_reads_every_file_korthbox_makes() {
    if !support::real_part_available(
        "dcmtk (storescp, dcmdump)",
        Path::new("/usr/bin/storescp").exists(),
    ) {
        return;
    }
    let sandbox = Sandbox::new();
    // The files korthbox writes.
    let written = sandbox.path("written");
    let out = sandbox.run(&[
        "samples",
        "--studies",
        "1",
        "--output-dir",
        written.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = files_in(&written);
    assert_eq!(files.len(), 64);
    for f in &files {
        support::dcmdump(f);
    }
    let ct = support::dcmdump(&written.join("study-1/ct/020.dcm"));
    for needle in [
        "(0008,0016) UI =CTImageStorage",
        "(0010,0010) PN [KORTHBOX^PHANTOM^ALPHA]",
        "(0028,1052) DS [-1024]",
        "(0020,0013) IS [20]",
    ] {
        assert!(ct.contains(needle), "{needle}:\n{ct}");
    }
    // What korthbox sends by C-STORE to another implementation.
    let received = sandbox.path("received");
    std::fs::create_dir_all(&received).unwrap();
    let port = free_port();
    let mut scp = Command::new("storescp")
        .args(["--aetitle", "DCMTK", "--output-directory"])
        .arg(&received)
        .arg(port.to_string())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = sandbox
        .command()
        .args([
            "samples",
            "--studies",
            "1",
            "--url",
            "http://127.0.0.1:1",
            "--dicom",
            &format!("127.0.0.1:{port}"),
            "--aet",
            "DCMTK",
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", "")
        .output()
        .unwrap();
    let _ = scp.kill();
    let _ = scp.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = files_in(&received);
    assert_eq!(got.len(), 64, "{got:?}");
    for f in &got {
        support::dcmdump(f);
    }
}

fn manifests(sandbox: &Sandbox, viewer: &str) -> Vec<Value> {
    let out = sandbox.run(&[
        "plan",
        "--only",
        "manifests",
        "--driver",
        "kind",
        "--provider",
        "docker",
        "--viewer",
        viewer,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

fn orthanc_parts(docs: &[Value]) -> (Value, Vec<Value>) {
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "orthanc-config")
        .unwrap();
    let config: Value =
        serde_json::from_str(config["data"]["orthanc.json"].as_str().unwrap()).unwrap();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "orthanc")
        .unwrap();
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    (config, env)
}

#[test]
fn the_viewer_is_the_one_chosen_and_none_changes_nothing_else() {
    let sandbox = Sandbox::new();
    let none = manifests(&sandbox, "none");
    for (viewer, section, variable) in [
        ("stone", "StoneWebViewer", "STONE_WEB_VIEWER_PLUGIN_ENABLED"),
        ("ohif", "OHIF", "OHIF_PLUGIN_ENABLED"),
    ] {
        let with = manifests(&sandbox, viewer);
        let (config, env) = orthanc_parts(&with);
        assert!(config.get(section).is_some(), "{viewer}: {config:#}");
        assert!(
            env.contains(&json!({"name": variable, "value": "true"})),
            "{viewer}: {env:?}"
        );
        // The other viewer is not loaded.
        let others = ["StoneWebViewer", "OHIF"]
            .iter()
            .filter(|s| **s != section)
            .count();
        assert_eq!(others, 1);
        // Without the viewer's section and variable, the stack is the same as with none.
        let mut stripped = with.clone();
        for doc in &mut stripped {
            if doc["kind"] == "ConfigMap" && doc["metadata"]["name"] == "orthanc-config" {
                let mut c: Value =
                    serde_json::from_str(doc["data"]["orthanc.json"].as_str().unwrap()).unwrap();
                c.as_object_mut().unwrap().remove(section);
                doc["data"]["orthanc.json"] =
                    json!(serde_json::to_string_pretty(&c).unwrap() + "\n");
            }
            if doc["kind"] == "Deployment" && doc["metadata"]["name"] == "orthanc" {
                let env = doc["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array_mut()
                    .unwrap();
                env.retain(|e| e["name"] != variable);
            }
        }
        assert_eq!(stripped, none, "{viewer}");
    }
    let (config, env) = orthanc_parts(&none);
    assert!(config.get("StoneWebViewer").is_none() && config.get("OHIF").is_none());
    assert!(
        !env.iter()
            .any(|e| e["name"].as_str().unwrap().ends_with("_PLUGIN_ENABLED"))
    );
    // The default is the Stone Web Viewer.
    let out = sandbox.run(&[
        "plan",
        "--only",
        "manifests",
        "--driver",
        "kind",
        "--provider",
        "docker",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("STONE_WEB_VIEWER_PLUGIN_ENABLED"));
}

mod sandbox {
    use super::support;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    use support::world::World;

    fn ok(out: &std::process::Output) -> String {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A browser that writes down what it is asked to open.
    fn recording_browser(world: &mut World) -> std::path::PathBuf {
        let log = world.sandbox.path("browser.log");
        let script = world.sandbox.write(
            "bin/recording-browser",
            &format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        world.sandbox.set("BROWSER", script.to_str().unwrap());
        log
    }

    /// What the recording browser was given, once it has been started `n` times: the browser
    /// runs on after `open` returns, as a real one does.
    fn opened(log: &std::path::Path, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(String::from).collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn up_with_samples_loads_them_once_and_open_shows_them() {
        let Some(mut world) = World::new() else {
            return;
        };
        let summary: serde_json::Value =
            serde_json::from_str(&ok(&world.run("up", &["--samples", "--json"]))).unwrap();
        let samples = summary["samples"].as_str().unwrap();
        assert!(samples.starts_with("3 studies, 192 instances"), "{samples}");
        let count = || world.orthanc.get("/statistics").json()["CountInstances"].clone();
        assert_eq!(count(), 192);
        assert_eq!(
            summary["endpoints"]["viewer"],
            format!(
                "http://127.0.0.1:{}/stone-webviewer/index.html",
                world.ports[0]
            )
        );
        let again: serde_json::Value =
            serde_json::from_str(&ok(&world.run("up", &["--samples", "--json"]))).unwrap();
        assert_eq!(
            again["samples"],
            "all 3 sample studies already there; nothing sent"
        );
        assert_eq!(count(), 192);
        // status names the viewer.
        let status = ok(&world.run("status", &[]));
        assert!(
            status.contains(&format!(
                "Viewer    Stone Web Viewer at http://127.0.0.1:{}/stone-webviewer/index.html",
                world.ports[0]
            )),
            "{status}"
        );

        // open: the browser is given Orthanc Explorer 2, or the viewer.
        let log = recording_browser(&mut world);
        let out = world.run("open", &[]);
        ok(&out);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("`korthbox password` prints the password")
        );
        ok(&world.run("open", &["--viewer"]));
        // --viewer takes up's values: the one the sandbox serves opens, another is refused.
        let out = world.run("open", &["--viewer", "ohif", "--print"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("the sandbox's Orthanc serves Stone Web Viewer, not OHIF"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let base = format!("http://127.0.0.1:{}", world.ports[0]);
        assert_eq!(
            ok(&world.run("open", &["--viewer", "stone", "--print"])).trim(),
            format!("{base}/stone-webviewer/index.html")
        );
        assert_eq!(
            opened(&log, 2),
            [
                format!("{base}/ui/app/"),
                format!("{base}/stone-webviewer/index.html")
            ]
        );
        // --print prints it and starts nothing; no browser at all prints it and says so.
        assert_eq!(
            ok(&world.run("open", &["--print"])).trim(),
            format!("{base}/ui/app/")
        );
        world.sandbox.set("BROWSER", "/nonexistent/browser");
        let out = world.run("open", &[]);
        assert_eq!(ok(&out).trim(), format!("{base}/ui/app/"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no browser could be started here"));
        assert_eq!(opened(&log, 0).len(), 2);
    }

    #[test]
    fn open_on_a_cluster_that_maps_no_port_forwards_until_ctrl_c() {
        let Some(mut world) = World::new() else {
            return;
        };
        world
            .api
            .kubeconfig(&world.sandbox.path("home/.kube/config"), "lab");
        ok(&world.run("up", &["--driver", "existing", "--context", "lab"]));
        let log = recording_browser(&mut world);
        let port = support::orthanc::free_port();
        let mut child = world
            .sandbox
            .command()
            .args([
                "open",
                "--driver",
                "existing",
                "--context",
                "lab",
                "--http-port",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            if line.contains("Forwarding") {
                break;
            }
            assert!(Instant::now() < deadline);
        }
        let r = support::http::request(
            "GET",
            port,
            "/system",
            ("admin", &world.orthanc.password),
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            opened(&log, 1),
            [format!("http://127.0.0.1:{port}/ui/app/")]
        );
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "Ctrl-C is how open's forward ends");
    }
}

#[test]
fn ctrl_c_stops_an_upload_cleanly_and_says_how_far_it_got() {
    let Some(local) = local() else { return };
    let dir = local.sandbox.path("many");
    std::fs::create_dir_all(&dir).unwrap();
    let one = local.sandbox.path("one");
    std::fs::create_dir_all(&one).unwrap();
    let template = std::fs::read(dicom_file(&one, "t", "1")).unwrap();
    // 1500 copies of one file: after the first, Orthanc answers "already stored".
    for i in 0..1500 {
        std::fs::write(dir.join(format!("{i:04}.dcm")), &template).unwrap();
    }
    let url = format!("http://127.0.0.1:{}", local.orthanc.http);
    let dicom = format!("127.0.0.1:{}", local.orthanc.dicom);
    let child = local
        .sandbox
        .command()
        .args(["upload", dir.to_str().unwrap(), "--workers", "1", "--json"])
        .args(["--url", &url, "--dicom", &dicom])
        .env("KORTHBOX_ORTHANC_PASSWORD", &local.orthanc.password)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(done["interrupted"], true);
    let files = done["files"].as_u64().unwrap();
    assert!(files > 0 && files < 1500, "{done}");
    assert_eq!(
        done["stored"].as_u64().unwrap() + done["already_stored"].as_u64().unwrap(),
        files
    );
    assert!(
        stderr.contains(&format!("interrupted after {files} of 1500 files")),
        "{stderr}"
    );
}

// 9. `samples --output-dir` makes new files only: a file of the user's at a sample's path, and a
// link planted there, are left as they are (the link not followed), and said.
#[test]
fn samples_into_a_folder_write_new_files_only() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("out");
    std::fs::create_dir_all(dir.join("study-1/ct")).unwrap();
    std::fs::write(dir.join("study-1/ct/001.dcm"), "the user's own file").unwrap();
    let elsewhere = sandbox.path("precious.txt");
    std::fs::write(&elsewhere, "not to be overwritten").unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("study-1/ct/002.dcm")).unwrap();
    let out = sandbox.run(&[
        "samples",
        "--studies",
        "1",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("study-1/ct/001.dcm")).unwrap(),
        "the user's own file"
    );
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "not to be overwritten"
    );
    assert!(
        stderr.contains("kept ") && stderr.contains("001.dcm"),
        "{stderr}"
    );
    assert!(stderr.contains("002.dcm"), "{stderr}");
    assert!(stdout.starts_with("62 DICOM files under"), "{stdout}");
    assert!(dir.join("study-1/ct/003.dcm").is_file());
}

/// Every file under `dir`, recursively, with its path relative to `dir`.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let data = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(dir).unwrap().to_path_buf(), data));
            }
        }
    }
    out.sort();
    out
}

// Issue 24: `export` writes every instance as the file Orthanc keeps, under
// PATIENT/STUDY/SERIES/; dcmdump parses each; an interrupted export continues (whole files
// kept, a `.part` left behind started again); a different file is never overwritten; and
// `upload DIR` puts every instance back, byte-identical.
#[test]
fn export_writes_every_instance_resumes_and_uploads_back_byte_identical() {
    let Some(local) = local() else { return };
    let out = local.run("samples", &["--studies", "2"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let dir = local.sandbox.path("export");
    let out = local.run("export", &[dir.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(done["instances"], 128, "{done:#}");
    assert_eq!(done["written"], 128, "{done:#}");
    let files = tree(&dir);
    assert_eq!(files.len(), 128);
    // Each file is the one Orthanc keeps, found by its SOP instance UID, at
    // PATIENT/STUDY/SERIES/SOP.dcm.
    let instances = local.orthanc.get("/instances?expand").json();
    for instance in instances.as_array().unwrap() {
        let id = instance["ID"].as_str().unwrap();
        let sop = instance["MainDicomTags"]["SOPInstanceUID"]
            .as_str()
            .unwrap();
        let series = local.orthanc.get(&format!("/instances/{id}/series")).json();
        let study = local.orthanc.get(&format!("/instances/{id}/study")).json();
        let expected = Path::new(study["PatientMainDicomTags"]["PatientID"].as_str().unwrap())
            .join(study["MainDicomTags"]["StudyInstanceUID"].as_str().unwrap())
            .join(
                series["MainDicomTags"]["SeriesInstanceUID"]
                    .as_str()
                    .unwrap(),
            )
            .join(format!("{sop}.dcm"));
        let original = local.orthanc.get(&format!("/instances/{id}/file")).body;
        let (_, exported) = files
            .iter()
            .find(|(p, _)| *p == expected)
            .unwrap_or_else(|| panic!("{} missing", expected.display()));
        assert_eq!(
            support::sha256(exported),
            support::sha256(&original),
            "{}",
            expected.display()
        );
    }
    // dcmdump, an independent parser, reads every file.
    let paths: Vec<std::path::PathBuf> = files.iter().map(|(p, _)| dir.join(p)).collect();
    let out = run(Command::new("dcmdump").arg("-q").args(&paths));
    assert!(out.status.success(), "{}", text(&out).1);

    // As an interruption leaves it: some files missing, one half-written `.part`.
    for (path, _) in &files[..10] {
        std::fs::remove_file(dir.join(path)).unwrap();
    }
    let half = dir.join(files[0].0.with_extension("dcm.part"));
    std::fs::write(&half, &files[0].1[..100]).unwrap();
    let out = local.run("export", &[dir.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let done: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (done["written"].clone(), done["kept"].clone()),
        (json!(10), json!(118))
    );
    assert!(!half.exists());
    assert_eq!(tree(&dir), files, "the resumed export is the same");

    // A different file under an instance's name stays as it is, and the export says so.
    let mine = dir.join(&files[5].0);
    std::fs::write(&mine, b"not korthbox's").unwrap();
    let out = local.run("export", &[dir.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("does not overwrite it"), "{stdout}");
    assert_eq!(std::fs::read(&mine).unwrap(), b"not korthbox's");
    std::fs::write(&mine, &files[5].1).unwrap();

    // Orthanc emptied, then `upload DIR`: every instance back, byte-identical.
    for patient in local.orthanc.get("/patients").json().as_array().unwrap() {
        let path = format!("/patients/{}", patient.as_str().unwrap());
        let r = support::http::request(
            "DELETE",
            local.orthanc.http,
            &path,
            ("admin", &local.orthanc.password),
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(local.count("CountInstances"), 0);
    let out = local.run("upload", &[dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(local.count("CountInstances"), 128);
    let again = local.sandbox.path("export-again");
    let out = local.run("export", &[again.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(tree(&again), files);
}

//! `korthbox install` against a local HTTP server that serves a driver and its published
//! checksum in each project's format: a good download, a corrupted one, a truncated one, and a
//! server that is down.

mod support;

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use support::Sandbox;

/// How the server answers one path.
#[derive(Clone)]
enum Answer {
    Body(Vec<u8>),
    /// Announces more bytes than it sends, then closes.
    CutShort(Vec<u8>),
    /// A redirect to `Location` as given (a path, relative to this server).
    Redirect(String),
    /// Sends these bytes of a much larger body, then stalls.
    Stall(Vec<u8>),
}

fn serve(files: HashMap<String, Answer>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let files = files.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                let Some(request) = support::read_request_full(&mut reader) else {
                    return;
                };
                let path = request
                    .line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let (head, body) = match files.get(&path) {
                    Some(Answer::Body(b)) => (
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        ),
                        b.clone(),
                    ),
                    Some(Answer::CutShort(b)) => (
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len() + 4096
                        ),
                        b.clone(),
                    ),
                    Some(Answer::Redirect(to)) => (
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        Vec::new(),
                    ),
                    Some(Answer::Stall(b)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len() * 1000
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(b);
                        std::thread::sleep(std::time::Duration::from_secs(30));
                        return;
                    }
                    None => (
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string(),
                        Vec::new(),
                    ),
                };
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

/// A stand-in driver binary that answers `version` like the real one.
fn binary(tool: &str) -> Vec<u8> {
    let version = match tool {
        "kind" => "echo 'kind v0.33.0 go1.25.4 linux/amd64'",
        "k3d" => "printf 'k3d version v5.8.3\\nk3s version v1.31.5-k3s1 (default)\\n'",
        _ => "echo '{\"commit\":\"x\",\"minikubeVersion\":\"v1.39.0\"}'",
    };
    format!("#!/bin/sh\n{version}\n").into_bytes()
}

/// The files one release serves, with the checksum in that project's format.
fn release(tool: &str, body: Answer, hash: &str) -> HashMap<String, Answer> {
    let (version, file) = match tool {
        "kind" => ("v0.33.0", "kind-linux-amd64"),
        "k3d" => ("v5.8.3", "k3d-linux-amd64"),
        _ => ("v1.39.0", "minikube-linux-amd64"),
    };
    let dir = format!("/{tool}/{version}");
    let (sums_path, sums) = match tool {
        "kind" => (
            format!("{dir}/{file}.sha256sum"),
            format!("{hash}  {file}\n"),
        ),
        "k3d" => (
            format!("{dir}/checksums.txt"),
            format!(
                "{}  _dist/k3d-darwin-arm64\n{hash}  _dist/{file}\n",
                "f".repeat(64)
            ),
        ),
        _ => (format!("{dir}/{file}.sha256"), format!("{hash}\n")),
    };
    HashMap::from([
        (format!("{dir}/{file}"), body),
        (sums_path, Answer::Body(sums.into_bytes())),
    ])
}

/// A sandbox downloading from the local server; `pin` stands in for the SHA-256 korthbox pins
/// (the stand-in binaries are not the real releases).
fn sandbox(port: u16, pin: Option<&str>) -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.set(
        "KORTHBOX_DOWNLOAD_BASE",
        &format!("http://127.0.0.1:{port}"),
    );
    if let Some(pin) = pin {
        sandbox.set("KORTHBOX_INSTALL_SHA256", pin);
    }
    sandbox.set(
        "KORTHBOX_BIN_DIR",
        sandbox.path("bin-installed").to_str().unwrap(),
    );
    sandbox
}

fn installed(sandbox: &Sandbox) -> Vec<String> {
    std::fs::read_dir(sandbox.path("bin-installed"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_driver_installs_verified_and_is_used_from_there() {
    for tool in ["kind", "k3d", "minikube"] {
        let body = binary(tool);
        let hash = support::sha256(&body);
        let port = serve(release(tool, Answer::Body(body.clone()), &hash));
        let sandbox = sandbox(port, Some(&hash));
        let out = sandbox.run(&["install", tool]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{tool}: {stderr}");
        assert!(
            stderr.contains(&format!("SHA-256 {} verified", support::sha256(&body))),
            "{stderr}"
        );
        let path = sandbox.path(&format!("bin-installed/{tool}"));
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(installed(&sandbox), [tool], "no .partial left behind");
        // PATH holds nothing, yet korthbox finds the driver in its own directory.
        let (doc, _) = sandbox.doctor_json(&[]);
        let found = doc["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .unwrap()
            .clone();
        assert_eq!(found["path"], path.to_str().unwrap(), "{found}");
        assert!(found["version"].is_string(), "{found}");
    }
}

#[test]
fn a_corrupted_download_is_its_own_error_with_both_hashes() {
    let body = binary("kind");
    let published = support::sha256(b"what the project really published");
    let port = serve(release("kind", Answer::Body(body.clone()), &published));
    let sandbox = sandbox(port, Some(&published));
    let out = sandbox.run(&["install", "kind"]);
    let expected = format!("expected SHA-256 {published}");
    let got = format!("got SHA-256      {}", support::sha256(&body));
    let stderr = support::failed_with(
        &out,
        1,
        &["does not match its published checksum", &expected, &got],
    );
    assert!(stderr.contains(&got), "{stderr}");
    assert!(
        installed(&sandbox).is_empty(),
        "nothing installed, no .partial: {:?}",
        installed(&sandbox)
    );
}

#[test]
fn a_truncated_download_installs_nothing() {
    let body = binary("kind");
    let hash = support::sha256(&body);
    let port = serve(release("kind", Answer::CutShort(body.clone()), &hash));
    let sandbox = sandbox(port, Some(&hash));
    let out = sandbox.run(&["install", "kind"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was cut short"), "{stderr}");
    assert!(installed(&sandbox).is_empty(), "{:?}", installed(&sandbox));
}

#[test]
fn a_server_that_is_down_says_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = sandbox(port, Some(&"0".repeat(64)));
    let out = sandbox.run(&["install", "minikube"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("error: could not download http://127.0.0.1:{port}/minikube/v1.39.0/minikube-linux-amd64.sha256")), "{stderr}");
    assert!(stderr.contains("KORTHBOX_DOWNLOAD_BASE"), "{stderr}");
    // No dead end (issue 26): the proxy, doctor's proxy check, and installing it by hand.
    assert!(stderr.contains("HTTPS_PROXY"), "{stderr}");
    assert!(stderr.contains("`korthbox doctor`"), "{stderr}");
    assert!(stderr.contains("korthbox uses the one on PATH"), "{stderr}");
    assert!(installed(&sandbox).is_empty());
}

#[test]
fn a_missing_release_is_named() {
    let port = serve(HashMap::new());
    let sandbox = sandbox(port, Some(&"0".repeat(64)));
    let out = sandbox.run(&["install", "k3d"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the server answered 404"), "{stderr}");
}

/// The real kind v0.33.0 linux-amd64 binary's SHA-256, as korthbox pins it.
const KIND_PINNED: &str = "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d";

#[test]
fn a_mirror_serving_another_build_is_refused_by_the_pinned_hash() {
    if std::env::consts::ARCH != "x86_64" {
        return;
    }
    let body = binary("kind");
    // The mirror publishes its build's true checksum: korthbox's pin disagrees, so nothing is
    // downloaded.
    let port = serve(release(
        "kind",
        Answer::Body(body.clone()),
        &support::sha256(&body),
    ));
    let sandbox = sandbox(port, None);
    let out = sandbox.run(&["install", "kind"]);
    let pinned = format!("pinned SHA-256    {KIND_PINNED}");
    support::failed_with(
        &out,
        1,
        &["publishes a different SHA-256 than korthbox pins", &pinned],
    );
    assert!(installed(&sandbox).is_empty(), "{:?}", installed(&sandbox));

    // The mirror claims the pinned checksum but serves something else: the download itself is
    // checked against the pin.
    let port = serve(release("kind", Answer::Body(body.clone()), KIND_PINNED));
    let lying = self::sandbox(port, None);
    let out = lying.run(&["install", "kind"]);
    let got = format!("got SHA-256      {}", support::sha256(&body));
    support::failed_with(&out, 1, &["does not match", &got]);
    assert!(installed(&lying).is_empty(), "{:?}", installed(&lying));
}

#[test]
fn downloads_are_https_only_and_the_pin_is_replaced_only_for_this_machine() {
    let mut sandbox = Sandbox::new();
    sandbox.set("KORTHBOX_DOWNLOAD_BASE", "http://mirror.example.invalid");
    sandbox.set(
        "KORTHBOX_BIN_DIR",
        sandbox.path("bin-installed").to_str().unwrap(),
    );
    let out = sandbox.run(&["install", "k3d"]);
    support::failed_with(&out, 1, &["only HTTPS is used"]);

    sandbox.set("KORTHBOX_DOWNLOAD_BASE", "https://mirror.example.invalid");
    sandbox.set("KORTHBOX_INSTALL_SHA256", &"0".repeat(64));
    let out = sandbox.run(&["install", "k3d"]);
    support::failed_with(
        &out,
        2,
        &["KORTHBOX_INSTALL_SHA256 replaces the pinned SHA-256 only"],
    );
    assert!(installed(&sandbox).is_empty());
}

// 9. A mirror that redirects with a relative Location (`/blobs/…`) is followed, on the same
// (loopback) server.
#[test]
fn a_relative_redirect_is_followed() {
    let body = binary("kind");
    let hash = support::sha256(&body);
    let mut files = release("kind", Answer::Body(body.clone()), &hash);
    files.insert(
        "/kind/v0.33.0/kind-linux-amd64".into(),
        Answer::Redirect("/blobs/kind".into()),
    );
    files.insert("/blobs/kind".into(), Answer::Body(body.clone()));
    let port = serve(files);
    let sandbox = sandbox(port, Some(&hash));
    let out = sandbox.run(&["install", "kind"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read(sandbox.path("bin-installed/kind")).unwrap(),
        body
    );
}

// 9. Ctrl-C during the download leaves no partial file, and says nothing about `up`.
#[test]
fn ctrl_c_during_install_removes_the_partial_file() {
    let body = binary("kind");
    let hash = support::sha256(&body);
    let port = serve(release("kind", Answer::Stall(vec![b'#'; 64 * 1024]), &hash));
    let sandbox = sandbox(port, Some(&hash));
    let child = sandbox
        .command()
        .args(["install", "kind"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while installed(&sandbox).is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no download began"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(installed(&sandbox).is_empty(), "{:?}", installed(&sandbox));
    assert!(!stderr.contains("korthbox up"), "{stderr}");
    assert!(
        stderr.contains("the partial download was removed"),
        "{stderr}"
    );
}

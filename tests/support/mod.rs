//! Test support: a hermetic sandbox for running the real korthbox binary, fake Docker API
//! servers that answer with captured real engine output, and stand-in tool executables.
#![allow(dead_code)]

pub mod docker_text;
pub mod http;
pub mod kube_api;
pub mod orthanc;
pub mod proxy;
pub mod s3;
pub mod ssa;
pub mod stand_ins;
pub mod world;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::Value;

/// Set by CI: a real part (Docker, Podman) that is missing fails the test instead of skipping it.
pub const REQUIRE: &str = "KORTHBOX_TEST_REQUIRE";

pub fn require_real_parts() -> bool {
    std::env::var(REQUIRE).is_ok_and(|v| v == "1")
}

/// Skips (returns false) or fails, as KORTHBOX_TEST_REQUIRE says, when a real part is missing.
pub fn real_part_available(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if require_real_parts() {
        panic!("{what} is required (KORTHBOX_TEST_REQUIRE=1) but is not available");
    }
    eprintln!("skipped: {what} is not available (set {REQUIRE}=1 to make this a failure)");
    false
}

/// The values of `key` in a JSON list of objects (`[{"name": "a"}, …]` → `["a", …]`).
pub fn strings<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default())
        .collect()
}

/// SHA-256 of `data` in hex, computed by coreutils' `sha256sum` (an implementation other than
/// the one korthbox uses).
pub fn sha256(data: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Packs directory `dir` into the tar file `tar`; false when `tar` could not.
pub fn tar_dir(dir: &Path, tar: &Path) -> bool {
    Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .is_ok_and(|s| s.success())
}

/// Asserts that a run ended with exit `code` and said every one of `needles` on stderr; the
/// stderr, for further checks.
pub fn failed_with(out: &Output, code: i32, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
    stderr
}

/// Where other projects' files live: `$KORTHBOX_SHARED`, or `../shared` beside the checkout.
/// They are never committed here (captured tool output in `fixtures/`, with its sources in
/// `fixtures/SOURCES.md`; kind's and k3d's schemas in `schemas/`).
pub const SHARED: &str = "KORTHBOX_SHARED";

fn shared_dir() -> PathBuf {
    match std::env::var_os(SHARED) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// The shared directory when it is there; otherwise None (the test is skipped with a one-line
/// reason, or fails under KORTHBOX_TEST_REQUIRE like any other missing real part).
pub fn shared() -> Option<PathBuf> {
    let dir = shared_dir();
    let there = dir.join("fixtures/SOURCES.md").is_file() && dir.join("schemas").is_dir();
    let what = format!(
        "{} (other projects' files: captured tool output and schemas; set {SHARED} to move it)",
        dir.display()
    );
    real_part_available(&what, there).then_some(dir)
}

/// Returns from the test (skipped, or failed under KORTHBOX_TEST_REQUIRE) when the shared
/// directory is not there.
#[macro_export]
macro_rules! needs_shared {
    () => {
        if $crate::support::shared().is_none() {
            return;
        }
    };
}

/// A file under the shared directory (`fixtures/…`, `schemas/…`); the test has checked with
/// `needs_shared!()` that the directory is there.
pub fn shared_path(relative: &str) -> PathBuf {
    let path = shared_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: this test reads it but does not start with needs_shared!()",
        path.display()
    );
    path
}

/// Every file below `dir`, except in the directories named in `skip` (`target`, `.git`).
pub fn files_below(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !skip.iter().any(|s| entry.file_name() == *s) {
                    dirs.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out
}

pub fn fixture_path(name: &str) -> PathBuf {
    shared_path(&format!("fixtures/{name}"))
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A temporary HOME and host root, and a PATH holding only stand-in tools, so that the binary
/// sees no engine, tool or kubeconfig of the machine running the tests unless a test adds one.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub envs: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["home", "root", "bin"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let mut sandbox = Sandbox {
            dir,
            envs: Vec::new(),
        };
        sandbox.set("HOME", sandbox.home().to_str().unwrap());
        sandbox.set("KORTHBOX_HOST_ROOT", sandbox.root().to_str().unwrap());
        sandbox.set("PATH", sandbox.bin().to_str().unwrap());
        sandbox.set(
            "XDG_RUNTIME_DIR",
            sandbox.path("home/run").to_str().unwrap(),
        );
        sandbox
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }
    pub fn root(&self) -> PathBuf {
        self.path("root")
    }
    pub fn bin(&self) -> PathBuf {
        self.path("bin")
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Writes a file below the sandbox, creating its directories.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Puts an executable shell script named `name` on the sandbox's PATH.
    pub fn stand_in(&self, name: &str, script: &str) {
        let path = self.bin().join(name);
        // The sandbox PATH holds only stand-ins; the script itself may use the system tools.
        std::fs::write(
            &path,
            format!("#!/bin/sh\nPATH=\"$PATH:/usr/bin:/bin\"\n{script}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Serves a captured `/info` (with a `/version` made from it) at `rel` below the sandbox.
    pub fn serve_engine(&self, rel: &str, info: Value) -> FakeEngine {
        FakeEngine::serve(&self.path(rel), version_from_info(&info), info, None)
    }

    /// Serves a captured `/info` at `rel` and points DOCKER_HOST at it.
    pub fn serve_docker_host(&mut self, rel: &str, info: Value) -> FakeEngine {
        let fake = self.serve_engine(rel, info);
        self.set("DOCKER_HOST", &fake.uri());
        fake
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_korthbox"));
        cmd.env_clear();
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run korthbox")
    }

    /// Runs `korthbox doctor --json` and parses its document.
    pub fn doctor_json(&self, extra: &[&str]) -> (Value, Output) {
        let mut args = vec!["doctor", "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor --json printed no JSON ({e}); stdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (doc, out)
    }
}

/// The checks in a doctor document with this id.
pub fn checks<'a>(doc: &'a Value, id: &str) -> Vec<&'a Value> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .collect()
}

pub fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    let found = checks(doc, id);
    assert_eq!(
        found.len(),
        1,
        "expected one {id} check in {:#}",
        doc["checks"]
    );
    found[0]
}

/// A Docker API server on a unix socket, answering `/version` and `/info` with given JSON.
pub struct FakeEngine {
    pub socket: PathBuf,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeEngine {
    /// Serves `version` and `info` at `socket`. With `max_api` set, requests for a newer API
    /// version are refused the way Docker Engine refuses them.
    pub fn serve(socket: &Path, version: Value, info: Value, max_api: Option<&str>) -> FakeEngine {
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let listener = UnixListener::bind(socket).expect("bind fake engine socket");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let max_api = max_api.map(str::to_string);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (version, info, log, max_api) =
                    (version.clone(), info.clone(), log.clone(), max_api.clone());
                thread::spawn(move || {
                    serve_connection(stream, &version, &info, &log, max_api.as_deref())
                });
            }
        });
        FakeEngine {
            socket: socket.to_path_buf(),
            requests,
        }
    }

    pub fn uri(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_connection(
    stream: UnixStream,
    version: &Value,
    info: &Value,
    log: &Mutex<Vec<String>>,
    max_api: Option<&str>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(request_line) = read_request(&mut reader) {
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        log.lock().unwrap().push(path.clone());

        let requested = path
            .strip_prefix("/v")
            .and_then(|p| p.split('/').next())
            .map(str::to_string);
        let (status, payload) = match (max_api, requested.as_deref()) {
            (Some(max), Some(asked)) if api_newer(asked, max) => (
                "400 Bad Request",
                serde_json::json!({"message": format!("client version {asked} is too new. Maximum supported API version is {max}")}),
            ),
            _ if path.ends_with("/version") => ("200 OK", version.clone()),
            _ if path.ends_with("/info") => ("200 OK", info.clone()),
            _ if path.ends_with("/_ping") => ("200 OK", Value::String("OK".into())),
            // An image nobody built or pulled (any name with `not-built` in it).
            _ if path.contains("/images/") && path.contains("not-built") => (
                "404 Not Found",
                serde_json::json!({"message": "No such image"}),
            ),
            // A warm cache: every image is already there, and can be tagged.
            _ if path.contains("/images/") && path.ends_with("/json") => (
                "200 OK",
                serde_json::json!({"Id": "sha256:0000", "RepoTags": [], "RepoDigests": []}),
            ),
            _ if path.contains("/images/") && path.contains("/tag") => ("201 Created", Value::Null),
            // An engine with no leftovers: nothing labelled for any cluster.
            _ if path.contains("/containers/json") => ("200 OK", serde_json::json!([])),
            _ if path.contains("/networks") => ("200 OK", serde_json::json!([])),
            _ if path.contains("/volumes") => {
                ("200 OK", serde_json::json!({"Volumes": [], "Warnings": []}))
            }
            // `docker save`: the archive korthbox exports for kind on Podman.
            _ if path.contains("/images/get") => {
                let body = format!("archive of {path}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(response.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
            _ => (
                "404 Not Found",
                serde_json::json!({"message": "page not found"}),
            ),
        };
        let body = payload.to_string();
        // The engine names itself in every answer's headers, as Docker and Podman do.
        let podman = info["ProductLicense"] == "Apache-2.0"
            || version["Components"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["Name"] == "Podman Engine"));
        let release = version["Version"].as_str().unwrap_or("0");
        let server = match podman {
            true => format!("Libpod/{release} (linux)\r\nLibpod-Api-Version: {release}"),
            false => format!(
                "Docker/{release} ({})",
                version["Os"].as_str().unwrap_or("linux")
            ),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nApi-Version: {}\r\nServer: {server}\r\nContent-Length: {}\r\n\r\n{body}",
            max_api.unwrap_or("1.53"),
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request (its body is read and dropped) and returns its request line;
/// `None` when the client has gone.
pub fn read_request(reader: &mut impl BufRead) -> Option<String> {
    read_request_with_body(reader).map(|(line, _)| line)
}

/// Reads one HTTP/1.1 request: its request line and its body.
pub fn read_request_with_body(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    read_request_full(reader).map(|r| (r.line, r.body))
}

/// One HTTP/1.1 request as read off a connection.
pub struct Request {
    pub line: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request with its headers and body; `None` when the client has gone.
pub fn read_request_full(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return None;
        }
        if header == "\r\n" {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let content_length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; content_length];
    let _ = reader.read_exact(&mut body);
    Some(Request {
        line,
        headers,
        body,
    })
}

fn api_newer(asked: &str, max: &str) -> bool {
    let parse = |v: &str| -> (u32, u32) {
        let (a, b) = v.split_once('.').unwrap_or((v, "0"));
        (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
    };
    parse(asked) > parse(max)
}

/// A socket that accepts connections and never answers: an engine that hangs.
pub struct HangingSocket {
    pub socket: PathBuf,
}

impl HangingSocket {
    pub fn listen(socket: &Path) -> HangingSocket {
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let listener = UnixListener::bind(socket).expect("bind hanging socket");
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        HangingSocket {
            socket: socket.to_path_buf(),
        }
    }

    pub fn uri(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

/// A `/version` answer made only from what a captured `/info` says (for engines whose
/// captures have no `docker version`): no product name is invented.
pub fn version_from_info(info: &Value) -> Value {
    serde_json::json!({
        "Version": info["ServerVersion"],
        "ApiVersion": "1.41",
        "MinAPIVersion": "1.12",
        "Os": info.get("OSType").cloned().unwrap_or(Value::String("linux".into())),
        "Arch": info["Architecture"],
        "KernelVersion": info["KernelVersion"],
        "Components": [{"Name": "Engine", "Version": info["ServerVersion"]}],
    })
}

/// The engine in a doctor document whose endpoint is `uri`.
pub fn engine<'a>(doc: &'a Value, uri: &str) -> &'a Value {
    doc["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == uri)
        .unwrap_or_else(|| panic!("no engine at {uri} in {:#}", doc["engines"]))
}

/// The kinds of the engines in a doctor document, in its order.
pub fn engine_kinds(doc: &Value) -> Vec<&str> {
    doc["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

/// dcmdump's verdict on `file` (dcmtk, an independent DICOM parser): its output, which must come
/// with no error or warning.
pub fn dcmdump(file: &Path) -> String {
    let out = std::process::Command::new("dcmdump")
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "dcmdump {}: {stderr}",
        file.display()
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

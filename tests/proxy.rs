//! Behind a proxy: korthbox's own HTTP requests go through the environment's proxy (absolute
//! form for plain HTTP), with the proxy's credentials, never for loopback or `NO_PROXY` hosts;
//! a proxy that refuses (407, 403) is said, naming the proxy with its credentials masked. The
//! Orthanc behind the proxy is Debian's, running the rendered configuration, under a host name
//! that only the proxy resolves, so a request that skipped the proxy cannot succeed.

mod support;

use std::process::Output;

use support::Sandbox;
use support::orthanc::{Local, dicom_file};
use support::proxy::Proxy;

const HOST: &str = "pacs.proxy-only.test";

struct Behind {
    local: Local,
    proxy: Proxy,
    file: std::path::PathBuf,
}

fn behind_a_proxy() -> Option<Behind> {
    let local = Local::start("pv", |_| {})?;
    let proxy = Proxy::start();
    proxy.host(HOST, local.orthanc.http);
    let file = dicom_file(&local.sandbox.path("pv"), "one", "7001");
    Some(Behind { local, proxy, file })
}

impl Behind {
    fn upload(&self, host: &str, vars: &[(&str, String)]) -> Output {
        let url = format!("http://{host}:{}", self.local.orthanc.http);
        let dicom = format!("127.0.0.1:{}", self.local.orthanc.dicom);
        let mut cmd = self.local.sandbox.command();
        cmd.args([
            "upload",
            self.file.to_str().unwrap(),
            "--url",
            &url,
            "--dicom",
            &dicom,
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", &self.local.orthanc.password);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn proxy_url(&self, credentials: &str) -> String {
        format!("http://{credentials}127.0.0.1:{}", self.proxy.port)
    }
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn requests_go_through_the_proxy_with_its_credentials() {
    let Some(b) = behind_a_proxy() else { return };
    b.proxy.require("alice", "s3cret-pass");
    let out = b.upload(HOST, &[("http_proxy", b.proxy_url("alice:s3cret-pass@"))]);
    let text = all_output(&out);
    assert!(
        out.status.success(),
        "{text}\nproxy saw: {:#?}",
        b.proxy.log()
    );
    assert!(text.contains("1 stored"), "{text}");
    let log = b.proxy.log();
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("POST http://{HOST}:"))
                && l.contains("/instances auth=Basic ")),
        "{log:#?}"
    );
    // The credentials are never in korthbox's output.
    assert!(!text.contains("s3cret-pass"), "{text}");

    // Upper case works too; `ALL_PROXY` stands in for a scheme without its own.
    for var in ["HTTP_PROXY", "ALL_PROXY"] {
        let before = b.proxy.log().len();
        let out = b.upload(HOST, &[(var, b.proxy_url("alice:s3cret-pass@"))]);
        assert!(out.status.success(), "{var}: {}", all_output(&out));
        assert!(b.proxy.log().len() > before, "{var} was not used");
    }
}

#[test]
fn a_proxy_that_refuses_is_named_with_its_credentials_masked() {
    let Some(b) = behind_a_proxy() else { return };
    b.proxy.require("alice", "right");
    let out = b.upload(HOST, &[("HTTP_PROXY", b.proxy_url("alice:wrong-pass@"))]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("407"), "{text}");
    assert!(!text.contains("wrong-pass"), "{text}");

    assert!(
        text.contains(&format!(
            "through proxy http://***@127.0.0.1:{}",
            b.proxy.port
        )),
        "{text}"
    );

    // A destination the proxy forbids: 403, said as the proxy's.
    b.proxy.deny(HOST);
    let out = b.upload(HOST, &[("HTTP_PROXY", b.proxy_url("alice:right@"))]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the proxy refused this destination (403 Forbidden)"),
        "{text}"
    );
    assert!(!text.contains("alice:right"), "{text}");
}

#[test]
fn loopback_and_no_proxy_hosts_skip_the_proxy() {
    let Some(b) = behind_a_proxy() else { return };
    // Loopback never goes through a proxy, even one that would refuse everything.
    b.proxy.deny("127.0.0.1");
    let out = b.upload("127.0.0.1", &[("HTTP_PROXY", b.proxy_url(""))]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(b.proxy.log().is_empty(), "{:#?}", b.proxy.log());

    // A NO_PROXY domain goes direct — where this host name does not resolve.
    for no_proxy in [".proxy-only.test", "pacs.proxy-only.test", "*"] {
        let out = b.upload(
            HOST,
            &[
                ("HTTP_PROXY", b.proxy_url("")),
                ("NO_PROXY", no_proxy.to_string()),
            ],
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "{no_proxy}: {}",
            all_output(&out)
        );
        assert!(b.proxy.log().is_empty(), "{no_proxy}: {:#?}", b.proxy.log());
    }
    // And with it through the proxy, the same host works.
    let out = b.upload(
        HOST,
        &[
            ("HTTP_PROXY", b.proxy_url("")),
            ("NO_PROXY", "localhost,127.0.0.1".into()),
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
}

// doctor's host.proxy: the shell's proxy against the engine's (captured /info bodies).
#[test]
fn doctor_holds_the_shells_proxy_against_the_engines() {
    needs_shared!();
    let check = |info: serde_json::Value, vars: &[(&str, &str)]| {
        let mut s = Sandbox::new();
        s.serve_docker_host("engine/docker.sock", info);
        for (k, v) in vars {
            s.set(k, v);
        }
        let (doc, out) = s.doctor_json(&[]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (support::check(&doc, "host.proxy").clone(), text)
    };
    let plain = support::fixture_json("docker-engine-linux-fedora-info.json");
    let colima = support::docker_text::info_json(&support::fixture("colima-info.txt"));

    // No proxy anywhere.
    let (c, _) = check(plain.clone(), &[]);
    assert_eq!(c["status"], "ok", "{c}");

    // The shell has one, the engine none: its pulls will fail; the fix is daemon.json.
    let (c, text) = check(
        plain.clone(),
        &[
            ("HTTPS_PROXY", "http://bob:hunter2@proxy.corp.example:3128"),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ],
    );
    assert_eq!(c["status"], "warn", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("http://***@proxy.corp.example:3128"),
        "{detail}"
    );
    assert!(detail.contains("Docker Engine has none"), "{detail}");
    assert!(c["fix"].as_str().unwrap().contains("daemon.json"), "{c}");
    assert!(!text.contains("hunter2"), "{text}");

    // Both have one (colima's engine goes through host.lima.internal:8118).
    let (c, _) = check(
        colima.clone(),
        &[
            ("https_proxy", "http://proxy.corp.example:3128"),
            ("no_proxy", "localhost,127.0.0.1,.corp.example"),
        ],
    );
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("engine: HTTPS http://host.lima.internal:8118"),
        "{c}"
    );

    // NO_PROXY without this machine.
    let (c, _) = check(
        colima,
        &[
            ("HTTPS_PROXY", "http://proxy.corp.example:3128"),
            ("NO_PROXY", ".corp.example"),
        ],
    );
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("NO_PROXY=.corp.example,localhost,127.0.0.1"),
        "{c}"
    );
}

// Against the real Docker Engine: what doctor says matches what `docker info` reports.
#[test]
fn doctor_reads_the_real_engines_proxy() {
    let docker = std::path::Path::new("/var/run/docker.sock").exists();
    if !support::real_part_available("Docker Engine at /var/run/docker.sock", docker) {
        return;
    }
    let engine_proxy = std::process::Command::new("docker")
        .args(["info", "--format", "{{.HTTPSProxy}}{{.HTTPProxy}}"])
        .output()
        .unwrap();
    let engine_has_one = !String::from_utf8_lossy(&engine_proxy.stdout)
        .trim()
        .is_empty();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_korthbox"))
        .args(["doctor", "--json"])
        .env("HTTPS_PROXY", "http://proxy.corp.example:3128")
        .env("NO_PROXY", "localhost,127.0.0.1")
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = support::check(&doc, "host.proxy");
    let expected = if engine_has_one { "ok" } else { "warn" };
    assert_eq!(c["status"], expected, "{c}");
}

// The drivers get the shell's proxy with NO_PROXY extended by this machine and the cluster's
// own addresses; plan says so with the credentials masked; nothing korthbox prints has them.
#[test]
fn the_drivers_get_the_proxy_and_the_clusters_own_addresses_in_no_proxy() {
    needs_shared!();
    for (driver, own) in [
        ("kind", "10.244.0.0/16"),
        ("k3d", "10.42.0.0/16"),
        ("minikube", "192.168.49.0/24"),
    ] {
        let mut s = support::stand_ins::with_docker_engine();
        s.set(
            "HTTPS_PROXY",
            "http://carol:pa55word@proxy.corp.example:3128",
        );
        s.set("NO_PROXY", ".corp.example");
        let plan = s.run(&["plan", "--driver", driver, "--only", "cluster", "-v"]);
        let said = String::from_utf8_lossy(&plan.stderr).to_string();
        assert!(
            said.contains("gets the shell's proxy (http://***@proxy.corp.example:3128)"),
            "{driver}: {said}"
        );
        assert!(!said.contains("pa55word"), "{driver}: {said}");
        let out = s.run(&["cluster", "create", "--driver", driver, "--wait", "1"]);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!printed.contains("pa55word"), "{driver}: {printed}");
        let calls = support::stand_ins::calls(&s);
        let create = calls
            .iter()
            .find(|c| c.line().contains("create") || c.line().contains("start"))
            .unwrap_or_else(|| panic!("{driver}: no create in {calls:?}"));
        assert_eq!(
            create.env("HTTPS_PROXY"),
            "http://carol:pa55word@proxy.corp.example:3128",
            "{driver}"
        );
        for (key, value) in [
            ("NO_PROXY", create.env("NO_PROXY")),
            ("no_proxy", create.env("no_proxy")),
        ] {
            let entries: Vec<&str> = value.split(',').collect();
            for wanted in [".corp.example", "localhost", "127.0.0.1", own] {
                assert!(entries.contains(&wanted), "{driver} {key}: {value}");
            }
        }
    }
    // Without a proxy in the shell, the drivers' NO_PROXY is left alone.
    let s = support::stand_ins::with_docker_engine();
    s.run(&["cluster", "create", "--driver", "kind", "--wait", "1"]);
    let calls = support::stand_ins::calls(&s);
    assert!(
        calls.iter().all(|c| c.env("NO_PROXY") == "<unset>"),
        "{calls:?}"
    );
}

// The Kubernetes client: a loopback API server never through a proxy; a remote one through the
// environment's proxy (CONNECT), or through its kubeconfig cluster's `proxy-url`.
#[test]
fn the_kubernetes_client_uses_a_proxy_only_for_remote_clusters() {
    needs_shared!();
    let api = support::kube_api::FakeApi::kind();
    let proxy = Proxy::start();
    proxy.host("api.proxy-only.test", api.port);
    let check = |server: &str, proxy_url: Option<String>, vars: &[(&str, String)]| {
        let mut s = Sandbox::new();
        let config = s.path("home/.kube/config");
        let proxy_line = proxy_url
            .map(|u| format!("    proxy-url: {u}\n"))
            .unwrap_or_default();
        s.write(
            "home/.kube/config",
            &format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n{proxy_line}contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: t\n"
            ),
        );
        s.set("KUBECONFIG", config.to_str().unwrap());
        for (k, v) in vars {
            s.set(k, v);
        }
        s.run(&["cluster", "check", "--context", "lab", "--wait", "5"])
    };
    let through = format!("http://127.0.0.1:{}", proxy.port);
    let remote = format!("http://api.proxy-only.test:{}", api.port);

    // Loopback: a dead proxy in the environment does not matter.
    let out = check(
        &api.url(),
        None,
        &[
            ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
            ("HTTP_PROXY", "http://127.0.0.1:9".into()),
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));

    // Remote: through the environment's proxy, with its credentials.
    proxy.require("dave", "k8s-pass");
    let out = check(
        &remote,
        None,
        &[(
            "HTTP_PROXY",
            format!("http://dave:k8s-pass@127.0.0.1:{}", proxy.port),
        )],
    );
    assert!(
        out.status.success(),
        "{}\n{:#?}",
        all_output(&out),
        proxy.log()
    );
    assert!(!all_output(&out).contains("k8s-pass"));
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.starts_with(&format!("CONNECT api.proxy-only.test:{}", api.port))),
        "{:#?}",
        proxy.log()
    );

    // Remote, exempted by NO_PROXY: direct, where the name does not resolve.
    let before = proxy.log().len();
    let out = check(
        &remote,
        None,
        &[
            ("HTTP_PROXY", through.clone()),
            ("NO_PROXY", ".proxy-only.test".into()),
        ],
    );
    assert!(!out.status.success(), "{}", all_output(&out));
    assert_eq!(proxy.log().len(), before, "{:#?}", proxy.log());

    // The kubeconfig's proxy-url, with no proxy in the environment.
    let out = check(
        &remote,
        Some(format!("http://dave:k8s-pass@127.0.0.1:{}", proxy.port)),
        &[],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(proxy.log().len() > before);
}

/// A certificate authority of the test's own and a server certificate it signed for `host`.
fn test_ca(
    dir: &std::path::Path,
    host: &str,
) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("san.ext"), format!("subjectAltName=DNS:{host}\n")).unwrap();
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=korthbox test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={host}"),
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    made.then(|| {
        (
            dir.join("ca.pem"),
            dir.join("server.pem"),
            dir.join("server.key"),
        )
    })
}

struct TlsServer(std::process::Child, u16);

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_server(files: &std::path::Path, cert: &std::path::Path, key: &std::path::Path) -> TlsServer {
    use std::io::BufRead;
    let mut child = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/tls_server.py"
        ))
        .args([files, cert, key])
        .arg("0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    TlsServer(child, port)
}

// `korthbox install` over HTTPS through the proxy's CONNECT, trusting a private CA given with
// SSL_CERT_FILE: the download goes through (it is a stand-in binary, so the pinned SHA-256
// refuses it — which proves it arrived), and without the CA, or without credentials, it
// does not.
#[test]
fn install_goes_through_connect_with_a_private_ca() {
    const HOST: &str = "downloads.proxy-only.test";
    let sandbox = Sandbox::new();
    let Some((ca, cert, key)) = test_ca(&sandbox.path("ca"), HOST) else {
        support::real_part_available("openssl, for a test CA", false);
        return;
    };
    // The release as the mirror serves it: kind's checksum file naming the pinned hash, and
    // a binary that is not kind.
    let files = sandbox.path("mirror");
    let release = files.join("kind/v0.33.0");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(
        release.join("kind-linux-amd64.sha256sum"),
        "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d  kind-linux-amd64\n",
    )
    .unwrap();
    std::fs::write(
        release.join("kind-linux-amd64"),
        b"#!/bin/sh\necho not kind\n",
    )
    .unwrap();
    let server = tls_server(&files, &cert, &key);
    let proxy = Proxy::start();
    proxy.host(HOST, server.1);
    proxy.require("erin", "tls-pass");
    let install = |vars: &[(&str, String)]| {
        let mut cmd = sandbox.command();
        cmd.args(["install", "kind"])
            .env(
                "KORTHBOX_DOWNLOAD_BASE",
                format!("https://{HOST}:{}", server.1),
            )
            .env("KORTHBOX_BIN_DIR", sandbox.path("bin-installed"));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let with_creds = format!("http://erin:tls-pass@127.0.0.1:{}", proxy.port);

    let out = install(&[
        ("HTTPS_PROXY", with_creds.clone()),
        ("SSL_CERT_FILE", ca.display().to_string()),
    ]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("does not match"),
        "the download did not arrive: {text}"
    );
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.starts_with(&format!("CONNECT {HOST}:{}", server.1))
                && l.contains("auth=Basic ")),
        "{:#?}",
        proxy.log()
    );
    assert!(!text.contains("tls-pass"), "{text}");
    assert!(!sandbox.path("bin-installed/kind").exists());

    // SSL_CERT_FILE adds to the system's store, not replaces it: with the private CA in the
    // system's bundle (under the host root korthbox reads) and an unrelated CA in
    // SSL_CERT_FILE, the server is still trusted.
    let other = test_ca(&sandbox.path("other-ca"), "unrelated.example")
        .unwrap()
        .0;
    let bundle = sandbox.path("root/etc/ssl/certs/ca-certificates.crt");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::copy(&ca, &bundle).unwrap();
    let out = install(&[
        ("HTTPS_PROXY", with_creds.clone()),
        ("SSL_CERT_FILE", other.display().to_string()),
    ]);
    let text = all_output(&out);
    assert!(
        text.contains("does not match"),
        "the system's bundle was dropped: {text}"
    );
    std::fs::remove_file(&bundle).unwrap();

    // Without the private CA, the server is not trusted.
    let out = install(&[("HTTPS_PROXY", with_creds)]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("does not match"), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    // Without credentials, the proxy's 407 is said, naming it.
    let out = install(&[
        ("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port)),
        ("SSL_CERT_FILE", ca.display().to_string()),
    ]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("407"), "{text}");
    assert!(
        text.contains(&format!("proxy http://127.0.0.1:{}", proxy.port)),
        "{text}"
    );
}

// 4. When the two cases of a variable disagree, the lower-case one is the proxy (curl's rule)
// for korthbox's own requests, for what it says, and for what the drivers are given.
#[test]
fn the_lower_case_proxy_variable_wins_everywhere() {
    needs_shared!();
    if let Some(b) = behind_a_proxy() {
        let out = b.upload(
            HOST,
            &[
                ("http_proxy", b.proxy_url("")),
                ("HTTP_PROXY", "http://127.0.0.1:9".to_string()),
            ],
        );
        let text = all_output(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 stored"), "{text}");
    }
    let mut s = support::stand_ins::with_docker_engine();
    s.set("https_proxy", "http://lower.corp.example:3128");
    s.set("HTTPS_PROXY", "http://upper.corp.example:3128");
    let plan = s.run(&["plan", "--driver", "kind", "--only", "cluster", "-v"]);
    let said = String::from_utf8_lossy(&plan.stderr).to_string();
    assert!(said.contains("lower.corp.example"), "{said}");
    assert!(!said.contains("upper.corp.example"), "{said}");
    s.run(&["cluster", "create", "--driver", "kind", "--wait", "1"]);
    let calls = support::stand_ins::calls(&s);
    let create = calls
        .iter()
        .find(|c| c.line().contains("create"))
        .expect("kind create");
    assert_eq!(create.env("HTTPS_PROXY"), "http://lower.corp.example:3128");
}

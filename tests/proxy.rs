//! Behind a proxy: korthbox's own HTTP requests go through the environment's proxy (absolute
//! form for plain HTTP), with the proxy's credentials, never for loopback or `NO_PROXY` hosts;
//! a proxy that refuses (407, 403) is said, naming the proxy with its credentials masked. The
//! Orthanc behind the proxy is Debian's, running the rendered configuration, under a host name
//! that only the proxy resolves, so a request that skipped the proxy cannot succeed.

mod support;

use std::process::Output;

use support::Sandbox;
use support::orthanc::{Orthanc, Postgres, available, dicom_file, render, start_orthanc};
use support::proxy::Proxy;

const HOST: &str = "pacs.proxy-only.test";

struct Behind {
    sandbox: Sandbox,
    orthanc: Orthanc,
    proxy: Proxy,
    file: std::path::PathBuf,
    _pg: Postgres,
}

fn behind_a_proxy() -> Option<Behind> {
    if !available() {
        return None;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path("orthanc");
    let rendered = render(&sandbox, "pv");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);
    let proxy = Proxy::start();
    proxy.host(HOST, orthanc.http);
    let file = dicom_file(&dir, "one", "7001");
    Some(Behind {
        sandbox,
        orthanc,
        proxy,
        file,
        _pg: pg,
    })
}

impl Behind {
    fn upload(&self, host: &str, vars: &[(&str, String)]) -> Output {
        let url = format!("http://{host}:{}", self.orthanc.http);
        let dicom = format!("127.0.0.1:{}", self.orthanc.dicom);
        let mut cmd = self.sandbox.command();
        cmd.args(["upload", self.file.to_str().unwrap(), "--url", &url, "--dicom", &dicom])
            .env("KORTHBOX_ORTHANC_PASSWORD", &self.orthanc.password);
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
    assert!(out.status.success(), "{text}\nproxy saw: {:#?}", b.proxy.log());
    assert!(text.contains("1 stored"), "{text}");
    let log = b.proxy.log();
    assert!(
        log.iter().any(|l| l.starts_with(&format!("POST http://{HOST}:")) && l.contains("/instances auth=Basic ")),
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

    assert!(text.contains(&format!("through proxy http://***@127.0.0.1:{}", b.proxy.port)), "{text}");

    // A destination the proxy forbids: 403, said as the proxy's.
    b.proxy.deny(HOST);
    let out = b.upload(HOST, &[("HTTP_PROXY", b.proxy_url("alice:right@"))]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the proxy refused this destination (403 Forbidden)"), "{text}");
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
        assert_ne!(out.status.code(), Some(0), "{no_proxy}: {}", all_output(&out));
        assert!(b.proxy.log().is_empty(), "{no_proxy}: {:#?}", b.proxy.log());
    }
    // And with it through the proxy, the same host works.
    let out = b.upload(HOST, &[("HTTP_PROXY", b.proxy_url("")), ("NO_PROXY", "localhost,127.0.0.1".into())]);
    assert!(out.status.success(), "{}", all_output(&out));
}

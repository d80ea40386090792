//! doctor against the real Docker Engine and the real Podman service running on this machine
//! (.ci/run starts both). Figures are compared with what each engine's own CLI reports.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Sandbox, engine, real_part_available};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";
const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

fn cli(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs doctor with DOCKER_HOST at `socket` (and the machine's own sockets, since the host
/// root is not re-rooted), and returns that engine's entry.
fn doctor_engine(socket: &str) -> serde_json::Value {
    let mut s = Sandbox::new();
    s.set("DOCKER_HOST", &format!("unix://{socket}"));
    s.set("KORTHBOX_HOST_ROOT", "/");
    let (doc, _) = s.doctor_json(&["--probe-timeout", "10"]);
    engine(&doc, &format!("unix://{socket}")).clone()
}

/// Asks the engine's own CLI (`program` with `base` arguments) for its server version and its
/// "CPUs memory" figures, then checks doctor reports the same for the engine at `socket`.
fn assert_doctor_matches_cli(
    what: &str,
    socket: &str,
    kind: &str,
    program: &str,
    base: &[&str],
    version_format: &str,
    figures_format: &str,
) {
    let ask = |command: &str, format: &str| {
        let mut args = base.to_vec();
        args.extend([command, "--format", format]);
        cli(program, &args)
    };
    let version = ask("version", version_format);
    if !real_part_available(what, Path::new(socket).exists() && version.is_some()) {
        return;
    }
    let figures = ask("info", figures_format).expect("the engine's CLI answers info");
    let figures: Vec<i64> = figures
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let (cpus, memory) = (figures[0], figures[1]);
    assert!(cpus > 0 && memory > 0);

    let e = doctor_engine(socket);
    assert_eq!(e["state"], "reachable", "{e:#}");
    assert_eq!(e["kind"], kind);
    assert_eq!(e["server_version"], version.unwrap().as_str());
    assert_eq!(e["resources"]["cpus"], cpus);
    assert_eq!(e["resources"]["memory_bytes"], memory);
}

#[test]
fn real_docker_engine() {
    let host = format!("unix://{DOCKER_SOCKET}");
    assert_doctor_matches_cli(
        "a running Docker Engine at /var/run/docker.sock",
        DOCKER_SOCKET,
        "docker-engine",
        "docker",
        &["-H", &host],
        "{{.Server.Version}}",
        "{{.NCPU}} {{.MemTotal}}",
    );
    if let Some(cgroup) = cli(
        "docker",
        &["-H", &host, "info", "--format", "{{.CgroupVersion}}"],
    ) {
        assert_eq!(
            doctor_engine(DOCKER_SOCKET)["resources"]["cgroup_version"],
            cgroup.as_str()
        );
    }
}

#[test]
fn real_podman_service() {
    let url = format!("unix://{PODMAN_SOCKET}");
    assert_doctor_matches_cli(
        "a running Podman service at /run/podman/podman.sock",
        PODMAN_SOCKET,
        "podman",
        "podman",
        &["--remote", "--url", &url],
        "{{.Server.Version}}",
        "{{.Host.CPUs}} {{.Host.MemTotal}}",
    );
}

#[test]
fn real_engines_are_both_found_without_docker_host() {
    let both = Path::new(DOCKER_SOCKET).exists() && Path::new(PODMAN_SOCKET).exists();
    if !real_part_available("Docker Engine and Podman sockets", both) {
        return;
    }
    let mut s = Sandbox::new();
    s.set("KORTHBOX_HOST_ROOT", "/");
    let (doc, _) = s.doctor_json(&["--probe-timeout", "10"]);
    let kinds = support::engine_kinds(&doc);
    assert!(
        kinds.contains(&"docker-engine") && kinds.contains(&"podman"),
        "{kinds:?}"
    );
    // Podman, not the engine korthbox uses, was only pinged: its headers still name it and
    // its version, as `podman version` does.
    let podman = doc["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "podman")
        .unwrap();
    assert_eq!(podman["asked"], "ping", "{podman:#}");
    if let Some(version) = cli(
        "podman",
        &[
            "--remote",
            "--url",
            &format!("unix://{PODMAN_SOCKET}"),
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    ) {
        assert_eq!(podman["server_version"], version.trim(), "{podman:#}");
    }
    // Docker's socket comes first in preference order and is the one checked.
    assert_eq!(
        doc["engines"][0]["endpoint"],
        format!("unix://{DOCKER_SOCKET}")
    );
    let disk = support::check(&doc, "engine.disk");
    assert_ne!(
        disk["status"], "skip",
        "a local Docker Engine's disk is measured: {disk:#}"
    );
    assert!(
        disk["detail"]
            .as_str()
            .unwrap()
            .contains("free at /var/lib/docker"),
        "{disk:#}"
    );
}

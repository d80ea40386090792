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
    let (doc, _) = s.doctor_json(&["--timeout", "10"]);
    engine(&doc, &format!("unix://{socket}")).clone()
}

#[test]
fn real_docker_engine() {
    let version = cli(
        "docker",
        &[
            "-H",
            &format!("unix://{DOCKER_SOCKET}"),
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    );
    if !real_part_available(
        "a running Docker Engine at /var/run/docker.sock",
        Path::new(DOCKER_SOCKET).exists() && version.is_some(),
    ) {
        return;
    }
    let version = version.unwrap();
    let figures = cli(
        "docker",
        &[
            "-H",
            &format!("unix://{DOCKER_SOCKET}"),
            "info",
            "--format",
            "{{.NCPU}} {{.MemTotal}} {{.CgroupVersion}}",
        ],
    )
    .unwrap();
    let mut parts = figures.split_whitespace();
    let (cpus, memory, cgroup): (i64, i64, &str) = (
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap(),
    );

    let e = doctor_engine(DOCKER_SOCKET);
    assert_eq!(e["state"], "reachable", "{e:#}");
    assert_eq!(e["kind"], "docker-engine");
    assert_eq!(e["server_version"], version.as_str());
    assert_eq!(e["resources"]["cpus"], cpus);
    assert_eq!(e["resources"]["memory_bytes"], memory);
    assert_eq!(e["resources"]["cgroup_version"], cgroup);
    assert!(memory > 0 && cpus > 0);
}

#[test]
fn real_podman_service() {
    let url = format!("unix://{PODMAN_SOCKET}");
    let version = cli(
        "podman",
        &[
            "--remote",
            "--url",
            &url,
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    );
    if !real_part_available(
        "a running Podman service at /run/podman/podman.sock",
        Path::new(PODMAN_SOCKET).exists() && version.is_some(),
    ) {
        return;
    }
    let version = version.unwrap();
    let figures = cli(
        "podman",
        &[
            "--remote",
            "--url",
            &url,
            "info",
            "--format",
            "{{.Host.CPUs}} {{.Host.MemTotal}}",
        ],
    )
    .unwrap();
    let mut parts = figures.split_whitespace();
    let (cpus, memory): (i64, i64) = (
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );

    let e = doctor_engine(PODMAN_SOCKET);
    assert_eq!(e["state"], "reachable", "{e:#}");
    assert_eq!(e["kind"], "podman");
    assert_eq!(e["server_version"], version.as_str());
    assert_eq!(e["resources"]["cpus"], cpus);
    assert_eq!(e["resources"]["memory_bytes"], memory);
}

#[test]
fn real_engines_are_both_found_without_docker_host() {
    let both = Path::new(DOCKER_SOCKET).exists() && Path::new(PODMAN_SOCKET).exists();
    if !real_part_available("Docker Engine and Podman sockets", both) {
        return;
    }
    let mut s = Sandbox::new();
    s.set("KORTHBOX_HOST_ROOT", "/");
    let (doc, _) = s.doctor_json(&["--timeout", "10"]);
    let kinds: Vec<&str> = doc["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"docker-engine") && kinds.contains(&"podman"),
        "{kinds:?}"
    );
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

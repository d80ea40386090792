//! Two figures of `up`:
//!
//! 1. The stack phase when components take time to be ready: the fake API server makes
//!    PostgreSQL ready 20 s after it is applied, MinIO 10 s, Orthanc 15 s after PostgreSQL
//!    (its init container waits for the database). The longest chain is PostgreSQL → Orthanc,
//!    35 s; applied one after the other it is the sum. `korthbox stack apply --storage minio`
//!    (MinIO's bucket made in moto) is timed; with OLD_KORTHBOX, so is that build's.
//! 2. `up` on a sandbox that is already up: stand-in kind, the fake API server, a captured
//!    Docker Engine at DOCKER_HOST with this machine's Docker Engine and Podman service found
//!    beside it, and a real Orthanc behind the port-forwards for the proof. Median of RUNS,
//!    with each phase.
//!
//!     cargo bench --bench up_again              # RUNS=11 SCALE=1 (SCALE multiplies the delays)
//!
//! Needs what CI installs: Docker Engine, Orthanc with its plugins, PostgreSQL 15, moto.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::kube_api::FakeApi;
use support::s3::Moto;
use support::world::World;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `stack apply` with the delays, by `binary` (the one built here when `None`).
fn stack_with_delays(binary: Option<&str>, scale: f64) -> f64 {
    let mut sandbox = support::Sandbox::new();
    let api = FakeApi::kind();
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), "kind-korthbox");
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    let moto = Moto::start(&sandbox.path(""), false);
    api.forward(9000, moto.port);
    let secs = |s: f64| Duration::from_secs_f64(s * scale);
    let postgres = "/apis/apps/v1/namespaces/korthbox/statefulsets/postgres";
    api.ready_after(postgres, secs(20.0), None);
    api.ready_after(
        "/apis/apps/v1/namespaces/korthbox/deployments/minio",
        secs(10.0),
        None,
    );
    api.ready_after(
        "/apis/apps/v1/namespaces/korthbox/deployments/orthanc",
        secs(15.0),
        Some(postgres),
    );
    let mut cmd = match binary {
        None => sandbox.command(),
        Some(path) => {
            let mut cmd = std::process::Command::new(path);
            cmd.env_clear();
            for (k, v) in sandbox.command().get_envs() {
                if let Some(v) = v {
                    cmd.env(k, v);
                }
            }
            cmd
        }
    };
    cmd.args([
        "stack",
        "apply",
        "--context",
        "kind-korthbox",
        "--wait",
        "120",
        "--storage",
        "minio",
    ]);
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ready = std::path::Path::new("/var/run/docker.sock").exists()
        && support::orthanc::available()
        && support::s3::available();
    if !ready {
        eprintln!("up_again: needs Docker Engine, Orthanc, PostgreSQL and moto (see README)");
        return;
    }
    let runs = env_num("RUNS", 11.0) as usize;
    let scale = env_num("SCALE", 1.0);

    let took = stack_with_delays(None, scale);
    let chain = 35.0 * scale;
    println!(
        "stack phase with readiness delays (PostgreSQL {:.0} s, MinIO {:.0} s, Orthanc {:.0} s after PostgreSQL):",
        20.0 * scale,
        10.0 * scale,
        15.0 * scale
    );
    println!(
        "  korthbox stack apply               {took:6.1} s  ({:.2}× the longest chain, {chain:.0} s; the sum is {:.0} s)",
        took / chain,
        45.0 * scale
    );
    if let Ok(old) = std::env::var("OLD_KORTHBOX") {
        let before = stack_with_delays(Some(&old), scale);
        println!(
            "  {old} stack apply   {before:6.1} s  ({:.2}× the chain)",
            before / chain
        );
    }

    // The nodes' engine is a captured Docker Engine (its images "already there"); the host root
    // is this machine's, so the real Docker Engine and Podman service are found beside it.
    let mut world = World::new().unwrap();
    world.sandbox.set("KORTHBOX_HOST_ROOT", "/");
    let first = world.run("up", &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let mut walls = Vec::new();
    let mut phases: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for _ in 0..runs {
        let started = Instant::now();
        let out = world.run("up", &["--json"]);
        walls.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["changed"], 0);
        for p in summary["phases"].as_array().unwrap() {
            phases
                .entry(p["phase"].as_str().unwrap().to_string())
                .or_default()
                .push(p["seconds"].as_f64().unwrap());
        }
        for s in summary["proof"]["steps"].as_array().unwrap() {
            phases
                .entry(format!("  proof step {}", s["name"].as_str().unwrap()))
                .or_default()
                .push(s["seconds"].as_f64().unwrap());
        }
    }
    println!("up on a sandbox that is already up, median of {runs} runs:");
    println!(
        "  wall time                          {:6.3} s",
        median(walls)
    );
    for (phase, times) in phases {
        println!("    {phase:<45} {:6.3} s", median(times));
    }
}

//! `korthbox reset --keep-cluster` against its floor: the namespace's deletion plus the stack's
//! longest readiness chain, which no reset that deletes the data can beat.
//!
//! A sandbox is brought up (stand-in kind, the fake API server, a real Orthanc on a real
//! PostgreSQL behind the port-forwards); then the fake keeps a deleted namespace Terminating
//! for 5 s and makes PostgreSQL ready 20 s after it is applied and Orthanc 15 s after
//! PostgreSQL — so the floor is 5 + 35 = 40 s (×SCALE). `reset --keep-cluster --yes` is timed,
//! proof included; the goal is at most 1.1× the floor.
//!
//!     cargo bench --bench reset_keep_cluster      # RUNS=3 SCALE=1
//!
//! Needs what CI installs: Docker Engine, Orthanc with its plugins, PostgreSQL 15.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::time::{Duration, Instant};

use support::world::World;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !support::orthanc::available() {
        eprintln!("reset_keep_cluster: needs Orthanc and PostgreSQL (see CONTRIBUTING in README)");
        return;
    }
    let runs = env_num("RUNS", 3.0) as usize;
    let scale = env_num("SCALE", 1.0);
    let secs = |s: f64| Duration::from_secs_f64(s * scale);
    let world = World::new().unwrap();
    let first = world.run("up", &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    world.api.namespace_deletion_takes(secs(5.0));
    let postgres = "/apis/apps/v1/namespaces/korthbox/statefulsets/postgres";
    world.api.ready_after(postgres, secs(20.0), None);
    world.api.ready_after(
        "/apis/apps/v1/namespaces/korthbox/deployments/orthanc",
        secs(15.0),
        Some(postgres),
    );
    let floor = 40.0 * scale;
    let mut walls = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let out = world.run("reset", &["--keep-cluster", "--yes", "--wait", "300"]);
        walls.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    walls.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = walls[walls.len() / 2];
    println!(
        "reset --keep-cluster, median of {runs} runs: {median:.1} s = {:.3}× the floor of {floor:.0} s (namespace Terminating {:.0} s + PostgreSQL {:.0} s → Orthanc {:.0} s); runs {walls:.1?}",
        median / floor,
        5.0 * scale,
        20.0 * scale,
        15.0 * scale
    );
}

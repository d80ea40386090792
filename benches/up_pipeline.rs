//! The `up` pipeline: stand-in kind whose create takes a fixed time, a local docker-registry
//! serving two images of a chosen size, the real Docker Engine pulling them, the fake API server
//! and a real Orthanc behind it for the proof. Shows the image pulls overlapping cluster
//! creation: total time against create time + pull time.
//!
//!     cargo bench --bench up_pipeline            # CREATE_SECONDS=5 IMAGE_MB=64 RUNS=3
//!
//! Needs what CI installs: Docker Engine at /var/run/docker.sock, docker-registry, Orthanc with
//! its PostgreSQL plugins, PostgreSQL 15.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::time::Instant;

use serde_json::Value;
use support::world::{World, docker, start_registry};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn phase(summary: &Value, prefix: &str) -> (f64, f64) {
    let p = summary["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no phase {prefix}: {summary:#}"));
    (p["start"].as_f64().unwrap(), p["seconds"].as_f64().unwrap())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ready = std::path::Path::new("/var/run/docker.sock").exists()
        && std::path::Path::new("/usr/bin/docker-registry").exists()
        && support::orthanc::available();
    if !ready {
        eprintln!(
            "up_pipeline: needs Docker Engine, docker-registry, Orthanc and PostgreSQL (see bench/README)"
        );
        return;
    }
    let create = env_num("CREATE_SECONDS", 5);
    let mb = env_num("IMAGE_MB", 64) as usize;
    let runs = env_num("RUNS", 3);
    let mut world = World::with_engine(Some("unix:///var/run/docker.sock")).unwrap();
    let registry = start_registry(&world.sandbox);
    let mirror = format!("127.0.0.1:{}", registry.port);
    let mut flags = support::world::mirrored_stack(&world.sandbox, &registry, mb << 20);
    flags.extend(["--wait".to_string(), "60".into()]);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let forget_images = || {
        for repo in ["orthancteam/orthanc", "library/postgres"] {
            let _ = docker(&["rmi", "-f", &format!("{mirror}/{repo}:kb-test")]);
        }
    };
    let mut run = |sleep: u64| -> (f64, Value) {
        forget_images();
        world.sandbox.set("STANDIN_SLEEP", &sleep.to_string());
        let _ = world.run("down", &["--yes"]);
        let started = Instant::now();
        let out = world.run("up", &args);
        let wall = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (wall, serde_json::from_slice(&out.stdout).unwrap())
    };

    let (mut alone, mut creates, mut pulls, mut totals, mut overlaps) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        // The pulls on their own: a create that takes no time.
        let (_, s) = run(0);
        alone.push(phase(&s, "Pulling images").1);
        // The pipeline: pulls during a create of CREATE_SECONDS.
        let (wall, s) = run(create);
        let (c_start, c) = phase(&s, "Creating kind cluster");
        let (p_start, p) = phase(&s, "Pulling images");
        creates.push(c);
        pulls.push(p);
        totals.push(wall);
        overlaps.push(((c_start + c).min(p_start + p) - c_start.max(p_start)).max(0.0));
    }
    // A warm cache downloads nothing.
    world.sandbox.set("STANDIN_SLEEP", "0");
    let _ = world.run("down", &["--yes"]);
    let out = world.run("up", &args);
    let warm: Value = serde_json::from_slice(&out.stdout).unwrap();
    let downloaded = warm["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["pulled"] == true)
        .count();
    forget_images();

    let (pull_alone, create, pull, total, overlap) = (
        median(alone),
        median(creates),
        median(pulls),
        median(totals),
        median(overlaps),
    );
    println!("up pipeline, median of {runs} runs, 2 images of {mb} MiB from a local registry:");
    println!("  pulls alone (instant create)      {pull_alone:6.1} s");
    println!("  create (stand-in kind, fixed)     {create:6.1} s");
    println!("  pulls during create               {pull:6.1} s");
    println!("  overlap of create and pulls       {overlap:6.1} s");
    println!("  up total, wall                    {total:6.1} s");
    println!(
        "  create + pulls if sequential      {:6.1} s  (the overlap saves {:.1} s)",
        create + pull_alone,
        create + pull_alone - create.max(pull)
    );
    println!("  warm cache: {downloaded} images downloaded");
}

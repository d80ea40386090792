//! The proof's time: `korthbox prove --url` against a local Orthanc (Debian's, running the
//! configuration korthbox renders, on a real PostgreSQL), and the sandbox's `korthbox prove`
//! through the fake API server's port-forwards and exec to the same kind of Orthanc. Reports
//! the median wall time of the command and of each step.
//!
//!     cargo bench --bench proof                  # RUNS=11
//!     OLD_KORTHBOX=path/to/korthbox cargo bench --bench proof
//!
//! With OLD_KORTHBOX (a build of an earlier korthbox), its sandbox `prove` is timed on the same
//! world, for comparison. Needs Orthanc with its PostgreSQL and DICOMweb plugins, PostgreSQL 15.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use support::orthanc::{Postgres, available, render, start_orthanc};
use support::world::World;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Runs `cmd` `runs` times: the wall times, and each step's times from its JSON.
fn time(
    runs: usize,
    mut cmd: impl FnMut() -> std::process::Command,
) -> (Vec<f64>, BTreeMap<String, Vec<f64>>) {
    let (mut walls, mut steps) = (Vec::new(), BTreeMap::<String, Vec<f64>>::new());
    for _ in 0..runs {
        let started = Instant::now();
        let out = cmd().output().unwrap();
        walls.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(doc) = serde_json::from_slice::<Value>(&out.stdout) {
            for s in doc["steps"].as_array().into_iter().flatten() {
                steps
                    .entry(s["name"].as_str().unwrap().to_string())
                    .or_default()
                    .push(s["seconds"].as_f64().unwrap_or(0.0));
            }
        }
    }
    (walls, steps)
}

fn report(title: &str, runs: usize, (walls, steps): (Vec<f64>, BTreeMap<String, Vec<f64>>)) {
    println!("{title}, median of {runs} runs:");
    println!("  wall time of the command         {:7.3} s", median(walls));
    for name in [
        "echo", "store", "find", "read", "dicomweb", "storage", "cleanup",
    ] {
        if let Some(times) = steps.get(name) {
            println!(
                "    {name:<10}                     {:7.3} s",
                median(times.clone())
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !available() {
        eprintln!("proof: needs Orthanc with its PostgreSQL and DICOMweb plugins, PostgreSQL 15");
        return;
    }
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);

    // Any Orthanc: korthbox prove --url … --dicom ….
    let sandbox = support::Sandbox::new();
    let dir = sandbox.path("pv");
    let rendered = render(&sandbox, "pv");
    let pg = Postgres::start(&dir.join("pg"), &rendered.postgres_password);
    let orthanc = start_orthanc(&dir, &rendered, &pg);
    let url = format!("http://127.0.0.1:{}", orthanc.http);
    let dicom = format!("127.0.0.1:{}", orthanc.dicom);
    let aet = rendered.config["DicomAet"].as_str().unwrap().to_string();
    let direct = time(runs, || {
        let mut cmd = sandbox.command();
        cmd.args([
            "prove", "--url", &url, "--dicom", &dicom, "--aet", &aet, "--json",
        ])
        .env("KORTHBOX_ORTHANC_PASSWORD", &orthanc.password);
        cmd
    });
    report(
        "korthbox prove --url (local Orthanc, pv mode)",
        runs,
        direct,
    );

    // The sandbox: port-forwards and exec through the fake API server.
    let world = World::new().unwrap();
    let up = world.run("up", &[]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let sandboxed = time(runs, || {
        let mut cmd = world.sandbox.command();
        cmd.args(["prove", "--json"]);
        cmd
    });
    report(
        "korthbox prove (sandbox through the fake API server)",
        runs,
        sandboxed,
    );

    if let Ok(old) = std::env::var("OLD_KORTHBOX") {
        let before = time(runs, || {
            let cmd = world.sandbox.command();
            let mut old_cmd = std::process::Command::new(&old);
            old_cmd.env_clear();
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v {
                    old_cmd.env(k, v);
                }
            }
            old_cmd.arg("prove");
            old_cmd
        });
        report(&format!("{old} prove (the same sandbox)"), runs, before);
    }
}

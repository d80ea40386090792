//! The real thing, on a workstation with internet: skipped unless KORTHBOX_E2E names a driver
//! (`kind`, `k3d` or `minikube`). See README.md, "End-to-end tests".
//!
//! What runs: `korthbox doctor` must pass every blocking check for that driver; then
//! `korthbox up` brings a real sandbox `korthbox-e2e` up with that driver and its proof must
//! pass; `status` must say healthy with 3 containerd nodes; a second `up` must change nothing;
//! on kind and k3d Orthanc must answer on the mapped host port; `down --yes` twice (the second
//! finding nothing) leaves it absent.

use std::process::Command;

const KORTHBOX_E2E: &str = "KORTHBOX_E2E";
/// Where the first `up`'s JSON summary (with each phase's seconds) is written, when set: the
/// GitHub Actions job (.github/workflows/e2e.yml) uploads it.
const KORTHBOX_E2E_OUT: &str = "KORTHBOX_E2E_OUT";

fn driver() -> Option<String> {
    let value = std::env::var(KORTHBOX_E2E).ok()?;
    assert!(
        ["kind", "k3d", "minikube"].contains(&value.as_str()),
        "{KORTHBOX_E2E}={value:?}: use kind, k3d or minikube"
    );
    Some(value)
}

#[test]
fn doctor_passes_on_this_workstation() {
    let Some(driver) = driver() else {
        eprintln!("skipped: set {KORTHBOX_E2E}=kind|k3d|minikube to run the end-to-end suite");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_korthbox"))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    let failed: Vec<_> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(failed.is_empty(), "doctor failed checks: {failed:#?}");
    let tool = doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == driver.as_str())
        .unwrap();
    assert!(
        tool["version"].is_string(),
        "{driver} is not installed: {tool:#}"
    );
    assert_eq!(out.status.code(), Some(0));
}

fn korthbox(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_korthbox"))
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ korthbox {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_real_sandbox_comes_up_proves_itself_and_goes_away() {
    let Some(driver) = driver() else {
        eprintln!("skipped: set {KORTHBOX_E2E}=kind|k3d|minikube to run the end-to-end suite");
        return;
    };
    let name = "korthbox-e2e";
    // Other ports than a developer's own sandbox, so both can exist.
    let up = [
        "up",
        "--json",
        "--driver",
        &driver,
        "--name",
        name,
        "--http-port",
        "18042",
        "--dicom-port",
        "14242",
        "--api-server-port",
        "16443",
        "--wait",
        "900",
    ];
    let out = korthbox(&up);
    assert!(out.status.success(), "up failed");
    // The summary with each phase's seconds, kept where the CI job uploads it from.
    if let Ok(dir) = std::env::var(KORTHBOX_E2E_OUT) {
        let file = std::path::Path::new(&dir).join(format!("up-{driver}.json"));
        std::fs::write(&file, &out.stdout).unwrap();
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(summary["proof"]["passed"], true, "{summary:#}");
    assert_eq!(summary["cluster_created"], true);

    let out = korthbox(&["status", "--json", "--name", name]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"], "healthy", "{status:#}");
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "1 control plane + 2 workers");
    assert!(nodes.iter().all(|n| {
        n["container_runtime"]
            .as_str()
            .unwrap()
            .starts_with("containerd://")
    }));

    // Again: nothing changes, the proof passes again.
    let out = korthbox(&up);
    assert!(out.status.success(), "second up failed");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["changed"], 0, "{summary:#}");

    if matches!(driver.as_str(), "kind" | "k3d") {
        // The host port mapping reaches Orthanc without any forward.
        let password = String::from_utf8(korthbox(&["password", "--name", name]).stdout).unwrap();
        let out = Command::new("curl")
            .args([
                "-fsS",
                "-u",
                &format!("admin:{}", password.trim()),
                "http://127.0.0.1:18042/system",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "Orthanc through 127.0.0.1:18042");
    }

    later_life(&driver, name);

    for _ in 0..2 {
        let out = korthbox(&["down", "--yes", "--driver", &driver, "--name", name]);
        assert!(out.status.success(), "down failed");
    }
    let out = korthbox(&["status", "--json", "--name", name]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"], "absent");
}

/// Issues 24 and 25 on the real sandbox: stop keeps everything and start brings it back proven;
/// a reset that keeps the cluster and the studies; then two Orthancs with their files in
/// PostgreSQL, the proof reading the file back through each.
fn later_life(driver: &str, name: &str) {
    let target = ["--driver", driver, "--name", name];
    let ports = [
        "--http-port",
        "18042",
        "--dicom-port",
        "14242",
        "--api-server-port",
        "16443",
    ];
    let out = korthbox(&[&["samples", "--studies", "1"][..], &target].concat());
    assert!(out.status.success(), "samples failed");
    let out = korthbox(&[&["stop"][..], &target].concat());
    assert!(out.status.success(), "stop failed");
    let out = korthbox(&[&["status", "--json"][..], &target].concat());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"], "stopped", "{status:#}");
    let out = korthbox(&[&["start", "--json", "--wait", "900"][..], &target, &ports].concat());
    assert!(out.status.success(), "start failed");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["proof"]["passed"], true, "{summary:#}");

    let reset = [
        "reset",
        "--yes",
        "--keep-cluster",
        "--keep-studies",
        "--json",
        "--wait",
        "900",
    ];
    let out = korthbox(&[&reset[..], &target, &ports].concat());
    assert!(
        out.status.success(),
        "reset --keep-cluster --keep-studies failed"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("64 instances back in Orthanc"), "{err}");

    let several = ["--orthanc-storage", "postgres", "--orthanc-replicas", "2"];
    let out = korthbox(
        &[
            &reset[..3],
            &["--json", "--wait", "900"],
            &target,
            &ports,
            &several,
        ]
        .concat(),
    );
    assert!(out.status.success(), "two Orthancs failed");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = summary["proof"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "read")
        .unwrap()["detail"]
        .to_string();
    assert!(
        read.contains("the same file through each Orthanc"),
        "{read}"
    );
    let out = korthbox(&[&["status", "--json"][..], &target].concat());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["instances"].as_array().map(Vec::len),
        Some(2),
        "{status:#}"
    );
}

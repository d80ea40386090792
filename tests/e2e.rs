//! The real thing, on a workstation with internet: skipped unless KORTHBOX_E2E names a driver
//! (`kind`, `k3d` or `minikube`). See README.md, "End-to-end tests".
//!
//! What runs: `korthbox doctor` must pass every blocking check for that driver; then a real
//! cluster named `korthbox-e2e` is created with that driver, must pass the cluster checks
//! (2+ nodes, all Ready, containerd), is listed, gets the stack applied (PostgreSQL and Orthanc
//! ready) twice (the second changing nothing), and is deleted (twice: the second delete finds
//! nothing and still succeeds).

use std::process::Command;

const KORTHBOX_E2E: &str = "KORTHBOX_E2E";

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
fn a_real_cluster_is_created_checked_and_deleted() {
    let Some(driver) = driver() else {
        eprintln!("skipped: set {KORTHBOX_E2E}=kind|k3d|minikube to run the end-to-end suite");
        return;
    };
    let name = "korthbox-e2e";
    // Other ports than a developer's own sandbox, so both can exist.
    let spec = [
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
    ];
    let mut create = vec!["cluster", "create", "--json"];
    create.extend(spec);
    let out = korthbox(&create);
    assert!(out.status.success(), "create failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "1 control plane + 2 workers");
    assert!(nodes.iter().all(|n| n["ready"] == true));
    assert!(nodes.iter().all(|n| {
        n["container_runtime"]
            .as_str()
            .unwrap()
            .starts_with("containerd://")
    }));

    let out = korthbox(&["cluster", "list", "--json", "--driver", &driver]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|c| c["name"] == name));

    // The stack, for real: pulled, scheduled, ready; then applied again with nothing to change.
    let apply = [
        "stack", "apply", "--driver", &driver, "--name", name, "--wait", "900", "--json",
    ];
    let out = korthbox(&apply);
    assert!(out.status.success(), "stack apply failed");
    let out = korthbox(&apply);
    assert!(out.status.success(), "second stack apply failed");
    let applied: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        applied
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["change"] == "unchanged" || a["change"] == "kept"),
        "a second apply changed something: {applied:#}"
    );

    for _ in 0..2 {
        let out = korthbox(&["cluster", "delete", "--driver", &driver, "--name", name]);
        assert!(out.status.success(), "delete failed");
    }
    let out = korthbox(&["cluster", "list", "--json", "--driver", &driver]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!listed.as_array().unwrap().iter().any(|c| c["name"] == name));
}

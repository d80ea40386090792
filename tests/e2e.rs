//! The real thing, on a workstation with internet: skipped unless KORTHBOX_E2E names a driver
//! (`kind`, `k3d` or `minikube`). See README.md, "End-to-end tests".
//!
//! What runs today: `korthbox doctor` on the real host must pass every blocking check for
//! that driver. Cluster creation joins this suite with the drivers.

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

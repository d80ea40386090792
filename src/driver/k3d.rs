//! k3d: k3s in Docker (or Podman through its Docker API), servers and agents as containers.

use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use super::api::{Definition, Driver, DriverKind, InstallCommands, NodeProvider, ToolFacts, words};
use super::cgroup::Need;
use super::common::KubeVersion;
use crate::base::spec::{ClusterSpec, DICOM_NODE_PORT, HTTP_NODE_PORT, SandboxName};
use crate::base::template::{self, Vars};
use crate::host::tools::ToolName;
use crate::kube::stack::images::ImageRef;

const TEMPLATE: &str = include_str!("../../drivers/k3d.yaml");
pub const FILE_NAME: &str = "k3d.yaml";

use crate::base::pins::{DEFAULT_K3S_IMAGE, K3S_IMAGE};
pub use crate::base::pins::{DEFAULT_K3S_VERSION, K3D_RELEASE as RELEASE};

const INSTALL: InstallCommands = InstallCommands {
    macos: "`brew install k3d`",
    windows: "`choco install k3d`",
    linux: "`curl -Lo k3d https://github.com/k3d-io/k3d/releases/download/{version}/k3d-linux-{arch} && sudo install k3d /usr/local/bin/`",
};

pub struct K3d;

/// The k3s argument that lets a Kubernetes 1.35+ kubelet run on cgroup v1.
const ALLOW_CGROUP_V1: &str = "--kubelet-arg=fail-cgroupv1=false";

/// What the nodes need on the engine's cgroup version (the k3s release's Kubernetes).
fn cgroup_need(spec: &ClusterSpec, provider: &NodeProvider) -> Result<Need, String> {
    let version = spec
        .kubernetes_version
        .as_deref()
        .unwrap_or(DEFAULT_K3S_VERSION);
    let core = version.split(['+', '-']).next().unwrap_or(version);
    Need::of(provider.cgroup, core)
}

/// The k3s image for a Kubernetes version: `v1.35.3` → `rancher/k3s:v1.35.3-k3s1`; a k3s
/// release (`v1.35.3+k3s2`) is taken as written.
pub fn k3s_image(version: Option<&str>) -> Result<String, String> {
    let text = version.unwrap_or(DEFAULT_K3S_VERSION);
    if text == DEFAULT_K3S_VERSION {
        return Ok(DEFAULT_K3S_IMAGE.to_string());
    }
    let (core, build) = match text.split_once(['+', '-']) {
        Some((core, build)) if build.starts_with("k3s") => (core, build),
        _ => (text, "k3s1"),
    };
    let v = KubeVersion::parse(core)?;
    if v.patch.is_none() {
        return Err(format!(
            "k3s images are published per patch release: write the full version, such as {}.1",
            v
        ));
    }
    Ok(format!("{K3S_IMAGE}:{v}-{build}"))
}

#[derive(Deserialize)]
struct ListedCluster {
    name: String,
}

impl Driver for K3d {
    fn kind(&self) -> DriverKind {
        DriverKind::K3d
    }

    fn tool(&self) -> Option<ToolName> {
        Some(ToolName::K3d)
    }

    fn default_kubernetes_version(&self) -> &'static str {
        DEFAULT_K3S_VERSION
    }

    fn pinned_images(&self) -> Vec<&'static str> {
        vec![DEFAULT_K3S_IMAGE]
    }

    fn node_images(&self, spec: &ClusterSpec, _provider: &NodeProvider) -> Vec<String> {
        k3s_image(spec.kubernetes_version.as_deref())
            .map(|image| vec![ImageRef::parse(&spec.mirrored(&image)).to_string()])
            .unwrap_or_default()
    }

    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String> {
        let vars = Vars::from([
            ("name", json!(spec.name.as_str())),
            ("servers", json!(spec.control_planes.count())),
            ("agents", json!(spec.workers)),
            (
                "image",
                json!(spec.mirrored(&k3s_image(spec.kubernetes_version.as_deref())?)),
            ),
            // k3d's schema wants the port as a string.
            ("api_server_port", json!(spec.ports.api_server.to_string())),
            ("http_port", json!(spec.ports.http)),
            ("dicom_port", json!(spec.ports.dicom)),
            ("http_node_port", json!(HTTP_NODE_PORT)),
            ("dicom_node_port", json!(DICOM_NODE_PORT)),
        ]);
        let mut doc = template::render_yaml(TEMPLATE, &vars)?;
        if cgroup_need(spec, provider)?.allow_v1() {
            let args = doc["options"]["k3s"]["extraArgs"]
                .as_array_mut()
                .ok_or("drivers/k3d.yaml has no options.k3s.extraArgs")?;
            args.push(json!({"arg": ALLOW_CGROUP_V1, "nodeFilters": ["server:*", "agent:*"]}));
        }
        Ok(Definition::File {
            file_name: FILE_NAME,
            yaml: template::to_yaml(&doc),
        })
    }

    /// k3d gives its nodes no proxy variables (only `--env`); the nodes need none for the
    /// stack, whose images korthbox side-loads.
    fn passes_proxy_to_nodes(&self) -> bool {
        false
    }

    fn no_proxy(&self) -> &'static [&'static str] {
        // k3d's Docker networks, k3s's pod and service subnets, the cluster's DNS names.
        &[
            "172.16.0.0/12",
            "10.42.0.0/16",
            "10.43.0.0/16",
            ".svc",
            ".cluster.local",
        ]
    }

    fn unused_flags(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "--node-cpus",
                "k3d's nodes share the engine's CPUs and memory; size the engine instead",
            ),
            (
                "--node-memory",
                "k3d's nodes share the engine's CPUs and memory; size the engine instead",
            ),
        ]
    }

    fn cgroup_note(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Option<String> {
        cgroup_need(spec, provider).ok()?.note(&format!(
            "korthbox gives every k3s node `{ALLOW_CGROUP_V1}`"
        ))
    }

    fn definition_file(&self) -> Option<&'static str> {
        Some(FILE_NAME)
    }

    fn create_command(&self, name: &SandboxName) -> Vec<String> {
        words(["cluster", "create", name.as_str()])
    }

    /// k3d rolls a failed cluster back by itself unless told not to.
    fn retain_flag(&self) -> Option<&'static str> {
        Some("--no-rollback")
    }

    fn list_args(&self) -> Vec<String> {
        words(["cluster", "list", "-o", "json"])
    }

    fn parse_list(&self, status_ok: bool, stdout: &str) -> Result<Vec<String>, String> {
        if !status_ok {
            return Err("`k3d cluster list -o json` failed".into());
        }
        let text = stdout.trim();
        if text.is_empty() || text == "null" {
            return Ok(Vec::new());
        }
        let clusters: Vec<ListedCluster> = serde_json::from_str(text)
            .map_err(|e| format!("`k3d cluster list -o json` printed something else: {e}"))?;
        Ok(clusters.into_iter().map(|c| c.name).collect())
    }

    fn pause_args(&self, name: &SandboxName, start: bool) -> Option<Vec<String>> {
        let verb = if start { "start" } else { "stop" };
        Some(words(["cluster", verb, name.as_str()]))
    }

    fn delete_args(&self, name: &SandboxName) -> Vec<String> {
        words(["cluster", "delete", name.as_str()])
    }

    /// k3d exports the images through the same Docker API it creates nodes with.
    fn load_words(&self, name: &SandboxName) -> (Vec<String>, Vec<String>) {
        (
            words(["image", "import"]),
            words(["--cluster", name.as_str()]),
        )
    }

    fn tool_env(&self, provider: &NodeProvider) -> Vec<(String, String)> {
        provider.docker_host()
    }

    fn context(&self, name: &SandboxName) -> String {
        format!("k3d-{name}")
    }

    fn kube_user(&self, name: &SandboxName) -> String {
        format!("admin@k3d-{name}")
    }

    fn maps_host_ports(&self) -> bool {
        true
    }

    fn mapped_ports(&self, dir: &Path) -> Option<(u16, u16)> {
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).ok()?;
        let doc: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
        // `127.0.0.1:8042:30042` (host address, host port, node port).
        let host_port = |node_port: u16| -> Option<u16> {
            doc["ports"].as_array()?.iter().find_map(|p| {
                let parts: Vec<&str> = p["port"].as_str()?.split(':').collect();
                (parts.last()? == &node_port.to_string())
                    .then(|| parts.get(parts.len().checked_sub(2)?)?.parse().ok())
                    .flatten()
            })
        };
        Some((host_port(HTTP_NODE_PORT)?, host_port(DICOM_NODE_PORT)?))
    }

    fn tool_facts(&self) -> Option<ToolFacts> {
        Some(ToolFacts {
            leftover_label: "k3d.cluster",
            release: RELEASE,
            install: INSTALL,
        })
    }
}

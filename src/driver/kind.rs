//! kind: Kubernetes in Docker (or Podman), one container per node, kubeadm inside.

use std::path::Path;

use serde_json::{Value, json};

use super::api::{
    Definition, Driver, DriverKind, ImageSource, InstallCommands, NodeProvider, ProviderKind,
    ToolFacts, around, words,
};
use super::cgroup::{self, Cgroup, Need};
use super::common::KubeVersion;
use crate::base::spec::{ClusterSpec, DICOM_NODE_PORT, HTTP_NODE_PORT, SandboxName};
use crate::base::template::{self, Vars};
use crate::host::tools::{ToolName, Version};
use crate::kube::stack::images::ImageRef;

const TEMPLATE: &str = include_str!("../../drivers/kind.yaml");
pub const FILE_NAME: &str = "kind.yaml";

pub use crate::base::pins::{
    KIND_NODE_IMAGES as NODE_IMAGES, KIND_NODE_IMAGES_RELEASE as NODE_IMAGES_RELEASE,
    KIND_RELEASE as RELEASE,
};

const INSTALL: InstallCommands = InstallCommands {
    macos: "`brew install kind`",
    windows: "`winget install -e --id Kubernetes.kind`",
    linux: "`curl -Lo kind https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-linux-{arch} && sudo install kind /usr/local/bin/`",
};

pub struct Kind;

/// The kubelet configuration patch that lets Kubernetes 1.35+ run on cgroup v1.
const ALLOW_CGROUP_V1: &str = "kind: KubeletConfiguration\nfailCgroupV1: false\n";

/// What kind is handed for the engine's cgroup version: the Kubernetes version, and whether
/// the kubelets are told `failCgroupV1: false`. kind's node images from 1.35 on drop cgroup v1
/// (kind v0.31's release notes advise an older Kubernetes there), so on cgroup v1 korthbox
/// picks the newest pinned image below 1.35 unless a version is asked for; an asked-for 1.35+
/// gets the kubelet setting, the best kind allows.
struct Choice {
    version: &'static str,
    need: Need,
    picked_for_v1: bool,
}

fn choice(spec: &ClusterSpec, provider: &NodeProvider) -> Result<Choice, String> {
    let asked = spec.kubernetes_version.as_deref();
    let picked_for_v1 = asked.is_none() && provider.cgroup == Some(Cgroup::V1);
    let version = match asked {
        Some(text) => pinned(text)?.0,
        None if picked_for_v1 => NODE_IMAGES
            .iter()
            .map(|(v, _)| *v)
            .find(|v| KubeVersion::parse(v).is_ok_and(|k| k.minor < cgroup::REFUSED_FROM_MINOR))
            .unwrap_or(NODE_IMAGES[0].0),
        None => NODE_IMAGES[0].0,
    };
    Ok(Choice {
        version,
        need: Need::of(provider.cgroup, version)?,
        picked_for_v1,
    })
}

/// The pinned node image for a version: `1.35` or `v1.35.8` picks the v1.35.8 image.
pub fn node_image(version: Option<&str>) -> Result<&'static str, String> {
    match version {
        None => Ok(NODE_IMAGES[0].1),
        Some(text) => Ok(pinned(text)?.1),
    }
}

/// The pinned (version, image) a written version names.
fn pinned(text: &str) -> Result<(&'static str, &'static str), String> {
    let wanted = KubeVersion::parse(text)?;
    NODE_IMAGES
        .iter()
        .find(|(v, _)| {
            KubeVersion::parse(v).is_ok_and(|have| {
                have.minor == wanted.minor && wanted.patch.is_none_or(|p| Some(p) == have.patch)
            })
        })
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = NODE_IMAGES.iter().map(|(v, _)| *v).collect();
            format!(
                "korthbox has no pinned kind node image for Kubernetes {wanted}; it has {}",
                known.join(", ")
            )
        })
}

impl Driver for Kind {
    fn kind(&self) -> DriverKind {
        DriverKind::Kind
    }

    fn tool(&self) -> Option<ToolName> {
        Some(ToolName::Kind)
    }

    fn default_kubernetes_version(&self) -> &'static str {
        NODE_IMAGES[0].0
    }

    fn kubernetes_version_on(&self, provider: &NodeProvider) -> &'static str {
        choice(&ClusterSpec::default(), provider)
            .map(|c| c.version)
            .unwrap_or(NODE_IMAGES[0].0)
    }

    fn pinned_images(&self) -> Vec<&'static str> {
        NODE_IMAGES.iter().map(|(_, image)| *image).collect()
    }

    fn node_images(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Vec<String> {
        choice(spec, provider)
            .and_then(|chosen| node_image(Some(chosen.version)))
            .map(|image| vec![ImageRef::parse(&spec.mirrored(image)).to_string()])
            .unwrap_or_default()
    }

    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String> {
        let chosen = choice(spec, provider)?;
        let vars = Vars::from([
            ("name", json!(spec.name.as_str())),
            ("api_server_port", json!(spec.ports.api_server)),
            (
                "node_image",
                json!(spec.mirrored(node_image(Some(chosen.version))?)),
            ),
            ("http_port", json!(spec.ports.http)),
            ("dicom_port", json!(spec.ports.dicom)),
            ("http_node_port", json!(HTTP_NODE_PORT)),
            ("dicom_node_port", json!(DICOM_NODE_PORT)),
        ]);
        let mut doc = template::render_yaml(TEMPLATE, &vars)?;
        let nodes = doc
            .get_mut("nodes")
            .and_then(Value::as_array_mut)
            .ok_or("drivers/kind.yaml has no nodes list")?;
        let prototype = |role: &str| {
            nodes
                .iter()
                .find(|n| n.get("role").and_then(Value::as_str) == Some(role))
                .cloned()
                .ok_or(format!("drivers/kind.yaml has no {role} node"))
        };
        let control_plane = prototype("control-plane")?;
        let worker = prototype("worker")?;
        let mut all = Vec::with_capacity(usize::from(spec.nodes()));
        for i in 0..spec.control_planes.count() {
            let mut node = control_plane.clone();
            if i > 0
                && let Some(map) = node.as_object_mut()
            {
                map.remove("extraPortMappings");
            }
            all.push(node);
        }
        all.extend(std::iter::repeat_n(worker, usize::from(spec.workers)));
        *nodes = all;
        if chosen.need.allow_v1() {
            // A cluster-wide patch: kubeadm init writes it into the kubelet-config ConfigMap,
            // which every joining node's kubelet reads too.
            doc["kubeadmConfigPatches"] = json!([ALLOW_CGROUP_V1]);
        }
        Ok(Definition::File {
            file_name: FILE_NAME,
            yaml: template::to_yaml(&doc),
        })
    }

    fn no_proxy(&self) -> &'static [&'static str] {
        // kind's Docker network, its pod and service subnets, the cluster's DNS names.
        &[
            "172.18.0.0/16",
            "10.244.0.0/16",
            "10.96.0.0/16",
            ".svc",
            ".cluster.local",
        ]
    }

    fn unused_flags(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "--node-cpus",
                "kind's nodes share the engine's CPUs and memory; size the engine instead",
            ),
            (
                "--node-memory",
                "kind's nodes share the engine's CPUs and memory; size the engine instead",
            ),
        ]
    }

    fn cgroup_note(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Option<String> {
        let chosen = choice(spec, provider).ok()?;
        if chosen.picked_for_v1 {
            return Some(format!(
                "the engine runs cgroup v1: korthbox picks Kubernetes {}, the newest pinned kind node image that still runs there (kind's 1.35+ images drop cgroup v1) — an end-of-life Kubernetes (1.34 reached its end of life on 2026-10-27); --kubernetes-version asks for another",
                chosen.version
            ));
        }
        chosen.need.note(
            "korthbox gives the kubelets `failCgroupV1: false` (a kubeadmConfigPatches entry), though kind advises Kubernetes 1.34 or older there",
        )
    }

    fn definition_file(&self) -> Option<&'static str> {
        Some(FILE_NAME)
    }

    fn create_command(&self, name: &SandboxName) -> Vec<String> {
        words(["create", "cluster", "--name", name.as_str()])
    }

    fn retain_flag(&self) -> Option<&'static str> {
        Some("--retain")
    }

    fn list_args(&self) -> Vec<String> {
        words(["get", "clusters"])
    }

    fn parse_list(&self, status_ok: bool, stdout: &str) -> Result<Vec<String>, String> {
        if !status_ok {
            return Err("`kind get clusters` failed".into());
        }
        // One name per line; "No kind clusters found." goes to stderr.
        Ok(stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("No kind clusters"))
            .map(String::from)
            .collect())
    }

    fn node_role_label(&self) -> Option<&'static str> {
        Some("io.x-k8s.kind.role")
    }

    fn delete_args(&self, name: &SandboxName) -> Vec<String> {
        words(["delete", "cluster", "--name", name.as_str()])
    }

    fn load_words(&self, name: &SandboxName) -> (Vec<String>, Vec<String>) {
        (
            words(["load", "docker-image"]),
            words(["--name", name.as_str()]),
        )
    }

    /// On Podman, kind loads an archive korthbox exported (its `docker-image` loader only
    /// knows Docker).
    fn load_args(
        &self,
        name: &SandboxName,
        images: &[String],
        archive: Option<&Path>,
    ) -> Vec<String> {
        match archive {
            Some(path) => {
                let path = path.display().to_string();
                words(["load", "image-archive", &path, "--name", name.as_str()])
            }
            None => around(self.load_words(name), images),
        }
    }

    fn tool_env(&self, provider: &NodeProvider) -> Vec<(String, String)> {
        match provider.kind {
            ProviderKind::Docker => provider.docker_host(),
            ProviderKind::Podman => vec![(
                crate::base::env::KIND_EXPERIMENTAL_PROVIDER.to_string(),
                "podman".to_string(),
            )],
        }
    }

    fn context(&self, name: &SandboxName) -> String {
        format!("kind-{name}")
    }

    fn image_source(&self, provider: &NodeProvider) -> ImageSource {
        match provider.kind {
            ProviderKind::Docker => ImageSource::Engine,
            ProviderKind::Podman => ImageSource::Archive,
        }
    }

    fn maps_host_ports(&self) -> bool {
        true
    }

    fn mapped_ports(&self, dir: &Path) -> Option<(u16, u16)> {
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).ok()?;
        let doc: Value = serde_saphyr::from_str(&text).ok()?;
        let host_port =
            |node_port: u16| -> Option<u16> {
                doc["nodes"]
                .as_array()?
                .iter()
                .flat_map(|n| n["extraPortMappings"].as_array().cloned().unwrap_or_default())
                .find(|m| m["containerPort"].as_u64() == Some(u64::from(node_port)))?["hostPort"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
            };
        Some((host_port(HTTP_NODE_PORT)?, host_port(DICOM_NODE_PORT)?))
    }

    fn tool_facts(&self) -> Option<ToolFacts> {
        Some(ToolFacts {
            leftover_label: "io.x-k8s.kind.cluster",
            release: RELEASE,
            install: INSTALL,
        })
    }

    fn version_warning(&self, have: &Version) -> Option<String> {
        (*have < NODE_IMAGES_RELEASE).then(|| {
            format!(
                "the pinned node images are kind {NODE_IMAGES_RELEASE}'s and kind {have} may not boot them; if creation fails, upgrade kind"
            )
        })
    }
}

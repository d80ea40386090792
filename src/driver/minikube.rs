//! minikube with its docker or podman driver: one container per node, kubeadm inside.
//!
//! minikube takes flags, not a config file, so its "definition" is an argument list.
//! Host ports are not mapped here: a later stage forwards them.

use serde_json::{Value, json};

use super::api::{
    Definition, Driver, DriverKind, InstallCommands, NodeProvider, ProviderKind, ToolFacts, words,
};
use super::cgroup::Need;
use super::common::KubeVersion;
use crate::base::spec::{ClusterSpec, ControlPlanes, SandboxName, VolumeSource};
use crate::base::template::{self, Vars};
use crate::host::tools::ToolName;

const TEMPLATE: &str = include_str!("../../drivers/minikube.args");
pub const FILE_NAME: &str = "minikube.args";

pub use crate::base::pins::MINIKUBE_RELEASE as RELEASE;

/// The Kubernetes version used when none is asked for: the same release as kind's default
/// node image, so that both kubeadm-based drivers run the same Kubernetes.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.36.4";

const INSTALL: InstallCommands = InstallCommands {
    macos: "`brew install minikube`",
    windows: "`winget install -e --id Kubernetes.minikube`",
    linux: "`curl -LO https://github.com/kubernetes/minikube/releases/download/{version}/minikube-linux-{arch} && sudo install minikube-linux-{arch} /usr/local/bin/minikube`",
};

pub struct Minikube;

impl Minikube {
    /// `minikube start …` for `spec`.
    pub fn start_args(spec: &ClusterSpec, provider: &NodeProvider) -> Result<Vec<String>, String> {
        let version = match spec.kubernetes_version.as_deref() {
            None => DEFAULT_KUBERNETES_VERSION.to_string(),
            Some(text) => {
                let v = KubeVersion::parse(text)?;
                if v.patch.is_none() {
                    return Err(format!(
                        "minikube needs a full Kubernetes release, such as {v}.0"
                    ));
                }
                v.to_string()
            }
        };
        let provider_name = provider.kind.label();
        let ha = match spec.control_planes {
            ControlPlanes::One => "",
            ControlPlanes::Three => "--ha",
        };
        let vars = Vars::from([
            ("name", json!(spec.name.as_str())),
            ("provider", json!(provider_name)),
            ("kubernetes_version", json!(version)),
            ("nodes", json!(spec.nodes())),
            ("ha", json!(ha)),
            ("cpus", json!(spec.node_cpus)),
            ("memory_mib", json!(spec.node_memory_mib)),
            // Kubernetes' own images (registry.k8s.io's repositories) from the mirror.
            (
                "image_repository",
                json!(
                    spec.registry_mirror
                        .as_ref()
                        .map(|m| format!("--image-repository={m}"))
                        .unwrap_or_default()
                ),
            ),
        ]);
        template::render_args(TEMPLATE, &vars)
    }
}

impl Driver for Minikube {
    fn kind(&self) -> DriverKind {
        DriverKind::Minikube
    }

    fn tool(&self) -> Option<ToolName> {
        Some(ToolName::Minikube)
    }

    fn default_kubernetes_version(&self) -> &'static str {
        DEFAULT_KUBERNETES_VERSION
    }

    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String> {
        Ok(Definition::Args(Self::start_args(spec, provider)?))
    }

    fn no_proxy(&self) -> &'static [&'static str] {
        // As minikube's proxy documentation lists: its networks for the docker, podman and VM
        // drivers, and the service range.
        &[
            "192.168.49.0/24",
            "192.168.58.0/24",
            "192.168.39.0/24",
            "192.168.59.0/24",
            "10.96.0.0/12",
            ".svc",
            ".cluster.local",
        ]
    }

    fn unused_flags(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "--api-server-port",
            "minikube maps the API server to a host port of its own choosing (see `kubectl config view`)",
        )]
    }

    /// minikube handles cgroup v1 itself: since v1.38 (minikube PR #22319) it gives the
    /// kubelets of Kubernetes 1.35+ `failCgroupV1: false` on a cgroup v1 host.
    fn cgroup_note(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Option<String> {
        let version = spec
            .kubernetes_version
            .as_deref()
            .unwrap_or(DEFAULT_KUBERNETES_VERSION);
        Need::of(provider.cgroup, version).ok()?.note(&format!(
            "minikube {} gives the kubelets `failCgroupV1: false` itself (it has since v1.38)",
            RELEASE.version
        ))
    }

    /// minikube's node image (kicbase) is minikube's own choice, not a korthbox pin: it is not
    /// rewritten (minikube falls back to docker.io/kicbase/stable by itself).
    fn mirror_note(&self, spec: &ClusterSpec) -> Option<String> {
        spec.registry_mirror.as_ref().map(|m| {
            format!(
                "minikube gets --image-repository={m} for Kubernetes' images; its node image (kicbase) is minikube's choice, not korthbox's, and is not rewritten (`minikube start --base-image` takes one from your mirror)"
            )
        })
    }

    fn definition_file(&self) -> Option<&'static str> {
        Some(FILE_NAME)
    }

    /// `minikube start …` is the whole definition. minikube leaves a failed profile in place
    /// by itself; korthbox deletes it unless --retain, so there is no flag for that.
    fn create_command(&self, _name: &SandboxName) -> Vec<String> {
        Vec::new()
    }

    fn list_args(&self) -> Vec<String> {
        words(["profile", "list", "-o", "json"])
    }

    fn parse_list(&self, status_ok: bool, stdout: &str) -> Result<Vec<String>, String> {
        // `{"invalid":[…],"valid":[{"Name":…},…]}`. With no profile at all minikube exits
        // non-zero, and older releases print `{"error":{…"Path":"…/profiles"…}}` instead.
        let parsed: Option<Value> = serde_json::from_str(stdout.trim()).ok();
        match parsed {
            Some(doc) if doc.get("valid").is_some() || doc.get("invalid").is_some() => {
                let mut names = Vec::new();
                for key in ["valid", "invalid"] {
                    for profile in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                        if let Some(name) = profile.get("Name").and_then(Value::as_str) {
                            names.push(name.to_string());
                        }
                    }
                }
                Ok(names)
            }
            Some(doc) if doc.get("error").is_some() => {
                let error = doc["error"].to_string();
                if error.to_lowercase().contains("profile") {
                    Ok(Vec::new())
                } else {
                    Err(format!("`minikube profile list -o json` reported {error}"))
                }
            }
            _ if !status_ok && stdout.trim().is_empty() => Ok(Vec::new()),
            _ => Err(format!(
                "`minikube profile list -o json` printed something else: {}",
                stdout.trim().chars().take(200).collect::<String>()
            )),
        }
    }

    /// `minikube start --profile=NAME` with nothing else starts the profile as it was made.
    fn pause_args(&self, name: &SandboxName, start: bool) -> Option<Vec<String>> {
        let verb = if start { "start" } else { "stop" };
        Some(vec![verb.to_string(), format!("--profile={name}")])
    }

    fn delete_args(&self, name: &SandboxName) -> Vec<String> {
        words(["delete", "--profile", name.as_str()])
    }

    fn load_words(&self, name: &SandboxName) -> (Vec<String>, Vec<String>) {
        (words(["image", "load"]), vec![format!("--profile={name}")])
    }

    fn tool_env(&self, provider: &NodeProvider) -> Vec<(String, String)> {
        match provider.kind {
            ProviderKind::Docker => provider.docker_host(),
            // minikube drives the podman CLI, which finds its own service.
            ProviderKind::Podman => Vec::new(),
        }
    }

    /// The profile's name is its context.
    fn context(&self, name: &SandboxName) -> String {
        name.to_string()
    }

    /// The nodes publish no ports for Orthanc: `korthbox forward` reaches it.
    fn maps_host_ports(&self) -> bool {
        false
    }

    /// minikube's default class (hostpath) does not work across nodes, so local-path is
    /// installed beside it and named by the stack's claims.
    fn volumes(&self, _cluster_has_default: Option<bool>) -> VolumeSource {
        VolumeSource::InstallLocalPath { default: false }
    }

    fn tool_facts(&self) -> Option<ToolFacts> {
        Some(ToolFacts {
            leftover_label: "name.minikube.sigs.k8s.io",
            release: RELEASE,
            install: INSTALL,
        })
    }
}

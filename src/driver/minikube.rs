//! minikube with its docker or podman driver: one container per node, kubeadm inside.
//!
//! minikube takes flags, not a config file, so its "definition" is an argument list.
//! Host ports are not mapped here: a later stage forwards them.

use std::path::Path;

use serde_json::{Value, json};

use super::common::KubeVersion;
use super::{Definition, Driver, DriverKind, ImageSource, Invocation, NodeProvider, ProviderKind};
use crate::host::tools::ToolName;
use crate::spec::{ClusterSpec, ControlPlanes, SandboxName};
use crate::template::{self, Vars};

const TEMPLATE: &str = include_str!("../../drivers/minikube.args");
pub const FILE_NAME: &str = "minikube.args";

/// The Kubernetes version used when none is asked for: the same release as kind's default
/// node image, so that both kubeadm-based drivers run the same Kubernetes.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.36.4";

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
        let provider_name = match provider.kind {
            ProviderKind::Docker => "docker",
            ProviderKind::Podman => "podman",
        };
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
        ]);
        template::render_args(TEMPLATE, &vars)
    }
}

impl Driver for Minikube {
    fn kind(&self) -> DriverKind {
        DriverKind::Minikube
    }

    fn default_kubernetes_version(&self) -> &'static str {
        DEFAULT_KUBERNETES_VERSION
    }

    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String> {
        Ok(Definition::Args(Self::start_args(spec, provider)?))
    }

    fn create(
        &self,
        spec: &ClusterSpec,
        provider: &NodeProvider,
        _config: Option<&Path>,
        _retain: bool,
    ) -> Result<Invocation, String> {
        // minikube leaves a failed profile in place by itself; korthbox deletes it unless
        // --retain, so nothing changes in the arguments.
        Ok(
            Invocation::new(ToolName::Minikube, Self::start_args(spec, provider)?)
                .with_env(env(provider)),
        )
    }

    fn list(&self, provider: &NodeProvider) -> Option<Invocation> {
        Some(
            Invocation::new(ToolName::Minikube, ["profile", "list", "-o", "json"])
                .with_env(env(provider)),
        )
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

    fn delete(&self, name: &SandboxName, provider: &NodeProvider) -> Option<Invocation> {
        Some(
            Invocation::new(ToolName::Minikube, ["delete", "--profile", name.as_str()])
                .with_env(env(provider)),
        )
    }

    fn context(&self, name: &SandboxName) -> String {
        name.to_string()
    }

    fn image_source(&self, _provider: &NodeProvider) -> ImageSource {
        ImageSource::Engine
    }

    fn load(
        &self,
        name: &SandboxName,
        provider: &NodeProvider,
        images: &[String],
        _archive: Option<&Path>,
    ) -> Option<Invocation> {
        let mut args = vec!["image".to_string(), "load".into()];
        args.extend(images.iter().cloned());
        args.push(format!("--profile={name}"));
        Some(Invocation::new(ToolName::Minikube, args).with_env(env(provider)))
    }
}

fn env(provider: &NodeProvider) -> Vec<(String, String)> {
    match provider.kind {
        ProviderKind::Docker => provider.docker_host(),
        // minikube drives the podman CLI, which finds its own service.
        ProviderKind::Podman => Vec::new(),
    }
}

//! k3d: k3s in Docker (or Podman through its Docker API), servers and agents as containers.

use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use super::common::KubeVersion;
use super::{Definition, Driver, DriverKind, ImageSource, Invocation, NodeProvider};
use crate::host::tools::ToolName;
use crate::spec::{ClusterSpec, DICOM_NODE_PORT, HTTP_NODE_PORT, SandboxName};
use crate::template::{self, Vars};

const TEMPLATE: &str = include_str!("../../drivers/k3d.yaml");
pub const FILE_NAME: &str = "k3d.yaml";

/// The k3s release used when no version is asked for (Kubernetes v1.36.1, May 2026).
pub const DEFAULT_K3S_VERSION: &str = "v1.36.1+k3s1";
const K3S_IMAGE: &str = "rancher/k3s";

pub struct K3d;

/// The k3s image for a Kubernetes version: `v1.35.3` → `rancher/k3s:v1.35.3-k3s1`; a k3s
/// release (`v1.35.3+k3s2`) is taken as written.
pub fn k3s_image(version: Option<&str>) -> Result<String, String> {
    let text = version.unwrap_or(DEFAULT_K3S_VERSION);
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

    fn default_kubernetes_version(&self) -> &'static str {
        DEFAULT_K3S_VERSION
    }

    fn render(&self, spec: &ClusterSpec, _provider: &NodeProvider) -> Result<Definition, String> {
        let vars = Vars::from([
            ("name", json!(spec.name.as_str())),
            ("servers", json!(spec.control_planes.count())),
            ("agents", json!(spec.workers)),
            (
                "image",
                json!(k3s_image(spec.kubernetes_version.as_deref())?),
            ),
            // k3d's schema wants the port as a string.
            ("api_server_port", json!(spec.ports.api_server.to_string())),
            ("http_port", json!(spec.ports.http)),
            ("dicom_port", json!(spec.ports.dicom)),
            ("http_node_port", json!(HTTP_NODE_PORT)),
            ("dicom_node_port", json!(DICOM_NODE_PORT)),
        ]);
        let doc = template::render_yaml(TEMPLATE, &vars)?;
        Ok(Definition::File {
            file_name: FILE_NAME,
            yaml: template::to_yaml(&doc),
        })
    }

    fn create(
        &self,
        spec: &ClusterSpec,
        provider: &NodeProvider,
        config: Option<&Path>,
        retain: bool,
    ) -> Result<Invocation, String> {
        let config = config.ok_or("k3d needs its config file")?;
        let mut args = vec![
            "cluster".to_string(),
            "create".into(),
            spec.name.to_string(),
            "--config".into(),
            config.display().to_string(),
        ];
        if retain {
            // k3d rolls a failed cluster back by itself unless told not to.
            args.push("--no-rollback".into());
        }
        Ok(Invocation::new(ToolName::K3d, args).with_env(provider.docker_host()))
    }

    fn list(&self, provider: &NodeProvider) -> Option<Invocation> {
        Some(
            Invocation::new(ToolName::K3d, ["cluster", "list", "-o", "json"])
                .with_env(provider.docker_host()),
        )
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

    fn delete(&self, name: &SandboxName, provider: &NodeProvider) -> Option<Invocation> {
        Some(
            Invocation::new(ToolName::K3d, ["cluster", "delete", name.as_str()])
                .with_env(provider.docker_host()),
        )
    }

    fn context(&self, name: &SandboxName) -> String {
        format!("k3d-{name}")
    }

    fn image_source(&self, _provider: &NodeProvider) -> ImageSource {
        // k3d exports the images through the same Docker API it creates nodes with.
        ImageSource::Engine
    }

    fn load(
        &self,
        name: &SandboxName,
        provider: &NodeProvider,
        images: &[String],
        _archive: Option<&Path>,
    ) -> Option<Invocation> {
        let mut args = vec!["image".to_string(), "import".into()];
        args.extend(images.iter().cloned());
        args.extend(["--cluster".to_string(), name.to_string()]);
        Some(Invocation::new(ToolName::K3d, args).with_env(provider.docker_host()))
    }
}

//! Cluster drivers: how kind, k3d and minikube make, find, delete and feed a sandbox cluster,
//! and how a cluster the user already has is used as one.
//!
//! A [`Driver`] only *describes* work: it renders its tool's cluster definition and says which
//! command lines to run. Running them (streaming output, timeouts, clean-up on failure) lives
//! once, in [`common`]. Adding a driver is one file here and one template in drivers/.

pub mod actions;
pub mod cleanup;
pub mod common;
pub mod existing;
pub mod k3d;
pub mod kind;
pub mod minikube;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::engines::{EndpointSource, Engine, EngineKind};

/// Where the Docker CLI and SDKs look when nothing says otherwise.
const DEFAULT_DOCKER_ENDPOINT: &str = "unix:///var/run/docker.sock";
use crate::host::tools::ToolName;
use crate::spec::{ClusterSpec, DriverChoice, SandboxName};

/// The order `--driver auto` tries the installed tools in: kind first (the most widely used,
/// the closest to upstream kubeadm clusters), then k3d (lighter), then minikube.
pub const AUTO_ORDER: [DriverKind; 3] = [DriverKind::Kind, DriverKind::K3d, DriverKind::Minikube];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverKind {
    Kind,
    K3d,
    Minikube,
    Existing,
}

impl DriverKind {
    pub fn label(self) -> &'static str {
        match self {
            DriverKind::Kind => "kind",
            DriverKind::K3d => "k3d",
            DriverKind::Minikube => "minikube",
            DriverKind::Existing => "existing",
        }
    }

    /// The executable the driver runs; an existing cluster needs none.
    pub fn tool(self) -> Option<ToolName> {
        match self {
            DriverKind::Kind => Some(ToolName::Kind),
            DriverKind::K3d => Some(ToolName::K3d),
            DriverKind::Minikube => Some(ToolName::Minikube),
            DriverKind::Existing => None,
        }
    }

    /// The driver for an explicit choice; `None` for `auto`, which depends on the host.
    pub fn from_choice(choice: DriverChoice) -> Option<Self> {
        match choice {
            DriverChoice::Auto => None,
            DriverChoice::Kind => Some(DriverKind::Kind),
            DriverChoice::K3d => Some(DriverKind::K3d),
            DriverChoice::Minikube => Some(DriverKind::Minikube),
            DriverChoice::Existing => Some(DriverKind::Existing),
        }
    }

    pub fn driver(self) -> &'static dyn Driver {
        match self {
            DriverKind::Kind => &kind::Kind,
            DriverKind::K3d => &k3d::K3d,
            DriverKind::Minikube => &minikube::Minikube,
            DriverKind::Existing => &existing::Existing,
        }
    }
}

/// What runs the cluster's nodes as containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// Any Docker-API engine: Docker Engine, Docker Desktop, Rancher Desktop, colima, OrbStack.
    Docker,
    Podman,
}

/// The engine a driver puts its nodes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeProvider {
    pub kind: ProviderKind,
    /// The engine's API endpoint (`unix:///var/run/docker.sock`), when one was found.
    pub endpoint: Option<String>,
    /// Whether tools must be pointed at the endpoint with `DOCKER_HOST`: yes when korthbox found
    /// it at a well-known socket other than Docker's default (colima, OrbStack, Podman…); no when
    /// DOCKER_HOST or the Docker CLI's context already names it, or it is the default socket.
    #[serde(skip)]
    pub point_tools_at_endpoint: bool,
}

impl NodeProvider {
    pub fn from_engine(engine: &Engine) -> Self {
        let kind = match engine.kind {
            EngineKind::Podman => ProviderKind::Podman,
            EngineKind::DockerEngine
            | EngineKind::DockerDesktop
            | EngineKind::RancherDesktop
            | EngineKind::Colima
            | EngineKind::OrbStack => ProviderKind::Docker,
        };
        let point_tools_at_endpoint = engine.source == EndpointSource::WellKnown
            && engine.endpoint != DEFAULT_DOCKER_ENDPOINT;
        Self {
            kind,
            endpoint: Some(engine.endpoint.clone()),
            point_tools_at_endpoint,
        }
    }

    /// A provider named on the command line, without an engine to point at.
    pub fn assumed(kind: ProviderKind) -> Self {
        Self {
            kind,
            endpoint: None,
            point_tools_at_endpoint: false,
        }
    }

    /// `DOCKER_HOST` for tools that speak the Docker API, so that they use the very engine
    /// korthbox found (colima's or Podman's socket is not where they look by default).
    pub fn docker_host(&self) -> Vec<(String, String)> {
        match &self.endpoint {
            Some(uri) if self.point_tools_at_endpoint => {
                vec![(crate::env::DOCKER_HOST.to_string(), uri.clone())]
            }
            _ => Vec::new(),
        }
    }
}

/// A driver's cluster definition, exactly as it is handed to the tool.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// A config file (kind, k3d): its conventional file name and its YAML.
    File {
        file_name: &'static str,
        yaml: String,
    },
    /// Command-line arguments (minikube), without the executable.
    Args(Vec<String>),
    /// Nothing to create (an existing cluster).
    Nothing,
}

/// One command line to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub tool: ToolName,
    pub args: Vec<String>,
    /// Set on top of korthbox's own environment.
    pub env: Vec<(String, String)>,
}

impl Invocation {
    pub fn new(tool: ToolName, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            tool,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// The command line as a user would type it: `KIND_EXPERIMENTAL_PROVIDER=podman kind …`.
    pub fn display(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", common::shell_quote(v)))
            .collect();
        words.push(self.tool.executable().to_string());
        words.extend(self.args.iter().map(|a| common::shell_quote(a)));
        words.join(" ")
    }
}

/// A cluster a driver reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterEntry {
    pub driver: DriverKind,
    pub name: String,
    pub context: String,
}

/// How a driver gets images into its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The tool reads the images from the engine itself.
    Engine,
    /// The tool reads an image archive that korthbox exports from the engine first
    /// (kind on Podman, whose `docker-image` loader only knows Docker).
    Archive,
}

/// The operations korthbox needs from a cluster tool.
pub trait Driver: Sync {
    fn kind(&self) -> DriverKind;

    /// The Kubernetes version used when the user names none.
    fn default_kubernetes_version(&self) -> &'static str;

    /// The cluster definition for `spec`, as it would be handed to the tool.
    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String>;

    /// The command that creates the cluster; `config` is where [`Driver::render`]'s file was
    /// written. With `retain`, the tool must leave a failed cluster in place for inspection.
    fn create(
        &self,
        spec: &ClusterSpec,
        provider: &NodeProvider,
        config: Option<&Path>,
        retain: bool,
    ) -> Result<Invocation, String>;

    /// The command that lists the tool's clusters in a machine-readable form.
    fn list(&self, provider: &NodeProvider) -> Option<Invocation>;

    /// Cluster names from a successful or failed run of [`Driver::list`].
    fn parse_list(&self, status_ok: bool, stdout: &str) -> Result<Vec<String>, String>;

    /// The command that deletes the cluster.
    fn delete(&self, name: &SandboxName, provider: &NodeProvider) -> Option<Invocation>;

    /// The kube context the tool writes for the cluster.
    fn context(&self, name: &SandboxName) -> String;

    fn image_source(&self, provider: &NodeProvider) -> ImageSource;

    /// The command that loads `images` (or the archive holding them) into every node.
    fn load(
        &self,
        name: &SandboxName,
        provider: &NodeProvider,
        images: &[String],
        archive: Option<&Path>,
    ) -> Option<Invocation>;
}

/// Where korthbox writes the definition it hands to a tool, so that it can be read afterwards.
pub fn definition_path(cache_dir: &Path, name: &SandboxName, file_name: &str) -> PathBuf {
    cache_dir
        .join("clusters")
        .join(name.as_str())
        .join(file_name)
}

/// The host ports (HTTP, DICOM) the definition korthbox handed to kind or k3d maps to Orthanc's
/// NodePorts, read back from the copy kept in the cache directory.
pub fn mapped_ports(kind: DriverKind, cache_dir: &Path, name: &SandboxName) -> Option<(u16, u16)> {
    use crate::spec::{DICOM_NODE_PORT, HTTP_NODE_PORT};
    let file = match kind {
        DriverKind::Kind => kind::FILE_NAME,
        DriverKind::K3d => k3d::FILE_NAME,
        DriverKind::Minikube | DriverKind::Existing => return None,
    };
    let text = std::fs::read_to_string(definition_path(cache_dir, name, file)).ok()?;
    let doc: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    let host_port =
        |node_port: u16| -> Option<u16> {
            match kind {
            DriverKind::Kind => doc["nodes"]
                .as_array()?
                .iter()
                .flat_map(|n| n["extraPortMappings"].as_array().cloned().unwrap_or_default())
                .find(|m| m["containerPort"].as_u64() == Some(u64::from(node_port)))?["hostPort"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok()),
            _ => doc["ports"].as_array()?.iter().find_map(|p| {
                let parts: Vec<&str> = p["port"].as_str()?.split(':').collect();
                (parts.last()? == &node_port.to_string())
                    .then(|| parts.get(parts.len().checked_sub(2)?)?.parse().ok())
                    .flatten()
            }),
        }
        };
    Some((host_port(HTTP_NODE_PORT)?, host_port(DICOM_NODE_PORT)?))
}

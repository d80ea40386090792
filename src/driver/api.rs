//! What a driver is: the [`Driver`] trait every cluster tool implements, and the values that
//! pass through it (the driver's kind, the engine its nodes run on, a definition, a command
//! line). A driver only *describes* work; `run` executes it.

use std::path::Path;

use serde::Serialize;

use super::cgroup::Cgroup;
use super::common::shell_quote;
use crate::base::spec::{ClusterSpec, Placement, SandboxName, VolumeSource};
use crate::host::engines::{Api, EndpointSource, Engine, EngineKind};
use crate::host::os::{HostOs, OsFamily};
use crate::host::tools::{ToolName, Version};

/// Where the Docker CLI and SDKs look when nothing says otherwise.
const DEFAULT_DOCKER_ENDPOINT: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DriverKind {
    Kind,
    K3d,
    Minikube,
    /// A cluster the user already has, named by `--context`.
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
}

/// `--driver`: one driver, or `auto` (`None`): the first installed of [`AUTO_ORDER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverChoice(pub Option<DriverKind>);

impl DriverChoice {
    pub const AUTO: DriverChoice = DriverChoice(None);
    const VARIANTS: [DriverChoice; 5] = [
        DriverChoice(None),
        DriverChoice(Some(DriverKind::Kind)),
        DriverChoice(Some(DriverKind::K3d)),
        DriverChoice(Some(DriverKind::Minikube)),
        DriverChoice(Some(DriverKind::Existing)),
    ];
}

impl clap::ValueEnum for DriverChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::VARIANTS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self.0 {
            None => Some(
                clap::builder::PossibleValue::new("auto")
                    .help("The first installed of kind, k3d, minikube"),
            ),
            Some(kind) => kind.to_possible_value(),
        }
    }
}

/// The order `--driver auto` tries the installed tools in: kind first (the most widely used,
/// the closest to upstream kubeadm clusters), then k3d (lighter), then minikube.
pub const AUTO_ORDER: [DriverKind; 3] = [DriverKind::Kind, DriverKind::K3d, DriverKind::Minikube];

/// What runs the cluster's nodes as containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// Any Docker-API engine: Docker Engine, Docker Desktop, Rancher Desktop, colima, OrbStack.
    Docker,
    Podman,
}

impl ProviderKind {
    /// As `--provider` takes it.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Docker => "docker",
            ProviderKind::Podman => "podman",
        }
    }

    /// The API the engine of this kind speaks.
    pub fn api(self) -> Api {
        match self {
            ProviderKind::Docker => Api::Docker,
            ProviderKind::Podman => Api::Podman,
        }
    }
}

/// The engine a driver puts its nodes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeProvider {
    pub kind: ProviderKind,
    /// The engine's cgroup version, when the engine was asked.
    pub cgroup: Option<Cgroup>,
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
        let cgroup = match engine
            .resources
            .as_ref()
            .and_then(|r| r.cgroup_version.as_deref())
        {
            Some("1") => Some(Cgroup::V1),
            Some("2") => Some(Cgroup::V2),
            _ => None,
        };
        Self {
            kind,
            cgroup,
            endpoint: Some(engine.endpoint.clone()),
            point_tools_at_endpoint,
        }
    }

    /// A provider named on the command line, without an engine to point at.
    pub fn assumed(kind: ProviderKind) -> Self {
        Self {
            kind,
            cgroup: None,
            endpoint: None,
            point_tools_at_endpoint: false,
        }
    }

    /// A provider named on the command line, at the socket where such an engine would be
    /// found — by path alone, asking no engine (what `plan --provider` shows `up` would point
    /// the tools at). Without such a socket, as [`NodeProvider::assumed`].
    pub fn located(kind: ProviderKind, endpoints: &[crate::host::engines::Endpoint]) -> Self {
        let found = endpoints.iter().find(|e| {
            let podman = crate::host::engines::kind_from_path(&e.uri) == Some(EngineKind::Podman);
            podman == (kind == ProviderKind::Podman)
        });
        match found {
            Some(e) => Self {
                kind,
                cgroup: None,
                endpoint: Some(e.uri.clone()),
                point_tools_at_endpoint: e.source == EndpointSource::WellKnown
                    && e.uri != DEFAULT_DOCKER_ENDPOINT,
            },
            None => Self::assumed(kind),
        }
    }

    /// `DOCKER_HOST` for tools that speak the Docker API, so that they use the very engine
    /// korthbox found (colima's or Podman's socket is not where they look by default).
    pub fn docker_host(&self) -> Vec<(String, String)> {
        match &self.endpoint {
            Some(uri) if self.point_tools_at_endpoint => {
                vec![(crate::base::env::DOCKER_HOST.to_string(), uri.clone())]
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
    /// The command line as a user would type it: `KIND_EXPERIMENTAL_PROVIDER=podman kind …`.
    pub fn display(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| {
                // Proxy URLs may carry credentials: never shown.
                let v = match k.to_ascii_uppercase().ends_with("_PROXY") {
                    true => crate::host::proxy::mask(v),
                    false => v.clone(),
                };
                format!("{k}={}", shell_quote(&v))
            })
            .collect();
        words.push(self.tool.executable().to_string());
        words.extend(self.args.iter().map(|a| shell_quote(a)));
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// The tool reads the images from the engine itself.
    Engine,
    /// The tool reads an image archive that korthbox exports from the engine first
    /// (kind on Podman, whose `docker-image` loader only knows Docker).
    Archive,
}

pub use crate::base::pins::{Checksums, Release};

/// What korthbox knows of a cluster tool beyond its command lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFacts {
    /// The key of the label the tool puts on the containers, networks and volumes of a cluster
    /// (its value is the cluster's name).
    pub leftover_label: &'static str,
    /// The release `korthbox install` downloads.
    pub release: Release,
    pub install: InstallCommands,
}

/// How people usually install a tool system-wide, per OS; `{arch}` is `amd64` or `arm64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallCommands {
    pub macos: &'static str,
    pub windows: &'static str,
    pub linux: &'static str,
}

/// Everything korthbox knows about one cluster tool. A driver describes work (definitions,
/// command lines, how to read a tool's answers); `run` and `actions` execute it. Adding a
/// driver is one implementation of this trait, one template in drivers/, and its tests.
pub trait Driver: Sync {
    fn kind(&self) -> DriverKind;

    /// The executable the driver runs; `None` for a cluster korthbox does not make.
    fn tool(&self) -> Option<ToolName>;

    /// The Kubernetes version used when the user names none.
    fn default_kubernetes_version(&self) -> &'static str;

    /// The Kubernetes version `up` creates on `provider` when the user names none (kind picks
    /// an older one on a cgroup v1 engine).
    fn kubernetes_version_on(&self, provider: &NodeProvider) -> &'static str {
        let _ = provider;
        self.default_kubernetes_version()
    }

    /// The cluster definition for `spec`, as it would be handed to the tool.
    fn render(&self, spec: &ClusterSpec, provider: &NodeProvider) -> Result<Definition, String>;

    /// On a cgroup v1 engine, what the definition does so that the kubelets start, in one
    /// line; `None` on cgroup v2, when the engine's cgroup version is not known, or for a
    /// cluster korthbox does not make.
    fn cgroup_note(&self, _spec: &ClusterSpec, _provider: &NodeProvider) -> Option<String> {
        None
    }

    /// The cluster's own addresses, which its nodes must reach without a proxy: added to
    /// `NO_PROXY` when the shell has a proxy (as minikube documents for its networks).
    fn no_proxy(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the tool hands the shell's proxy variables to its nodes (kind and minikube do).
    fn passes_proxy_to_nodes(&self) -> bool {
        true
    }

    /// The cluster flags this driver does not use, each with why: said once when one is typed.
    fn unused_flags(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The file korthbox keeps the definition in (`kind.yaml`), under its cache directory; its
    /// presence is the evidence that korthbox made the cluster.
    fn definition_file(&self) -> Option<&'static str> {
        None
    }

    /// The words that create cluster `name`, before `--config FILE` (a tool whose definition
    /// is a list of arguments takes those instead).
    fn create_command(&self, name: &SandboxName) -> Vec<String>;

    /// The flag that makes the tool leave a failed cluster in place for inspection.
    fn retain_flag(&self) -> Option<&'static str> {
        None
    }

    /// The arguments that list the tool's clusters in a machine-readable form.
    fn list_args(&self) -> Vec<String>;

    /// Cluster names from a successful or failed run of the list command.
    fn parse_list(&self, status_ok: bool, stdout: &str) -> Result<Vec<String>, String>;

    /// The arguments that delete the cluster.
    fn delete_args(&self, name: &SandboxName) -> Vec<String>;

    /// The tool's own command that starts (`start`) or stops cluster `name` and keeps it
    /// (`k3d cluster stop`, `minikube stop`); `None` where the tool has none (kind), and korthbox
    /// starts and stops the node containers through the engine instead.
    fn pause_args(&self, _name: &SandboxName, _start: bool) -> Option<Vec<String>> {
        None
    }

    /// The label whose value is a node container's role, which orders the start (kind's
    /// `io.x-k8s.kind.role`).
    fn node_role_label(&self) -> Option<&'static str> {
        None
    }

    /// The words before and after the image names in the command that loads images into
    /// every node of cluster `name`.
    fn load_words(&self, name: &SandboxName) -> (Vec<String>, Vec<String>);

    /// The arguments that load `images` (or the archive holding them) into every node.
    fn load_args(
        &self,
        name: &SandboxName,
        images: &[String],
        _archive: Option<&Path>,
    ) -> Vec<String> {
        let (mut args, after) = self.load_words(name);
        args.extend(images.iter().cloned());
        args.extend(after);
        args
    }

    /// The environment the tool needs to use `provider`'s engine.
    fn tool_env(&self, provider: &NodeProvider) -> Vec<(String, String)>;

    /// The kube context the tool writes for the cluster.
    fn context(&self, name: &SandboxName) -> String;

    /// Every node image korthbox pins for this driver (for `korthbox version`).
    fn pinned_images(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The images the cluster's nodes are made from, as korthbox pins them (through the
    /// registry mirror): none where the tool chooses its own (minikube) or nothing is made.
    fn node_images(&self, _spec: &ClusterSpec, _provider: &NodeProvider) -> Vec<String> {
        Vec::new()
    }

    /// What to say about `--registry-mirror` and the cluster's own images, when the driver
    /// cannot rewrite all of them.
    fn mirror_note(&self, _spec: &ClusterSpec) -> Option<String> {
        None
    }

    /// The kubeconfig user the tool writes beside the context (and cluster) of that name.
    fn kube_user(&self, name: &SandboxName) -> String {
        self.context(name)
    }

    fn image_source(&self, _provider: &NodeProvider) -> ImageSource {
        ImageSource::Engine
    }

    /// Whether the nodes publish Orthanc's ports on the host (then no `korthbox forward` is
    /// needed), so that the host ports must be free before the cluster is made.
    fn maps_host_ports(&self) -> bool;

    /// The host ports (HTTP, DICOM) the definition handed to the tool maps, read back from the
    /// copy korthbox keeps (`dir` holds it).
    fn mapped_ports(&self, _dir: &Path) -> Option<(u16, u16)> {
        None
    }

    /// Where the stack's volumes come from; `cluster_has_default` says whether the cluster
    /// has a default StorageClass (`None`: not known, the cluster was not asked). By default:
    /// the class a cluster korthbox makes comes with (kind's `standard`, k3s's `local-path`).
    fn volumes(&self, cluster_has_default: Option<bool>) -> VolumeSource {
        super::common::default_class_or_local_path(cluster_has_default, true, true)
    }

    /// What korthbox knows of the tool itself: its leftovers' label, the release it installs,
    /// how people install it. `None` for a cluster korthbox does not make.
    fn tool_facts(&self) -> Option<ToolFacts> {
        None
    }

    /// A warning about the installed tool's version, when it may not work with what korthbox
    /// pins (kind older than its node images).
    fn version_warning(&self, _have: &Version) -> Option<String> {
        None
    }
}

impl dyn Driver + '_ {
    /// Whether korthbox makes (and deletes) this driver's clusters; false for `existing`.
    pub fn makes_cluster(&self) -> bool {
        self.tool().is_some()
    }

    /// Where the stack goes in this driver's cluster; `cluster_has_default` as for
    /// [`Driver::volumes`].
    pub fn placement(&self, cluster_has_default: Option<bool>) -> Placement {
        Placement {
            volumes: self.volumes(cluster_has_default),
            side_loaded: self.makes_cluster(),
            node_ports: self.maps_host_ports(),
        }
    }

    /// The label on what the tool made for cluster `name` (`k3d.cluster=NAME`).
    pub fn leftover_label(&self, name: &SandboxName) -> Option<String> {
        self.tool_facts()
            .map(|facts| format!("{}={name}", facts.leftover_label))
    }

    /// The release `korthbox install` downloads.
    pub fn release(&self) -> Option<Release> {
        self.tool_facts().map(|facts| facts.release)
    }

    /// The system-wide command that installs the pinned release on `host` (the package
    /// managers' commands install the project's latest release).
    pub fn install_command(&self, host: &HostOs) -> Option<String> {
        let facts = self.tool_facts()?;
        let command = match host.family {
            OsFamily::Macos => facts.install.macos,
            OsFamily::Windows => facts.install.windows,
            OsFamily::Linux | OsFamily::Wsl2 | OsFamily::Other => facts.install.linux,
        };
        let arch = host.arch.release_name().unwrap_or("amd64");
        Some(
            command
                .replace("{arch}", arch)
                .replace("{version}", &facts.release.version.to_string()),
        )
    }

    /// How to install the tool on `host`: `korthbox install` where korthbox pins the binary
    /// for this platform, else the system-wide command.
    pub fn install_hint(&self, host: &HostOs) -> Option<String> {
        let facts = self.tool_facts()?;
        let command = self.install_command(host)?;
        let arch = host.arch.release_name().unwrap_or("amd64");
        let pinned = host
            .family
            .release_name()
            .and_then(|os| facts.release.sha256_for(os, arch))
            .is_some();
        Some(match pinned {
            true => format!(
                "`korthbox install {}` ({}, checksum verified), or system-wide: {command}",
                self.kind().label(),
                facts.release.version
            ),
            false => command,
        })
    }

    fn invocation(&self, provider: &NodeProvider, args: Vec<String>) -> Option<Invocation> {
        Some(Invocation {
            tool: self.tool()?,
            args,
            env: self.tool_env(provider),
        })
    }

    /// The command that creates the cluster; `config` is where [`Driver::render`]'s file was
    /// written. With `retain`, the tool leaves a failed cluster in place.
    pub fn create(
        &self,
        spec: &ClusterSpec,
        provider: &NodeProvider,
        config: Option<&Path>,
        retain: bool,
    ) -> Result<Invocation, String> {
        let mut args = match self.render(spec, provider)? {
            Definition::File { .. } => {
                let config = config
                    .ok_or_else(|| format!("{} needs its config file", self.kind().label()))?;
                let mut args = self.create_command(&spec.name);
                args.extend(["--config".to_string(), config.display().to_string()]);
                args
            }
            Definition::Args(args) => args,
            Definition::Nothing => Vec::new(),
        };
        if retain {
            args.extend(self.retain_flag().map(String::from));
        }
        self.invocation(provider, args).ok_or_else(|| {
            "an existing cluster is used as it is; korthbox does not create it".to_string()
        })
    }

    /// The command that lists the tool's clusters.
    pub fn list(&self, provider: &NodeProvider) -> Option<Invocation> {
        self.invocation(provider, self.list_args())
    }

    /// The tool's command that starts or stops the cluster, where it has one.
    pub fn pause(
        &self,
        name: &SandboxName,
        provider: &NodeProvider,
        start: bool,
    ) -> Option<Invocation> {
        self.invocation(provider, self.pause_args(name, start)?)
    }

    /// The command that deletes the cluster.
    pub fn delete(&self, name: &SandboxName, provider: &NodeProvider) -> Option<Invocation> {
        self.invocation(provider, self.delete_args(name))
    }

    /// The command that loads `images` (or the archive holding them) into every node.
    pub fn load(
        &self,
        name: &SandboxName,
        provider: &NodeProvider,
        images: &[String],
        archive: Option<&Path>,
    ) -> Option<Invocation> {
        self.invocation(provider, self.load_args(name, images, archive))
    }
}

/// `images` between the words before and after them.
pub fn around((before, after): (Vec<String>, Vec<String>), images: &[String]) -> Vec<String> {
    before
        .into_iter()
        .chain(images.iter().cloned())
        .chain(after)
        .collect()
}

/// Words for a command line.
pub fn words<const N: usize>(words: [&str; N]) -> Vec<String> {
    words.map(String::from).to_vec()
}

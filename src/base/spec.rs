//! What a sandbox is made of, as far as the host needs to know before one exists.

/// Host port for Orthanc's HTTP API and web UI (Orthanc's own default).
pub const DEFAULT_HTTP_PORT: u16 = 8042;
/// Host port for Orthanc's DICOM listener (Orthanc's own default).
pub const DEFAULT_DICOM_PORT: u16 = 4242;
/// Host port for the Kubernetes API server. kind and k3d pick a random port by default;
/// korthbox pins one so the kubeconfig stays the same across resets.
pub const DEFAULT_API_SERVER_PORT: u16 = 6443;

/// The host ports a sandbox binds on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HostPorts {
    pub http: u16,
    pub dicom: u16,
    pub api_server: u16,
}

impl Default for HostPorts {
    fn default() -> Self {
        Self {
            http: DEFAULT_HTTP_PORT,
            dicom: DEFAULT_DICOM_PORT,
            api_server: DEFAULT_API_SERVER_PORT,
        }
    }
}

/// NodePort of Orthanc's HTTP Service; kind and k3d map host port `http` to it.
pub const HTTP_NODE_PORT: u16 = 30042;
/// NodePort of Orthanc's DICOM Service; kind and k3d map host port `dicom` to it.
pub const DICOM_NODE_PORT: u16 = 30242;

/// The sandbox's name when none is given.
pub const DEFAULT_NAME: &str = "korthbox";
/// Worker nodes when none are asked for: two, so that scheduling across nodes is real.
pub const DEFAULT_WORKERS: u8 = 2;
/// The most worker nodes korthbox will ask a driver for on a workstation.
pub const MAX_WORKERS: u8 = 9;
/// CPUs and memory per node, where the driver sizes nodes (minikube). Three nodes of 2 GiB
/// fit in the 8 GiB doctor asks the engine for, with room for the engine itself.
pub const DEFAULT_NODE_CPUS: u8 = 2;
pub const DEFAULT_NODE_MEMORY_MIB: u32 = 2048;

/// A sandbox name: an RFC 1123 label of at most [`SandboxName::MAX_LEN`] characters.
///
/// The name becomes a kind cluster, a k3d cluster (whose containers are `k3d-NAME-server-0`,
/// hostnames limited to 63), a minikube profile and part of a kube context, so it must be
/// a label all of them accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct SandboxName(String);

impl SandboxName {
    /// Short enough that k3d's longest container name (`k3d-NAME-serverlb`, `k3d-NAME-agent-9`)
    /// and minikube's node names (`NAME-m09`) stay well inside a 63-character hostname.
    pub const MAX_LEN: usize = 32;

    /// Checks `text` and says what is wrong with it.
    ///
    /// ```
    /// use korthbox::base::spec::SandboxName;
    /// assert!(SandboxName::parse("korthbox").is_ok());
    /// assert!(SandboxName::parse("dev-2").is_ok());
    /// assert!(SandboxName::parse("Dev").is_err());
    /// assert!(SandboxName::parse("-dev").is_err());
    /// assert!(SandboxName::parse("dev_2").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let problem = if text.is_empty() {
            Some("it is empty".to_string())
        } else if text.len() > Self::MAX_LEN {
            Some(format!(
                "it is {} characters long; the limit is {}",
                text.len(),
                Self::MAX_LEN
            ))
        } else if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            Some(format!(
                "{c:?} is not allowed: use lower-case letters, digits and '-'"
            ))
        } else if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            Some("it must start with a letter or a digit".to_string())
        } else if text.ends_with('-') {
            Some("it must end with a letter or a digit".to_string())
        } else {
            None
        };
        match problem {
            None => Ok(Self(text.to_string())),
            Some(p) => Err(format!(
                "{text:?} is not a valid sandbox name: {p} (an RFC 1123 label such as \"korthbox\" or \"dev-2\")"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SandboxName {
    fn default() -> Self {
        Self(DEFAULT_NAME.to_string())
    }
}

impl std::fmt::Display for SandboxName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Control-plane nodes: one, or three for a highly available control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(into = "u8")]
pub enum ControlPlanes {
    One,
    Three,
}

impl ControlPlanes {
    pub fn count(self) -> u8 {
        match self {
            ControlPlanes::One => 1,
            ControlPlanes::Three => 3,
        }
    }
}

impl From<ControlPlanes> for u8 {
    fn from(c: ControlPlanes) -> u8 {
        c.count()
    }
}

/// Everything a driver needs to make (or find) the cluster.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterSpec {
    pub name: SandboxName,
    pub control_planes: ControlPlanes,
    pub workers: u8,
    /// `None`: the driver's pinned default.
    pub kubernetes_version: Option<String>,
    pub ports: HostPorts,
    /// CPUs and memory per node, for drivers that size their nodes (minikube).
    pub node_cpus: u8,
    pub node_memory_mib: u32,
    /// The registry the stack's images, and kind's and k3d's node images, come from instead
    /// (`--registry-mirror`); minikube gets it for Kubernetes' own images.
    pub registry_mirror: Option<String>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            name: SandboxName::default(),
            control_planes: ControlPlanes::One,
            workers: DEFAULT_WORKERS,
            kubernetes_version: None,
            ports: HostPorts::default(),
            node_cpus: DEFAULT_NODE_CPUS,
            node_memory_mib: DEFAULT_NODE_MEMORY_MIB,
            registry_mirror: None,
        }
    }
}

impl ClusterSpec {
    pub fn nodes(&self) -> u8 {
        self.control_planes.count() + self.workers
    }

    /// `image` from the registry mirror, when there is one (repository, tag and digest kept).
    pub fn mirrored(&self, image: &str) -> String {
        match &self.registry_mirror {
            Some(mirror) => crate::kube::stack::images::ImageRef::parse(image)
                .with_registry(mirror)
                .to_string(),
            None => image.to_string(),
        }
    }
}

/// The namespace the stack goes in when none is given.
pub const DEFAULT_NAMESPACE: &str = "korthbox";
/// The DICOM AE title Orthanc answers to.
pub const ORTHANC_AET: &str = "KORTHBOX";
/// The MinIO bucket Orthanc's S3 plugin writes to.
pub const BUCKET: &str = "orthanc";

/// Where persistent volumes come from, or object storage beside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StorageLayer {
    /// The cluster's default StorageClass, or rancher's local-path-provisioner.
    #[default]
    LocalPath,
    /// local-path as above, plus MinIO object storage.
    Minio,
}

/// Where Orthanc keeps DICOM files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OrthancStorage {
    /// Files on a persistent volume (the default).
    #[default]
    Pv,
    /// Objects in MinIO through Orthanc's S3 plugin (needs --storage minio).
    S3,
    /// Inside PostgreSQL (EnableStorage), as the Korthweb demo does; not for production.
    Postgres,
}

/// How Orthanc's DICOM port is exposed in the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DicomService {
    /// Inside the cluster only (and through korthbox's port-forwards); the default.
    #[default]
    Clusterip,
    /// A LoadBalancer Service besides: anyone who reaches its address may store in Orthanc.
    Loadbalancer,
}

/// The web viewer the sandbox's Orthanc serves, beside Orthanc Explorer 2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Viewer {
    /// The Stone Web Viewer (light, over DICOMweb; the default).
    #[default]
    Stone,
    /// The OHIF viewer, as Orthanc's OHIF plugin serves it.
    Ohif,
    /// No viewer plugin.
    None,
}

impl Viewer {
    /// Where it is under Orthanc's URL.
    pub fn path(self) -> Option<&'static str> {
        match self {
            Viewer::Stone => Some("/stone-webviewer/index.html"),
            Viewer::Ohif => Some("/ohif/"),
            Viewer::None => None,
        }
    }

    /// The variable with which the orthancteam/orthanc image's entrypoint loads the plugin
    /// (a configuration section configures the viewer but does not load it).
    pub fn variable(self) -> Option<&'static str> {
        match self {
            Viewer::Stone => Some("STONE_WEB_VIEWER_PLUGIN_ENABLED"),
            Viewer::Ohif => Some("OHIF_PLUGIN_ENABLED"),
            Viewer::None => None,
        }
    }

    /// The viewer a variable loads.
    pub fn from_variable(name: &str) -> Option<Viewer> {
        [Viewer::Stone, Viewer::Ohif]
            .into_iter()
            .find(|v| v.variable() == Some(name))
    }

    pub fn label(self) -> &'static str {
        match self {
            Viewer::Stone => "Stone Web Viewer",
            Viewer::Ohif => "OHIF",
            Viewer::None => "none",
        }
    }
}

/// Where the stack's volumes come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VolumeSource {
    /// The cluster's default StorageClass (kind's `standard`, k3s's `local-path`).
    ClusterDefault,
    /// Install local-path-provisioner; `default` marks its class as the cluster default (only
    /// where there is none), otherwise volumes name it explicitly.
    InstallLocalPath { default: bool },
    /// A `local-path` class of rancher's provisioner that the cluster has and korthbox did not
    /// make (a platform team's): named by the stack's claims, never changed.
    ExistingLocalPath,
}

/// Where the stack goes in a cluster, as the driver decides it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Placement {
    pub volumes: VolumeSource,
    /// Whether korthbox side-loads the images into the nodes.
    pub side_loaded: bool,
    /// Whether Orthanc's Service is a NodePort the driver maps host ports to; otherwise it is
    /// a ClusterIP Service, reached through `korthbox forward`.
    pub node_ports: bool,
}

/// A PostgreSQL korthbox does not deploy (`--postgres-url`): a managed service, a team's server.
/// No password here: it comes from `KORTHBOX_POSTGRES_PASSWORD` (or a prompt) into a Secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalPostgres {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// libpq's sslmode: disable, allow, prefer, require, verify-ca, verify-full.
    pub sslmode: String,
    /// The CA certificates (PEM) the server's certificate is checked against
    /// (`--postgres-ca`: the RDS or Azure bundle).
    #[serde(skip)]
    pub ca: Option<String>,
}

/// The sslmodes libpq knows.
const SSLMODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl ExternalPostgres {
    /// `postgresql://USER@HOST[:PORT]/DB[?sslmode=MODE]`; `require` when no sslmode is given (a
    /// managed service wants TLS). A password in the URL is refused: it would be in the shell's
    /// history and in `ps`.
    pub fn parse(url: &str) -> Result<ExternalPostgres, String> {
        let shown = crate::base::error::redact(url);
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| format!("{shown:?} is not a postgresql:// URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| format!("{shown}: name the user, postgresql://USER@HOST/DB"))?;
        if user.contains(':') {
            return Err(format!(
                "{shown}: a password in the URL would be in your shell's history and in `ps`; give it in KORTHBOX_POSTGRES_PASSWORD (or at the prompt on a terminal)"
            ));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{shown}: {p:?} is not a port"))?,
            ),
            None => (hostport, 5432),
        };
        let (database, query) = path.split_once('?').unwrap_or((path, ""));
        let mut sslmode = "require".to_string();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", mode)) if SSLMODES.contains(&mode) => sslmode = mode.to_string(),
                _ => {
                    return Err(format!(
                        "{shown}: korthbox takes only sslmode ({}) after the `?`",
                        SSLMODES.join(", ")
                    ));
                }
            }
        }
        let simple = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !simple(user) || !simple(host) || !simple(database) {
            return Err(format!(
                "{shown}: the user, host and database must be plain names (letters, digits, '_', '-', '.')"
            ));
        }
        Ok(ExternalPostgres {
            user: user.to_string(),
            host: host.to_string(),
            port,
            database: database.to_string(),
            sslmode,
            ca: None,
        })
    }

    /// Where the CA certificates are in Orthanc's container.
    pub const CA_PATH: &'static str = "/etc/korthbox/postgres/ca.pem";

    /// The libpq URI Orthanc's PostgreSQL plugin is given (`ConnectionUri`): no password in
    /// it — libpq takes `PGPASSWORD` from the container's environment.
    pub fn uri(&self) -> String {
        let mut uri = format!(
            "postgresql://{}@{}:{}/{}?sslmode={}",
            self.user, self.host, self.port, self.database, self.sslmode
        );
        if self.ca.is_some() {
            uri.push_str(&format!("&sslrootcert={}", Self::CA_PATH));
        }
        uri
    }

    /// A combination libpq would refuse or that checks nothing, said with the fix.
    pub fn check(&self) -> Result<(), String> {
        let verifies = self.sslmode.starts_with("verify-");
        match (verifies, &self.ca) {
            (true, None) => Err(format!(
                "sslmode={} checks the server's certificate against CA certificates; give them with --postgres-ca FILE (the RDS or Azure bundle)",
                self.sslmode
            )),
            (false, Some(_)) if self.sslmode == "disable" => Err(
                "--postgres-ca is for TLS, and sslmode=disable turns it off; use sslmode=verify-full".into(),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod external_postgres_tests {
    use super::ExternalPostgres;

    #[test]
    fn a_postgres_url_is_taken_apart_and_a_password_refused() {
        let pg =
            ExternalPostgres::parse("postgresql://orthanc@db.example.org/pacs?sslmode=verify-full")
                .unwrap();
        assert_eq!(
            (pg.host.as_str(), pg.port, pg.database.as_str()),
            ("db.example.org", 5432, "pacs")
        );
        assert_eq!(
            pg.uri(),
            "postgresql://orthanc@db.example.org:5432/pacs?sslmode=verify-full"
        );
        assert!(pg.check().unwrap_err().contains("--postgres-ca"));
        let pg = ExternalPostgres::parse("postgres://u@h:6432/d").unwrap();
        assert_eq!((pg.port, pg.sslmode.as_str()), (6432, "require"));
        let err = ExternalPostgres::parse("postgresql://u:hunter2@h/d").unwrap_err();
        assert!(
            err.contains("KORTHBOX_POSTGRES_PASSWORD") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(ExternalPostgres::parse("postgresql://u@h/d?sslmode=sometimes").is_err());
        assert!(ExternalPostgres::parse("mysql://u@h/d").is_err());
    }
}

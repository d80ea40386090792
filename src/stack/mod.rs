//! What is deployed into the cluster: the storage layer, PostgreSQL, MinIO and Orthanc, each
//! rendered from its readable YAML under assets/ (embedded at build time) with a small set of
//! substitutions, and tagged with the stage of the apply order it belongs to.

pub mod images;
mod minio;
mod orthanc;
mod postgres;
mod storage;

use serde::Serialize;
use serde_json::{Value, json};

use crate::spec::{StackSpec, StorageLayer, VolumeSource};
use crate::template::{self, Vars};

/// Where in the apply order an object goes; stages are applied (and waited for) in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Namespace,
    Storage,
    /// Created only when absent, never updated.
    Secrets,
    Config,
    Postgres,
    Minio,
    Bucket,
    Orthanc,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Namespace => "namespace",
            Stage::Storage => "storage",
            Stage::Secrets => "secrets",
            Stage::Config => "configuration",
            Stage::Postgres => "PostgreSQL",
            Stage::Minio => "MinIO",
            Stage::Bucket => "MinIO bucket",
            Stage::Orthanc => "Orthanc",
        }
    }
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub stage: Stage,
    pub object: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
    /// `Deployment orthanc/korthbox`, for messages.
    pub fn describe(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind(), self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

/// The generated credentials. Values go into Secrets only, and are printed only when asked.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub postgres_password: String,
    pub orthanc_password: String,
    pub minio_password: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

/// What `plan` shows in place of a secret value.
pub const REDACTED: &str = "<redacted: korthbox plan --show-secrets prints values>";

impl Secrets {
    /// Fresh random passwords (24 bytes from the OS, hex).
    pub fn generate() -> std::io::Result<Self> {
        Ok(Self {
            postgres_password: random_hex(24)?,
            orthanc_password: random_hex(24)?,
            minio_password: random_hex(24)?,
        })
    }

    pub fn redacted() -> Self {
        Self {
            postgres_password: REDACTED.into(),
            orthanc_password: REDACTED.into(),
            minio_password: REDACTED.into(),
        }
    }
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Every object of the stack, in apply order.
pub fn render(spec: &StackSpec, secrets: &Secrets) -> Result<Vec<Manifest>, String> {
    spec.check()?;
    let vars = vars(spec, secrets)?;
    let mut out = Vec::new();
    out.extend(docs(
        Stage::Namespace,
        include_str!("../../assets/namespace.yaml"),
        &vars,
    )?);
    out.extend(storage::render(spec, &vars)?);
    out.extend(docs(
        Stage::Secrets,
        include_str!("../../assets/secrets.yaml"),
        &vars,
    )?);
    out.extend(postgres::render(&vars)?);
    if spec.storage == StorageLayer::Minio {
        out.extend(minio::render(&vars)?);
    }
    out.extend(orthanc::render(spec, &vars)?);
    out.sort_by_key(|m| m.stage);
    Ok(out)
}

/// The objects as one multi-document YAML stream.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(|m| template::to_yaml(&m.object))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Renders every document of a multi-document asset into `stage`.
fn docs(stage: Stage, asset: &str, vars: &Vars) -> Result<Vec<Manifest>, String> {
    Ok(template::render_yaml_documents(asset, vars)?
        .into_iter()
        .map(|object| Manifest { stage, object })
        .collect())
}

/// The recommended labels, plus korthbox's own.
fn labels(spec: &StackSpec, name: &str, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": spec.instance.as_str(),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "korthbox",
        "app.kubernetes.io/managed-by": "korthbox",
    })
}

fn selector(spec: &StackSpec, name: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": spec.instance.as_str(),
    })
}

fn vars(spec: &StackSpec, secrets: &Secrets) -> Result<Vars, String> {
    let storage_class = match spec.volumes {
        VolumeSource::ClusterDefault | VolumeSource::InstallLocalPath { default: true } => {
            Value::Null
        }
        VolumeSource::InstallLocalPath { default: false } => json!(storage::CLASS),
    };
    let images = spec.manifest_images();
    let mut vars = Vars::from([
        ("namespace", json!(spec.namespace)),
        ("labels_namespace", labels(spec, "korthbox", "sandbox")),
        (
            "labels_storage",
            labels(spec, "local-path-provisioner", "storage"),
        ),
        ("selector_storage", selector(spec, "local-path-provisioner")),
        ("labels_postgres", labels(spec, "postgres", "database")),
        ("selector_postgres", selector(spec, "postgres")),
        ("labels_minio", labels(spec, "minio", "object-storage")),
        ("selector_minio", selector(spec, "minio")),
        ("labels_orthanc", labels(spec, "orthanc", "dicom-server")),
        ("selector_orthanc", selector(spec, "orthanc")),
        ("image_orthanc", json!(images.orthanc)),
        ("image_postgres", json!(images.postgres)),
        ("image_minio", json!(images.minio)),
        ("image_mc", json!(images.minio_client)),
        ("image_local_path", json!(images.local_path)),
        ("image_busybox", json!(images.busybox)),
        ("storage_class", storage_class),
        ("bucket", json!(crate::spec::BUCKET)),
        ("postgres_password", json!(secrets.postgres_password)),
        ("orthanc_password", json!(secrets.orthanc_password)),
        ("minio_password", json!(secrets.minio_password)),
    ]);
    orthanc::add_vars(spec, &mut vars)?;
    Ok(vars)
}

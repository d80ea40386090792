//! One object of the stack, the stage of the apply order it belongs to, and the labels
//! korthbox puts on everything it deploys.

use kube::api::{ApiResource, GroupVersionKind};
use serde::Serialize;
use serde_json::{Value, json};

use super::spec::StackSpec;
use crate::base::template::{self, Vars};

/// The label every object korthbox deploys carries, with `app.kubernetes.io/instance`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The sandbox an object belongs to.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// korthbox's value of [`MANAGED_BY`].
pub const KORTHBOX: &str = "korthbox";

/// Whether an object's labels say korthbox made it for sandbox `instance`.
pub fn belongs(
    labels: Option<&std::collections::BTreeMap<String, String>>,
    instance: &str,
) -> bool {
    labels.is_some_and(|l| {
        l.get(MANAGED_BY).map(String::as_str) == Some(KORTHBOX)
            && l.get(INSTANCE).map(String::as_str) == Some(instance)
    })
}

/// The label selector for what korthbox made for sandbox `instance`.
pub fn selector_for(instance: &str) -> String {
    format!("{MANAGED_BY}={KORTHBOX},{INSTANCE}={instance}")
}

/// Where in the apply order an object goes: the shared stages in this order, then the
/// components at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Namespace,
    Storage,
    /// Created only when absent, never updated.
    Secrets,
    Config,
    /// Checks that must pass before any component is applied (a PostgreSQL of the user's own).
    Check,
    Postgres,
    Minio,
    Orthanc,
}

impl Stage {
    /// What the components need to exist before they are applied: applied first, in order.
    pub fn is_shared(self) -> bool {
        matches!(
            self,
            Stage::Namespace | Stage::Storage | Stage::Secrets | Stage::Config | Stage::Check
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Namespace => "namespace",
            Stage::Storage => "storage",
            Stage::Secrets => "secrets",
            Stage::Config => "configuration",
            Stage::Check => "the check of PostgreSQL",
            Stage::Postgres => "PostgreSQL",
            Stage::Minio => "MinIO",
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
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
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

/// Renders every document of a multi-document asset into `stage`.
pub fn docs(stage: Stage, asset: &str, vars: &Vars) -> Result<Vec<Manifest>, String> {
    Ok(template::render_yaml_documents(asset, vars)?
        .into_iter()
        .map(|object| Manifest { stage, object })
        .collect())
}

/// The recommended labels, plus korthbox's own.
pub fn labels(spec: &StackSpec, name: &str, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        INSTANCE: spec.instance.as_str(),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": KORTHBOX,
        MANAGED_BY: KORTHBOX,
    })
}

pub fn selector(spec: &StackSpec, name: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        INSTANCE: spec.instance.as_str(),
    })
}

/// The API path pieces korthbox needs for the kinds it deploys. A fixed table instead of
/// discovery: the stack's kinds are known, and one fewer round trip per object.
pub fn resource(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (plural, namespaced) = match (api_version, kind) {
        ("v1", "Namespace") => ("namespaces", false),
        ("v1", "ServiceAccount") => ("serviceaccounts", true),
        ("v1", "ConfigMap") => ("configmaps", true),
        ("v1", "Secret") => ("secrets", true),
        ("v1", "Service") => ("services", true),
        ("v1", "PersistentVolumeClaim") => ("persistentvolumeclaims", true),
        ("apps/v1", "Deployment") => ("deployments", true),
        ("apps/v1", "StatefulSet") => ("statefulsets", true),
        ("batch/v1", "Job") => ("jobs", true),
        ("policy/v1", "PodDisruptionBudget") => ("poddisruptionbudgets", true),
        ("networking.k8s.io/v1", "Ingress") => ("ingresses", true),
        ("rbac.authorization.k8s.io/v1", "Role") => ("roles", true),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => ("rolebindings", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => ("clusterroles", false),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => ("clusterrolebindings", false),
        ("storage.k8s.io/v1", "StorageClass") => ("storageclasses", false),
        _ => return None,
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

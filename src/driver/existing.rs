//! A cluster the user already has, named by its kube context: nothing is created or deleted,
//! and the same checks apply as to a cluster korthbox made.

use super::api::{Definition, Driver, DriverKind, NodeProvider};
use super::common;
use crate::base::spec::{ClusterSpec, SandboxName, VolumeSource};
use crate::host::tools::ToolName;

pub struct Existing;

impl Driver for Existing {
    fn kind(&self) -> DriverKind {
        DriverKind::Existing
    }

    fn tool(&self) -> Option<ToolName> {
        None
    }

    fn unused_flags(&self) -> &'static [(&'static str, &'static str)] {
        const AS_IT_IS: &str = "an existing cluster is used as it is";
        &[
            ("--workers", AS_IT_IS),
            ("--control-planes", AS_IT_IS),
            ("--kubernetes-version", AS_IT_IS),
            ("--node-cpus", AS_IT_IS),
            ("--node-memory", AS_IT_IS),
            ("--api-server-port", AS_IT_IS),
        ]
    }

    fn default_kubernetes_version(&self) -> &'static str {
        "whatever the cluster runs"
    }

    fn render(&self, _spec: &ClusterSpec, _provider: &NodeProvider) -> Result<Definition, String> {
        Ok(Definition::Nothing)
    }

    fn create_command(&self, _name: &SandboxName) -> Vec<String> {
        Vec::new()
    }

    fn list_args(&self) -> Vec<String> {
        Vec::new()
    }

    fn parse_list(&self, _status_ok: bool, _stdout: &str) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    fn delete_args(&self, _name: &SandboxName) -> Vec<String> {
        Vec::new()
    }

    /// Images reach an existing cluster through its registry, not by side-loading.
    fn load_words(&self, _name: &SandboxName) -> (Vec<String>, Vec<String>) {
        (Vec::new(), Vec::new())
    }

    fn tool_env(&self, _provider: &NodeProvider) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The context is the user's, given with --context; the sandbox name is not a context.
    fn context(&self, name: &SandboxName) -> String {
        name.to_string()
    }

    /// Orthanc is reached through `korthbox forward`.
    fn maps_host_ports(&self) -> bool {
        false
    }

    /// The cluster's default StorageClass when it has one; otherwise local-path, named by the
    /// stack's claims and never made the default of a cluster that is the user's.
    fn volumes(&self, cluster_has_default: Option<bool>) -> VolumeSource {
        common::default_class_or_local_path(cluster_has_default, false, false)
    }
}

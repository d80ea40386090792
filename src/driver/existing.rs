//! A cluster the user already has, named by its kube context: nothing is created or deleted,
//! and the same checks apply as to a cluster korthbox made.

use std::path::Path;

use super::{Definition, Driver, DriverKind, ImageSource, Invocation, NodeProvider};
use crate::spec::{ClusterSpec, SandboxName};

pub struct Existing;

impl Driver for Existing {
    fn kind(&self) -> DriverKind {
        DriverKind::Existing
    }

    fn default_kubernetes_version(&self) -> &'static str {
        "whatever the cluster runs"
    }

    fn render(&self, _spec: &ClusterSpec, _provider: &NodeProvider) -> Result<Definition, String> {
        Ok(Definition::Nothing)
    }

    fn create(
        &self,
        _spec: &ClusterSpec,
        _provider: &NodeProvider,
        _config: Option<&Path>,
        _retain: bool,
    ) -> Result<Invocation, String> {
        Err("an existing cluster is used as it is; korthbox does not create it".into())
    }

    fn list(&self, _provider: &NodeProvider) -> Option<Invocation> {
        None
    }

    fn parse_list(&self, _status_ok: bool, _stdout: &str) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    fn delete(&self, _name: &SandboxName, _provider: &NodeProvider) -> Option<Invocation> {
        None
    }

    /// The context is the user's, given with --context; the sandbox name is not a context.
    fn context(&self, name: &SandboxName) -> String {
        name.to_string()
    }

    fn image_source(&self, _provider: &NodeProvider) -> ImageSource {
        ImageSource::Engine
    }

    /// Images reach an existing cluster through its registry, not by side-loading.
    fn load(
        &self,
        _name: &SandboxName,
        _provider: &NodeProvider,
        _images: &[String],
        _archive: Option<&Path>,
    ) -> Option<Invocation> {
        None
    }
}

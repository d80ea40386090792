//! The storage layer: the cluster's default StorageClass, or rancher's local-path-provisioner.

use super::manifest::{Manifest, Stage, docs};
use super::spec::StackSpec;
use crate::base::spec::VolumeSource;
use crate::base::template::Vars;

/// The StorageClass local-path-provisioner serves.
pub const CLASS: &str = "local-path";
/// The namespace local-path-provisioner runs in.
pub const NAMESPACE: &str = "local-path-storage";

pub fn render(spec: &StackSpec, vars: &Vars) -> Result<Vec<Manifest>, String> {
    match spec.volumes {
        VolumeSource::ClusterDefault | VolumeSource::ExistingLocalPath => Ok(Vec::new()),
        VolumeSource::InstallLocalPath { default } => {
            let mut vars = vars.clone();
            vars.insert(
                "local_path_default",
                serde_json::json!(if default { "true" } else { "false" }),
            );
            docs(
                Stage::Storage,
                include_str!("../../../assets/local-path-provisioner.yaml"),
                &vars,
            )
        }
    }
}

//! Which clusters are korthbox's: those whose definition korthbox wrote, before running the
//! tool, into its cache directory. Only those are deleted without `--force`.

use std::path::Path;

use super::api::Driver;
use super::common::{CREATE_LOG, cluster_dir, definition_path};
use crate::spec::SandboxName;

/// Whether korthbox made cluster `name` with `driver`: the definition it wrote for the cluster
/// before running the tool is in its cache directory. Readable with the cluster's API server
/// dead, and it names the driver too (a kind cluster `x` made by korthbox says nothing of a
/// k3d cluster `x`).
pub fn made_by_korthbox(cache_dir: Option<&Path>, driver: &dyn Driver, name: &SandboxName) -> bool {
    match (cache_dir, driver.definition_file()) {
        (Some(dir), Some(file)) => definition_path(dir, name, file).is_file(),
        _ => false,
    }
}

/// Forgets a cluster korthbox deleted: its definition and the output of a failed create.
pub fn forget(cache_dir: Option<&Path>, driver: &dyn Driver, name: &SandboxName) {
    let (Some(dir), Some(file)) = (cache_dir, driver.definition_file()) else {
        return;
    };
    for file in [file, CREATE_LOG] {
        let _ = std::fs::remove_file(definition_path(dir, name, file));
    }
    // The cluster's directory, if nothing else is in it.
    let _ = std::fs::remove_dir(cluster_dir(dir, name));
}

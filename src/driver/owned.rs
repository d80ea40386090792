//! Which clusters are korthbox's: those whose definition korthbox wrote, before running the
//! tool, into its cache directory. Only those are deleted without `--force`.

use std::path::Path;

use super::api::Driver;
use super::common::{CREATE_LOG, LOADED, cluster_dir, definition_path};
use crate::base::spec::SandboxName;

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

/// Forgets a cluster korthbox deleted: its definition, the output of a failed create, and the
/// images it loaded.
pub fn forget(cache_dir: Option<&Path>, driver: &dyn Driver, name: &SandboxName) {
    let (Some(dir), Some(file)) = (cache_dir, driver.definition_file()) else {
        return;
    };
    for file in [file, CREATE_LOG, LOADED] {
        let _ = std::fs::remove_file(definition_path(dir, name, file));
    }
    // The cluster's directory, if nothing else is in it.
    let _ = std::fs::remove_dir(cluster_dir(dir, name));
}

/// The images korthbox loaded into cluster `name` (recorded as they are loaded; the record
/// goes with the cluster).
pub fn loaded(cache_dir: Option<&Path>, name: &SandboxName) -> Vec<String> {
    let Some(dir) = cache_dir else {
        return Vec::new();
    };
    std::fs::read_to_string(definition_path(dir, name, LOADED))
        .map(|text| text.lines().map(String::from).collect())
        .unwrap_or_default()
}

/// Records that `images` are in cluster `name`'s nodes (best effort: a record that cannot be
/// written only costs the next `up` a load). `fresh` starts the record over.
pub fn record_loaded(cache_dir: Option<&Path>, name: &SandboxName, images: &[String], fresh: bool) {
    let Some(dir) = cache_dir else {
        return;
    };
    let mut all = match fresh {
        true => Vec::new(),
        false => loaded(Some(dir), name),
    };
    for image in images {
        if !all.contains(image) {
            all.push(image.clone());
        }
    }
    let path = definition_path(dir, name, LOADED);
    let text: String = all.iter().map(|i| format!("{i}\n")).collect();
    let _ = crate::host::fs::write_private(&path, text.as_bytes());
}

//! kubeconfig contexts, read the way kubectl reads them: every file in KUBECONFIG merged
//! (the first to set a value wins; missing files are skipped), else `~/.kube/config`.

use std::path::PathBuf;

use kube::config::Kubeconfig;
use serde::Serialize;

use crate::env::{self, Env};

/// The context name Docker Desktop gives its built-in cluster, in both its modes.
pub const DOCKER_DESKTOP_CONTEXT: &str = "docker-desktop";

#[derive(Debug, Clone, Serialize)]
pub struct KubeContext {
    pub name: String,
    pub cluster: String,
    pub server: Option<String>,
    pub current: bool,
    /// Docker Desktop's built-in cluster (recognised by the context name it always uses).
    pub docker_desktop: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KubeContexts {
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    pub current: Option<String>,
    pub contexts: Vec<KubeContext>,
    /// Files that exist but could not be read or parsed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl KubeContexts {
    pub fn docker_desktop(&self) -> Option<&KubeContext> {
        self.contexts.iter().find(|c| c.docker_desktop)
    }
}

/// The kubeconfig files in the order kubectl merges them.
pub fn files(env: &Env) -> Vec<PathBuf> {
    match env.var_os(env::KUBECONFIG) {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => env.home_path(".kube/config").into_iter().collect(),
    }
}

/// Every kubeconfig file merged, with the files read and the ones that could not be.
pub struct Merged {
    pub config: Kubeconfig,
    pub files: Vec<PathBuf>,
    pub errors: Vec<String>,
}

/// Reads and merges every kubeconfig file the way kubectl does.
pub fn load(env: &Env) -> Merged {
    let mut out = Merged {
        config: Kubeconfig::default(),
        files: Vec::new(),
        errors: Vec::new(),
    };
    for path in files(env) {
        if !path.exists() {
            continue;
        }
        let next = match Kubeconfig::read_from(&path) {
            Ok(k) => k,
            Err(e) => {
                out.errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        out.config = match out.config.clone().merge(next) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        out.files.push(path);
    }
    out
}

/// The contexts of every kubeconfig file, merged.
pub fn read(env: &Env) -> KubeContexts {
    let Merged {
        config: merged,
        files,
        errors,
    } = load(env);
    let mut out = KubeContexts {
        files,
        errors,
        ..KubeContexts::default()
    };
    out.current = merged.current_context.clone().filter(|c| !c.is_empty());
    out.contexts = merged
        .contexts
        .iter()
        .map(|named| {
            let cluster = named
                .context
                .as_ref()
                .map(|c| c.cluster.clone())
                .unwrap_or_default();
            let server = merged
                .clusters
                .iter()
                .find(|c| c.name == cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone());
            KubeContext {
                current: out.current.as_deref() == Some(named.name.as_str()),
                docker_desktop: named.name == DOCKER_DESKTOP_CONTEXT,
                name: named.name.clone(),
                cluster,
                server,
            }
        })
        .collect();
    out
}

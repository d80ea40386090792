//! kubeconfig contexts, read the way kubectl reads them: every file in KUBECONFIG merged
//! (the first to set a value wins; missing files are skipped), else `~/.kube/config`.

use std::path::PathBuf;

use std::collections::BTreeSet;

use kube::config::Kubeconfig;
use serde::Serialize;
use serde_json::Value;

use crate::base::env::{self, Env};
use crate::base::error::Error;

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
    /// Files KUBECONFIG names that do not exist (kubectl skips them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<PathBuf>,
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
    /// Files KUBECONFIG names that do not exist.
    pub missing: Vec<PathBuf>,
}

/// An error's first line, with its source chain: what a parser said, without the excerpt of
/// the file it draws beneath.
fn first_line(e: &dyn std::error::Error) -> String {
    let text = crate::base::error::one_line(e);
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// Reads and merges every kubeconfig file the way kubectl does.
pub fn load(env: &Env) -> Merged {
    let mut out = Merged {
        config: Kubeconfig::default(),
        files: Vec::new(),
        errors: Vec::new(),
        missing: Vec::new(),
    };
    for path in files(env) {
        if !path.exists() {
            // kubectl skips it too; a KUBECONFIG entry that is not there is worth a note.
            if env.var_os(env::KUBECONFIG).is_some() {
                out.missing.push(path);
            }
            continue;
        }
        let next = match Kubeconfig::read_from(&path) {
            Ok(k) => k,
            Err(e) => {
                out.errors
                    .push(format!("{}: {}", path.display(), first_line(&e)));
                continue;
            }
        };
        out.config = match out.config.clone().merge(next) {
            Ok(m) => m,
            Err(e) => {
                out.errors
                    .push(format!("{}: {}", path.display(), first_line(&e)));
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
        missing,
    } = load(env);
    let mut out = KubeContexts {
        files,
        errors,
        missing,
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

/// The entries of the merged kubeconfig among those a driver is about to write: `context`'s
/// context and cluster, and `user`; each as `context staging`, `user admin@k3d-dev`.
pub fn taken(env: &Env, context: &str, user: &str) -> Vec<String> {
    let merged = load(env).config;
    let mut out = Vec::new();
    if merged.contexts.iter().any(|c| c.name == context) {
        out.push(format!("context {context}"));
    }
    if merged.clusters.iter().any(|c| c.name == context) {
        out.push(format!("cluster {context}"));
    }
    if merged.auth_infos.iter().any(|u| u.name == user) {
        out.push(format!("user {user}"));
    }
    out
}

/// Removes kube context `context` from every kubeconfig file that has it, with the cluster and
/// user it names unless another context (in any of the files) still uses them. Each file is
/// replaced atomically; a file that cannot be rewritten is left as it was, and said so.
/// Returns the files changed.
pub fn remove_context(env: &Env, context: &str) -> Result<Vec<PathBuf>, Error> {
    let docs: Vec<(PathBuf, Value)> = files(env)
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let doc = serde_saphyr::from_str::<Value>(&text).ok()?;
            Some((path, doc))
        })
        .collect();
    let Some(entry) = docs
        .iter()
        .find_map(|(_, doc)| named(doc, "contexts", context))
    else {
        return Ok(Vec::new());
    };
    let cluster = entry["context"]["cluster"]
        .as_str()
        .unwrap_or(context)
        .to_string();
    let user = entry["context"]["user"]
        .as_str()
        .unwrap_or(context)
        .to_string();
    // What the other contexts, in every file, still use.
    let mut used_clusters = BTreeSet::new();
    let mut used_users = BTreeSet::new();
    for (_, doc) in &docs {
        for c in doc["contexts"].as_array().into_iter().flatten() {
            if c["name"] != context {
                used_clusters.extend(c["context"]["cluster"].as_str().map(String::from));
                used_users.extend(c["context"]["user"].as_str().map(String::from));
            }
        }
    }
    let mut changed = Vec::new();
    for (path, mut doc) in docs {
        let mut gone = remove_named(&mut doc, "contexts", context);
        if !used_clusters.contains(&cluster) {
            gone |= remove_named(&mut doc, "clusters", &cluster);
        }
        if !used_users.contains(&user) {
            gone |= remove_named(&mut doc, "users", &user);
        }
        if doc["current-context"] == context {
            doc["current-context"] = Value::String(String::new());
            gone = true;
        }
        if !gone {
            continue;
        }
        let text = crate::base::template::to_yaml(&doc);
        crate::host::fs::replace(&path, text.as_bytes()).map_err(|e| {
            Error::failure(format!("could not rewrite {}; it is unchanged", path.display()))
                .because(e)
                .hint(format!(
                    "remove the context yourself when there is room: `kubectl config delete-context {context}`"
                ))
        })?;
        changed.push(path);
    }
    Ok(changed)
}

fn named<'a>(doc: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    doc[list].as_array()?.iter().find(|i| i["name"] == name)
}

/// Removes the entries of `list` named `name`; whether there were any.
fn remove_named(doc: &mut Value, list: &str, name: &str) -> bool {
    let Some(items) = doc[list].as_array_mut() else {
        return false;
    };
    let before = items.len();
    items.retain(|i| i["name"] != name);
    items.len() != before
}

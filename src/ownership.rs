//! What korthbox may touch in a cluster: a namespace is the sandbox's when it is new or carries
//! korthbox's labels for that sandbox; `down` deletes that namespace and the cluster-wide
//! objects labelled for the sandbox, and nothing else — never namespaces by label in bulk, and
//! not the shared local-path-provisioner while other namespaces' volumes use it.

use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::runtime::{WatchStreamExt, watcher};

use crate::apply::resource;
use crate::error::Error;
use crate::report::seconds;
use crate::spec::SandboxName;
use crate::stack::manifest::{belongs, selector_for};

/// Namespaces korthbox never puts a sandbox in: the cluster's own, and the provisioner's.
pub const RESERVED_NAMESPACES: [&str; 2] = ["default", "local-path-storage"];

/// Why a `--namespace` cannot hold a sandbox, if it cannot.
pub fn reserved(namespace: &str) -> Option<String> {
    (RESERVED_NAMESPACES.contains(&namespace) || namespace.starts_with("kube-")).then(|| {
        format!("{namespace:?} is the cluster's own namespace; a sandbox needs one of its own, such as \"korthbox\"")
    })
}

/// How the sandbox's namespace stands before an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// There is none yet; the apply creates it.
    New,
    /// It is the sandbox's already.
    Ours,
}

/// Checks that `namespace` is new or the sandbox's own; one still being deleted is waited for
/// (up to `wait`). A namespace that is someone else's is refused: korthbox would write over
/// what is in it.
pub async fn claim_namespace(
    client: &Client,
    namespace: &str,
    instance: &SandboxName,
    wait: Duration,
) -> Result<Claim, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = read(&api, namespace).await? else {
        return Ok(Claim::New);
    };
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        wait_gone(&api, namespace, wait).await?;
        return Ok(Claim::New);
    }
    if belongs(ns.metadata.labels.as_ref(), instance.as_str()) {
        return Ok(Claim::Ours);
    }
    Err(Error::failure(format!(
        "namespace {namespace} exists and is not sandbox {instance}'s"
    ))
    .caused_by(format!(
        "korthbox puts a sandbox only in a new namespace or one it labelled for that sandbox (app.kubernetes.io/managed-by=korthbox, app.kubernetes.io/instance={instance}); applying into this one would change what is in it"
    ))
    .hint("pick a namespace of the sandbox's own with --namespace NAME"))
}

async fn read(api: &Api<Namespace>, namespace: &str) -> Result<Option<Namespace>, Error> {
    api.get_opt(namespace)
        .await
        .map_err(|e| Error::failure(format!("could not read namespace {namespace}")).because(e))
}

/// Watches namespace `name` until it is gone, for at most `timeout`.
pub async fn wait_gone(api: &Api<Namespace>, name: &str, timeout: Duration) -> Result<(), Error> {
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(crate::cluster::WATCH_SECONDS);
    let mut events = pin!(watcher(api.clone(), config).default_backoff());
    let gone = async {
        let mut listing = false;
        let mut seen = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => (listing, seen) = (true, false),
                Ok(watcher::Event::InitApply(_)) => seen = true,
                Ok(watcher::Event::InitDone) if listing && !seen => return,
                Ok(watcher::Event::Delete(_)) => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(timeout, gone).await.map_err(|_| {
        Error::failure(format!(
            "namespace {name} is still being deleted (Terminating) after {}",
            seconds(timeout)
        ))
        .caused_by("something in it holds a finalizer the cluster has not finished")
        .hint(format!(
            "`kubectl get namespace {name} -o yaml` shows what holds it; run korthbox again once it is gone"
        ))
    })
}

/// What deleting the sandbox's objects did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Whether the namespace was there (and is gone now).
    pub namespace: bool,
    /// Cluster-wide objects deleted (`StorageClass local-path`, …).
    pub cluster_objects: Vec<String>,
    /// Why the shared local-path-provisioner was left, when it was.
    pub kept_provisioner: Option<String>,
}

/// How long a deleted namespace is waited for before the next apply.
const NAMESPACE_GONE: Duration = Duration::from_secs(120);

/// Deletes sandbox `instance`'s namespace (when it carries korthbox's labels for it) and the
/// cluster-wide objects labelled for it, waiting until the namespace is gone.
pub async fn delete_sandbox(
    client: &Client,
    namespace: &str,
    instance: &SandboxName,
) -> Result<Removed, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut removed = Removed {
        namespace: false,
        cluster_objects: Vec::new(),
        kept_provisioner: None,
    };
    if let Some(ns) = read(&api, namespace).await? {
        if !belongs(ns.metadata.labels.as_ref(), instance.as_str()) {
            return Err(Error::failure(format!(
                "namespace {namespace} is not sandbox {instance}'s; korthbox deleted nothing"
            ))
            .caused_by(format!(
                "it lacks korthbox's labels for the sandbox (app.kubernetes.io/managed-by=korthbox, app.kubernetes.io/instance={instance})"
            ))
            .hint(format!(
                "if it is yours to delete: `kubectl delete namespace {namespace}`; or name the sandbox's namespace with --namespace"
            )));
        }
        match api.delete(namespace, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(
                    Error::failure(format!("could not delete namespace {namespace}")).because(e),
                );
            }
        }
        wait_gone(&api, namespace, NAMESPACE_GONE).await?;
        removed.namespace = true;
    }
    let users = local_path_users(client, namespace).await?;
    if users.is_empty() {
        removed.cluster_objects = delete_cluster_objects(client, instance).await?;
    } else {
        removed.kept_provisioner = Some(format!(
            "local-path-provisioner stays: volumes in {} use it",
            users.join(", ")
        ));
    }
    Ok(removed)
}

/// The namespaces, other than `except`, whose volumes use the local-path class.
async fn local_path_users(client: &Client, except: &str) -> Result<Vec<String>, Error> {
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let list = claims
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::failure("could not list the cluster's volume claims").because(e))?;
    let mut users: Vec<String> = list
        .items
        .into_iter()
        .filter(|c| {
            c.spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
                == Some(crate::stack::LOCAL_PATH_CLASS)
        })
        .filter_map(|c| c.metadata.namespace)
        .filter(|ns| ns != except)
        .collect();
    users.sort();
    users.dedup();
    Ok(users)
}

/// Deletes the cluster-wide objects labelled for sandbox `instance` (local-path-provisioner's
/// namespace, RBAC and StorageClass when it installed them).
async fn delete_cluster_objects(
    client: &Client,
    instance: &SandboxName,
) -> Result<Vec<String>, Error> {
    let params = ListParams::default().labels(&selector_for(instance.as_str()));
    let mut deleted = Vec::new();
    for (api_version, kind) in [
        ("storage.k8s.io/v1", "StorageClass"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("v1", "Namespace"),
    ] {
        let Some((ar, _)) = resource(api_version, kind) else {
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let list = api.list(&params).await.map_err(|e| {
            Error::failure(format!("could not list korthbox's {kind} objects")).because(e)
        })?;
        for object in list.items {
            let name = object.metadata.name.unwrap_or_default();
            // Only the provisioner's namespace is cluster-wide here: the sandbox's own was
            // handled by name, and namespaces are never deleted by label in bulk.
            if kind == "Namespace" && name != crate::stack::LOCAL_PATH_NAMESPACE {
                continue;
            }
            match api.delete(&name, &Default::default()).await {
                Ok(_) => deleted.push(format!("{kind} {name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(
                        Error::failure(format!("could not delete {kind} {name}")).because(e)
                    );
                }
            }
        }
    }
    Ok(deleted)
}

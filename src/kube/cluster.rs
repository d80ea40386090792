//! Is this cluster fit to be a sandbox? Reachable, at least two nodes, all Ready, every one on
//! containerd, and not Docker Desktop's built-in single-node cluster. Read-only: every check is
//! a GET, so a refused cluster has had nothing written to it.

use std::collections::BTreeMap;
use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;

use crate::base::env::Env;
use crate::base::error::Error;
use crate::base::report::seconds;
use crate::host::kubeconfig::{self, DOCKER_DESKTOP_CONTEXT};

/// The node name of Docker Desktop's kubeadm-mode cluster.
pub const DOCKER_DESKTOP_NODE: &str = "docker-desktop";
/// The runtime prefix every node must report.
pub const CONTAINERD: &str = "containerd://";
/// A sandbox spreads its pods over at least this many nodes.
pub const MIN_NODES: usize = 2;

/// The most one request to the API server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long korthbox waits for an API server that has never answered (connection refused, no
/// route) before it says so, whatever `--wait` allows for nodes to become Ready. The drivers
/// return only once the control plane answers, so a minute of silence after that is a dead one.
pub const API_GRACE: Duration = Duration::from_secs(60);
/// How long the API server keeps one watch open before korthbox asks again: shorter than
/// [`REQUEST_TIMEOUT`], so that a quiet watch ends cleanly instead of timing out.
pub const WATCH_SECONDS: u32 = 8;

const INSTEAD: &str = "`korthbox up --driver kind` makes a multi-node containerd cluster, and runs fine on Docker Desktop's engine; no flag makes korthbox accept this cluster";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    pub name: String,
    pub roles: Vec<String>,
    pub ready: bool,
    /// The Ready condition's reason and message when the node is not Ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_ready_because: Option<String>,
    /// The pressure conditions that hold (`DiskPressure`, `MemoryPressure`, `PIDPressure`),
    /// each with the kubelet's message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pressure: Vec<(String, String)>,
    pub container_runtime: String,
    pub kubelet_version: String,
    pub os_image: String,
}

impl NodeFacts {
    pub fn from_node(node: &Node) -> Self {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut roles: Vec<String> = node
            .metadata
            .labels
            .iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
            .filter(|r| !r.is_empty())
            .map(String::from)
            .collect();
        roles.sort();
        let status = node.status.as_ref();
        let info = status.and_then(|s| s.node_info.as_ref());
        let ready_condition = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        let ready = ready_condition.is_some_and(|c| c.status == "True");
        let not_ready_because = (!ready).then(|| match ready_condition {
            None => "no Ready condition yet".to_string(),
            Some(c) => {
                let reason = c
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("Ready={}", c.status));
                match &c.message {
                    Some(m) if !m.is_empty() => format!("{reason}: {m}"),
                    _ => reason,
                }
            }
        });
        let pressure = status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.type_.ends_with("Pressure") && c.status == "True")
            .map(|c| (c.type_.clone(), c.message.clone().unwrap_or_default()))
            .collect();
        Self {
            name,
            roles,
            ready,
            not_ready_because,
            pressure,
            container_runtime: info
                .map(|i| i.container_runtime_version.clone())
                .unwrap_or_default(),
            kubelet_version: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
            os_image: info.map(|i| i.os_image.clone()).unwrap_or_default(),
        }
    }
}

/// Why a cluster cannot be a sandbox, whatever its context is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Refusal {
    /// A node named `docker-desktop`: Docker Desktop's kubeadm-mode cluster.
    DockerDesktopNode { node: String },
    /// Fewer nodes than a sandbox needs.
    TooFewNodes { nodes: usize },
    /// A node whose kubelet runs on Docker Engine (through cri-dockerd).
    DockerRuntime { node: String, runtime: String },
    /// A node on another runtime than containerd (CRI-O, …).
    NotContainerd { node: String, runtime: String },
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Refusal::DockerDesktopNode { node } => format!(
                "node {node} is Docker Desktop's built-in Kubernetes node (a single node, its kubelet on Docker Engine)"
            ),
            Refusal::TooFewNodes { nodes } => format!(
                "it has {nodes} node{}; a sandbox needs at least {MIN_NODES}",
                if *nodes == 1 { "" } else { "s" }
            ),
            Refusal::DockerRuntime { node, runtime } => format!(
                "node {node} runs its containers on {runtime} (Docker Engine through cri-dockerd), not containerd"
            ),
            Refusal::NotContainerd { node, runtime } => {
                format!("node {node} runs its containers on {runtime}, not containerd")
            }
        }
    }
}

/// Every reason the nodes cannot make a sandbox; empty when they can (readiness aside).
pub fn refusals(nodes: &[NodeFacts]) -> Vec<Refusal> {
    let mut out = Vec::new();
    for node in nodes.iter().filter(|n| n.name == DOCKER_DESKTOP_NODE) {
        out.push(Refusal::DockerDesktopNode {
            node: node.name.clone(),
        });
    }
    if nodes.len() < MIN_NODES {
        out.push(Refusal::TooFewNodes { nodes: nodes.len() });
    }
    for node in nodes {
        let runtime = &node.container_runtime;
        if runtime.starts_with(CONTAINERD) {
            continue;
        }
        let (node, runtime) = (node.name.clone(), runtime.clone());
        out.push(if runtime.starts_with("docker://") {
            Refusal::DockerRuntime { node, runtime }
        } else {
            Refusal::NotContainerd { node, runtime }
        });
    }
    out
}

/// A cluster that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub context: String,
    pub server: Option<String>,
    pub nodes: Vec<NodeFacts>,
}

/// Checks the cluster behind `context`, watching its nodes for up to `timeout` until all are
/// Ready. Refusals do not wait: they end the check as soon as the nodes are listed.
pub async fn check(env: &Env, context: &str, timeout: Duration) -> Result<ClusterReport, Error> {
    let merged = kubeconfig::load(env);
    let server = server_of(&merged.config, context);
    let api: Api<Node> = Api::all(connect(env, &merged, context, Some(REQUEST_TIMEOUT)).await?);
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    // An API server that has not answered once within API_GRACE is not coming up: say so then,
    // rather than at the end of a long --wait meant for nodes becoming Ready.
    let unlisted_deadline = deadline.min(started + API_GRACE);
    let config = watcher::Config::default().timeout(WATCH_SECONDS);
    let mut events = pin!(watcher(api, config).default_backoff());
    let mut view = NodeView::default();
    let mut last_error = None;
    loop {
        let until = if view.listed {
            deadline
        } else {
            unlisted_deadline
        };
        let event = match tokio::time::timeout_at(until, events.next()).await {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(e))) => {
                let why = crate::host::words::words(&e);
                if let Some(err) = unreachable(context, server.as_deref(), &why, !view.listed) {
                    return Err(err);
                }
                last_error = Some(why);
                continue;
            }
            Ok(None) | Err(_) => {
                return Err(give_up(
                    context,
                    server.as_deref(),
                    if view.listed {
                        timeout
                    } else {
                        started.elapsed()
                    },
                    &view,
                    last_error,
                ));
            }
        };
        view.apply(event);
        if !view.listed {
            continue;
        }
        let nodes: Vec<NodeFacts> = view.nodes.values().cloned().collect();
        let refused = refusals(&nodes);
        if !refused.is_empty() {
            return Err(refusal_error(context, &refused));
        }
        if nodes.iter().all(|n| n.ready) {
            return Ok(ClusterReport {
                context: context.to_string(),
                server,
                nodes,
            });
        }
    }
}

/// The nodes as the watch has shown them so far.
#[derive(Default)]
struct NodeView {
    nodes: BTreeMap<String, NodeFacts>,
    /// Nodes of a listing in progress.
    listing: BTreeMap<String, NodeFacts>,
    /// Whether a whole listing has arrived.
    listed: bool,
}

impl NodeView {
    fn apply(&mut self, event: watcher::Event<Node>) {
        let facts = |n: &Node| {
            (
                n.metadata.name.clone().unwrap_or_default(),
                NodeFacts::from_node(n),
            )
        };
        match event {
            watcher::Event::Init => self.listing.clear(),
            watcher::Event::InitApply(n) => {
                let (name, f) = facts(&n);
                self.listing.insert(name, f);
            }
            watcher::Event::InitDone => {
                self.nodes = std::mem::take(&mut self.listing);
                self.listed = true;
            }
            watcher::Event::Apply(n) => {
                let (name, f) = facts(&n);
                self.nodes.insert(name, f);
            }
            watcher::Event::Delete(n) => {
                self.nodes.remove(&facts(&n).0);
            }
        }
    }
}

/// The error when the time is up: the API server never answered, or some nodes stayed
/// NotReady.
fn give_up(
    context: &str,
    server: Option<&str>,
    timeout: Duration,
    view: &NodeView,
    last_error: Option<String>,
) -> Error {
    if !view.listed {
        let why = last_error.unwrap_or_else(|| format!("no answer within {}", seconds(timeout)));
        return unreachable(context, server, &why, false)
            .unwrap_or_else(|| Error::failure(format!("context `{context}`: {why}")));
    }
    let mut err = Error::failure(format!(
        "the nodes of context `{context}` were not all Ready within {}",
        seconds(timeout)
    ));
    for node in view.nodes.values().filter(|n| !n.ready) {
        err = err.caused_by(format!(
            "node {} is not Ready: {}",
            node.name,
            node.not_ready_because.as_deref().unwrap_or("unknown")
        ));
    }
    err.hint(format!(
        "`kubectl --context {context} describe nodes` shows why; wait longer with --wait"
    ))
}

/// The error for an API server that did not answer: Docker Desktop's context is refused at
/// once, by its name; any other only when korthbox stops retrying (`retrying` false).
fn unreachable(context: &str, server: Option<&str>, why: &str, retrying: bool) -> Option<Error> {
    if context == DOCKER_DESKTOP_CONTEXT {
        return Some(
            Error::failure(format!(
                "refusing context `{context}`: it is Docker Desktop's built-in Kubernetes, a single node that does not run containerd"
            ))
            .caused_by(format!(
                "its API server{} did not answer ({why}), so its nodes could not be looked at",
                server.map(|s| format!(" at {s}")).unwrap_or_default()
            ))
            .hint(INSTEAD),
        );
    }
    if retrying {
        return None;
    }
    Some(
        Error::failure(format!(
            "the API server of context `{context}`{} cannot be reached",
            server.map(|s| format!(" ({s})")).unwrap_or_default()
        ))
        .caused_by(why)
        .hint(format!(
            "is the cluster running? `kubectl --context {context} get nodes` shows the same problem; `korthbox reset` recreates a broken sandbox"
        )),
    )
}

fn refusal_error(context: &str, refused: &[Refusal]) -> Error {
    let docker_desktop = refused.iter().any(|r| {
        matches!(r, Refusal::DockerDesktopNode { .. })
            || (context == DOCKER_DESKTOP_CONTEXT && !matches!(r, Refusal::NotContainerd { .. }))
    });
    let what = if docker_desktop {
        "it is Docker Desktop's built-in Kubernetes".to_string()
    } else {
        "it cannot host a sandbox".to_string()
    };
    let mut err = Error::failure(format!(
        "refusing the cluster of context `{context}`: {what}"
    ));
    for r in refused {
        err = err.caused_by(r.describe());
    }
    err.hint(INSTEAD)
}

fn server_of(config: &Kubeconfig, context: &str) -> Option<String> {
    let cluster = config
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    config
        .clusters
        .iter()
        .find(|c| c.name == cluster)?
        .cluster
        .as_ref()?
        .server
        .clone()
}

/// The nodes as they are now, in one request (no waiting).
pub async fn nodes(client: &kube::Client) -> Result<Vec<NodeFacts>, String> {
    let api: Api<Node> = Api::all(client.clone());
    match tokio::time::timeout(REQUEST_TIMEOUT, api.list(&ListParams::default())).await {
        Ok(Ok(list)) => Ok(list.items.iter().map(NodeFacts::from_node).collect()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}", seconds(REQUEST_TIMEOUT))),
    }
}

/// A client for the cluster behind `context`, with korthbox's request timeouts.
pub async fn client(env: &Env, context: &str) -> Result<kube::Client, Error> {
    let merged = kubeconfig::load(env);
    connect(env, &merged, context, Some(REQUEST_TIMEOUT)).await
}

/// The proxy to reach a cluster's API server through: never for one on this machine (the
/// sandbox's, its forwards), as kubectl behaves; for a remote one, the kubeconfig cluster's
/// `proxy-url`, else the environment's proxy unless `NO_PROXY` exempts it.
fn proxy_for(
    env: &Env,
    config: &Kubeconfig,
    context: &str,
    server: &hyper::Uri,
) -> Option<hyper::Uri> {
    if crate::host::proxy::is_loopback(server) {
        return None;
    }
    let cluster = config
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())?;
    let named = config
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.proxy_url.clone());
    if let Some(url) = named {
        return url.parse().ok();
    }
    crate::host::proxy::for_uri(server)?;
    crate::host::proxy::raw_for(env, server)?.parse().ok()
}

/// Whether the API server of `context` answers (a `/version` request); when it does not, the
/// error `cluster check` gives: the context, its URL, the kubectl command that shows the same,
/// and `korthbox reset` for a broken sandbox.
pub async fn reachable(env: &Env, client: &kube::Client, context: &str) -> Result<(), Error> {
    let why = match tokio::time::timeout(REQUEST_TIMEOUT, client.apiserver_version()).await {
        // Any answer, an error status included (403 without the right to read /version), is
        // a server that can be reached.
        Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => return Ok(()),
        Ok(Err(e)) => crate::host::words::words(&e),
        Err(_) => format!("no answer within {}", seconds(REQUEST_TIMEOUT)),
    };
    let merged = kubeconfig::load(env);
    let server = server_of(&merged.config, context);
    Err(unreachable(context, server.as_deref(), &why, false)
        .unwrap_or_else(|| Error::failure(format!("context `{context}`: {why}"))))
}

/// A client for long-lived streams (`korthbox forward`'s port-forwards): no read timeout, so an
/// idle browser connection or a paused DICOM association stays open.
pub async fn stream_client(env: &Env, context: &str) -> Result<kube::Client, Error> {
    let merged = kubeconfig::load(env);
    connect(env, &merged, context, None).await
}

async fn connect(
    env: &Env,
    merged: &kubeconfig::Merged,
    context: &str,
    read_timeout: Option<Duration>,
) -> Result<kube::Client, Error> {
    if !merged.config.contexts.iter().any(|c| c.name == context) {
        let files: Vec<String> = kubeconfig::files(env)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        // A context that is not there is a mistake in what was typed (or in KUBECONFIG).
        let mut err = Error::usage(format!("there is no kube context `{context}`"));
        err = err.caused_by(if files.is_empty() {
            "no kubeconfig file was found (KUBECONFIG is unset and there is no ~/.kube/config)"
                .to_string()
        } else {
            format!("looked in {}", files.join(", "))
        });
        for e in &merged.errors {
            err = err.caused_by(e);
        }
        return Err(err.hint("`kubectl config get-contexts` lists the contexts there are"));
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        cluster: None,
        user: None,
    };
    let mut config = kube::Config::from_custom_kubeconfig(merged.config.clone(), &options)
        .await
        .map_err(|e| {
            Error::failure(format!(
                "the kubeconfig entry for context `{context}` cannot be used"
            ))
            .because(e)
        })?;
    config.connect_timeout = Some(REQUEST_TIMEOUT);
    config.read_timeout = read_timeout;
    config.proxy_url = proxy_for(env, &merged.config, context, &config.cluster_url);
    if let Some(proxy) = &config.proxy_url {
        crate::host::proxy::supported(&proxy.to_string(), "the proxy to the API server")?;
    }
    kube::Client::try_from(config).map_err(|e| {
        Error::failure(format!("could not set up a client for context `{context}`")).because(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, runtime: &str) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            roles: vec![],
            ready: true,
            not_ready_because: None,
            pressure: vec![],
            container_runtime: runtime.into(),
            kubelet_version: "v1.36.4".into(),
            os_image: String::new(),
        }
    }

    #[test]
    fn a_multi_node_containerd_cluster_passes() {
        let nodes = [
            node("kind-control-plane", "containerd://2.1.0"),
            node("kind-worker", "containerd://2.1.0"),
        ];
        assert!(refusals(&nodes).is_empty());
    }

    #[test]
    fn docker_desktop_is_refused_for_every_reason_at_once() {
        let refused = refusals(&[node("docker-desktop", "docker://27.2.0")]);
        assert_eq!(refused.len(), 3, "{refused:?}");
    }

    #[test]
    fn cri_o_is_not_containerd() {
        let refused = refusals(&[node("a", "cri-o://1.30"), node("b", "containerd://1.7")]);
        assert_eq!(
            refused,
            [Refusal::NotContainerd {
                node: "a".into(),
                runtime: "cri-o://1.30".into()
            }]
        );
    }
}

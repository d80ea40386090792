//! Why a sandbox is broken, each reason with its evidence and its fix: a node NotReady (with the
//! kubelet's condition message) or under disk, memory or process pressure, the API server not
//! answering while its node containers run, a pod crash-looping (with the last lines of its
//! previous log), an image a node cannot pull, a volume claim pending (with its event). Read
//! only; what cannot be read is left out rather than guessed.

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde::Serialize;

use crate::kube::cluster::NodeFacts;

/// One reason, as a script reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    NodesStopped,
    NodeNotReady,
    NodePressure,
    ApiServerDown,
    CrashLoop,
    ImagePull,
    VolumePending,
}

/// What is wrong, with what shows it and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub reason: Reason,
    /// What it is about: `node korthbox-worker`, `pod orthanc-0 (container orthanc)`.
    pub subject: String,
    /// What was found, in the cluster's own words where it has some.
    pub detail: String,
    pub fix: String,
}

impl Diagnosis {
    /// One line, as `status` lists problems.
    pub fn line(&self) -> String {
        format!("{}: {}; {}", self.subject, self.detail, self.fix)
    }
}

/// The nodes that are not Ready, and those under pressure.
pub fn nodes(nodes: &[NodeFacts], logs: &str) -> Vec<Diagnosis> {
    let mut found = Vec::new();
    for n in nodes {
        if !n.ready {
            found.push(Diagnosis {
                reason: Reason::NodeNotReady,
                subject: format!("node {}", n.name),
                detail: format!(
                    "not Ready ({})",
                    n.not_ready_because.as_deref().unwrap_or("no reason given")
                ),
                fix: format!(
                    "the kubelet's message says why; `korthbox up` waits for it and repairs what it can ({logs})"
                ),
            });
        }
        for (pressure, message) in &n.pressure {
            let fix = match pressure.as_str() {
                "DiskPressure" => {
                    "free disk space on the engine (`docker system prune` removes unused images); korthbox's images are loaded again by `korthbox up`"
                }
                "MemoryPressure" => {
                    "give the engine more memory, or stop what else runs on it (`korthbox stop` for other sandboxes)"
                }
                _ => "stop what else runs on the engine",
            };
            found.push(Diagnosis {
                reason: Reason::NodePressure,
                subject: format!("node {}", n.name),
                detail: match message.is_empty() {
                    true => pressure.clone(),
                    false => format!("{pressure}: {message}"),
                },
                fix: fix.to_string(),
            });
        }
    }
    found
}

/// The API server of a cluster whose node containers run does not answer: a kind cluster
/// whose nodes came back with new addresses after the engine restarted does not come back.
/// `up` and `reset` are the commands for this sandbox (`korthbox up --name dev`).
pub fn api_server_down(
    context: &str,
    (running, total): (usize, usize),
    (up, reset): (&str, &str),
) -> Diagnosis {
    Diagnosis {
        reason: Reason::ApiServerDown,
        subject: format!("context {context}"),
        detail: format!(
            "the cluster does not come back: {running} of its {total} node containers run but its API server does not answer (after an engine restart the nodes may have new addresses, which etcd and the API server do not follow)"
        ),
        fix: format!(
            "wait a minute and run `{up}` again; if it still does not answer, `{reset} --keep-studies` keeps the studies (when Orthanc can still be reached) or `{reset}` makes a new cluster"
        ),
    }
}

/// The pods in `namespace` crash-looping, failed, or waiting for an image.
pub async fn pods(client: &kube::Client, namespace: &str, logs: &str) -> Vec<Diagnosis> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for pod in &list.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.as_ref();
        let statuses = status
            .into_iter()
            .flat_map(|s| {
                let init = s.init_container_statuses.iter().flatten();
                init.chain(s.container_statuses.iter().flatten())
            })
            .cloned()
            .collect::<Vec<ContainerStatus>>();
        for c in statuses {
            let subject = format!("pod {name} (container {})", c.name);
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            let reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
            let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            match reason {
                "CrashLoopBackOff" | "RunContainerError" => {
                    let last = last_lines(&api, &name, &c.name).await;
                    found.push(Diagnosis {
                        reason: Reason::CrashLoop,
                        subject,
                        detail: format!(
                            "{reason}, restarted {} times{}",
                            c.restart_count,
                            match last.is_empty() {
                                true => String::new(),
                                false => format!("; its last lines: {}", last.join(" | ")),
                            }
                        ),
                        fix: format!(
                            "`{logs}` shows more; once the cause is fixed, `korthbox up` restarts it"
                        ),
                    });
                }
                "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => {
                    found.push(Diagnosis {
                        reason: Reason::ImagePull,
                        subject,
                        detail: format!(
                            "{reason}: the node cannot pull {}{}",
                            c.image,
                            match message.is_empty() {
                                true => String::new(),
                                false => format!(" ({message})"),
                            }
                        ),
                        fix: "`korthbox up` loads korthbox's images into the nodes again (kind, k3d, minikube) and restarts the pod; without internet or behind a proxy, add --registry-mirror HOST:PORT".to_string(),
                    });
                }
                _ => {}
            }
        }
    }
    found
}

/// The last lines a container wrote before it last stopped (its previous log), else its
/// current one; empty when neither can be read.
async fn last_lines(api: &Api<Pod>, pod: &str, container: &str) -> Vec<String> {
    const LINES: i64 = 5;
    for previous in [true, false] {
        let params = LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(LINES),
            ..LogParams::default()
        };
        if let Ok(text) = api.logs(pod, &params).await
            && !text.trim().is_empty()
        {
            return text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| crate::base::error::redact(l.trim()))
                .collect();
        }
    }
    Vec::new()
}

/// A claim that is not bound, with the newest event about it.
pub async fn volume(client: &kube::Client, namespace: &str, claim: &str, phase: &str) -> Diagnosis {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let event = match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter(|e| {
                e.involved_object.kind.as_deref() == Some("PersistentVolumeClaim")
                    && e.involved_object.name.as_deref() == Some(claim)
            })
            .max_by_key(|e| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .or(e.event_time.as_ref().map(|t| t.0))
            })
            .map(|e| {
                let reason = e.reason.unwrap_or_default();
                format!("{reason}: {}", e.message.unwrap_or_default())
            }),
        Err(_) => None,
    };
    Diagnosis {
        reason: Reason::VolumePending,
        subject: format!("volume {claim}"),
        detail: match event {
            Some(event) => format!("{phase} ({event})"),
            None => format!("{phase} (no event says why)"),
        },
        fix: "no provisioner took the claim: `korthbox up --storage local-path` installs one; `kubectl get storageclass` lists the classes".to_string(),
    }
}

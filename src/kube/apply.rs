//! Putting the stack into the cluster: server-side apply with one field manager, what the
//! components need first, then the components at once (each a phase), Secrets created only
//! when absent, and waits that watch each workload and, when they give up, say which object
//! they were waiting for and why it is not ready.

use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use serde_json::Value;

use crate::base::error::Error;
use crate::base::report::{Phase, Steps, seconds};
use crate::kube::ownership::{Trust, Write};
use crate::kube::stack::manifest::resource;
use crate::kube::stack::{Manifest, Stage};

/// The one field manager every korthbox apply uses.
pub const FIELD_MANAGER: &str = "korthbox";
/// The annotation that marks the default StorageClass.
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Created,
    Configured,
    Unchanged,
    /// A Secret that already existed and was left as it is.
    Kept,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
            Change::Kept => "kept",
        }
    }

    /// Whether the object was created or changed.
    pub fn changed(self) -> bool {
        matches!(self, Change::Created | Change::Configured)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub object: String,
    pub change: Change,
}

fn api_for(client: &Client, m: &Manifest) -> Result<Api<DynamicObject>, Error> {
    let (ar, namespaced) = resource(m.api_version(), m.kind()).ok_or_else(|| {
        Error::failure(format!(
            "korthbox does not know how to apply {} {}",
            m.api_version(),
            m.kind()
        ))
    })?;
    Ok(match (namespaced, m.namespace()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        (true, None) => Api::default_namespaced_with(client.clone(), &ar),
        (false, _) => Api::all_with(client.clone(), &ar),
    })
}

fn api_error(what: &str, m: &Manifest, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    let forbidden = matches!(
        (&e as &dyn std::error::Error).downcast_ref::<kube::Error>(),
        Some(kube::Error::Api(s)) if s.code == 403
    );
    let hint = if forbidden {
        "the kube user may not do this: korthbox needs to create namespaces, RBAC and workloads"
    } else {
        "is the API server still reachable? `korthbox cluster check` tells"
    };
    Error::failure(format!("could not {what} {}", m.describe()))
        .because(e)
        .hint(hint)
}

/// Applies `manifests` of sandbox `instance`. What the components need (namespace, storage,
/// Secrets, configuration) goes first, in order, one quick phase each; then every component
/// (PostgreSQL, MinIO, Orthanc) is applied and waited for at once, each its own phase, under
/// one deadline `wait` — Orthanc's init container waits for PostgreSQL by itself, and MinIO
/// needs neither. The storage provisioner is waited for beside them. `after(stage)` is what
/// must follow a component once it is ready (MinIO's bucket), in that component's branch.
pub async fn apply<F, Fut>(
    client: &Client,
    manifests: &[Manifest],
    trust: &Trust,
    wait: Duration,
    steps: &Steps,
    after: F,
) -> Result<Vec<Applied>, Error>
where
    F: Fn(Stage) -> Option<Fut>,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut stages: Vec<Stage> = manifests.iter().map(|m| m.stage).collect();
    stages.dedup();
    let of = |stage: Stage| -> Vec<&Manifest> {
        manifests.iter().filter(|m| m.stage == stage).collect()
    };
    let mut done = Vec::new();
    for &stage in stages.iter().filter(|s| s.is_shared()) {
        done.extend(apply_shared(client, &of(stage), stage, trust, (wait, steps)).await?);
    }
    let deadline = tokio::time::Instant::now() + wait;
    let branches = stages.iter().filter_map(|&stage| {
        let objects = of(stage);
        let shared = stage.is_shared();
        if shared && (stage == Stage::Check || !objects.iter().any(|m| is_workload(m))) {
            return None;
        }
        let after = &after;
        Some(async move {
            let title = match shared {
                true => format!("Waiting for {}", stage.label()),
                false => format!("Applying {}", stage.label()),
            };
            let applied = steps
                .run(
                    title,
                    async |phase| {
                        let applied = match shared {
                            true => Vec::new(),
                            false => apply_objects(client, &objects, trust, phase).await?,
                        };
                        wait_workloads(client, &objects, (deadline, wait), phase).await?;
                        Ok::<_, Error>(applied)
                    },
                    |_| String::new(),
                )
                .await?;
            if let Some(next) = after(stage) {
                next.await?;
            }
            Ok::<_, Error>(applied)
        })
    });
    // Every branch ends by the deadline; when several fail, the first in apply order is the
    // error (the same one every time), and the others are said with it.
    let mut errors = Vec::new();
    for result in futures_util::future::join_all(branches).await {
        match result {
            Ok(applied) => done.extend(applied),
            Err(e) => errors.push(e),
        }
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(done),
        Some(first) => Err(errors.fold(first, |err, also| {
            err.caused_by(format!("also: {}", also.message))
        })),
    }
}

/// One of the stages the components need, applied as one quick phase; a check (a PostgreSQL
/// of the user's own) runs to its end in it before any component is applied.
async fn apply_shared(
    client: &Client,
    objects: &[&Manifest],
    stage: Stage,
    trust: &Trust,
    (wait, steps): (Duration, &Steps),
) -> Result<Vec<Applied>, Error> {
    let check = stage == Stage::Check;
    let title = match check {
        true => "Checking PostgreSQL from inside the cluster".to_string(),
        false => format!("Applying {}", stage.label()),
    };
    let work = async |phase: &Phase<'_>| {
        if check {
            forget_failed(client, objects, phase).await?;
        }
        let applied = apply_objects(client, objects, trust, phase).await?;
        if check {
            let until = tokio::time::Instant::now() + wait;
            wait_workloads(client, objects, (until, wait), phase).await?;
        }
        Ok::<_, Error>(applied)
    };
    steps.run(title, work, |_| String::new()).await
}

/// A check Job that failed before is deleted (its UID the precondition), so that applying it
/// runs the check again — a Job does not run twice, and what it checks (a password in a
/// Secret) may have been fixed since. One that passed is kept: it is not run again.
async fn forget_failed(
    client: &Client,
    objects: &[&Manifest],
    phase: &Phase<'_>,
) -> Result<(), Error> {
    use k8s_openapi::api::batch::v1::Job;
    for m in objects.iter().filter(|m| m.kind() == "Job") {
        let ns = m.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        let Ok(Some(job)) = jobs.get_opt(m.name()).await else {
            continue;
        };
        let failed = job
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Failed" && c.status == "True");
        if !failed {
            continue;
        }
        let params = kube::api::DeleteParams {
            propagation_policy: Some(kube::api::PropagationPolicy::Background),
            preconditions: Some(kube::api::Preconditions {
                uid: job.metadata.uid,
                resource_version: None,
            }),
            ..Default::default()
        };
        match jobs.delete(m.name(), &params).await {
            Ok(_) => phase.output(&format!("{} failed before; running it again", m.describe())),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                return Err(Error::failure(format!("could not delete {}", m.describe())).because(e));
            }
        }
    }
    Ok(())
}

/// Every object applied, in order.
async fn apply_objects(
    client: &Client,
    objects: &[&Manifest],
    trust: &Trust,
    phase: &Phase<'_>,
) -> Result<Vec<Applied>, Error> {
    let mut done = Vec::new();
    for m in objects {
        let change = apply_object(client, m, trust).await?;
        phase.output(&format!("{} {}", m.describe(), change.label()));
        done.push(Applied {
            object: m.describe(),
            change,
        });
    }
    Ok(done)
}

/// The workloads among `objects` watched until ready, giving up at `deadline` (`wait` after
/// the components started).
async fn wait_workloads(
    client: &Client,
    objects: &[&Manifest],
    (deadline, wait): (tokio::time::Instant, Duration),
    phase: &Phase<'_>,
) -> Result<(), Error> {
    for m in objects.iter().filter(|m| is_workload(m)) {
        phase.output(&format!("waiting for {}", m.describe()));
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        wait_ready(client, m, left, wait).await?;
    }
    Ok(())
}

/// Server-side apply, except for Secrets, which are created only when absent. What others
/// may have (anything cluster-wide) is created when absent and otherwise written only when
/// korthbox's record says it created it (`Trust`); what is korthbox's is taken over by force;
/// anything else in the sandbox's namespace is applied without force, so a conflict names the
/// program that owns the fields.
async fn apply_object(client: &Client, m: &Manifest, trust: &Trust) -> Result<Change, Error> {
    let api = api_for(client, m)?;
    let before = api
        .get_opt(m.name())
        .await
        .map_err(|e| api_error("read", m, e))?;
    if m.stage == Stage::Secrets {
        if before.is_some() {
            return Ok(Change::Kept);
        }
        return match create(&api, m).await {
            Ok(_) => Ok(Change::Created),
            // Made by a concurrent run between the read and the create: keep it.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Change::Kept),
            Err(e) => Err(api_error("create", m, e)),
        };
    }
    let params = match trust.write_for(m, before.as_ref()).await? {
        Write::Create => {
            let after = create(&api, m)
                .await
                .map_err(|e| api_error("create", m, e))?;
            trust.wrote(client, m, &after, true).await?;
            return Ok(Change::Created);
        }
        Write::Force => PatchParams::apply(FIELD_MANAGER).force(),
        Write::Merge => PatchParams::apply(FIELD_MANAGER),
    };
    let after = match api.patch(m.name(), &params, &Patch::Apply(&m.object)).await {
        Ok(after) => after,
        Err(kube::Error::Api(s)) if s.code == 409 => return Err(conflict(m, &s.message)),
        Err(e) => return Err(api_error("apply", m, e)),
    };
    trust.wrote(client, m, &after, before.is_none()).await?;
    Ok(match before {
        None => Change::Created,
        Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
            Change::Unchanged
        }
        Some(_) => Change::Configured,
    })
}

/// Creates `m` (409 when it exists), with korthbox as its field manager.
async fn create(api: &Api<DynamicObject>, m: &Manifest) -> Result<DynamicObject, kube::Error> {
    let object: DynamicObject =
        serde_json::from_value(m.object.clone()).map_err(kube::Error::SerdeError)?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    api.create(&params, &object).await
}

/// An object someone else manages: korthbox does not take it over.
fn conflict(m: &Manifest, message: &str) -> Error {
    // "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
    let managers: Vec<&str> = message.split('"').skip(1).step_by(2).collect();
    let owner = match managers.as_slice() {
        [] => "another program".to_string(),
        names => names.join(", "),
    };
    Error::failure(format!(
        "{} exists and is managed by {owner}, not by korthbox",
        m.describe()
    ))
    .caused_by(message.to_string())
    .hint("korthbox changes only what it made: remove the object (or give the sandbox another --namespace or --name) if it is not in use")
}

fn is_workload(m: &Manifest) -> bool {
    matches!(m.kind(), "Deployment" | "StatefulSet" | "Job")
}

/// Whether the workload is ready; `Err` when it has failed for good (a Job out of retries).
fn readiness(kind: &str, obj: &Value) -> Result<bool, String> {
    let status = &obj["status"];
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let generation = int(&obj["metadata"]["generation"]);
    let observed = int(&status["observedGeneration"]);
    let wanted = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    match kind {
        "Deployment" => Ok(observed >= generation
            && int(&status["updatedReplicas"]) == wanted
            && int(&status["readyReplicas"]) == wanted
            && int(&status["availableReplicas"]) == wanted),
        "StatefulSet" => Ok(observed >= generation && int(&status["readyReplicas"]) == wanted),
        "Job" => {
            if int(&status["succeeded"]) >= 1 {
                return Ok(true);
            }
            let failed = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Failed" && c["status"] == "True");
            match failed {
                Some(c) => Err(format!(
                    "{}: {}",
                    c["reason"].as_str().unwrap_or("Failed"),
                    c["message"].as_str().unwrap_or("")
                )),
                None => Ok(false),
            }
        }
        _ => Ok(true),
    }
}

fn as_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or_default()
}

/// Watches the workload until it is ready (or has failed for good), for at most `timeout`;
/// giving up, it names `limit`, the wait the user gave for the whole stack.
async fn wait_ready(
    client: &Client,
    m: &Manifest,
    timeout: Duration,
    limit: Duration,
) -> Result<(), Error> {
    let api = api_for(client, m)?;
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={}", m.name()))
        .timeout(crate::kube::cluster::WATCH_SECONDS);
    let mut seen = pin!(
        watcher(api.clone(), config)
            .default_backoff()
            .applied_objects()
    );
    let mut last_error = None;
    let watch = async {
        while let Some(next) = seen.next().await {
            match next {
                Ok(obj) => {
                    let value = as_value(&obj);
                    if readiness(m.kind(), &value) != Ok(false) {
                        return Some(value);
                    }
                }
                // The watch restarts by itself (after a pause); say why if time runs out.
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        None
    };
    let (obj, mut err) = match tokio::time::timeout(timeout, watch).await {
        Ok(Some(value)) => match readiness(m.kind(), &value) {
            Ok(_) => return Ok(()),
            Err(why) => {
                let err = Error::failure(format!("{} failed", m.describe())).caused_by(why);
                (value, err)
            }
        },
        Ok(None) | Err(_) => {
            let now = api
                .get(m.name())
                .await
                .map_err(|e| api_error("read", m, e))?;
            let err = Error::failure(format!(
                "{} was not ready within {}",
                m.describe(),
                seconds(limit)
            ));
            (as_value(&now), err)
        }
    };
    if let Some(e) = last_error {
        err = err.caused_by(format!("watching it failed: {e}"));
    }
    Err(diagnose(client, m, &obj, err).await)
}

/// Adds what the workload and its pods say about why it is not ready.
async fn diagnose(client: &Client, m: &Manifest, obj: &Value, mut err: Error) -> Error {
    for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
        if c["status"] != "True" || c["type"] == "Failed" {
            err = err.caused_by(format!(
                "condition {}={}: {} {}",
                c["type"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            ));
        }
    }
    let pods: Api<Pod> = match m.namespace() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::default_namespaced(client.clone()),
    };
    let mut pull_failure = None;
    match pods
        .list(&ListParams::default().labels(&pod_selector(m, obj)))
        .await
    {
        Ok(list) if list.items.is_empty() => {
            err = err.caused_by("no pod exists for it yet");
        }
        Ok(list) => {
            for pod in &list.items {
                let (causes, image) = pod_causes(pod);
                pull_failure = pull_failure.or(image);
                for cause in causes {
                    err = err.caused_by(cause);
                }
            }
        }
        Err(e) => err = err.caused_by(format!("its pods could not be listed: {e}")),
    }
    let kind_name = format!("{}/{}", m.kind().to_lowercase(), m.name());
    let ns = m.namespace().unwrap_or("default");
    let note = pull_failure
        .as_deref()
        .and_then(crate::kube::stack::images::pull_note);
    match (pull_failure, note) {
        (Some(_), Some(note)) => err.hint(note),
        (Some(image), None) => err.hint(format!(
            "the nodes could not pull {image}: check that the registry is reachable from the cluster, or load the image into the nodes with `korthbox cluster load {image}`"
        )),
        (None, _) => err.hint(format!(
            "`kubectl -n {ns} describe {kind_name}` and `kubectl -n {ns} logs {kind_name}` show more; raise the limit with --wait"
        )),
    }
}

/// The label selector of the workload's pods.
fn pod_selector(m: &Manifest, obj: &Value) -> String {
    match m.kind() {
        "Job" => format!("job-name={}", m.name()),
        _ => obj["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    }
}

/// Why one pod is not ready, and the image it could not pull, if that is why.
fn pod_causes(pod: &Pod) -> (Vec<String>, Option<String>) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let mut causes = Vec::new();
    let mut pull_failure = None;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in containers {
        if let Some((cause, pulling)) = container_cause(&name, cs) {
            if pulling {
                pull_failure = Some(cs.image.clone());
            }
            causes.push(cause);
        }
    }
    if causes.is_empty() {
        let unscheduled = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        causes.push(match unscheduled {
            Some(c) => format!(
                "pod {name} is not scheduled: {}",
                c.message.clone().unwrap_or_default()
            ),
            None => format!(
                "pod {name} is {}",
                status.phase.clone().unwrap_or_else(|| "Pending".into())
            ),
        });
    }
    (causes, pull_failure)
}

/// A container that waits (and whether for its image) or last exited.
fn container_cause(pod: &str, cs: &ContainerStatus) -> Option<(String, bool)> {
    let state = cs.state.clone().unwrap_or_default();
    if let Some(w) = state.waiting {
        let reason = w.reason.unwrap_or_default();
        let pulling = matches!(
            reason.as_str(),
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName"
        );
        let cause = format!(
            "pod {pod}: container {} ({}) is waiting: {reason}{}",
            cs.name,
            cs.image,
            w.message.map(|m| format!(": {m}")).unwrap_or_default()
        );
        return Some((cause, pulling));
    }
    // Exited and not restarted (a Job's pod), or exited before its restart; with what it said
    // last (its termination message) when it failed.
    let t = state
        .terminated
        .filter(|t| t.exit_code != 0)
        .or_else(|| cs.last_state.clone().and_then(|s| s.terminated))?;
    let said = t
        .message
        .map(|m| format!(": {}", m.trim()))
        .filter(|m| m.len() > 2)
        .unwrap_or_default();
    Some((
        format!(
            "pod {pod}: container {} last exited with code {}{}{said}",
            cs.name,
            t.exit_code,
            t.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ),
        false,
    ))
}

/// The name of the cluster's default StorageClass, if it has one.
pub async fn default_storage_class(client: &Client) -> Result<Option<String>, Error> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::failure("could not list the cluster's StorageClasses").because(e))?;
    Ok(list
        .items
        .into_iter()
        .find(|sc| {
            sc.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS))
                .is_some_and(|v| v == "true")
        })
        .and_then(|sc| sc.metadata.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_job_pod_says_what_it_said_last() {
        let cs: ContainerStatus = serde_json::from_value(json!({
            "name": "check", "image": "postgres:17", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 3, "reason": "Error",
                "message": "korthbox: cannot connect to PostgreSQL as Orthanc will: FATAL: password authentication failed\n"}}}))
        .unwrap();
        let (cause, pulling) = container_cause("postgres-check-1a2b", &cs).unwrap();
        assert!(!pulling);
        assert_eq!(
            cause,
            "pod postgres-check-1a2b: container check last exited with code 3 (Error): korthbox: cannot connect to PostgreSQL as Orthanc will: FATAL: password authentication failed"
        );
        // A container that exited well is no cause.
        let ok: ContainerStatus = serde_json::from_value(json!({
            "name": "check", "image": "postgres:17", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0}}})).unwrap();
        assert!(container_cause("p", &ok).is_none());
    }

    #[test]
    fn a_deployment_is_ready_when_every_replica_is() {
        let mut d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
        assert_eq!(readiness("Deployment", &d), Ok(true));
        d["status"]["observedGeneration"] = json!(1);
        assert_eq!(readiness("Deployment", &d), Ok(false));
    }

    #[test]
    fn a_failed_job_is_an_error() {
        let j = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert!(
            readiness("Job", &j)
                .unwrap_err()
                .contains("BackoffLimitExceeded")
        );
    }
}

//! `status`: the sandbox as it is now (cluster, nodes, stack, volumes, endpoint, last proof)
//! and whether it is healthy; read-only.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::Serialize;

use super::Context;
use super::diagnose::{self, Diagnosis, Reason};
use super::target::{self, Target, Wanted};
use crate::base::error::Error;
use crate::base::spec::{ORTHANC_AET, Viewer};
use crate::driver::DriverKind;
use crate::evaluate::proof::{self, LastProof, Outcome};
use crate::kube::cluster::{self, NodeFacts};
use crate::kube::stack::manifest::{KORTHBOX, MANAGED_BY};

/// How the sandbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Every node Ready, every component ready, every volume bound, the last proof passed.
    Healthy,
    /// It exists, with problems (listed).
    Degraded,
    /// There is no such sandbox.
    Absent,
    /// Another korthbox is creating it (or working on it) right now.
    Busy,
    /// Its nodes are stopped (`korthbox stop`, a reboot, the engine restarted): everything is
    /// kept, `korthbox start` brings it back.
    Stopped,
    /// Some of its nodes are stopped, some run.
    #[serde(rename = "partly-stopped")]
    PartlyStopped,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Absent => "absent",
            State::Busy => "being worked on",
            State::Stopped => "stopped",
            State::PartlyStopped => "partly stopped",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub name: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<DriverKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub namespace: String,
    pub problems: Vec<String>,
    /// Why it is not healthy, each reason with its evidence and fix (also among `problems`).
    pub diagnoses: Vec<Diagnosis>,
    pub nodes: Vec<NodeFacts>,
    pub components: Vec<Component>,
    /// With several Orthancs, each one: its pod, the node it runs on, whether it is Ready.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The viewer Orthanc serves, and where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<String>,
    pub last_proof: Option<LastProof>,
    /// What `korthbox up` with korthbox's pins would change in what the sandbox runs
    /// (`PostgreSQL 17.6 → 17.11`); a change `up` would refuse is a problem instead.
    pub upgrades: Vec<String>,
    /// The korthbox that holds the sandbox's lock, if one does: `korthbox up` (pid 4242, for 12 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Component {
    pub kind: &'static str,
    pub name: String,
    pub ready: i32,
    pub wanted: i32,
    pub images: Vec<String>,
    /// The variables set to `true` in its containers (which plugins the image loads).
    #[serde(skip)]
    pub enabled: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Instance {
    pub pod: String,
    pub node: String,
    pub ready: bool,
}

#[derive(Debug, Serialize)]
pub struct Volume {
    pub name: String,
    pub phase: String,
}

/// Looks at the sandbox; never fails for what it finds (that goes into the report's problems).
pub async fn status(ctx: &Context, wanted: &Wanted, namespace: &str) -> Result<Report, Error> {
    let facts = ctx.gather_for(wanted.provider).await;
    let mut report = Report {
        name: wanted.name.to_string(),
        state: State::Absent,
        driver: None,
        context: None,
        namespace: namespace.to_string(),
        problems: Vec::new(),
        diagnoses: Vec::new(),
        nodes: Vec::new(),
        components: Vec::new(),
        instances: Vec::new(),
        volumes: Vec::new(),
        endpoint: None,
        viewer: None,
        last_proof: None,
        upgrades: Vec::new(),
        busy: crate::sandbox::lock::holder(&ctx.env, &wanted.name).map(|h| h.describe()),
    };
    if let Some(context) = &wanted.context {
        // A context that is not there is a usage error, not a degraded sandbox.
        cluster::client(&ctx.env, context).await?;
    }
    let Some(found) = target::existing(&ctx.env, &facts, wanted).await? else {
        match &report.busy {
            Some(who) => {
                report.state = State::Busy;
                report.problems.push(format!(
                    "sandbox {} is being created: {who} is working on it",
                    wanted.name
                ));
            }
            None => report.problems.push(format!(
                "there is no sandbox {} (`korthbox up` creates it)",
                wanted.name
            )),
        }
        return Ok(report);
    };
    report.driver = Some(found.driver);
    report.context = Some(found.context.clone());
    let (base, endpoint) = endpoint(ctx, &found);
    report.endpoint = Some(endpoint);
    let containers = stopped(ctx, &found, &mut report).await;
    if report.state == State::Stopped {
        return Ok(report);
    }
    inspect(ctx, (&found, containers), namespace, &mut report).await;
    report.viewer = viewer_url(report.viewer.take(), base.as_deref());
    if let Some(who) = &report.busy {
        report.problems.push(format!("{who} is working on it"));
    }
    let partly = report
        .diagnoses
        .iter()
        .any(|d| d.reason == Reason::NodesStopped);
    report.state = match (&report.busy, report.problems.is_empty()) {
        (Some(_), _) => State::Busy,
        (None, true) => State::Healthy,
        (None, false) if partly => State::PartlyStopped,
        (None, false) => State::Degraded,
    };
    Ok(report)
}

impl Report {
    /// Adds a diagnosis, and its line among the problems.
    fn diagnosed(&mut self, d: Diagnosis) {
        self.problems.push(d.line());
        self.diagnoses.push(d);
    }
}

/// How many node containers the sandbox has and how many run, where korthbox can tell (kind's
/// and k3d's nodes on an engine); all stopped makes its state stopped, with the command that
/// starts them, and some stopped is a diagnosis.
async fn stopped(ctx: &Context, found: &Target, report: &mut Report) -> Option<(usize, usize)> {
    let timeout = ctx.probe_timeout();
    let driver = found.driver();
    let (total, running) =
        crate::driver::nodes::count(driver, &found.name, &found.provider, timeout).await?;
    let start = ctx.same_target("start");
    match (total, running) {
        (0, _) => {}
        (_, 0) => {
            report.state = State::Stopped;
            report.diagnosed(Diagnosis {
                reason: Reason::NodesStopped,
                subject: format!("sandbox {}", found.name),
                detail: format!("its {total} nodes are stopped; everything in them is kept"),
                fix: format!("`{start}` brings them back"),
            });
        }
        (_, n) if n < total => report.diagnosed(Diagnosis {
            reason: Reason::NodesStopped,
            subject: format!("sandbox {}", found.name),
            detail: format!("{} of its {total} nodes are stopped", total - n),
            fix: format!("`{start}` starts them"),
        }),
        _ => {}
    }
    Some((total, running))
}

/// Where Orthanc answers: its base URL on the ports `up` mapped (read back from the
/// definition it handed to the driver) and the endpoint in words, or through `korthbox
/// forward`.
fn endpoint(ctx: &Context, found: &Target) -> (Option<String>, String) {
    match found.orthanc_base(&ctx.env) {
        None => (None, "through `korthbox forward`".to_string()),
        Some((base, dicom)) => {
            let text = format!("{base} (DICOM 127.0.0.1:{dicom}, AE {ORTHANC_AET})");
            (Some(base), text)
        }
    }
}

/// The viewer found in Orthanc's Deployment (its name in `found`), with where it is.
fn viewer_url(found: Option<String>, base: Option<&str>) -> Option<String> {
    let viewer = Viewer::from_variable(found.as_deref()?)?;
    let path = viewer.path()?;
    Some(match base {
        Some(base) => format!("{} at {base}{path}", viewer.label()),
        None => format!("{} at {path} through `korthbox forward`", viewer.label()),
    })
}

async fn inspect(
    ctx: &Context,
    (found, containers): (&Target, Option<(usize, usize)>),
    namespace: &str,
    report: &mut Report,
) {
    let context = found.context.as_str();
    let client = match cluster::client(&ctx.env, context).await {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(e.message);
            return;
        }
    };
    let logs = ctx.same_target("logs");
    match cluster::nodes(&client).await {
        Ok(nodes) => {
            for r in cluster::refusals(&nodes) {
                report.problems.push(r.describe());
            }
            for d in diagnose::nodes(&nodes, &format!("`{logs}`")) {
                report.diagnosed(d);
            }
            report.nodes = nodes;
        }
        Err(e) => {
            // Said as `cluster check` says it: the URL, what failed, what to try.
            match cluster::reachable(&ctx.env, &client, context).await {
                Err(e) => match containers {
                    Some((total, running)) if running > 0 => {
                        let commands = (ctx.same_target("up"), ctx.same_target("reset"));
                        report.diagnosed(diagnose::api_server_down(
                            context,
                            (running, total),
                            (&commands.0, &commands.1),
                        ));
                    }
                    _ => {
                        report.problems.push(e.message.clone());
                        report.problems.extend(e.cause_lines());
                        report
                            .problems
                            .extend(e.hints().iter().map(|h| format!("hint: {h}")));
                    }
                },
                Ok(()) => report
                    .problems
                    .push(format!("could not list the nodes: {e}")),
            }
            return;
        }
    }
    components(&client, namespace, report).await;
    instances(&client, namespace, found.name.as_str(), report).await;
    for d in diagnose::pods(&client, namespace, &logs).await {
        report.diagnosed(d);
    }
    volumes(&client, namespace, report).await;
    last_proof(&client, namespace, report).await;
}

/// The stack's workloads and their readiness.
async fn components(client: &kube::Client, namespace: &str, report: &mut Report) {
    let statefulsets = ApiResource::erase::<StatefulSet>(&());
    let deployments = ApiResource::erase::<Deployment>(&());
    for resource in [statefulsets, deployments] {
        report
            .components
            .extend(workloads(client, namespace, &resource).await);
    }
    // A PostgreSQL of the user's own (--postgres-url) is not deployed here.
    let own_postgres = own_postgres(client, namespace).await;
    for wanted in ["postgres", "orthanc"] {
        if wanted == "postgres" && own_postgres {
            continue;
        }
        if !report.components.iter().any(|c| c.name == wanted) {
            report
                .problems
                .push(format!("{wanted} is not deployed in namespace {namespace}"));
        }
    }
    report.viewer = report
        .components
        .iter()
        .filter(|c| c.name == "orthanc")
        .flat_map(|c| c.enabled.iter())
        .find(|v| Viewer::from_variable(v).is_some())
        .cloned();
    upgrades(report);
    for c in report.components.iter().filter(|c| c.ready < c.wanted) {
        report.problems.push(format!(
            "{} {} has {}/{} ready",
            c.kind, c.name, c.ready, c.wanted
        ));
    }
}

/// Whether Orthanc's configuration names a PostgreSQL of the user's own (a `ConnectionUri`).
async fn own_postgres(client: &kube::Client, namespace: &str) -> bool {
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), namespace);
    let Ok(Some(map)) = maps.get_opt("orthanc-config").await else {
        return false;
    };
    let text = map.data.and_then(|d| d.get("orthanc.json").cloned());
    text.and_then(|t| crate::evaluate::orthanc::parse_config(&t).ok())
        .is_some_and(|c| c["PostgreSQL"]["ConnectionUri"].is_string())
}

/// Each Orthanc and its node, when there are several.
async fn instances(client: &kube::Client, namespace: &str, instance: &str, report: &mut Report) {
    let several = report
        .components
        .iter()
        .any(|c| c.name == "orthanc" && c.wanted > 1);
    if !several {
        return;
    }
    let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), namespace);
    let selector = crate::kube::pod::selector("orthanc", instance);
    let Ok(list) = api.list(&ListParams::default().labels(&selector)).await else {
        return;
    };
    let mut found: Vec<Instance> = list
        .items
        .iter()
        .map(|p| Instance {
            pod: p.metadata.name.clone().unwrap_or_default(),
            node: p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
            ready: crate::kube::pod::is_ready(p),
        })
        .collect();
    found.sort_by(|a, b| a.pod.cmp(&b.pod));
    report.instances = found;
}

/// What `up` would change in what the components run, compared by the versions their tags
/// name (a side-loaded image runs by tag, a pulled one by tag and digest).
fn upgrades(report: &mut Report) {
    let image = |name: &str| {
        let component = report.components.iter().find(|c| c.name == name)?;
        component.images.first().cloned()
    };
    let running = crate::sandbox::upgrade::Running {
        postgres: image("postgres"),
        orthanc: image("orthanc"),
    };
    let pins = crate::kube::stack::images::StackImages::default();
    // The pin, unless the component runs it already (by tag alone, when side-loaded).
    let tagged = |i: &str| crate::kube::stack::images::ImageRef::parse(i).tagged();
    let target = |now: &Option<String>, pin: &str| match now {
        Some(now) if tagged(now) == tagged(pin) => now.clone(),
        _ => pin.to_string(),
    };
    let postgres = target(&running.postgres, &pins.postgres);
    let orthanc = target(&running.orthanc, &pins.orthanc);
    match crate::sandbox::upgrade::changes(&running, &postgres, &orthanc) {
        Ok(said) => report.upgrades = said,
        Err(e) => report
            .problems
            .push(format!("`korthbox up` would refuse: {}", e.message)),
    }
}

/// korthbox's workloads of one kind (StatefulSets, Deployments), read from the fields both
/// kinds share.
async fn workloads(
    client: &kube::Client,
    namespace: &str,
    resource: &ApiResource,
) -> Vec<Component> {
    let selector = ListParams::default().labels(&format!("{MANAGED_BY}={KORTHBOX}"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let Ok(list) = api.list(&selector).await else {
        return Vec::new();
    };
    let kind: &'static str = if resource.kind == "StatefulSet" {
        "StatefulSet"
    } else {
        "Deployment"
    };
    list.items
        .iter()
        .map(|w| {
            let count = |v: &serde_json::Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
            let containers = w.data["spec"]["template"]["spec"]["containers"].as_array();
            let env: Vec<String> = containers
                .into_iter()
                .flatten()
                .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
                .filter(|e| e["value"] == "true")
                .filter_map(|e| e["name"].as_str().map(String::from))
                .collect();
            Component {
                kind,
                name: w.metadata.name.clone().unwrap_or_default(),
                ready: count(&w.data["status"]["readyReplicas"]).unwrap_or(0),
                wanted: count(&w.data["spec"]["replicas"]).unwrap_or(1),
                enabled: env,
                images: containers
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["image"].as_str().map(String::from))
                    .collect(),
            }
        })
        .collect()
}

async fn volumes(client: &kube::Client, namespace: &str, report: &mut Report) {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let Ok(list) = claims.list(&ListParams::default()).await else {
        return;
    };
    for pvc in list.items {
        let phase = pvc
            .status
            .and_then(|s| s.phase)
            .unwrap_or_else(|| "Pending".into());
        let name = pvc.metadata.name.unwrap_or_default();
        if phase != "Bound" {
            report.diagnosed(diagnose::volume(client, namespace, &name, &phase).await);
        }
        report.volumes.push(Volume { name, phase });
    }
}

async fn last_proof(client: &kube::Client, namespace: &str, report: &mut Report) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if let Ok(Some(ns)) = namespaces.get_opt(namespace).await {
        report.last_proof = proof::last(&ns);
    }
    match &report.last_proof {
        Some(LastProof {
            result: Outcome::Passed,
            ..
        }) => {}
        Some(p) => report.problems.push(format!("the last proof {}", p.result)),
        None => report
            .problems
            .push("no proof has run yet (`korthbox prove`)".into()),
    }
}

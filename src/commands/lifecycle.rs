//! `status`, `down`, `reset`, `forward`, `password`, `prove` and `completions`: the commands
//! around `up`, each finding the sandbox by name across the installed drivers.

use std::io::{BufRead, IsTerminal};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use serde::Serialize;

use super::{check_target, probe_timeout};
use crate::cli::{
    CompletionsArgs, DownArgs, ForwardArgs, PasswordArgs, ResetArgs, StatusArgs, TargetArgs,
};
use crate::cluster::{self, NodeFacts};
use crate::driver::actions::{self, Deleted};
use crate::driver::{DriverKind, cleanup};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host;
use crate::proof::{self, LastProof};
use crate::sandbox::Located;
use crate::spec::ORTHANC_AET;
use crate::ui::{self, Phase, Style};

/// The sandbox named by `target`, or an error saying it does not exist.
async fn existing(env: &Env, target: &TargetArgs) -> Result<Option<Located>> {
    check_target(target)?;
    let facts = host::gather(env, probe_timeout(env)).await;
    Ok(super::locate(env, &facts, target)
        .await?
        .filter(|l| l.exists))
}

fn absent(target: &TargetArgs) -> Error {
    Error::failure(format!(
        "there is no sandbox {} (no kind, k3d or minikube cluster of that name)",
        target.name
    ))
    .hint("`korthbox up` creates it; `korthbox cluster list` shows the clusters there are")
}

// ---------------------------------------------------------------------------------------------
// status

#[derive(Debug, Serialize)]
struct StatusReport {
    name: String,
    /// healthy, degraded or absent.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<DriverKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    namespace: String,
    problems: Vec<String>,
    nodes: Vec<NodeFacts>,
    components: Vec<Component>,
    volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    last_proof: Option<LastProof>,
}

#[derive(Debug, Serialize)]
struct Component {
    kind: &'static str,
    name: String,
    ready: i32,
    wanted: i32,
    images: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Volume {
    name: String,
    phase: String,
}

pub async fn status(args: StatusArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    let namespace = args.ns.namespace.clone();
    let mut report = StatusReport {
        name: target.name.to_string(),
        state: "absent",
        driver: None,
        context: None,
        namespace: namespace.clone(),
        problems: Vec::new(),
        nodes: Vec::new(),
        components: Vec::new(),
        volumes: Vec::new(),
        endpoint: None,
        last_proof: None,
    };
    if let Some(located) = existing(env, target).await? {
        report.driver = Some(located.driver);
        report.context = Some(located.context.clone());
        report.endpoint = match located.driver {
            DriverKind::Kind | DriverKind::K3d => {
                // The ports `up` mapped, from the definition it handed to the driver.
                let (http, dicom) = env
                    .cache_dir()
                    .and_then(|d| crate::driver::mapped_ports(located.driver, &d, &target.name))
                    .unwrap_or((
                        crate::spec::DEFAULT_HTTP_PORT,
                        crate::spec::DEFAULT_DICOM_PORT,
                    ));
                Some(format!(
                    "http://127.0.0.1:{http} (DICOM 127.0.0.1:{dicom}, AE {ORTHANC_AET})"
                ))
            }
            DriverKind::Minikube | DriverKind::Existing => {
                Some("through `korthbox forward`".to_string())
            }
        };
        inspect(env, &located.context, &namespace, &mut report).await;
        report.state = if report.problems.is_empty() {
            "healthy"
        } else {
            "degraded"
        };
    } else {
        report.problems.push(format!(
            "there is no sandbox {} (`korthbox up` creates it)",
            target.name
        ));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        ui::json(&mut out, &report)?;
    } else {
        write_status(&mut out, style, &report)?;
    }
    Ok(if report.state == "healthy" {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

async fn inspect(env: &Env, context: &str, namespace: &str, report: &mut StatusReport) {
    let client = match cluster::client(env, context).await {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(e.message);
            return;
        }
    };
    match cluster::nodes(&client).await {
        Ok(nodes) => {
            for r in cluster::refusals(&nodes) {
                report.problems.push(r.describe());
            }
            for n in nodes.iter().filter(|n| !n.ready) {
                report
                    .problems
                    .push(format!("node {} is not Ready", n.name));
            }
            report.nodes = nodes;
        }
        Err(e) => {
            report.problems.push(format!(
                "the API server of context `{context}` cannot be reached: {e}"
            ));
            return;
        }
    }
    let selector = ListParams::default().labels("app.kubernetes.io/managed-by=korthbox");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    if let Ok(list) = statefulsets.list(&selector).await {
        for s in list.items {
            let spec = s.spec.as_ref();
            report.components.push(component(
                "StatefulSet",
                s.metadata.name.clone(),
                s.status.as_ref().and_then(|st| st.ready_replicas),
                spec.and_then(|sp| sp.replicas),
                spec.and_then(|sp| sp.template.spec.as_ref()),
            ));
        }
    }
    if let Ok(list) = deployments.list(&selector).await {
        for d in list.items {
            let spec = d.spec.as_ref();
            report.components.push(component(
                "Deployment",
                d.metadata.name.clone(),
                d.status.as_ref().and_then(|st| st.ready_replicas),
                spec.and_then(|sp| sp.replicas),
                spec.and_then(|sp| sp.template.spec.as_ref()),
            ));
        }
    }
    for wanted in ["postgres", "orthanc"] {
        if !report.components.iter().any(|c| c.name == wanted) {
            report
                .problems
                .push(format!("{wanted} is not deployed in namespace {namespace}"));
        }
    }
    for c in report.components.iter().filter(|c| c.ready < c.wanted) {
        report.problems.push(format!(
            "{} {} has {}/{} ready",
            c.kind, c.name, c.ready, c.wanted
        ));
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    if let Ok(list) = claims.list(&ListParams::default()).await {
        for pvc in list.items {
            let phase = pvc
                .status
                .and_then(|s| s.phase)
                .unwrap_or_else(|| "Pending".into());
            let name = pvc.metadata.name.unwrap_or_default();
            if phase != "Bound" {
                report.problems.push(format!("volume {name} is {phase}"));
            }
            report.volumes.push(Volume { name, phase });
        }
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if let Ok(Some(ns)) = namespaces.get_opt(namespace).await {
        report.last_proof = proof::last(&ns);
    }
    match &report.last_proof {
        Some(p) if p.result == "passed" => {}
        Some(p) => report.problems.push(format!("the last proof {}", p.result)),
        None => report
            .problems
            .push("no proof has run yet (`korthbox prove`)".into()),
    }
}

fn component(
    kind: &'static str,
    name: Option<String>,
    ready: Option<i32>,
    wanted: Option<i32>,
    pod: Option<&k8s_openapi::api::core::v1::PodSpec>,
) -> Component {
    Component {
        kind,
        name: name.unwrap_or_default(),
        ready: ready.unwrap_or(0),
        wanted: wanted.unwrap_or(1),
        images: pod
            .map(|p| {
                p.containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn write_status(
    out: &mut impl std::io::Write,
    style: Style,
    r: &StatusReport,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Sandbox {}: {}{}",
        r.name,
        r.state,
        match (&r.driver, &r.context) {
            (Some(d), Some(c)) => format!(" ({} cluster, context {c})", d.label()),
            _ => String::new(),
        }
    )?;
    if !r.nodes.is_empty() {
        writeln!(out)?;
        ui::node_table(out, &r.nodes)?;
    }
    if !r.components.is_empty() {
        writeln!(out)?;
        ui::component_table(
            out,
            &r.components
                .iter()
                .map(|c| {
                    [
                        format!("{} {}", c.kind, c.name),
                        format!("{}/{}", c.ready, c.wanted),
                        c.images.join(", "),
                    ]
                })
                .collect::<Vec<_>>(),
        )?;
    }
    for v in &r.volumes {
        writeln!(out, "volume {:<20} {}", v.name, v.phase)?;
    }
    if let Some(e) = &r.endpoint {
        writeln!(out, "\nOrthanc   {e}")?;
    }
    match &r.last_proof {
        Some(p) => writeln!(out, "Proof     {} at {}", p.result, p.at)?,
        None if r.state != "absent" => writeln!(out, "Proof     never run")?,
        None => {}
    }
    for p in &r.problems {
        writeln!(out, "{} {p}", style_problem(style))?;
    }
    Ok(())
}

fn style_problem(style: Style) -> &'static str {
    if style.terminal { "✗" } else { "problem:" }
}

// ---------------------------------------------------------------------------------------------
// down and reset

/// Asks "are you sure?" on a terminal; without one, `--yes` is required (exit 2).
fn confirm(question: &str, yes: bool, command: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!(
            "`korthbox {command}` deletes data and asks first, but there is no terminal to ask on"
        ))
        .hint(format!("add --yes: `korthbox {command} --yes`")));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(Error::failure("nothing was deleted")
            .hint(format!("`korthbox {command} --yes` does not ask")))
    }
}

/// Deletes what korthbox installed into an existing cluster: the stack's namespace and the
/// cluster-wide objects it labelled as its own.
async fn delete_owned(env: &Env, context: &str, namespace: &str) -> Result<Deleted> {
    let client = cluster::client(env, context).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let gone = match namespaces.delete(namespace, &DeleteParams::default()).await {
        Ok(_) => Deleted::Deleted,
        Err(kube::Error::Api(s)) if s.code == 404 => Deleted::Absent,
        Err(e) => {
            return Err(
                Error::failure(format!("could not delete namespace {namespace}")).caused_by(e),
            );
        }
    };
    crate::apply::delete_labelled_cluster_objects(&client).await?;
    Ok(gone)
}

pub async fn down(args: DownArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = &args.target;
    check_target(target)?;
    // The lock first: what exists can change until korthbox holds it.
    let _lock = crate::lock::acquire(env, &target.name, "down", args.lock_wait, &mut |h| {
        ui::note(style, &format!("waiting for {} to finish", h.describe()))
    })
    .await?;
    let Some(located) = existing(env, target).await? else {
        ui::note(
            style,
            &format!("there is no sandbox {}; nothing to delete", target.name),
        );
        return Ok(ExitCode::Success);
    };
    let what = match located.driver {
        DriverKind::Existing => format!(
            "everything korthbox installed in context {} (namespace {}; the cluster itself stays)",
            located.context, args.ns.namespace
        ),
        kind => format!(
            "the {} cluster {} and all data in it",
            kind.label(),
            target.name
        ),
    };
    confirm(&format!("Delete {what}?"), args.yes, "down")?;
    let phase = Phase::start(style, format!("Deleting {what}"));
    let result = match located.driver {
        DriverKind::Existing => delete_owned(env, &located.context, &args.ns.namespace).await,
        kind => {
            actions::delete(
                env,
                &target.name,
                kind.driver(),
                &located.provider,
                args.timeout,
                &mut |line| phase.line(line),
            )
            .await
        }
    };
    match result {
        Ok(deleted) => {
            phase.finish(true, super::cluster::deleted_detail(deleted));
            Ok(ExitCode::Success)
        }
        Err(e) => {
            phase.finish(false, "");
            Err(e)
        }
    }
}

pub async fn reset(args: ResetArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let target = args.up.spec.target.clone();
    check_target(&target)?;
    let facts = host::gather(env, probe_timeout(env)).await;
    let located = super::locate(env, &facts, &target).await?;
    if let Some(located) = &located {
        let what = match located.driver {
            DriverKind::Existing => format!(
                "everything korthbox installed in context {} (its PostgreSQL data and DICOM files)",
                located.context
            ),
            kind => format!(
                "sandbox {} ({} cluster) and all data in it — the database and every DICOM file",
                target.name,
                kind.label()
            ),
        };
        ui::note(
            style,
            &format!("reset deletes {what}, then brings the sandbox up again"),
        );
        confirm("Reset it?", args.yes, "reset")?;
        let lock = crate::lock::acquire(env, &target.name, "reset", args.up.lock_wait, &mut |h| {
            ui::note(style, &format!("waiting for {} to finish", h.describe()))
        })
        .await?;
        let phase = Phase::start(style, format!("Deleting sandbox {}", target.name));
        let result = wipe(env, &target, located, &args.up.stack.ns.namespace, &phase).await;
        match result {
            Ok(detail) => {
                phase.finish(true, &detail);
            }
            Err(e) => {
                phase.finish(false, "");
                return Err(e);
            }
        }
        // `up` takes the lock itself.
        drop(lock);
    }
    // The host has not changed since it was probed above: `up` reuses those facts.
    super::up::run_with(args.up, env, style, "reset", Some(facts)).await
}

/// Deletes the cluster even when its API server is dead, then what the driver left behind.
async fn wipe(
    env: &Env,
    target: &TargetArgs,
    located: &Located,
    namespace: &str,
    phase: &Phase,
) -> Result<String> {
    if located.driver == DriverKind::Existing {
        delete_owned(env, &located.context, namespace).await?;
        return Ok("korthbox's objects deleted".into());
    }
    let driver = located.driver.driver();
    if let Some(inv) = driver.delete(&target.name, &located.provider) {
        // Straight to the tool, without asking its list first: a half-made cluster may not be
        // listed, and deleting a missing one is harmless here.
        let outcome =
            crate::driver::common::run(env, &inv, actions::DELETE_TIMEOUT, &mut |l| phase.line(l))
                .await?;
        if !outcome.success {
            phase.line(&format!("`{}` failed; cleaning up directly", inv.display()));
        }
    }
    let removed = cleanup::engine_leftovers(
        located.driver,
        &target.name,
        &located.provider,
        std::time::Duration::from_secs(60),
    )
    .await?;
    let files = cleanup::kubeconfig_entries(env, &located.context)?;
    let mut parts = Vec::new();
    if !removed.containers.is_empty() {
        parts.push(format!(
            "removed containers {}",
            removed.containers.join(", ")
        ));
    }
    if !removed.networks.is_empty() {
        parts.push(format!("networks {}", removed.networks.join(", ")));
    }
    if !removed.volumes.is_empty() {
        parts.push(format!("volumes {}", removed.volumes.join(", ")));
    }
    if !files.is_empty() {
        parts.push(format!("kube context {} removed", located.context));
    }
    Ok(parts.join("; "))
}

// ---------------------------------------------------------------------------------------------
// forward, password, prove

async fn client_for(env: &Env, target: &TargetArgs) -> Result<(Located, kube::Client)> {
    let located = existing(env, target).await?.ok_or_else(|| absent(target))?;
    let client = cluster::client(env, &located.context).await?;
    Ok((located, client))
}

pub async fn password(args: PasswordArgs, env: &Env) -> Result<ExitCode> {
    let (_, client) = client_for(env, &args.target).await?;
    let password = proof::admin_password(&client, &args.ns.namespace)
        .await
        .map_err(|e| {
            Error::failure(e).hint("`korthbox up` creates the sandbox and its password")
        })?;
    println!("{password}");
    Ok(ExitCode::Success)
}

pub async fn prove(args: PasswordArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let (_, client) = client_for(env, &args.target).await?;
    let namespace = &args.ns.namespace;
    let phase = Phase::start(style, "Proving Orthanc works");
    let result = proof::prove(
        &client,
        namespace,
        args.target.name.as_str(),
        ORTHANC_AET,
        std::time::Duration::from_secs(120),
    )
    .await;
    let proof = match result {
        Ok(p) => p,
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    };
    let _ = proof::record(&client, namespace, &proof).await;
    phase.finish(proof.passed, "");
    let mut out = std::io::stdout().lock();
    for step in &proof.steps {
        use std::io::Write;
        writeln!(
            out,
            "{} {:<13} {} ({} ms)",
            if step.ok { "ok  " } else { "FAIL" },
            step.name,
            step.detail,
            step.millis
        )?;
    }
    if proof.passed {
        Ok(ExitCode::Success)
    } else {
        Err(Error::failure("the proof failed").hint(format!(
            "`kubectl -n {namespace} logs deployment/orthanc` shows Orthanc's side"
        )))
    }
}

pub async fn forward(args: ForwardArgs, env: &Env, style: Style) -> Result<ExitCode> {
    let (_, client) = client_for(env, &args.target).await?;
    let namespace = args.ns.namespace.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let selector = format!(
        "app.kubernetes.io/name=orthanc,app.kubernetes.io/instance={}",
        args.target.name
    );
    let bind = |port: u16| async move {
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::failure(format!("could not listen on 127.0.0.1:{port}"))
                .caused_by(e)
                .hint(format!("another program has the port: pick another with --http-port/--dicom-port, or find it with `lsof -i :{port}`"))
        })
    };
    let http = bind(args.http_port).await?;
    let dicom = bind(args.dicom_port).await?;
    ui::note(
        style,
        &format!(
            "Forwarding http://127.0.0.1:{} → Orthanc :8042 and 127.0.0.1:{} → :4242 (AE {ORTHANC_AET}); Ctrl-C stops",
            args.http_port, args.dicom_port
        ),
    );
    let serve = |listener: tokio::net::TcpListener, remote: u16| {
        let (pods, selector) = (pods.clone(), selector.clone());
        async move {
            loop {
                let Ok((mut local, _)) = listener.accept().await else {
                    continue;
                };
                let (pods, selector) = (pods.clone(), selector.clone());
                tokio::spawn(async move {
                    let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await else {
                        return;
                    };
                    let Some(pod) = list.items.first().and_then(|p| p.metadata.name.clone()) else {
                        return;
                    };
                    let Ok(mut forward) = pods.portforward(&pod, &[remote]).await else {
                        return;
                    };
                    if let Some(mut upstream) = forward.take_stream(remote) {
                        let _ = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
                    }
                    forward.abort();
                });
            }
        }
    };
    tokio::select! {
        _ = serve(http, 8042) => {}
        _ = serve(dicom, 4242) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::Success)
}

pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut command, "korthbox", &mut std::io::stdout());
    Ok(ExitCode::Success)
}

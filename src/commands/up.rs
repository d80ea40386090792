//! `korthbox up`: doctor's blocking checks → the cluster (created, or reused when it exists) →
//! cluster checks → the stack, applied and ready → the proof → a summary.

use std::time::Duration;

use serde::Serialize;

use super::stack::{Timings, apply_stack, check_cluster, record};
use super::{check_target, cluster_spec, probe_timeout, stack_spec};
use crate::cli::UpArgs;
use crate::doctor::{self, Check, LocalFacts, Status};
use crate::driver::{DriverKind, NodeProvider, ProviderKind, actions};
use crate::env::Env;
use crate::error::{Error, ExitCode, Result};
use crate::host::{self, HostFacts};
use crate::proof::{self, Proof};
use crate::spec::{DriverChoice, ORTHANC_AET, VolumeSource};
use crate::stack::Secrets;
use crate::ui::{self, Phase, Style};

/// How long the proof may take: two port-forwards and five small requests.
const PROOF_TIMEOUT: Duration = Duration::from_secs(120);

/// What `up` reports at the end.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub driver: DriverKind,
    pub context: String,
    pub namespace: String,
    /// Whether this run created the cluster (false: it was there and was reused).
    pub cluster_created: bool,
    /// Objects created or changed by this run; 0 on a healthy sandbox.
    pub changed: usize,
    pub endpoints: Endpoints,
    pub proof: Proof,
    /// The images pulled into the host's engine and loaded into the nodes.
    pub images: Vec<crate::pull::Pulled>,
    pub phases: Vec<PhaseTiming>,
}

#[derive(Debug, Serialize)]
pub struct Endpoints {
    /// `http://127.0.0.1:8042` where the driver maps the port; `None` where `korthbox forward`
    /// is needed (minikube, existing clusters).
    pub orthanc_url: Option<String>,
    pub dicom: Option<String>,
    pub aet: String,
    pub user: String,
    pub password_command: String,
    pub kubectl: String,
    pub forward_command: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PhaseTiming {
    pub phase: String,
    /// Seconds after the first phase started (phases can overlap: pulls run during creation).
    pub start: f64,
    pub seconds: f64,
}

fn driver_choice(kind: DriverKind) -> DriverChoice {
    match kind {
        DriverKind::Kind => DriverChoice::Kind,
        DriverKind::K3d => DriverChoice::K3d,
        DriverKind::Minikube => DriverChoice::Minikube,
        DriverKind::Existing => DriverChoice::Existing,
    }
}

/// doctor's failures that stop `up` with this driver: an existing cluster needs no engine or
/// tool; the host ports matter only for a cluster about to be created by kind or k3d.
fn blocking(checks: &[Check], kind: DriverKind, cluster_exists: bool) -> Vec<&Check> {
    let tool = kind.tool().map(|t| format!("tools.{}", t.executable()));
    checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter(|c| match c.id {
            "host.os" => true,
            id if id.starts_with("engine.") => kind != DriverKind::Existing,
            "host.port" => matches!(kind, DriverKind::Kind | DriverKind::K3d) && !cluster_exists,
            id => Some(id) == tool.as_deref(),
        })
        .collect()
}

fn host_detail(facts: &HostFacts, kind: DriverKind) -> String {
    let engine = facts
        .selected_engine()
        .map(|e| {
            format!(
                "{} {}",
                e.kind.label(),
                e.server_version.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_else(|| "no engine needed".into());
    let tool = kind
        .tool()
        .and_then(|t| facts.tool(t))
        .and_then(|t| {
            t.version
                .as_ref()
                .map(|v| format!(", {} {v}", t.name.executable()))
        })
        .unwrap_or_default();
    format!("{engine}{tool}")
}

pub async fn run(args: UpArgs, env: &Env, style: Style, command: &str) -> Result<ExitCode> {
    run_with(args, env, style, command, None).await
}

/// `up`, with host facts already gathered (by `reset`) when there are some.
pub async fn run_with(
    args: UpArgs,
    env: &Env,
    style: Style,
    command: &str,
    facts: Option<HostFacts>,
) -> Result<ExitCode> {
    let target = &args.spec.target;
    check_target(target)?;
    let spec = cluster_spec(&args.spec);
    let name = &spec.name;
    // Impossible combinations are usage errors before anything happens.
    crate::stack::render(
        &stack_spec(&args.stack, name, VolumeSource::ClusterDefault, false),
        &Secrets::redacted(),
    )
    .map_err(Error::usage)?;
    let _lock = crate::lock::acquire(env, name, command, args.lock_wait, &mut |holder| {
        ui::note(
            style,
            &format!(
                "waiting for {} to finish with sandbox {name}",
                holder.describe()
            ),
        )
    })
    .await?;
    let mut timings: Timings = Vec::new();

    // 1. The host.
    let title = "Checking the host".to_string();
    let phase = Phase::start(style, title.clone());
    let host = check_host(&args, env, facts).await;
    let (facts, kind, provider) = match host {
        Ok(found) => found,
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    };
    record(
        &mut timings,
        title,
        phase.finish(true, &host_detail(&facts, kind)),
    );

    // 2. The images start downloading into the host's engine while the cluster is created.
    let driver = kind.driver();
    let pulls = (kind != DriverKind::Existing).then(|| {
        let volumes = match kind {
            DriverKind::Minikube => VolumeSource::InstallLocalPath { default: false },
            _ => VolumeSource::ClusterDefault,
        };
        let images = crate::stack::images::used(&stack_spec(&args.stack, name, volumes, true));
        let progress = std::sync::Arc::new(ui::PullBars::new(style));
        let (provider, timeout) = (provider.clone(), args.timeout);
        let started = std::time::Instant::now();
        let task = tokio::spawn(async move {
            let result = crate::pull::pull_all(&provider, images, timeout, progress).await;
            (result, std::time::Instant::now())
        });
        (started, task)
    });
    let mut cluster_created = false;
    let context = match (&target.context, kind) {
        (Some(context), _) => context.clone(),
        (None, DriverKind::Existing) => driver.context(name),
        (None, _) => {
            let created = super::cluster::create_phase(
                env,
                style,
                &spec,
                kind,
                &provider,
                args.retain,
                args.timeout,
                &mut timings,
            )
            .await?;
            cluster_created = created.created;
            created.context
        }
    };

    // The images, into the nodes.
    let mut images = Vec::new();
    if let Some((started, task)) = pulls {
        let phase = Phase::start(style, "Pulling images");
        let (result, finished) = task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match result {
            Ok(pulled) => {
                ui::pulled_lines(style, &pulled);
                let fresh = pulled.iter().filter(|p| p.pulled).count();
                phase.finish(
                    true,
                    &format!("{fresh} pulled, {} already there", pulled.len() - fresh),
                );
                timings.push((
                    "Pulling images (during cluster creation)".into(),
                    started,
                    finished.duration_since(started),
                ));
                images = pulled;
            }
            Err(e) => {
                phase.finish(false, "");
                return Err(e);
            }
        }
        let title = format!("Loading {} images into the nodes", images.len());
        let phase = Phase::start(style, title.clone());
        let tagged: Vec<String> = images.iter().map(|p| p.tagged.clone()).collect();
        let loaded = actions::load(
            env,
            name,
            driver,
            &provider,
            &tagged,
            args.timeout,
            &mut |line| phase.line(line),
        )
        .await;
        match loaded {
            Ok(()) => record(&mut timings, title, phase.finish(true, "")),
            Err(e) => {
                phase.finish(false, "");
                return Err(e);
            }
        }
    }

    // 3. The cluster checks, 4. the stack.
    check_cluster(env, style, &context, args.wait, &mut timings).await?;
    let outcome = apply_stack(
        env,
        style,
        kind,
        &context,
        &args.stack,
        name,
        args.wait,
        &mut timings,
    )
    .await?;

    // 5. The proof.
    let title = "Proving Orthanc works".to_string();
    let phase = Phase::start(style, title.clone());
    let namespace = outcome.spec.namespace.clone();
    let proof = match proof::prove(
        &outcome.client,
        &namespace,
        name.as_str(),
        ORTHANC_AET,
        PROOF_TIMEOUT,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    };
    if let Err(e) = proof::record(&outcome.client, &namespace, &proof).await {
        ui::note(style, &format!("warning: {}", e.message));
    }
    if !proof.passed {
        phase.finish(false, "");
        let why = proof
            .steps
            .last()
            .map(|s| s.detail.clone())
            .unwrap_or_default();
        return Err(Error::failure("the sandbox is up but the proof failed")
            .caused_by(why)
            .hint(format!(
                "`kubectl --context {context} -n {namespace} logs deployment/orthanc` shows Orthanc's side; `korthbox prove` runs the proof again"
            )));
    }
    let took = phase.finish(
        true,
        "stored, read back, counted and deleted an instance; C-ECHO answered",
    );
    record(&mut timings, title, took);

    let summary = Summary {
        name: name.to_string(),
        driver: kind,
        context: context.clone(),
        namespace: namespace.clone(),
        cluster_created,
        changed: outcome.changed,
        endpoints: endpoints(&args, kind, &context, &namespace),
        proof,
        images,
        phases: {
            let first = timings.iter().map(|(_, start, _)| *start).min();
            timings
                .iter()
                .map(|(phase, start, took)| PhaseTiming {
                    phase: phase.clone(),
                    start: first
                        .map(|f| ((start.duration_since(f)).as_secs_f64() * 10.0).round() / 10.0)
                        .unwrap_or(0.0),
                    seconds: (took.as_secs_f64() * 10.0).round() / 10.0,
                })
                .collect()
        },
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        ui::json(&mut out, &summary)?;
    } else {
        ui::up_summary(&mut out, style, &summary)?;
    }
    if args.timings {
        ui::timings(&mut std::io::stderr().lock(), &timings)?;
    }
    Ok(ExitCode::Success)
}

/// Host detection, the driver and engine to use, whether the cluster exists, and doctor's
/// blocking checks.
async fn check_host(
    args: &UpArgs,
    env: &Env,
    gathered: Option<HostFacts>,
) -> Result<(HostFacts, DriverKind, NodeProvider)> {
    let target = &args.spec.target;
    let mut facts = match gathered {
        Some(facts) => facts,
        None => host::gather(env, probe_timeout(env)).await,
    };
    if target.driver == DriverChoice::Auto
        && actions::pick(target.driver, &facts).is_none()
        && !args.json
        && super::install::offer(env, ui::Style::detect(env, false, false)).await?
    {
        facts = host::gather(env, probe_timeout(env)).await;
    }
    let located = super::locate(env, &facts, target).await?;
    // A sandbox that exists is used with the driver that has it; otherwise the driver asked for.
    let kind = match &located {
        Some(l) if l.exists => l.driver,
        _ => actions::require(target.driver, &facts)?,
    };
    actions::require(driver_choice(kind), &facts)?;
    let exists = located
        .as_ref()
        .is_some_and(|l| l.exists && l.driver == kind);
    let provider = if kind == DriverKind::Existing {
        NodeProvider::assumed(ProviderKind::Docker)
    } else {
        actions::require_provider(&facts, target.provider)?
    };
    let local = LocalFacts::read(env, &facts, super::host_ports(&args.spec.ports));
    let checks = doctor::checks(&facts, &local);
    let stops = blocking(&checks, kind, exists);
    if let Some(first) = stops.first() {
        let mut err = Error::failure("this machine cannot host the sandbox yet");
        for c in &stops {
            err = err.caused_by(format!("{}: {}", c.id, c.detail));
        }
        return Err(err.hint(
            first
                .fix
                .clone()
                .unwrap_or_else(|| "`korthbox doctor` says what to fix".into()),
        ));
    }
    Ok((facts, kind, provider))
}

fn endpoints(args: &UpArgs, kind: DriverKind, context: &str, namespace: &str) -> Endpoints {
    let name = &args.spec.target.name;
    let name_flag = if name.as_str() == crate::spec::DEFAULT_NAME {
        String::new()
    } else {
        format!(" --name {name}")
    };
    let ports = &args.spec.ports;
    let mapped = matches!(kind, DriverKind::Kind | DriverKind::K3d);
    Endpoints {
        orthanc_url: mapped.then(|| format!("http://127.0.0.1:{}", ports.http_port)),
        dicom: mapped.then(|| format!("127.0.0.1:{}", ports.dicom_port)),
        aet: ORTHANC_AET.into(),
        user: "admin".into(),
        password_command: format!("korthbox password{name_flag}"),
        kubectl: format!("kubectl --context {context} -n {namespace} get pods"),
        forward_command: (!mapped).then(|| match kind {
            DriverKind::Existing => format!("korthbox forward --context {context}"),
            _ => format!("korthbox forward{name_flag}"),
        }),
    }
}

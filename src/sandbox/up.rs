//! `up`: host → (image pulls ∥ cluster creation) → load → cluster checks → the stack → the
//! proof, each step one phase over one context; the result is a [`Summary`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

use super::Context;
use super::host::{self, Host};
use super::repair;
use super::steps;
use super::target::{Target, Wanted};
use crate::base::error::Error;
use crate::base::report::{Phase, PhaseTiming, Timing};
use crate::base::spec::{ClusterSpec, DEFAULT_NAME, ORTHANC_AET, SandboxName};
use crate::driver::actions;
use crate::driver::{AUTO_ORDER, DriverKind};
use crate::evaluate::proof::Proof;
use crate::host::HostFacts;
use crate::kube::stack::{Choices, StackSpec};
use crate::sandbox::lock::{self, Lock};
use crate::sandbox::pull::{self, Pulled};

/// Everything `up` (and `reset`) is asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    pub wanted: Wanted,
    pub cluster: ClusterSpec,
    pub stack: Choices,
    /// Keep a cluster whose creation failed.
    pub retain: bool,
    /// How long the driver may take to create the cluster (and the pulls and loads).
    pub timeout: Duration,
    /// How long to wait for the nodes, and for each component.
    pub wait: Duration,
    /// How long another korthbox on the same sandbox is waited for.
    pub lock_wait: Duration,
    /// Whether to offer installing kind when no driver is installed (someone is reading).
    pub offer_install: bool,
    /// Sample studies to load after the proof (0: none).
    pub samples: u32,
}

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
    pub images: Vec<Pulled>,
    /// What loading the sample studies did, when asked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<String>,
    pub phases: Vec<PhaseTiming>,
}

/// How to reach the sandbox.
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
    /// The viewer and its URL (its path, where `korthbox forward` is needed).
    pub viewer: Option<String>,
}

/// Brings the sandbox up under its lock (taken here unless the caller holds it), reusing
/// host facts the caller already gathered.
pub async fn up(
    ctx: &Context,
    req: &Request,
    held: Option<Lock>,
    facts: Option<HostFacts>,
) -> Result<Summary, Error> {
    req.wanted.check()?;
    // Impossible combinations are usage errors before anything happens.
    let provisional = AUTO_ORDER[0].driver().placement(None);
    let stack = StackSpec::new(&req.stack, &req.cluster.name, provisional).map_err(Error::usage)?;
    let _lock = match held {
        Some(lock) => lock,
        None => {
            let reporter = ctx.steps.reporter();
            lock::acquire(&ctx.env, &req.cluster.name, "up", req.lock_wait, reporter).await?
        }
    };
    let host = ctx
        .steps
        .run(
            "Checking the host",
            async |phase| {
                let ports = req.cluster.ports;
                host::check(ctx, phase, &req.wanted, ports, facts, req.offer_install).await
            },
            Host::detail,
        )
        .await?;
    let target = &host.target;
    ctx.note_unused(target.driver(), &req.stack);
    let pulls = start_pulls(ctx, req, &host, &stack);
    let created = create_or_wake(ctx, req, target).await?;
    let images = match pulls {
        Some(pulls) => pulls.finish(ctx).await?,
        None => Vec::new(),
    };
    let existed = created.as_ref().is_some_and(|c| !c.created);
    let tagged = to_load(ctx, req, target, &images, existed).await;
    if !tagged.is_empty() {
        let title = format!("Loading {} images into the nodes", tagged.len());
        steps::load_images(ctx, title, target, &tagged, req.timeout).await?;
    }
    check_and_unstick(ctx, req, target).await?;
    let deployed = steps::apply_stack(ctx, target, stack, req.wait).await?;
    let namespace = deployed.spec.namespace.clone();
    let instance = target.name.as_str();
    let step_timeout = crate::evaluate::proof::sandbox::STEP_TIMEOUT;
    let proof = steps::prove(ctx, &deployed.client, &namespace, instance, step_timeout).await?;
    if !proof.passed {
        return Err(proof.error("the sandbox is up but the proof").hint(format!(
            "`{}` shows Orthanc's side; `{}` runs the proof again",
            ctx.same_target("logs orthanc"),
            ctx.same_target("prove")
        )));
    }
    let samples = match req.samples {
        0 => None,
        n => Some(steps::load_samples(ctx, &deployed.client, &namespace, instance, n).await?),
    };
    let (phases, _) = ctx.steps.timings().relative();
    Ok(Summary {
        name: target.name.to_string(),
        driver: target.driver,
        context: target.context.clone(),
        endpoints: endpoints(req, target.driver, &target.context, &namespace),
        namespace,
        cluster_created: created.is_some_and(|c| c.created),
        changed: deployed.changed,
        proof,
        images,
        samples,
        phases,
    })
}

/// The images to load into the nodes: what korthbox has not loaded into this cluster already
/// (a re-run loads nothing), and, in a cluster that existed, what its pods cannot pull — images
/// the nodes lost.
async fn to_load(
    ctx: &Context,
    req: &Request,
    target: &Target,
    images: &[Pulled],
    existed: bool,
) -> Vec<String> {
    let tagged: Vec<String> = images.iter().map(|p| p.tagged.clone()).collect();
    let mut tagged = actions::not_loaded(&ctx.env, &target.name, &tagged);
    if existed {
        let lost = repair::lost_images(ctx, target, &req.stack.namespace).await;
        for image in images.iter().map(|p| &p.tagged) {
            if lost.contains(image) && !tagged.contains(image) {
                tagged.push(image.clone());
            }
        }
    }
    tagged
}

/// The cluster created, for a driver that makes one; one that exists is reused, its stopped
/// nodes started.
async fn create_or_wake(
    ctx: &Context,
    req: &Request,
    target: &Target,
) -> Result<Option<actions::Created>, Error> {
    if !target.driver().makes_cluster() {
        return Ok(None);
    }
    let created = steps::create_cluster(ctx, &req.cluster, target, req.retain, req.timeout).await?;
    if !created.created {
        repair::wake(ctx, target, req.timeout).await?;
    }
    Ok(Some(created))
}

/// The cluster checks (a cluster that does not come back named as such), then korthbox's pods
/// stuck in a back-off restarted before the stack is applied and waited for (a phase only
/// when there are some).
async fn check_and_unstick(ctx: &Context, req: &Request, target: &Target) -> Result<(), Error> {
    if let Err(e) = steps::check_cluster(ctx, &target.context, req.wait).await {
        return Err(repair::not_coming_back(ctx, target, e).await);
    }
    let client = crate::kube::cluster::client(&ctx.env, &target.context).await?;
    let (namespace, instance) = (&req.stack.namespace, target.name.as_str());
    let stuck = repair::restart_stuck(&client, namespace, instance).await?;
    if !stuck.is_empty() {
        let phase = ctx.steps.phase("Restarting korthbox's stuck pods");
        phase.finish(true, &stuck.join(", "));
    }
    Ok(())
}

/// Image pulls into the host's engine, running while the cluster is created.
struct Pulls {
    started: Instant,
    task: JoinHandle<(Result<Vec<Pulled>, Error>, Instant)>,
}

/// Starts pulling the stack's images, for drivers that side-load them.
fn start_pulls(ctx: &Context, req: &Request, host: &Host, stack: &StackSpec) -> Option<Pulls> {
    let driver = host.target.driver();
    if !driver.makes_cluster() {
        return None;
    }
    let mut stack = stack.clone();
    stack.place(driver.placement(None));
    let images = stack.images_used();
    let reporter: Arc<dyn crate::base::report::Reporter> = ctx.steps.shared_reporter();
    let (provider, timeout) = (host.target.provider.clone(), req.timeout);
    let started = Instant::now();
    let task = tokio::spawn(async move {
        let result = pull::pull_all(&provider, images, timeout, reporter).await;
        (result, Instant::now())
    });
    Some(Pulls { started, task })
}

impl Pulls {
    /// Waits for the pulls as a phase; its time is the pulls' own (they began earlier).
    async fn finish(self, ctx: &Context) -> Result<Vec<Pulled>, Error> {
        let phase = Phase::start(ctx.steps.reporter(), "Pulling images");
        let (result, finished) = self
            .task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let pulled = match result {
            Ok(pulled) => pulled,
            Err(e) => {
                phase.finish(false, "");
                return Err(e);
            }
        };
        for p in &pulled {
            phase.item(&p.describe());
        }
        let fresh = pulled.iter().filter(|p| p.pulled).count();
        phase.finish(
            true,
            &format!("{fresh} pulled, {} already there", pulled.len() - fresh),
        );
        ctx.steps.timings().record(Timing {
            phase: "Pulling images (during cluster creation)".into(),
            start: self.started,
            took: finished.duration_since(self.started),
            failed: false,
        });
        Ok(pulled)
    }
}

/// The flag that names this sandbox in a command line (empty for the default name).
pub fn name_flag(name: &SandboxName) -> String {
    if name.as_str() == DEFAULT_NAME {
        String::new()
    } else {
        format!(" --name {name}")
    }
}

fn endpoints(req: &Request, kind: DriverKind, context: &str, namespace: &str) -> Endpoints {
    let name_flag = name_flag(&req.cluster.name);
    let ports = req.cluster.ports;
    let driver = kind.driver();
    let mapped = driver.maps_host_ports();
    let forward = if driver.makes_cluster() {
        format!("korthbox forward{name_flag}")
    } else {
        format!("korthbox forward --context {context}")
    };
    Endpoints {
        orthanc_url: mapped.then(|| format!("http://127.0.0.1:{}", ports.http)),
        dicom: mapped.then(|| format!("127.0.0.1:{}", ports.dicom)),
        aet: ORTHANC_AET.into(),
        user: "admin".into(),
        password_command: format!("korthbox password{name_flag}"),
        kubectl: format!("kubectl --context {context} -n {namespace} get pods"),
        forward_command: (!mapped).then_some(forward),
        viewer: req.stack.viewer.path().map(|path| match mapped {
            true => format!("http://127.0.0.1:{}{path}", ports.http),
            false => format!("{path} through the forward"),
        }),
    }
}

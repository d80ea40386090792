//! What each command does, from parsed arguments to an exit code.

mod cluster;
mod doctor;
mod install;
mod lifecycle;
mod plan;
mod stack;
pub mod up;

use std::time::Duration;

use crate::cli::{
    Cli, ClusterCommand, Command, PortArgs, SpecArgs, StackArgs, StackCommand, TargetArgs,
};
use crate::driver::{Driver, DriverKind};
use crate::env::{self, Env};
use crate::error::{Error, ExitCode, Result};
use crate::spec::{
    ClusterSpec, DriverChoice, HostPorts, SandboxName, StackImages, StackSpec, VolumeSource,
};
use crate::ui::Style;

pub async fn run(cli: Cli, env: Env) -> Result<ExitCode> {
    let style = Style::detect(&env, cli.verbose, cli.quiet);
    match cli.command {
        Command::Up(args) => up::run(args, &env, style, "up").await,
        Command::Status(args) => lifecycle::status(args, &env, style).await,
        Command::Down(args) => lifecycle::down(args, &env, style).await,
        Command::Reset(args) => lifecycle::reset(args, &env, style).await,
        Command::Forward(args) => lifecycle::forward(args, &env, style).await,
        Command::Password(args) => lifecycle::password(args, &env).await,
        Command::Prove(args) => lifecycle::prove(args, &env, style).await,
        Command::Completions(args) => lifecycle::completions(args),
        Command::Install(args) => install::run(args, &env, style).await,
        Command::Doctor(args) => doctor::run(args, &env, style).await,
        Command::Plan(args) => plan::run(args, &env, style).await,
        Command::Cluster(command) => match command {
            ClusterCommand::Create(args) => cluster::create(args, &env, style).await,
            ClusterCommand::Check(args) => cluster::check(args, &env, style).await,
            ClusterCommand::List(args) => cluster::list(args, &env, style).await,
            ClusterCommand::Delete(args) => cluster::delete(args, &env, style).await,
            ClusterCommand::Load(args) => cluster::load(args, &env, style).await,
        },
        Command::Stack(StackCommand::Apply(args)) => stack::apply(args, &env, style).await,
    }
}

/// How long the commands without a --lock-wait flag wait for another korthbox on the sandbox.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The sandbox's lock, for the lower-level commands (`cluster create|delete`, `stack apply`).
async fn lock(
    env: &Env,
    style: Style,
    name: &SandboxName,
    command: &str,
) -> Result<crate::lock::Lock> {
    crate::lock::acquire(env, name, command, LOCK_WAIT, &mut |holder| {
        crate::ui::note(
            style,
            &format!(
                "waiting for {} to finish with sandbox {name}",
                holder.describe()
            ),
        )
    })
    .await
}

/// Where the sandbox `target` names is (or would be), from facts already gathered.
async fn locate(
    env: &Env,
    facts: &crate::host::HostFacts,
    target: &TargetArgs,
) -> Result<Option<crate::sandbox::Located>> {
    crate::sandbox::locate(
        env,
        facts,
        &target.name,
        target.driver,
        target.context.as_deref(),
        target.provider,
    )
    .await
}

/// How long host probes may take when a command (not doctor) gathers host facts.
fn probe_timeout(env: &Env) -> Duration {
    env.var(env::KORTHBOX_PROBE_TIMEOUT)
        .and_then(env::parse_seconds)
        .unwrap_or(Duration::from_secs(2))
}

fn cluster_spec(args: &SpecArgs) -> ClusterSpec {
    ClusterSpec {
        name: args.target.name.clone(),
        control_planes: args.control_planes,
        workers: args.workers,
        kubernetes_version: args.kubernetes_version.clone(),
        ports: host_ports(&args.ports),
        node_cpus: args.node_cpus,
        node_memory_mib: args.node_memory,
    }
}

/// The stack for `args`. `side_loaded`: korthbox loads the images into the nodes (the drivers
/// that make their own nodes), so the manifests name them by tag.
fn stack_spec(
    args: &StackArgs,
    instance: &SandboxName,
    volumes: VolumeSource,
    side_loaded: bool,
) -> StackSpec {
    let mut images = StackImages::default();
    for (image, wanted) in [
        (&mut images.orthanc, &args.orthanc_image),
        (&mut images.postgres, &args.postgres_image),
        (&mut images.minio, &args.minio_image),
    ] {
        if let Some(wanted) = wanted {
            *image = wanted.clone();
        }
    }
    if let Some(mirror) = &args.registry_mirror {
        for image in [
            &mut images.orthanc,
            &mut images.postgres,
            &mut images.minio,
            &mut images.minio_client,
            &mut images.local_path,
            &mut images.busybox,
        ] {
            *image = crate::stack::images::ImageRef::parse(image)
                .with_registry(mirror)
                .to_string();
        }
    }
    StackSpec {
        side_loaded,
        instance: instance.clone(),
        namespace: args.ns.namespace.clone(),
        storage: args.storage,
        orthanc_storage: args.orthanc_storage,
        volumes,
        images,
    }
}

fn host_ports(args: &PortArgs) -> HostPorts {
    HostPorts {
        http: args.http_port,
        dicom: args.dicom_port,
        api_server: args.api_server_port,
    }
}

/// `--driver existing` needs `--context`, and `--context` means nothing to a driver that
/// makes its own cluster.
fn check_target(target: &TargetArgs) -> Result<()> {
    match (target.driver, &target.context) {
        (DriverChoice::Existing, None) => Err(Error::usage(
            "--driver existing needs the kube context of the cluster to use",
        )
        .hint("add --context NAME (`kubectl config get-contexts` lists them)")),
        (DriverChoice::Kind | DriverChoice::K3d | DriverChoice::Minikube, Some(_)) => {
            Err(Error::usage(format!(
                "--context names an existing cluster, but --driver {} makes its own",
                target.driver.label()
            ))
            .hint("use --driver existing --context NAME, or leave --context out"))
        }
        _ => Ok(()),
    }
}

/// The kube context of the target: the one given, or the one the driver names its cluster.
fn context_of(target: &TargetArgs, driver: &dyn Driver) -> String {
    match (&target.context, driver.kind()) {
        (Some(context), _) => context.clone(),
        (
            None,
            DriverKind::Kind | DriverKind::K3d | DriverKind::Minikube | DriverKind::Existing,
        ) => driver.context(&target.name),
    }
}

//! The command line: clap types only; the work happens in `commands`.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::base::spec::{
    ControlPlanes, DEFAULT_API_SERVER_PORT, DEFAULT_DICOM_PORT, DEFAULT_HTTP_PORT, DEFAULT_NAME,
    DEFAULT_NAMESPACE, DEFAULT_NODE_CPUS, DEFAULT_NODE_MEMORY_MIB, DEFAULT_WORKERS, DicomService,
    MAX_WORKERS, OrthancStorage, SandboxName, StorageLayer, Viewer,
};
use crate::driver::{self, DriverChoice, DriverKind, ProviderKind};

/// Where the flags every command takes are listed in help, apart from the command's own.
const GLOBAL: &str = "Global options";

/// A multi-node Kubernetes sandbox with PostgreSQL and Orthanc, in one command.
#[derive(Debug, Parser)]
#[command(
    name = "korthbox",
    version,
    about,
    propagate_version = true,
    after_help = "Examples:\n  korthbox doctor                 can this machine host a sandbox?\n  korthbox up                     create the sandbox and prove it works\n  korthbox open                   Orthanc Explorer 2 in the browser (`korthbox password` to log in)\n  korthbox status                 is it running, and where is everything\n  korthbox stop / korthbox start  pause it, and bring it back\n  korthbox reset --keep-studies   a clean sandbox, with the studies carried over\n  korthbox down                   delete it (asks first)\n\nMore: `korthbox COMMAND --help`, and docs/ in korthbox's repository."
)]
pub struct Cli {
    /// Say more about what korthbox finds and does.
    #[arg(short, long, global = true, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub verbose: bool,

    /// Print only problems and the final result.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Read defaults from FILE instead of ./korthbox.toml (flags still win).
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<std::path::PathBuf>,

    /// The kubeconfig file(s) to read and write, as kubectl's --kubeconfig (default: KUBECONFIG,
    /// else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub kubeconfig: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the sandbox (or repair it), deploy PostgreSQL and Orthanc, and prove it works.
    #[command(
        after_help = "Examples:\n  korthbox up\n  korthbox up --driver k3d --workers 3\n  korthbox up --samples --viewer ohif\n  korthbox up --driver existing --context my-cluster --namespace orthanc-dev"
    )]
    Up(Lazy<UpArgs>),
    /// Show the sandbox: cluster, nodes, stack, endpoints, last proof. Exit 1 unless healthy.
    #[command(after_help = "Examples:\n  korthbox status\n  korthbox status --name dev -o json")]
    Status(Lazy<StatusArgs>),
    /// Delete the sandbox (asks first; --yes does not).
    #[command(after_help = "Examples:\n  korthbox down\n  korthbox down dev --yes")]
    Down(Lazy<DownArgs>),
    /// Stop the sandbox's nodes and keep everything in it; `korthbox start` brings it back.
    #[command(after_help = "Examples:\n  korthbox stop\n  korthbox stop dev")]
    Stop(Lazy<StopArgs>),
    /// Start a stopped sandbox, then check, repair and prove it as `up` does.
    #[command(after_help = "Examples:\n  korthbox start\n  korthbox start dev --json")]
    Start(Lazy<UpArgs>),
    /// Delete the sandbox whatever state it is in (asks first; --yes does not), clean up what it
    /// left, and bring it up again.
    #[command(
        after_help = "Examples:\n  korthbox reset --yes\n  korthbox reset --keep-cluster --yes\n  korthbox reset --keep-studies\n  korthbox reset dev --workers 1"
    )]
    Reset(Lazy<ResetArgs>),
    /// Forward Orthanc's ports to 127.0.0.1 until Ctrl-C (for minikube and existing clusters).
    #[command(
        after_help = "Examples:\n  korthbox forward\n  korthbox forward --http-port 18042 --dicom-port 14242"
    )]
    Forward(Lazy<ForwardArgs>),
    /// Print Orthanc's admin password.
    #[command(
        after_help = "Examples:\n  korthbox password\n  curl -u \"admin:$(korthbox password)\" http://127.0.0.1:8042/system"
    )]
    Password(Lazy<PasswordArgs>),
    /// Prove Orthanc works through every interface: DICOM echo, store and find, REST,
    /// DICOMweb, and (in the sandbox) where the files landed. The sandbox's, or any with --url.
    #[command(
        after_help = "Examples:\n  korthbox prove\n  korthbox prove --url http://127.0.0.1:8042 --dicom 127.0.0.1:4242 --json"
    )]
    Prove(Lazy<ProveArgs>),
    /// Send korthbox's sample studies (synthetic CT and MR phantoms) to Orthanc by C-STORE.
    #[command(
        after_help = "Examples:\n  korthbox samples\n  korthbox samples --studies 10 --output-dir ./samples"
    )]
    Samples(Lazy<SamplesArgs>),
    /// Send DICOM files and folders to Orthanc (REST), several at once; Ctrl-C stops cleanly.
    #[command(
        after_help = "Examples:\n  korthbox upload ~/dicom/\n  korthbox upload study1/ study2/ --workers 8 --json"
    )]
    Upload(Lazy<UploadArgs>),
    /// Write every instance in Orthanc as DICOM files under DIR/PATIENT/STUDY/SERIES/;
    /// resumable, and `korthbox upload DIR` puts them back.
    #[command(
        after_help = "Examples:\n  korthbox export ~/orthanc-backup\n  korthbox export ./studies --name dev --json\n  korthbox upload ~/orthanc-backup"
    )]
    Export(Lazy<ExportArgs>),
    /// Open Orthanc Explorer 2 (or the viewer) in the browser, forwarding first where needed.
    #[command(
        after_help = "Examples:\n  korthbox open\n  korthbox open --viewer\n  korthbox open --print"
    )]
    Open(Lazy<OpenArgs>),
    /// Print (or follow with -f) the logs of Orthanc, PostgreSQL or MinIO in the sandbox.
    #[command(
        after_help = "Examples:\n  korthbox logs\n  korthbox logs postgres --tail 50\n  korthbox logs orthanc -f"
    )]
    Logs(Lazy<LogsArgs>),
    /// Download a driver (the pinned release, checksum verified) into korthbox's bin directory.
    #[command(after_help = "Examples:\n  korthbox install kind\n  korthbox install minikube")]
    Install(Lazy<InstallArgs>),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  korthbox completions bash > ~/.local/share/bash-completion/completions/korthbox\n  korthbox completions zsh > ~/.zfunc/_korthbox      # with fpath+=(~/.zfunc) in ~/.zshrc\n  korthbox completions fish > ~/.config/fish/completions/korthbox.fish\n  korthbox completions powershell >> $PROFILE\n\nThen open a new shell."
    )]
    Completions(Lazy<CompletionsArgs>),
    /// Print korthbox's version and the versions it pins.
    #[command(after_help = "Examples:\n  korthbox version\n  korthbox version -o json")]
    Version(Lazy<VersionArgs>),
    /// Check whether this machine can host a sandbox, and say what to fix if it cannot.
    #[command(
        after_help = "Examples:\n  korthbox doctor\n  korthbox doctor -v\n  korthbox doctor --json | jq '.checks[] | select(.status != \"ok\")'"
    )]
    Doctor(Lazy<DoctorArgs>),
    /// Show what `up` would create, without creating anything.
    #[command(
        after_help = "Examples:\n  korthbox plan\n  korthbox plan --driver k3d --only cluster\n  korthbox plan --output-dir ./plan"
    )]
    Plan(Lazy<PlanArgs>),
    /// Create, check, list, delete and load the sandbox's cluster on its own.
    #[command(
        after_help = "Examples:\n  korthbox cluster list\n  korthbox cluster check --context my-cluster"
    )]
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Apply the stack (storage, PostgreSQL, Orthanc) to a cluster and wait until it is ready.
    #[command(
        after_help = "Examples:\n  korthbox stack apply --context my-cluster --namespace orthanc-dev"
    )]
    #[command(subcommand)]
    Stack(StackCommand),
}

/// A command's own flags, added to the command only when it is the one run or its help is
/// shown (clap's `Command::defer`): building every command's flags on each start took 0.37 ms
/// of parsing's 0.55–0.68 ms. Whatever walks the whole tree (completions, korthbox.toml's
/// defaults) calls `Command::build` first.
#[derive(Debug, Clone)]
pub struct Lazy<T>(pub T);

impl<T: Args> Args for Lazy<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }

    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args_for_update))
    }
}

/// The flags added by `augment`, the command's description kept: a flattened group's doc
/// comment (`StackArgs`'s) would otherwise replace the command's, which clap set first.
fn keeping_about(cmd: clap::Command, augment: fn(clap::Command) -> clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = augment(cmd);
    let cmd = match about {
        Some(about) => cmd.about(about),
        None => cmd.about(None::<&str>),
    };
    match long_about {
        Some(long_about) => cmd.long_about(long_about),
        None => cmd.long_about(None::<&str>),
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

/// The namespace the stack is in.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Stack")]
pub struct NamespaceArg {
    /// The namespace of the stack.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE, value_parser = parse_namespace)]
    pub namespace: String,
}

/// What goes into the cluster: the flags `plan`, `stack apply` and `up` share.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Stack")]
pub struct StackArgs {
    #[command(flatten)]
    pub ns: NamespaceArg,

    /// The storage layer: the cluster's default StorageClass or local-path-provisioner, plus
    /// MinIO with `minio`.
    #[arg(long, value_enum, default_value_t = StorageLayer::LocalPath)]
    pub storage: StorageLayer,

    /// Where Orthanc keeps DICOM files: a persistent volume, MinIO (needs --storage minio), or
    /// inside PostgreSQL.
    #[arg(long, value_enum, default_value_t = OrthancStorage::Pv)]
    pub orthanc_storage: OrthancStorage,

    /// The web viewer Orthanc serves beside Orthanc Explorer 2: the Stone Web Viewer, OHIF, or
    /// none.
    #[arg(long, value_enum, default_value_t = Viewer::Stone)]
    pub viewer: Viewer,

    /// How many Orthancs serve the sandbox, sharing one database, spread over the nodes; 2 or
    /// more need the files where each of them reaches them (--orthanc-storage postgres or s3).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub orthanc_replicas: u8,

    /// The StorageClass every volume claim names, instead of the cluster's default (on a shared
    /// cluster, its own class).
    #[arg(long, value_name = "CLASS", value_parser = parse_object_name)]
    pub storage_class: Option<String>,

    /// Serve Orthanc's HTTP (web UI, REST, DICOMweb) through an Ingress for HOST.
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub ingress_host: Option<String>,

    /// The IngressClass of that Ingress [default: the cluster's default class].
    #[arg(long, value_name = "CLASS", requires = "ingress_host", value_parser = parse_object_name)]
    pub ingress_class: Option<String>,

    /// The Secret in the stack's namespace with the TLS certificate and key for that host.
    #[arg(long, value_name = "NAME", requires = "ingress_host", value_parser = parse_object_name)]
    pub tls_secret: Option<String>,

    /// How DICOM is exposed: inside the cluster only, or also through a LoadBalancer Service
    /// (which accepts stores from anyone who reaches it).
    #[arg(long, value_enum, default_value_t = DicomService::Clusterip)]
    pub dicom_service: DicomService,

    /// With --orthanc-storage s3: a bucket of your own S3 service instead of MinIO (checked
    /// first: it exists, and an object can be put, read and deleted). The keys come from
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or --s3-secret.
    #[arg(long, value_name = "NAME", value_parser = parse_object_name)]
    pub s3_bucket: Option<String>,

    /// The S3 service's URL, e.g. https://s3.example.org [default: Amazon S3].
    #[arg(long, value_name = "URL", requires = "s3_bucket", value_parser = parse_http_url)]
    pub s3_endpoint: Option<String>,

    /// The bucket's region.
    #[arg(
        long,
        value_name = "REGION",
        requires = "s3_bucket",
        default_value = "us-east-1"
    )]
    pub s3_region: String,

    /// An existing Secret in the stack's namespace with AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN), instead of the environment's.
    #[arg(long, value_name = "NAME", requires = "s3_bucket", value_parser = parse_object_name)]
    pub s3_secret: Option<String>,

    /// A PostgreSQL of your own instead of the sandbox's StatefulSet (a managed service):
    /// postgresql://USER@HOST[:PORT]/DB[?sslmode=MODE] (require when not given). The password
    /// comes from KORTHBOX_POSTGRES_PASSWORD, or a prompt on a terminal — never the URL.
    #[arg(long, value_name = "URL", value_parser = crate::base::spec::ExternalPostgres::parse)]
    pub postgres_url: Option<crate::base::spec::ExternalPostgres>,

    /// The CA certificates (PEM) the server's certificate is checked against, for
    /// sslmode=verify-ca or verify-full (the RDS or Azure bundle).
    #[arg(long, value_name = "FILE", requires = "postgres_url")]
    pub postgres_ca: Option<std::path::PathBuf>,

    /// The Orthanc image, instead of the pinned one.
    #[arg(long, value_name = "IMAGE", value_parser = parse_image, help_heading = "Images")]
    pub orthanc_image: Option<String>,

    /// The PostgreSQL image, instead of the pinned one.
    #[arg(long, value_name = "IMAGE", value_parser = parse_image, help_heading = "Images")]
    pub postgres_image: Option<String>,

    /// The MinIO image, instead of the pinned one (MinIO no longer publishes to Docker Hub).
    #[arg(long, value_name = "IMAGE", value_parser = parse_image, help_heading = "Images")]
    pub minio_image: Option<String>,

    /// Pull the stack's images, and kind's and k3d's node images, from this registry instead (a
    /// mirror or a corporate proxy), e.g. `registry.example.com:5000`; the repository, tag and
    /// digest stay the same. minikube gets it for Kubernetes' own images; its node image is
    /// minikube's choice.
    #[arg(long, value_name = "HOST[:PORT][/PATH]", value_parser = parse_registry, help_heading = "Images")]
    pub registry_mirror: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Check the cluster, then apply the stack in dependency order and wait for it.
    #[command(
        after_help = "Examples:\n  korthbox stack apply\n  korthbox stack apply --context my-cluster --storage minio --orthanc-storage s3"
    )]
    Apply(Lazy<StackApplyArgs>),
}

#[derive(Debug, Args)]
pub struct StackApplyArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub stack: StackArgs,

    /// How long to wait for each component (and for the nodes) to be ready.
    #[arg(long, value_name = "DURATION", default_value = "600", value_parser = parse_long_timeout)]
    pub wait: std::time::Duration,

    /// Print what was applied as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the sandbox is: the flags `plan`, `cluster create` (and later `up`) share.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub struct SpecArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Worker nodes, besides the control plane.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WORKERS, value_parser = clap::value_parser!(u8).range(1..=MAX_WORKERS as i64))]
    pub workers: u8,

    /// Control-plane nodes: 1, or 3 for a highly available control plane.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_control_planes)]
    pub control_planes: ControlPlanes,

    /// Kubernetes version (v1.36.4, or 1.36 for kind). Default: v1.36.4 for kind and minikube,
    /// v1.36.4+k3s1 for k3d (kind on a cgroup v1 engine: v1.34.11, see `korthbox plan`).
    #[arg(long, value_name = "VERSION")]
    pub kubernetes_version: Option<String>,

    /// CPUs per node, for drivers that size nodes (minikube).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_NODE_CPUS, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub node_cpus: u8,

    /// Memory per node in MiB, for drivers that size nodes (minikube needs at least 1800).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_NODE_MEMORY_MIB, value_parser = clap::value_parser!(u32).range(1800..=262144))]
    pub node_memory: u32,

    #[command(flatten)]
    pub ports: PortArgs,
}

/// The host ports a sandbox binds on 127.0.0.1.
#[derive(Debug, Args, Clone, Copy)]
#[command(next_help_heading = "Ports")]
pub struct PortArgs {
    /// Host port (on 127.0.0.1) for Orthanc's HTTP API.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_HTTP_PORT, value_parser = port())]
    pub http_port: u16,

    /// Host port (on 127.0.0.1) for Orthanc's DICOM listener.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_DICOM_PORT, value_parser = port())]
    pub dicom_port: u16,

    /// Host port (on 127.0.0.1) for the Kubernetes API server (kind, k3d).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_API_SERVER_PORT, value_parser = port())]
    pub api_server_port: u16,
}

/// Which sandbox, through which driver, on which engine.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub struct TargetArgs {
    /// The cluster driver; `auto` takes the first installed of kind, k3d, minikube.
    #[arg(long, value_enum, default_value_t = DriverChoice::AUTO)]
    pub driver: DriverChoice,

    /// The sandbox's name: a lower-case RFC 1123 label of at most 32 characters.
    #[arg(long, default_value = DEFAULT_NAME, value_parser = SandboxName::parse)]
    pub name: SandboxName,

    /// The kube context of an existing cluster (with --driver existing, or to check any cluster).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,

    /// The engine the nodes run on; by default the one `korthbox doctor` marks with `*`.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderKind>,
}

/// The sandbox's name as a word, `korthbox stop dev`, for the commands that take one; it is
/// `--name` (main turns the word into the flag before parsing, so that every message that
/// repeats the targeting flags carries it; [`NameWord::into`] covers a word after `--`).
#[derive(Debug, Args, Clone)]
pub struct NameWord {
    /// The sandbox's name (the same as --name).
    #[arg(value_name = "NAME", conflicts_with = "name", value_parser = SandboxName::parse)]
    pub word: Option<SandboxName>,
}

impl NameWord {
    /// Puts the word, if any, into the targeting flags.
    pub fn into(self, target: &mut TargetArgs) {
        if let Some(name) = self.word {
            target.name = name;
        }
    }
}

/// The parts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanPart {
    /// The driver's cluster definition, exactly as it is handed to the tool.
    Cluster,
    /// The stack's objects, exactly as they are applied.
    Manifests,
    /// Every image the stack uses, pinned by tag and digest (one per line).
    Images,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub stack: StackArgs,

    /// Print only this part of the plan.
    #[arg(long, value_enum)]
    pub only: Option<PlanPart>,

    /// Print Secret values (freshly generated ones: `up` generates its own, once) instead of
    /// a placeholder.
    #[arg(long)]
    pub show_secrets: bool,

    /// Write the plan's files into DIR instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Create the cluster (unless it exists), then check it.
    #[command(after_help = "Examples:\n  korthbox cluster create --driver kind --workers 2")]
    Create(Lazy<CreateArgs>),
    /// Check that a cluster can host a sandbox: reachable, 2+ nodes, all Ready, containerd.
    #[command(
        after_help = "Examples:\n  korthbox cluster check\n  korthbox cluster check --context my-cluster"
    )]
    Check(Lazy<CheckArgs>),
    /// List the clusters of every installed driver.
    #[command(after_help = "Examples:\n  korthbox cluster list\n  korthbox cluster list --json")]
    List(Lazy<ListArgs>),
    /// Delete the cluster (asks first; --yes does not); deleting one that does not exist is not
    /// an error.
    #[command(
        after_help = "Examples:\n  korthbox cluster delete dev\n  korthbox cluster delete --name dev --yes"
    )]
    Delete(Lazy<DeleteArgs>),
    /// Load images from the engine into every node.
    #[command(
        after_help = "Examples:\n  korthbox cluster load my-orthanc:dev\n  korthbox cluster load --name dev my-orthanc:dev postgres:17"
    )]
    Load(Lazy<LoadArgs>),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub spec: SpecArgs,

    /// Keep a cluster whose creation failed, for inspection, instead of deleting it.
    #[arg(long)]
    pub retain: bool,

    /// How long the driver may take to create the cluster.
    #[arg(long, value_name = "DURATION", default_value = "900", value_parser = parse_long_timeout)]
    pub create_timeout: std::time::Duration,

    /// How long to wait for every node to be Ready.
    #[arg(long, value_name = "DURATION", default_value = "180", value_parser = parse_long_timeout)]
    pub wait: std::time::Duration,

    /// Print the cluster report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    /// How long to wait for every node to be Ready.
    #[arg(long, value_name = "DURATION", default_value = "180", value_parser = parse_long_timeout)]
    pub wait: std::time::Duration,

    /// Print the cluster report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this driver's clusters.
    #[arg(long, value_enum, default_value_t = DriverChoice::AUTO)]
    pub driver: DriverChoice,

    /// The engine whose clusters to list; by default the one `korthbox doctor` marks with `*`.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderKind>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Delete a cluster of that name even though korthbox did not make it.
    #[arg(long)]
    pub force: bool,

    /// Do not ask before deleting.
    #[arg(short, long)]
    pub yes: bool,

    /// How long the driver may take.
    #[arg(long, value_name = "DURATION", default_value = "300", value_parser = parse_long_timeout)]
    pub delete_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// How long loading may take.
    #[arg(long, value_name = "DURATION", default_value = "600", value_parser = parse_long_timeout)]
    pub load_timeout: std::time::Duration,

    /// Images already in the engine, e.g. `orthancteam/orthanc:25.1.1`.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub stack: StackArgs,

    /// Keep a cluster whose creation failed, for inspection, instead of deleting it.
    #[arg(long, help_heading = "Cluster")]
    pub retain: bool,

    /// How long the driver may take to create the cluster.
    #[arg(long, value_name = "DURATION", default_value = "900", value_parser = parse_long_timeout, help_heading = "Time limits")]
    pub create_timeout: std::time::Duration,

    /// How long to wait for the nodes, and for each component, to be ready.
    #[arg(long, value_name = "DURATION", default_value = "600", value_parser = parse_long_timeout, help_heading = "Time limits")]
    pub wait: std::time::Duration,

    /// How long another korthbox working on the same sandbox is waited for.
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = parse_wait, help_heading = "Time limits")]
    pub lock_wait: std::time::Duration,

    /// Print a JSON summary at the end instead of the human one.
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Print how long each phase took.
    #[arg(long, help_heading = "Output")]
    pub timings: bool,

    /// After the proof, load korthbox's sample studies (synthetic CT and MR phantoms), as
    /// `korthbox samples` does.
    #[arg(long, help_heading = "Stack")]
    pub samples: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,

    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,

    /// Delete a cluster of the sandbox's name even though korthbox did not make it.
    #[arg(long)]
    pub force: bool,

    /// How long the driver may take to delete the cluster; on an existing cluster, how long
    /// the sandbox's volumes are waited for before a provisioner korthbox installed goes.
    #[arg(long, value_name = "DURATION", default_value = "300", value_parser = parse_long_timeout)]
    pub delete_timeout: std::time::Duration,

    /// How long another korthbox working on the same sandbox is waited for.
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = parse_wait)]
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    /// How long the driver may take to stop the cluster.
    #[arg(long, value_name = "DURATION", default_value = "300", value_parser = parse_long_timeout)]
    pub stop_timeout: std::time::Duration,

    /// How long another korthbox working on the same sandbox is waited for.
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = parse_wait)]
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub up: UpArgs,

    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,

    /// Delete a cluster of the sandbox's name even though korthbox did not make it.
    #[arg(long)]
    pub force: bool,

    /// Keep the cluster: delete only the sandbox's namespace (the database, every DICOM file
    /// and the volumes behind them) and apply the stack again — no cluster delete, no node
    /// boot, no image load.
    #[arg(long)]
    pub keep_cluster: bool,

    /// Keep the studies: export every instance to korthbox's cache first, upload them to the
    /// new sandbox, and delete the export once Orthanc holds all of them.
    #[arg(long)]
    pub keep_studies: bool,
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,

    /// Local port (on 127.0.0.1) for Orthanc's HTTP API.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_HTTP_PORT, value_parser = port())]
    pub http_port: u16,

    /// Local port (on 127.0.0.1) for Orthanc's DICOM listener.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_DICOM_PORT, value_parser = port())]
    pub dicom_port: u16,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// Which Orthanc: the sandbox's (by default), or any other by URL and DICOM address.
#[derive(Debug, Args, Clone)]
pub struct OrthancArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,

    /// Any Orthanc instead of the sandbox: its base URL, e.g. http://127.0.0.1:8042 (prove and
    /// samples, which speak DICOM, also need --dicom). The password comes from KORTHBOX_ORTHANC_PASSWORD (empty: no
    /// authentication) or, on a terminal, a prompt.
    #[arg(long, value_name = "URL", conflicts_with_all = ["name", "context", "driver", "provider", "namespace"])]
    pub url: Option<String>,

    /// With --url, for the commands that speak DICOM (prove, samples): Orthanc's DICOM address.
    #[arg(long, value_name = "HOST:PORT", requires = "url", value_parser = parse_host_port)]
    pub dicom: Option<String>,

    /// With --url: the AE title Orthanc answers to (its DicomAet) [default: ORTHANC].
    #[arg(long, value_name = "AET", requires = "url", value_parser = parse_aet)]
    pub aet: Option<String>,

    /// With --url: the user [default: admin].
    #[arg(long, value_name = "USER", requires = "url")]
    pub user: Option<String>,

    /// With --url: DICOMweb's root under the URL [default: /dicom-web/].
    #[arg(long, value_name = "PATH", requires = "url")]
    pub dicomweb_root: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub orthanc: OrthancArgs,

    /// How long each step may take.
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = parse_timeout)]
    pub step_timeout: std::time::Duration,

    /// Print the steps as JSON: {"passed", "steps": [{"name", "ok", "seconds", "detail"}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SamplesArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub orthanc: OrthancArgs,

    /// How many studies (each a 40-slice CT and a 24-slice MR of a phantom, 8.1 MiB), for
    /// three synthetic patients in turn.
    #[arg(long, value_name = "N", default_value_t = crate::evaluate::dicom::phantom::DEFAULT_STUDIES, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub studies: u32,

    /// How many associations send at once.
    #[arg(long, value_name = "N", default_value_t = crate::evaluate::samples::WORKERS, value_parser = parse_workers)]
    pub workers: usize,

    /// Write the studies as DICOM files under DIR instead of sending them anywhere.
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub output_dir: Option<std::path::PathBuf>,

    /// How long one exchange may take.
    #[arg(long, value_name = "DURATION", default_value = "60", value_parser = parse_timeout)]
    pub exchange_timeout: std::time::Duration,

    /// Print what was sent as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// DICOM files, and folders to search recursively; anything that is not DICOM is skipped.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub orthanc: OrthancArgs,

    /// How many files are sent at once.
    #[arg(long, value_name = "N", default_value_t = crate::evaluate::upload::WORKERS, value_parser = parse_workers)]
    pub workers: usize,

    /// How long one file may take.
    #[arg(long, value_name = "DURATION", default_value = "120", value_parser = parse_timeout)]
    pub file_timeout: std::time::Duration,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The folder to write into (made if missing); files already there, whole, are kept.
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,

    #[command(flatten)]
    pub orthanc: OrthancArgs,

    /// How many files are fetched at once.
    #[arg(long, value_name = "N", default_value_t = crate::evaluate::export::WORKERS, value_parser = parse_workers)]
    pub workers: usize,

    /// How long one file may take.
    #[arg(long, value_name = "DURATION", default_value = "120", value_parser = parse_timeout)]
    pub file_timeout: std::time::Duration,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub word: NameWord,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,

    /// Open the viewer instead of Orthanc Explorer 2: the one the sandbox serves, or the one
    /// named (which it must serve; `up --viewer` chooses it).
    #[arg(long, value_enum, value_name = "VIEWER", num_args = 0..=1)]
    pub viewer: Option<Option<Viewer>>,

    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub print: bool,

    /// Where `open` forwards Orthanc to when the driver maps no port (minikube, existing
    /// clusters).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_HTTP_PORT, value_parser = port())]
    pub http_port: u16,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The driver to install.
    #[arg(value_name = "DRIVER", value_parser = installable())]
    pub tool: DriverKind,

    /// How long the download may take.
    #[arg(long, value_name = "DURATION", default_value = "600", value_parser = parse_long_timeout)]
    pub download_timeout: std::time::Duration,
}

/// The drivers `korthbox install` can download.
fn installable() -> impl TypedValueParser<Value = DriverKind> {
    PossibleValuesParser::new(driver::installable().map(|k| k.label()))
        .try_map(|name| driver::parse_installable(&name))
}

/// A component of the stack, for `logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Component {
    Orthanc,
    Postgres,
    Minio,
}

impl Component {
    /// Its workload's and container's name in the manifests.
    pub fn name(self) -> &'static str {
        match self {
            Component::Orthanc => "orthanc",
            Component::Postgres => "postgres",
            Component::Minio => "minio",
        }
    }
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Whose logs.
    #[arg(value_enum, default_value = "orthanc")]
    pub component: Component,

    /// Keep printing new lines until Ctrl-C, as `kubectl logs -f`.
    #[arg(short, long)]
    pub follow: bool,

    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub ns: NamespaceArg,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print JSON: {"version", "kubernetes", "drivers": {"kind", "k3d", "minikube"}}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A TCP port a listener can be given: 1–65535 (0 would mean "any", which korthbox could not
/// report).
/// An image reference as registries take it: `[registry[:port]/]name[:tag][@sha256:…]`.
fn parse_image(text: &str) -> Result<String, String> {
    crate::kube::stack::images::ImageRef::check(text).map(|()| text.to_string())
}

fn port() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(1..)
}

/// A wait: seconds or a duration with units (`30`, `5m`), 0 to a day.
fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    crate::base::env::parse_duration(text)
        .filter(|d| d.as_secs() <= 86_400)
        .ok_or_else(|| {
            format!("{text:?} is not a duration between 0 and 24h (seconds, or e.g. 90s, 5m, 1h)")
        })
}

fn parse_workers(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=16).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number of workers from 1 to 16")),
    }
}

/// HOST:PORT, the port a number.
fn parse_host_port(text: &str) -> Result<String, String> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(text.to_string())
        }
        _ => Err(format!("{text:?} is not HOST:PORT (e.g. 127.0.0.1:4242)")),
    }
}

/// An AE title: 1 to 16 characters of printable ASCII, not only spaces, no backslash.
fn parse_aet(text: &str) -> Result<String, String> {
    let ok = !text.trim().is_empty()
        && text.len() <= 16
        && text
            .chars()
            .all(|c| (c.is_ascii_graphic() && c != '\\') || c == ' ');
    match ok {
        true => Ok(text.trim().to_string()),
        false => Err(format!(
            "{text:?} is not an AE title: 1 to 16 printable ASCII characters, no backslash"
        )),
    }
}

/// A Kubernetes object name (RFC 1123 subdomain): a StorageClass, an IngressClass, a Secret.
fn parse_object_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    match ok {
        true => Ok(text.to_string()),
        false => Err(format!(
            "{text:?} is not a Kubernetes object name (lower-case letters, digits, '-' and '.')"
        )),
    }
}

/// An http:// or https:// URL, with no credentials in it.
fn parse_http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| {
            format!(
                "{:?} is not an http:// or https:// URL",
                crate::base::error::redact(text)
            )
        })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "{}: keys do not go in the URL; korthbox takes them from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --s3-secret",
            crate::base::error::redact(text)
        ));
    }
    match authority.is_empty() {
        true => Err(format!("{text:?} has no host")),
        false => Ok(text.trim_end_matches('/').to_string()),
    }
}

/// A host name for an Ingress rule: a DNS name, optionally `*.` in front.
fn parse_host(text: &str) -> Result<String, String> {
    let name = text.strip_prefix("*.").unwrap_or(text);
    match name.contains('.') && parse_object_name(name).is_ok() {
        true => Ok(text.to_string()),
        false => Err(format!(
            "{text:?} is not a host name (e.g. orthanc.example.org, or *.example.org)"
        )),
    }
}

fn parse_namespace(text: &str) -> Result<String, String> {
    if let Some(why) = crate::kube::ownership::reserved(text) {
        return Err(why);
    }
    crate::base::spec::SandboxName::parse(text)
        .map(|n| n.to_string())
        .map_err(|e| e.replace("sandbox name", "namespace"))
}

fn parse_control_planes(text: &str) -> Result<ControlPlanes, String> {
    match text {
        "1" => Ok(ControlPlanes::One),
        "3" => Ok(ControlPlanes::Three),
        _ => Err(format!(
            "{text:?}: a sandbox has 1 control-plane node, or 3 for a highly available control plane"
        )),
    }
}

/// A deadline: seconds or a duration with units (`600`, `10m`), one second to a day.
fn parse_long_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::base::env::parse_duration(text)
        .filter(|d| d.as_secs() >= 1 && d.as_secs() <= 86_400)
        .ok_or_else(|| {
            format!("{text:?} is not a duration between 1s and 24h (seconds, or e.g. 90s, 5m, 1h)")
        })
}

/// `HOST[:PORT][/PATH]`: a registry (no scheme, no spaces), as image references name one.
fn parse_registry(text: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "{text:?} is not HOST[:PORT][/PATH] ({why}), e.g. registry.example.com:5000 or mirror.example.com/dockerhub"
        ))
    };
    if text.contains("://") {
        return bad("no scheme: image references have none");
    }
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("no spaces");
    }
    let (host_port, _path) = text.split_once('/').unwrap_or((text, ""));
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host_port, None),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c))
    {
        return bad("the host has characters a host name cannot have");
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return bad("the port is a number from 1 to 65535");
    }
    Ok(text.trim_end_matches('/').to_string())
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print a JSON document (host, engines, tools, contexts, checks) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// How long each probe (an engine, a tool) may take, in seconds. Two seconds is enough for
    /// a cold `minikube version` and short enough that a hung engine cannot hold doctor up.
    #[arg(long, value_name = "DURATION", env = crate::base::env::KORTHBOX_PROBE_TIMEOUT, default_value = "2", value_parser = parse_timeout)]
    pub probe_timeout: std::time::Duration,

    #[command(flatten)]
    pub ports: PortArgs,
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::base::env::parse_seconds(text)
        .ok_or_else(|| format!("{text:?} is not a number of seconds between 0 and 3600"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// A command's flags are added late (`Lazy`), after its description: the flattened
    /// groups' doc comments must not replace it, and every flag is there once built.
    #[test]
    fn lazy_flags_keep_each_commands_description() {
        fn abouts(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                out.push((name.clone(), about));
                abouts(sub, &name, out);
            }
        }
        let (mut before, mut after) = (Vec::new(), Vec::new());
        abouts(&Cli::command(), "korthbox", &mut before);
        let mut built = Cli::command();
        built.build();
        abouts(&built, "korthbox", &mut after);
        assert_eq!(before, after);
        assert!(
            before
                .iter()
                .any(|(p, a)| p == "korthbox up" && a.starts_with("Create the"))
        );
        let up = built.find_subcommand("up").unwrap();
        assert!(up.get_arguments().any(|a| a.get_id() == "workers"));
        assert!(up.get_arguments().any(|a| a.get_id() == "verbose"));
    }

    /// Every command's help has examples, and the help names the defaults the drivers pin.
    #[test]
    fn help_has_examples_and_the_true_defaults() {
        fn walk(cmd: &mut clap::Command, path: String, out: &mut Vec<(String, String)>) {
            let help = cmd.render_long_help().to_string();
            out.push((path.clone(), help));
            for sub in cmd.get_subcommands_mut() {
                let name = format!("{path} {}", sub.get_name());
                walk(sub, name, out);
            }
        }
        let mut all = Vec::new();
        walk(&mut Cli::command(), "korthbox".into(), &mut all);
        // clap's own `help` subcommands excepted.
        for (path, help) in all[1..].iter().filter(|(p, _)| !p.ends_with(" help")) {
            assert!(help.contains("Examples:"), "{path} has no examples");
            assert!(
                help.contains("Global options:"),
                "{path}: global flags not apart"
            );
        }
        let up = &all.iter().find(|(p, _)| p == "korthbox up").unwrap().1;
        for kind in [DriverKind::Kind, DriverKind::K3d, DriverKind::Minikube] {
            let version = kind.driver().default_kubernetes_version();
            assert!(up.contains(version), "up's help lacks {version}");
        }
    }
}

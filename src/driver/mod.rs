//! Cluster drivers: how kind, k3d and minikube make, find, delete and feed a sandbox cluster,
//! and how a cluster the user already has is used as one.
//!
//! Each driver is one file implementing [`Driver`] (`api.rs`); this module names them all and
//! picks one for the host. Running a driver's command lines (streaming output, timeouts,
//! clean-up on failure) lives once, in `run` and `actions`. Adding a driver is one file here,
//! one template in drivers/, and its tests.

pub mod actions;
pub mod api;
pub mod cgroup;
pub mod cleanup;
pub mod common;
pub mod existing;
pub mod k3d;
pub mod kind;
pub mod minikube;
pub mod nodes;
pub mod owned;
pub mod run;

pub use api::{
    AUTO_ORDER, ClusterEntry, Definition, Driver, DriverChoice, DriverKind, ImageSource,
    Invocation, NodeProvider, ProviderKind,
};

use crate::base::error::Error;
use crate::host::HostFacts;
use crate::host::engines::EndpointSource;
use crate::host::tools::{Tool, ToolName};

impl DriverKind {
    pub const ALL: [DriverKind; 4] = [
        DriverKind::Kind,
        DriverKind::K3d,
        DriverKind::Minikube,
        DriverKind::Existing,
    ];

    /// Everything korthbox knows about this driver.
    pub fn driver(self) -> &'static dyn Driver {
        match self {
            DriverKind::Kind => &kind::Kind,
            DriverKind::K3d => &k3d::K3d,
            DriverKind::Minikube => &minikube::Minikube,
            DriverKind::Existing => &existing::Existing,
        }
    }

    /// Whether its tool is installed on this host (always true for `existing`).
    pub fn installed(self, facts: &HostFacts) -> bool {
        match self.driver().tool() {
            None => true,
            Some(tool) => facts.tool(tool).is_some_and(Tool::installed),
        }
    }
}

/// The driver whose executable is `tool`.
pub fn for_tool(tool: ToolName) -> Option<&'static dyn Driver> {
    DriverKind::ALL
        .into_iter()
        .map(DriverKind::driver)
        .find(|d| d.tool() == Some(tool))
}

/// The drivers `korthbox install` can download: those with a pinned release.
pub fn installable() -> impl Iterator<Item = DriverKind> {
    DriverKind::ALL
        .into_iter()
        .filter(|k| k.driver().release().is_some())
}

/// A driver `korthbox install` can download, by name.
pub fn parse_installable(name: &str) -> Result<DriverKind, String> {
    installable()
        .find(|k| k.label() == name)
        .ok_or_else(|| format!("korthbox does not install {name:?}"))
}

/// The kind of cluster a kube context names: one the user already has.
pub fn for_context() -> DriverKind {
    DriverKind::Existing
}

/// `--driver existing` needs `--context`, and `--context` means nothing to a driver that makes
/// its own cluster.
pub fn check_choice(choice: Option<DriverKind>, context: Option<&str>) -> Result<(), Error> {
    match (choice, context) {
        (Some(DriverKind::Existing), None) => Err(Error::usage(
            "--driver existing needs the kube context of the cluster to use",
        )
        .hint("add --context NAME (`kubectl config get-contexts` lists them)")),
        (Some(kind), Some(_)) if kind.driver().makes_cluster() => Err(Error::usage(format!(
            "--context names an existing cluster, but --driver {} makes its own",
            kind.label()
        ))
        .hint("use --driver existing --context NAME, or leave --context out")),
        _ => Ok(()),
    }
}

/// The drivers to look in for a sandbox: the one asked for, or every installed one in `auto`
/// order.
pub fn candidates(choice: Option<DriverKind>, facts: &HostFacts) -> Vec<DriverKind> {
    match choice {
        Some(kind) => vec![kind],
        None => AUTO_ORDER
            .into_iter()
            .filter(|k| k.installed(facts))
            .collect(),
    }
}

/// The driver for `choice`: an explicit one as asked, `auto` (`None`) the first installed of
/// [`AUTO_ORDER`]. `None` for `auto` when no driver is installed.
pub fn pick(choice: Option<DriverKind>, facts: &HostFacts) -> Option<DriverKind> {
    candidates(choice, facts).first().copied()
}

/// Like [`pick`], but a missing or too old tool is an error with the fix.
pub fn require(choice: Option<DriverKind>, facts: &HostFacts) -> Result<DriverKind, Error> {
    let Some(kind) = pick(choice, facts) else {
        let hint = DriverKind::Kind
            .driver()
            .install_command(&facts.host)
            .unwrap_or_default();
        return Err(Error::failure(
            "no cluster driver is installed: korthbox needs kind, k3d or minikube",
        )
        .hint(format!(
            "`korthbox install kind` downloads the pinned kind for this user (korthbox tries kind, then k3d, then minikube); or install it system-wide: {hint}"
        )));
    };
    let driver = kind.driver();
    let Some(tool_name) = driver.tool() else {
        return Ok(kind);
    };
    let fix = driver.install_hint(&facts.host).unwrap_or_default();
    match facts.tool(tool_name) {
        Some(t) if t.usable() => Ok(kind),
        Some(t) if t.installed() => {
            let have = t
                .version
                .as_ref()
                .map(|v| format!("version {v}"))
                .or_else(|| t.error.clone())
                .unwrap_or_else(|| "an unknown version".into());
            Err(Error::failure(format!(
                "{} is too old or unreadable ({have}); korthbox needs {} or newer",
                tool_name.executable(),
                tool_name.minimum()
            ))
            .hint(format!("upgrade it: {fix}")))
        }
        _ => Err(Error::failure(format!(
            "--driver {} needs {}, which is not installed",
            kind.label(),
            tool_name.executable()
        ))
        .hint(format!("install it: {fix}"))),
    }
}

/// `err`, a driver missing or unusable, with the engine's failure added when the engine that
/// driver would run on does not answer either: a new machine seldom lacks only one, and one
/// round of fixes should do.
pub fn and_the_engine(
    err: Error,
    facts: &HostFacts,
    driver: Option<DriverKind>,
    wanted: Option<ProviderKind>,
) -> Error {
    if driver.is_some_and(|k| !k.driver().makes_cluster()) {
        return err;
    }
    match require_provider(facts, wanted) {
        Ok(_) => err,
        Err(engine) => {
            let err = err.hint(format!("also: {}", engine.message));
            engine
                .hints()
                .iter()
                .fold(err, |err, hint| err.hint(hint.clone()))
        }
    }
}

/// The engine the nodes go on: the one host detection selected, or the kind named with
/// `--provider`. `None` when nothing is reachable and nothing was named.
pub fn provider(facts: &HostFacts, wanted: Option<ProviderKind>) -> Option<NodeProvider> {
    let reachable = facts.engines.iter().filter(|e| e.is_reachable());
    match wanted {
        None => facts.selected_engine().map(NodeProvider::from_engine),
        Some(kind) => Some(
            reachable
                .map(NodeProvider::from_engine)
                .find(|p| p.kind == kind)
                .unwrap_or_else(|| NodeProvider::assumed(kind)),
        ),
    }
}

/// Like [`provider`], but with no engine at all it is an error with the fix.
pub fn require_provider(
    facts: &HostFacts,
    wanted: Option<ProviderKind>,
) -> Result<NodeProvider, Error> {
    if let Some(engine) = facts.named_engine_silent() {
        let (named, unset) = match &engine.source {
            EndpointSource::DockerContext { name } => (
                format!("the Docker context {name}"),
                "`docker context use default`",
            ),
            _ => ("DOCKER_HOST".to_string(), "`unset DOCKER_HOST`"),
        };
        return Err(Error::failure(format!(
            "the engine {named} names, {}, does not answer",
            engine.endpoint
        ))
        .caused_by(engine.error.as_deref().unwrap_or("not answering").to_string())
        .hint(format!(
            "start that engine, or point korthbox at another: {unset} uses the default socket; `korthbox doctor -v` lists every engine found"
        )));
    }
    if let Some(found) = provider(facts, wanted).filter(|p| p.endpoint.is_some()) {
        return Ok(found);
    }
    let mut err = Error::failure(match wanted {
        Some(ProviderKind::Podman) => "no Podman service answered",
        Some(ProviderKind::Docker) => "no Docker engine answered",
        None => "no container engine answered",
    });
    // What was tried, and why it did not do: silent, or an engine of another kind.
    for engine in &facts.engines {
        let why = match (engine.is_reachable(), wanted) {
            (true, Some(kind)) => format!(
                "{} answers there, but --provider {} asks for another kind of engine",
                engine.kind.label(),
                kind.label()
            ),
            _ => engine
                .error
                .as_deref()
                .unwrap_or("not answering")
                .to_string(),
        };
        err = err.caused_by(format!(
            "{} ({}): {why}",
            engine.endpoint,
            engine.source.label()
        ));
    }
    if facts.engines.is_empty() {
        err = err.caused_by("no engine socket exists: DOCKER_HOST is unset and no Docker, Podman, colima, OrbStack or Rancher Desktop socket was found");
    }
    Err(err.hint(
        "start your engine (`sudo systemctl start docker`, `colima start`, `podman machine start`, or open Docker Desktop); `korthbox doctor` gives the exact command for this machine",
    ))
}

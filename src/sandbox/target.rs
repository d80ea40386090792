//! Which sandbox a command means, and where it is: one resolution of the name, driver, engine
//! and kube context, used by every command. No state file: the drivers' own cluster lists are
//! the truth.

use super::Context;
use crate::base::env::Env;
use crate::base::error::Error;
use crate::base::spec::SandboxName;
use crate::driver::{self, DriverKind, NodeProvider, ProviderKind, actions, common, owned};
use crate::host::HostFacts;

/// What the user asked for: a name, and perhaps a driver, a kube context and an engine.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub name: SandboxName,
    /// `None`: `--driver auto`.
    pub driver: Option<DriverKind>,
    pub context: Option<String>,
    pub provider: Option<ProviderKind>,
}

impl Wanted {
    /// `--driver existing` needs `--context`, and `--context` is only for existing clusters.
    pub fn check(&self) -> Result<(), Error> {
        driver::check_choice(self.driver, self.context.as_deref())
    }
}

/// Where a sandbox is, or would be.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: SandboxName,
    pub driver: DriverKind,
    pub context: String,
    /// Whether the driver has a cluster of that name (always true for `existing`).
    pub exists: bool,
    pub provider: NodeProvider,
}

impl Target {
    /// Orthanc's base URL on this host, when the driver maps its port (read back from the
    /// definition korthbox handed to the driver): `http://127.0.0.1:8042`.
    pub fn orthanc_base(&self, env: &crate::base::env::Env) -> Option<(String, u16)> {
        let driver = self.driver();
        if !driver.maps_host_ports() {
            return None;
        }
        let (http, dicom) = env
            .cache_dir()
            .and_then(|d| driver.mapped_ports(&crate::driver::common::cluster_dir(&d, &self.name)))
            .unwrap_or((
                crate::base::spec::DEFAULT_HTTP_PORT,
                crate::base::spec::DEFAULT_DICOM_PORT,
            ));
        Some((format!("http://127.0.0.1:{http}"), dicom))
    }

    /// The sandbox `wanted` names, on `kind`'s cluster: the context given, or the driver's.
    pub fn new(wanted: &Wanted, kind: DriverKind, provider: NodeProvider, exists: bool) -> Self {
        Target {
            name: wanted.name.clone(),
            driver: kind,
            context: wanted
                .context
                .clone()
                .unwrap_or_else(|| kind.driver().context(&wanted.name)),
            exists,
            provider,
        }
    }

    pub fn driver(&self) -> &'static dyn driver::Driver {
        self.driver.driver()
    }

    /// Whether korthbox made this cluster (see [`common::made_by_korthbox`]); an existing
    /// cluster is the user's, never korthbox's.
    pub fn made_by_korthbox(&self, env: &Env) -> bool {
        owned::made_by_korthbox(env.cache_dir().as_deref(), self.driver(), &self.name)
    }

    /// The refusal for a cluster of this name that korthbox did not make. `force` is the
    /// command line that deletes it anyway, when there is one.
    pub fn not_ours(&self, env: &Env, force: Option<&str>) -> Error {
        let evidence = env
            .cache_dir()
            .zip(self.driver().definition_file())
            .map(|(dir, file)| {
                common::definition_path(&dir, &self.name, file)
                    .display()
                    .to_string()
            })
            .unwrap_or_else(|| "its definition in korthbox's cache".into());
        let err = Error::failure(format!(
            "{} cluster {} exists, but korthbox did not make it",
            self.driver.label(),
            self.name
        ))
        .caused_by(format!(
            "korthbox keeps the definition of every cluster it makes ({evidence}), and has none for this one"
        ));
        match force {
            Some(command) => err.hint(format!(
                "it may be someone's own cluster, so korthbox leaves it alone; to delete it anyway: `{command}`"
            )),
            None => err.hint(format!(
                "korthbox leaves it alone: give the sandbox another name with --name, or deploy into this cluster on purpose with `--driver existing --context {}`",
                self.context
            )),
        }
    }
}

/// Looks for the sandbox: in the cluster behind `--context` when one is given; in the driver
/// asked for; else in every installed driver, in `auto` order. When it is nowhere, the result
/// names the driver `up` would create it with (`None` if none is installed).
pub async fn locate(
    env: &Env,
    facts: &HostFacts,
    wanted: &Wanted,
) -> Result<Option<Target>, Error> {
    wanted.check()?;
    let provider = driver::provider(facts, wanted.provider)
        .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker));
    let target = |driver: DriverKind, context: String, exists: bool| Target {
        name: wanted.name.clone(),
        driver,
        context,
        exists,
        provider: provider.clone(),
    };
    if let Some(context) = &wanted.context {
        return Ok(Some(target(driver::for_context(), context.clone(), true)));
    }
    let candidates = driver::candidates(wanted.driver, facts);
    for kind in &candidates {
        let d = kind.driver();
        if !d
            .tool()
            .is_some_and(|t| facts.tool(t).is_some_and(|t| t.installed()))
        {
            continue;
        }
        let names = actions::list(env, d, &provider, actions::LIST_TIMEOUT).await?;
        if names.iter().any(|n| n == wanted.name.as_str()) {
            return Ok(Some(target(*kind, d.context(&wanted.name), true)));
        }
    }
    Ok(candidates
        .first()
        .map(|kind| target(*kind, kind.driver().context(&wanted.name), false)))
}

/// The sandbox when it exists.
pub async fn existing(
    env: &Env,
    facts: &HostFacts,
    wanted: &Wanted,
) -> Result<Option<Target>, Error> {
    Ok(locate(env, facts, wanted).await?.filter(|t| t.exists))
}

/// The error for a sandbox that is not there.
pub fn absent(name: &SandboxName) -> Error {
    Error::failure(format!(
        "there is no sandbox {name} (no kind, k3d or minikube cluster of that name)"
    ))
    .hint("`korthbox up` creates it; `korthbox cluster list` shows the clusters there are")
}

/// The driver and engine to make or delete a cluster with, the tool and the engine checked.
pub fn for_cluster(
    facts: &HostFacts,
    wanted: &Wanted,
) -> Result<(DriverKind, NodeProvider), Error> {
    wanted.check()?;
    let kind = driver::require(wanted.driver, facts)
        .map_err(|e| driver::and_the_engine(e, facts, wanted.driver, wanted.provider))?;
    let provider = if kind.driver().makes_cluster() {
        driver::require_provider(facts, wanted.provider)?
    } else {
        driver::provider(facts, wanted.provider)
            .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker))
    };
    Ok((kind, provider))
}

/// The driver and kube context of the sandbox's cluster, without asking any tool: the context
/// given (an existing cluster), or the one the driver (asked for, or the first installed)
/// names its cluster; the host is looked at only in that case. `what` the command wants to do
/// with the cluster, for the error.
pub async fn context_of(
    ctx: &Context,
    wanted: &Wanted,
    what: &str,
) -> Result<(DriverKind, String), Error> {
    wanted.check()?;
    if let Some(context) = &wanted.context {
        return Ok((driver::for_context(), context.clone()));
    }
    let facts = ctx.gather_for(wanted.provider).await;
    let kind = driver::pick(wanted.driver, &facts).ok_or_else(|| {
        // A failure, as everywhere a driver is missing (exit 1): the machine lacks a tool.
        Error::failure(format!(
            "no cluster driver is installed, so there is no sandbox cluster to {what}"
        ))
        .hint("name a cluster with --context NAME, or `korthbox install kind`")
    })?;
    Ok((kind, kind.driver().context(&wanted.name)))
}

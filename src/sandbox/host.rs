//! The first step of `up`: what this host has (gathered once), which driver and engine the
//! sandbox uses, and doctor's checks that stop it.

use std::time::Duration;

use super::Context;
use super::target::{self, Target, Wanted};
use crate::base::error::Error;
use crate::base::report::{Answer, Phase};
use crate::base::spec::HostPorts;
use crate::doctor::{self, Check, CheckId, LocalFacts, Status};
use crate::driver::{self, AUTO_ORDER, Driver, NodeProvider, ProviderKind};
use crate::host::HostFacts;

/// The host, with the sandbox's place on it settled.
pub struct Host {
    pub facts: HostFacts,
    pub target: Target,
}

impl Host {
    /// "Docker Engine 28.2.2, kind v0.33.0": what the sandbox will use.
    pub fn detail(&self) -> String {
        let engine = self
            .facts
            .selected_engine()
            .map(|e| {
                format!(
                    "{} {}",
                    e.kind.label(),
                    e.server_version.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_else(|| "no engine needed".into());
        let tool = self
            .target
            .driver()
            .tool()
            .and_then(|t| self.facts.tool(t))
            .and_then(|t| {
                t.version
                    .as_ref()
                    .map(|v| format!(", {} {v}", t.name.executable()))
            })
            .unwrap_or_default();
        format!("{engine}{tool}")
    }
}

/// Host detection, the driver and engine to use, whether the cluster exists, and doctor's
/// blocking checks. `facts` are reused when the caller already gathered them; `offer_install`
/// lets `up` offer kind when no driver is installed.
pub async fn check(
    ctx: &Context,
    phase: &Phase<'_>,
    wanted: &Wanted,
    ports: HostPorts,
    facts: Option<HostFacts>,
    offer_install: bool,
) -> Result<Host, Error> {
    let mut facts = match facts {
        Some(facts) => facts,
        None => ctx.gather_for(wanted.provider).await,
    };
    if offer_install
        && wanted.driver.is_none()
        && driver::pick(None, &facts).is_none()
        && install_kind(ctx, phase, &facts).await?
    {
        facts = ctx.gather_for(wanted.provider).await;
    }
    // An engine the user named that does not answer stops `up` here, before any tool runs
    // with it.
    if wanted.driver.is_none_or(|k| k.driver().makes_cluster())
        && facts.named_engine_silent().is_some()
    {
        driver::require_provider(&facts, wanted.provider)?;
    }
    let located = target::locate(&ctx.env, &facts, wanted).await?;
    // A sandbox that exists is used with the driver that has it; otherwise the driver asked for.
    let kind = match &located {
        Some(t) if t.exists => t.driver,
        _ => driver::require(wanted.driver, &facts)
            .map_err(|e| driver::and_the_engine(e, &facts, wanted.driver, wanted.provider))?,
    };
    driver::require(Some(kind), &facts)?;
    let d = kind.driver();
    // A driver older than the release korthbox pins may not boot the pinned node images.
    if let Some(warning) = d
        .tool()
        .and_then(|t| facts.tool(t)?.version.as_ref())
        .and_then(|v| d.version_warning(v))
    {
        ctx.steps.note(&format!("warning: {warning}"));
    }
    let exists = located
        .as_ref()
        .is_some_and(|t| t.exists && t.driver == kind);
    let provider = if d.makes_cluster() {
        driver::require_provider(&facts, wanted.provider)?
    } else {
        NodeProvider::assumed(ProviderKind::Docker)
    };
    let local = LocalFacts::read(&ctx.env, &facts, ports);
    let checks = doctor::checks(&facts, &local);
    refuse(&blocking(&checks, d, exists))?;
    let target = Target::new(wanted, kind, provider, exists);
    if exists && d.makes_cluster() && !target.made_by_korthbox(&ctx.env) {
        return Err(target.not_ours(&ctx.env, None));
    }
    Ok(Host { facts, target })
}

/// doctor's failures that stop `up` with this driver: an existing cluster needs no engine or
/// tool; the host ports matter only for a cluster about to be made that maps them.
fn blocking<'c>(checks: &'c [Check], driver: &dyn Driver, exists: bool) -> Vec<&'c Check> {
    checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter(|c| match c.id {
            CheckId::HostOs => true,
            CheckId::HostPort(_) => driver.maps_host_ports() && !exists,
            CheckId::Tool(tool) => driver.tool() == Some(tool),
            id if id.is_engine() => driver.makes_cluster(),
            _ => false,
        })
        .collect()
}

fn refuse(stops: &[&Check]) -> Result<(), Error> {
    let Some(first) = stops.first() else {
        return Ok(());
    };
    let mut err = Error::failure("this machine cannot host the sandbox yet");
    for c in stops {
        err = err.caused_by(format!("{}: {}", c.id, c.detail));
    }
    Err(err.hint(
        first
            .fix
            .clone()
            .unwrap_or_else(|| "`korthbox doctor` says what to fix".into()),
    ))
}

/// With no driver anywhere and someone at the terminal: offer to install the first driver
/// `auto` would use (kind).
async fn install_kind(ctx: &Context, phase: &Phase<'_>, facts: &HostFacts) -> Result<bool, Error> {
    let first = AUTO_ORDER[0].driver();
    let version = first
        .release()
        .map(|r| format!(" {}", r.version))
        .unwrap_or_default();
    let dir = ctx
        .env
        .bin_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let question = format!(
        "No cluster driver is installed. Download {}{version} into {dir} now?",
        AUTO_ORDER[0].label()
    );
    match phase.reporter().confirm(&question, true).await {
        Answer::Yes => {}
        Answer::No | Answer::NoTerminal => return Ok(false),
    }
    install(ctx, first, facts, Duration::from_secs(600)).await?;
    Ok(true)
}

/// Downloads and installs a driver's pinned release, as one phase.
pub async fn install(
    ctx: &Context,
    driver: &dyn Driver,
    facts: &HostFacts,
    timeout: Duration,
) -> Result<crate::sandbox::install::Installed, Error> {
    let version = driver
        .release()
        .map(|r| format!(" {}", r.version))
        .unwrap_or_default();
    ctx.steps
        .run(
            format!("Installing {}{version}", driver.kind().label()),
            async |phase| {
                crate::sandbox::install::install(&ctx.env, driver, &facts.host, timeout, phase)
                    .await
            },
            |done| {
                format!(
                    "{} ({} bytes, SHA-256 {} verified)",
                    done.path.display(),
                    done.bytes,
                    done.sha256
                )
            },
        )
        .await
}

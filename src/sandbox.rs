//! Finding a sandbox by name across the installed drivers, without any state file: the
//! drivers' own cluster lists are the truth.

use serde::Serialize;

use crate::driver::{AUTO_ORDER, DriverKind, NodeProvider, ProviderKind, actions};
use crate::env::Env;
use crate::error::Error;
use crate::host::HostFacts;
use crate::spec::{DriverChoice, SandboxName};

/// Where a sandbox is, or would be.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub driver: DriverKind,
    pub context: String,
    /// Whether the driver has a cluster of that name (always true for `existing`).
    pub exists: bool,
    #[serde(skip)]
    pub provider: NodeProvider,
}

/// Looks for sandbox `name`: in the cluster behind `context` when one is given; in `choice`'s
/// driver when it names one; else in every installed driver, in `auto` order. When it is
/// nowhere, the result names the driver `up` would create it with (`None` if none is installed).
pub async fn locate(
    env: &Env,
    facts: &HostFacts,
    name: &SandboxName,
    choice: DriverChoice,
    context: Option<&str>,
    provider: Option<ProviderKind>,
) -> Result<Option<Located>, Error> {
    let provider = actions::provider(facts, provider)
        .unwrap_or_else(|| NodeProvider::assumed(ProviderKind::Docker));
    if let Some(context) = context {
        return Ok(Some(Located {
            driver: DriverKind::Existing,
            context: context.to_string(),
            exists: true,
            provider,
        }));
    }
    let candidates: Vec<DriverKind> = match DriverKind::from_choice(choice) {
        Some(kind) => vec![kind],
        None => AUTO_ORDER
            .into_iter()
            .filter(|k| {
                k.tool()
                    .and_then(|t| facts.tool(t))
                    .is_some_and(|t| t.installed())
            })
            .collect(),
    };
    for kind in &candidates {
        let installed = kind
            .tool()
            .and_then(|t| facts.tool(t))
            .is_some_and(|t| t.installed());
        if !installed {
            continue;
        }
        let driver = kind.driver();
        let names = actions::list(env, driver, &provider, actions::LIST_TIMEOUT).await?;
        if names.iter().any(|n| n == name.as_str()) {
            return Ok(Some(Located {
                driver: *kind,
                context: driver.context(name),
                exists: true,
                provider,
            }));
        }
    }
    Ok(candidates.first().map(|kind| Located {
        driver: *kind,
        context: kind.driver().context(name),
        exists: false,
        provider,
    }))
}

//! Stopping and starting a cluster's node containers through the engine's API, for a driver
//! whose tool has no command for it (kind): only the containers the tool labelled for that
//! cluster, never another; started load balancer and control planes first, stopped the other
//! way round.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptions, StartContainerOptions, StopContainerOptions,
};

use super::api::{Driver, NodeProvider};
use crate::base::error::Error;
use crate::base::spec::SandboxName;
use crate::host::engines;

/// A node's place in the start order, from its role label's value.
fn order(role: &str) -> u8 {
    match role {
        "external-load-balancer" | "loadbalancer" => 0,
        "control-plane" | "server" => 1,
        _ => 2,
    }
}

/// The engine, and every container the tool labelled for cluster `name`; `None` where the
/// driver labels none or no engine answered.
async fn labelled(
    driver: &dyn Driver,
    name: &SandboxName,
    provider: &NodeProvider,
    timeout: Duration,
) -> Result<Option<(bollard::Docker, Vec<ContainerSummary>)>, Error> {
    let (Some(label), Some(uri)) = (driver.leftover_label(name), provider.endpoint.as_deref())
    else {
        return Ok(None);
    };
    let docker = engines::client(uri, timeout).map_err(Error::failure)?;
    let listed = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), vec![label])])),
            ..Default::default()
        }))
        .await
        .map_err(|e| {
            Error::failure(format!("could not list containers on the engine at {uri}")).because(e)
        })?;
    Ok(Some((docker, listed)))
}

fn is_running(c: &ContainerSummary) -> bool {
    c.state.as_ref().is_some_and(|s| s.to_string() == "running")
}

/// How many node containers cluster `name` has on the engine, and how many of them run;
/// `None` where korthbox cannot tell (no engine, or a driver without labelled nodes).
pub async fn count(
    driver: &dyn Driver,
    name: &SandboxName,
    provider: &NodeProvider,
    timeout: Duration,
) -> Option<(usize, usize)> {
    let (_, listed) = labelled(driver, name, provider, timeout).await.ok()??;
    let running = listed.iter().filter(|c| is_running(c)).count();
    Some((listed.len(), running))
}

/// Starts (`running`) or stops the node containers of cluster `name`; the names of those whose
/// state changed, in the order they were changed.
pub async fn set_running(
    driver: &dyn Driver,
    name: &SandboxName,
    provider: &NodeProvider,
    running: bool,
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    let Some((docker, listed)) = labelled(driver, name, provider, timeout).await? else {
        return Ok(Vec::new());
    };
    let api = |what: &str, e: bollard::errors::Error| {
        Error::failure(format!("could not {what} on the engine")).because(e)
    };
    let role_label = driver.node_role_label().unwrap_or_default();
    let mut nodes: Vec<(u8, String, String, bool)> = listed
        .into_iter()
        .map(|c| {
            let up = is_running(&c);
            let role = c
                .labels
                .as_ref()
                .and_then(|l| l.get(role_label))
                .map_or(2, |r| order(r));
            let id = c.id.unwrap_or_default();
            let shown = c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_else(|| id.clone())
                .trim_start_matches('/')
                .to_string();
            (role, shown, id, up)
        })
        .collect();
    nodes.sort();
    if !running {
        nodes.reverse();
    }
    let mut changed = Vec::new();
    for (_, shown, id, up) in nodes {
        if up == running {
            continue;
        }
        match running {
            true => docker
                .start_container(&id, None::<StartContainerOptions>)
                .await
                .map_err(|e| api(&format!("start container {shown}"), e))?,
            false => docker
                .stop_container(&id, None::<StopContainerOptions>)
                .await
                .map_err(|e| api(&format!("stop container {shown}"), e))?,
        }
        changed.push(shown);
    }
    Ok(changed)
}

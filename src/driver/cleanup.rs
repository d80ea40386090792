//! What a driver leaves behind when a cluster breaks half-way: containers, networks and volumes
//! labelled for the cluster, removed through the engine's API.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveVolumeOptions,
};

use super::api::{Driver, NodeProvider};
use crate::base::error::Error;
use crate::base::spec::SandboxName;
use crate::host::engines;

/// What was removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

fn filters(label: &str) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(
        "label".to_string(),
        vec![label.to_string()],
    )]))
}

/// Removes every container, network and volume the driver labelled for cluster `name`.
pub async fn engine_leftovers(
    driver: &dyn Driver,
    name: &SandboxName,
    provider: &NodeProvider,
    timeout: Duration,
) -> Result<Removed, Error> {
    let (Some(label), Some(uri)) = (driver.leftover_label(name), provider.endpoint.as_deref())
    else {
        return Ok(Removed::default());
    };
    let docker = engines::client(uri, timeout).map_err(Error::failure)?;
    let api = |what: &str, e: bollard::errors::Error| {
        Error::failure(format!("could not {what} on the engine at {uri}")).because(e)
    };
    let mut removed = Removed::default();
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: filters(&label),
            ..Default::default()
        }))
        .await
        .map_err(|e| api("list containers", e))?;
    for c in containers {
        let id = c.id.unwrap_or_default();
        let name = c
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_else(|| id.clone());
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| api(&format!("remove container {name}"), e))?;
        removed
            .containers
            .push(name.trim_start_matches('/').to_string());
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: filters(&label),
        }))
        .await
        .map_err(|e| api("list networks", e))?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        docker
            .remove_network(&name)
            .await
            .map_err(|e| api(&format!("remove network {name}"), e))?;
        removed.networks.push(name);
    }
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: filters(&label),
        }))
        .await
        .map_err(|e| api("list volumes", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        docker
            .remove_volume(&v.name, Some(RemoveVolumeOptions { force: true }))
            .await
            .map_err(|e| api(&format!("remove volume {}", v.name), e))?;
        removed.volumes.push(v.name);
    }
    Ok(removed)
}

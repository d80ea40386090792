//! The sandbox's Orthanc, reached through loopback tunnels that port-forward to its pod (so
//! it works on every driver and on existing clusters), with the admin password from its Secret
//! and the AE title and DICOMweb root from the configuration it runs with (its ConfigMap).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::{DICOMWEB_ROOT, Endpoints};
use crate::base::error::Error;
use crate::evaluate::dicom::Peer;
use crate::kube::pod::{self, Route, Tunnel};

/// The admin password, read from the Secret (never printed).
pub async fn admin_password(client: &Client, namespace: &str) -> Result<String, String> {
    crate::kube::minio::secret(client, namespace, "orthanc-credentials", "password").await
}

/// The configuration Orthanc runs with, from its ConfigMap.
async fn orthanc_config(client: &Client, namespace: &str) -> Result<Value, String> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let map = maps
        .get("orthanc-config")
        .await
        .map_err(|e| format!("could not read ConfigMap orthanc-config: {e}"))?;
    let text = map
        .data
        .as_ref()
        .and_then(|d| d.get("orthanc.json"))
        .ok_or("ConfigMap orthanc-config has no orthanc.json")?;
    super::parse_config(text)
        .map_err(|e| format!("orthanc.json in ConfigMap orthanc-config is not JSON: {e}"))
}

/// A tunnel to `remote` on the Ready pods of component `name`.
async fn tunnel(pods: &Api<Pod>, name: &str, instance: &str, remote: u16) -> Result<Tunnel, Error> {
    Tunnel::open(Route {
        pods: pods.clone(),
        selector: pod::selector(name, instance),
        remote,
        pod: None,
    })
    .await
}

/// With several Orthancs Ready, a tunnel to each one's HTTP port; with one, none.
async fn each_instance(
    pods: &Api<Pod>,
    instance: &str,
) -> Result<Vec<(String, String, Tunnel)>, Error> {
    let selector = pod::selector("orthanc", instance);
    let ready = pod::all_ready(pods, &selector).await.unwrap_or_default();
    if ready.len() < 2 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (name, node) in ready {
        let tunnel = Tunnel::open(Route {
            pods: pods.clone(),
            selector: selector.clone(),
            remote: 8042,
            pod: Some(name.clone()),
        })
        .await?;
        out.push((name, node, tunnel));
    }
    Ok(out)
}

/// The sandbox's Orthanc, reachable while this lives.
pub struct Reached {
    pub orthanc: Endpoints,
    /// The configuration Orthanc runs with.
    pub config: Value,
    pub http: Tunnel,
    pub dicom: Tunnel,
    /// With several Orthancs, each one's HTTP port, reached directly: its pod, its node, the
    /// tunnel.
    pub instances: Vec<(String, String, Tunnel)>,
}

impl Reached {
    /// Why a connection through the tunnels failed, if one did (the tunnel learns it just
    /// after the connection closed, so this waits a moment for it).
    pub async fn tunnel_error(&self) -> Option<String> {
        for _ in 0..10 {
            if let Some(why) = self.http.last_error().or_else(|| self.dicom.last_error()) {
                return Some(why);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

/// Reaches sandbox `instance`'s Orthanc in `namespace`; each exchange may take `timeout`.
pub async fn reach(
    client: &Client,
    namespace: &str,
    instance: &str,
    timeout: Duration,
) -> Result<Reached, Error> {
    let hint = "`korthbox up` creates the sandbox; `korthbox status` shows what is missing";
    let password = admin_password(client, namespace)
        .await
        .map_err(|e| Error::failure(e).hint(hint))?;
    let config = orthanc_config(client, namespace)
        .await
        .map_err(|e| Error::failure(e).hint(hint))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let http = tunnel(&pods, "orthanc", instance, 8042).await?;
    let dicom = tunnel(&pods, "orthanc", instance, 4242).await?;
    let instances = each_instance(&pods, instance).await?;
    let root = config["DicomWeb"]["Root"].as_str().unwrap_or(DICOMWEB_ROOT);
    let orthanc = Endpoints {
        url: format!("http://{}", http.address),
        user: "admin".into(),
        password: Some(password),
        dicomweb: root.to_string(),
        dicom: Peer {
            address: dicom.address.to_string(),
            called: config["DicomAet"].as_str().unwrap_or("ORTHANC").to_string(),
            timeout,
        },
        timeout,
    };
    Ok(Reached {
        orthanc,
        config,
        http,
        dicom,
        instances,
    })
}

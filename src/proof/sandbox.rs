//! The proof of a sandbox: Orthanc reached through loopback tunnels that port-forward to its
//! pod (so it works on every driver and on existing clusters), its password read from the
//! Secret, and the storage backend chosen from the configuration Orthanc actually runs with
//! (its ConfigMap), not from what korthbox was told.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::model::{DICOMWEB_ROOT, Proof, Target};
use super::storage::{Backend, Exec};
use crate::dicom::Peer;
use crate::error::Error;
use crate::pod::{self, Route, Tunnel};
use crate::report::Phase;

/// How long each step of a sandbox proof may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin password, read from the Secret (never printed).
pub async fn admin_password(client: &Client, namespace: &str) -> Result<String, String> {
    crate::minio::secret(client, namespace, "orthanc-credentials", "password").await
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
    serde_json::from_str(text)
        .map_err(|e| format!("orthanc.json in ConfigMap orthanc-config is not JSON: {e}"))
}

/// A tunnel to `remote` on the Ready pods of component `name`.
async fn tunnel(pods: &Api<Pod>, name: &str, instance: &str, remote: u16) -> Result<Tunnel, Error> {
    Tunnel::open(Route {
        pods: pods.clone(),
        selector: pod::selector(name, instance),
        remote,
    })
    .await
}

/// Where the sandbox's Orthanc keeps files, as its configuration says.
async fn backend(
    client: &Client,
    namespace: &str,
    instance: &str,
    config: &Value,
    timeout: Duration,
) -> Result<Backend, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let exec = |name: &str| Exec {
        pods: pods.clone(),
        selector: pod::selector(name, instance),
        container: name.to_string(),
        timeout,
    };
    if let Some(bucket) = config["AwsS3Storage"]["BucketName"].as_str() {
        let (s3, tunnel) =
            crate::minio::connect(client, namespace, instance, bucket, timeout).await?;
        return Ok(Backend::Bucket {
            s3,
            _tunnel: Some(tunnel),
        });
    }
    if config["PostgreSQL"]["EnableStorage"] == true {
        return Ok(Backend::Database {
            exec: exec("postgres"),
        });
    }
    let dir = config["StorageDirectory"]
        .as_str()
        .unwrap_or("/var/lib/orthanc/db")
        .to_string();
    Ok(Backend::Volume {
        exec: exec("orthanc"),
        dir,
    })
}

/// Proves sandbox `instance` in `namespace`.
pub async fn prove(
    client: &Client,
    namespace: &str,
    instance: &str,
    (step_timeout, timeout): (Duration, Duration),
    phase: Option<&Phase<'_>>,
) -> Result<Proof, Error> {
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
    let root = config["DicomWeb"]["Root"].as_str().unwrap_or(DICOMWEB_ROOT);
    let target = Target {
        url: format!("http://{}", http.address),
        user: "admin".into(),
        password: Some(password),
        dicomweb: root.to_string(),
        dicom: Peer {
            address: dicom.address.to_string(),
            called: config["DicomAet"].as_str().unwrap_or("ORTHANC").to_string(),
            timeout: step_timeout,
        },
        storage: Some(backend(client, namespace, instance, &config, step_timeout).await?),
        step_timeout,
    };
    let mut proof = super::run(&target, timeout, phase).await?;
    if let Some(step) = proof.steps.iter_mut().find(|s| !s.ok) {
        // A step that failed because a port-forward did: say why the forward failed (the
        // tunnel learns it just after the connection closed).
        let mut why = None;
        for _ in 0..10 {
            why = http.last_error().or_else(|| dicom.last_error());
            if why.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(why) = why {
            step.detail.push_str(&format!(" (port-forward: {why})"));
            step.hint = Some(
                "the port-forward to Orthanc's pod failed: is Orthanc running and listening? `korthbox status` shows the stack".into(),
            );
        }
    }
    Ok(proof)
}

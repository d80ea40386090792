//! The proof of a sandbox: its Orthanc reached through tunnels (`orthanc::sandbox`), and the
//! storage backend chosen from the configuration Orthanc actually runs with (its ConfigMap),
//! not from what korthbox was told.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::model::{Proof, Target};
use super::storage::{Backend, Exec};
use crate::base::error::Error;
use crate::base::report::Phase;
use crate::evaluate::orthanc::rest::Rest;
use crate::kube::pod;

/// How long each step of a sandbox proof may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the sandbox's Orthanc keeps files, as its configuration says.
async fn backend(
    client: &Client,
    namespace: &str,
    instance: &str,
    config: &Value,
    timeout: Duration,
) -> Result<Option<Backend>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let exec = |name: &str| Exec {
        pods: pods.clone(),
        selector: pod::selector(name, instance),
        container: name.to_string(),
        timeout,
        pod: tokio::sync::OnceCell::new(),
    };
    let section = &config["AwsS3Storage"];
    let minio = section["Endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("http://minio:"));
    if section["BucketName"].is_string() && !minio {
        let s3 = crate::kube::minio::own_bucket(client, namespace, section, timeout).await?;
        return Ok(Some(Backend::Bucket { s3, _tunnel: None }));
    }
    if let Some(bucket) = config["AwsS3Storage"]["BucketName"].as_str() {
        let (s3, tunnel) =
            crate::kube::minio::connect(client, namespace, instance, bucket, timeout).await?;
        return Ok(Some(Backend::Bucket {
            s3,
            _tunnel: Some(tunnel),
        }));
    }
    // Files inside a PostgreSQL of the user's own: korthbox has no pod there to ask from.
    if config["PostgreSQL"]["EnableStorage"] == true
        && config["PostgreSQL"]["ConnectionUri"].is_string()
    {
        return Ok(None);
    }
    if config["PostgreSQL"]["EnableStorage"] == true {
        return Ok(Some(Backend::Database {
            exec: exec("postgres"),
        }));
    }
    let dir = config["StorageDirectory"]
        .as_str()
        .unwrap_or("/var/lib/orthanc/db")
        .to_string();
    Ok(Some(Backend::Volume {
        exec: exec("orthanc"),
        dir,
    }))
}

/// Proves sandbox `instance` in `namespace`.
pub async fn prove(
    client: &Client,
    namespace: &str,
    instance: &str,
    step_timeout: Duration,
    phase: Option<&Phase<'_>>,
) -> Result<Proof, Error> {
    let reached =
        crate::evaluate::orthanc::sandbox::reach(client, namespace, instance, step_timeout).await?;
    let storage = backend(client, namespace, instance, &reached.config, step_timeout).await?;
    let mut instances = Vec::new();
    for (pod, _, tunnel) in &reached.instances {
        let url = format!("http://{}", tunnel.address);
        let password = reached.orthanc.password.as_deref();
        instances.push((
            pod.clone(),
            Rest::new(&url, "admin", password, step_timeout)?,
        ));
    }
    let target = Target {
        orthanc: reached.orthanc.clone(),
        storage,
        instances,
    };
    let mut proof = super::run(&target, phase).await?;
    if let Some(step) = proof.steps.iter_mut().find(|s| !s.ok)
        && let Some(why) = reached.tunnel_error().await
    {
        // A step that failed because a port-forward did: say why the forward failed.
        step.detail.push_str(&format!(" (port-forward: {why})"));
        step.hint = Some(
            "the port-forward to Orthanc's pod failed: is Orthanc running and listening? `korthbox status` shows the stack".into(),
        );
    }
    Ok(proof)
}

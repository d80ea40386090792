//! The sandbox's MinIO as korthbox talks to it: the S3 API through a loopback tunnel to the
//! MinIO pod, with the root credentials from MinIO's Secret. `up` makes the bucket this way
//! once MinIO is ready; the proof lists the bucket's objects the same way. And the user's own
//! S3 service (`--s3-bucket`), reached directly with the keys Orthanc is given.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Client;
use kube::api::Api;

use crate::base::error::Error;
use crate::host::s3::{Made, S3};
use crate::kube::pod::{self, Route, Tunnel};

/// One key of a Secret, as text (never printed).
pub async fn secret(
    client: &Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get(name)
        .await
        .map_err(|e| format!("could not read Secret {name}: {e}"))?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| String::from_utf8_lossy(&b.0).to_string())
        .ok_or_else(|| format!("Secret {name} has no {key}"))
}

/// The S3 keys in Secret `name` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN);
/// `None` when the Secret or its two keys are missing.
pub async fn keys_in(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<crate::kube::stack::S3Keys>, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let found = secrets
        .get_opt(name)
        .await
        .map_err(|e| Error::failure(format!("could not read Secret {name}")).because(e))?;
    let data = found.and_then(|s| s.data).unwrap_or_default();
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(&v.0).to_string())
    };
    Ok(crate::kube::stack::S3Keys::from_vars(text))
}

/// The user's own bucket as Orthanc's configuration names it, with the keys of the Secret
/// Orthanc's Deployment takes them from.
pub async fn own_bucket(
    client: &Client,
    namespace: &str,
    section: &serde_json::Value,
    timeout: Duration,
) -> Result<S3, Error> {
    use k8s_openapi::api::apps::v1::Deployment;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let orthanc = deployments
        .get("orthanc")
        .await
        .map_err(|e| Error::failure("could not read Deployment orthanc").because(e))?;
    let secret_name = orthanc
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().find(|c| c.name == "orthanc"))
        .and_then(|c| c.env)
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == "AWS_ACCESS_KEY_ID")
        .and_then(|e| e.value_from?.secret_key_ref.map(|r| r.name))
        .unwrap_or_else(|| crate::kube::stack::spec::S3_SECRET.to_string());
    let keys = keys_in(client, namespace, &secret_name)
        .await?
        .ok_or_else(|| Error::failure(format!("Secret {secret_name} has no S3 keys")))?;
    let text = |key: &str| section[key].as_str().unwrap_or_default().to_string();
    let (bucket, region, endpoint) = (text("BucketName"), text("Region"), text("Endpoint"));
    let place = crate::host::s3::Place {
        endpoint: (!endpoint.is_empty()).then_some(endpoint.as_str()),
        bucket: &bucket,
        region: &region,
        access_key: &keys.access_key_id,
        secret_key: &keys.secret_access_key,
        session_token: keys.session_token.as_deref(),
    };
    S3::at(&place, timeout).map_err(Error::failure)
}

/// Bucket `bucket` of sandbox `instance`'s MinIO, reachable while the tunnel lives.
pub async fn connect(
    client: &Client,
    namespace: &str,
    instance: &str,
    bucket: &str,
    timeout: Duration,
) -> Result<(S3, Tunnel), Error> {
    let tunnel = Tunnel::open(Route {
        pods: Api::<Pod>::namespaced(client.clone(), namespace),
        selector: pod::selector("minio", instance),
        remote: 9000,
        pod: None,
    })
    .await?;
    let user = secret(client, namespace, "minio-credentials", "root-user").await;
    let password = secret(client, namespace, "minio-credentials", "root-password").await;
    let (user, password) = user
        .and_then(|u| Ok((u, password?)))
        .map_err(Error::failure)?;
    let endpoint = format!("http://{}", tunnel.address);
    let s3 = S3::new(&endpoint, bucket, &user, &password, timeout).map_err(Error::failure)?;
    Ok((s3, tunnel))
}

/// Makes the bucket unless it is there. MinIO has just become ready: a connection that fails
/// outright is tried again for a while; an answer (wrong credentials, say) is final.
pub async fn ensure_bucket(
    client: &Client,
    namespace: &str,
    instance: &str,
    bucket: &str,
    timeout: Duration,
) -> Result<Made, Error> {
    let (s3, tunnel) = connect(client, namespace, instance, bucket, timeout).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match s3.ensure_bucket().await {
            Ok(made) => return Ok(made),
            Err(e) if !e.contains(" answered ") && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                let e = match tunnel.last_error() {
                    Some(why) => format!("{e} (port-forward: {why})"),
                    None => e,
                };
                return Err(Error::failure(format!("could not make MinIO bucket {bucket}"))
                    .caused_by(e)
                    .hint(format!("`korthbox logs minio --namespace {namespace}` (or `kubectl -n {namespace} logs deployment/minio`) shows MinIO's side; the credentials are in Secret minio-credentials")));
            }
        }
    }
}

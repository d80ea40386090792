//! Reaching a running sandbox: its admin password, the proof run again, and port-forwards to
//! Orthanc on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::net::TcpListener;

use super::Context;
use super::steps;
use super::target::{self, Target, Wanted};
use crate::error::Error;
use crate::pod::{self, Route};
use crate::proof::{self, Proof};
use crate::spec::ORTHANC_AET;

/// The sandbox, which must exist.
async fn find(ctx: &Context, wanted: &Wanted) -> Result<Target, Error> {
    let facts = ctx.gather_for(wanted.provider).await;
    target::existing(&ctx.env, &facts, wanted)
        .await?
        .ok_or_else(|| target::absent(&wanted.name))
}

/// The sandbox, which must exist, and a client for its cluster.
async fn connect(ctx: &Context, wanted: &Wanted) -> Result<(Target, kube::Client), Error> {
    let found = find(ctx, wanted).await?;
    let client = crate::cluster::client(&ctx.env, &found.context).await?;
    Ok((found, client))
}

/// Orthanc's admin password.
pub async fn password(ctx: &Context, wanted: &Wanted, namespace: &str) -> Result<String, Error> {
    let (_, client) = connect(ctx, wanted).await?;
    proof::sandbox::admin_password(&client, namespace)
        .await
        .map_err(|e| Error::failure(e).hint("`korthbox up` creates the sandbox and its password"))
}

/// The proof, run again (and kept on the namespace).
pub async fn prove(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    step_timeout: Duration,
) -> Result<Proof, Error> {
    let (found, client) = connect(ctx, wanted).await?;
    steps::prove(ctx, &client, namespace, found.name.as_str(), step_timeout).await
}

/// Forwards 127.0.0.1:`http_port` and :`dicom_port` to Orthanc's pod until the future is
/// dropped; each connection gets its own port-forward to whichever Orthanc pod is there, and a
/// connection that cannot be forwarded is reported.
pub async fn forward(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    http_port: u16,
    dicom_port: u16,
) -> Result<(), Error> {
    let found = find(ctx, wanted).await?;
    let client = crate::cluster::stream_client(&ctx.env, &found.context).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let selector = pod::selector("orthanc", found.name.as_str());
    let http = bind(http_port).await?;
    let dicom = bind(dicom_port).await?;
    ctx.steps.note(&format!(
        "Forwarding http://127.0.0.1:{http_port} → Orthanc :8042 and 127.0.0.1:{dicom_port} → :4242 (AE {ORTHANC_AET}); Ctrl-C stops"
    ));
    let route = |remote| Route {
        pods: pods.clone(),
        selector: selector.clone(),
        remote,
    };
    let note = |remote: u16| -> pod::OnError {
        let steps = ctx.steps.clone();
        Arc::new(move |why| steps.note(&format!("a connection to Orthanc :{remote} failed: {why}")))
    };
    tokio::select! {
        _ = pod::serve(http, route(8042), note(8042)) => {}
        _ = pod::serve(dicom, route(4242), note(4242)) => {}
    }
    Ok(())
}

async fn bind(port: u16) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        Error::failure(format!("could not listen on 127.0.0.1:{port}"))
            .because(e)
            .hint(format!("another program has the port: pick another with --http-port/--dicom-port, or find it with `lsof -i :{port}`"))
    })
}

//! Reaching a running sandbox: its admin password, the proof run again, and port-forwards to
//! Orthanc on 127.0.0.1.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::net::TcpListener;

use super::Context;
use super::steps;
use super::target::{self, Target, Wanted};
use crate::error::Error;
use crate::proof::{self, Proof};
use crate::spec::ORTHANC_AET;

/// The sandbox, which must exist, and a client for its cluster.
async fn connect(ctx: &Context, wanted: &Wanted) -> Result<(Target, kube::Client), Error> {
    let facts = ctx.gather().await;
    let found = target::existing(&ctx.env, &facts, wanted)
        .await?
        .ok_or_else(|| target::absent(&wanted.name))?;
    let client = crate::cluster::client(&ctx.env, &found.context).await?;
    Ok((found, client))
}

/// Orthanc's admin password.
pub async fn password(ctx: &Context, wanted: &Wanted, namespace: &str) -> Result<String, Error> {
    let (_, client) = connect(ctx, wanted).await?;
    proof::admin_password(&client, namespace)
        .await
        .map_err(|e| Error::failure(e).hint("`korthbox up` creates the sandbox and its password"))
}

/// The proof, run again (and kept on the namespace).
pub async fn prove(ctx: &Context, wanted: &Wanted, namespace: &str) -> Result<Proof, Error> {
    let (found, client) = connect(ctx, wanted).await?;
    steps::prove(ctx, &client, namespace, found.name.as_str()).await
}

/// Forwards 127.0.0.1:`http_port` and :`dicom_port` to Orthanc's pod until the future is
/// dropped; each connection gets its own port-forward to whichever Orthanc pod is there.
pub async fn forward(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    http_port: u16,
    dicom_port: u16,
) -> Result<(), Error> {
    let (found, client) = connect(ctx, wanted).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let selector = format!(
        "app.kubernetes.io/name=orthanc,app.kubernetes.io/instance={}",
        found.name
    );
    let http = bind(http_port).await?;
    let dicom = bind(dicom_port).await?;
    ctx.steps.note(&format!(
        "Forwarding http://127.0.0.1:{http_port} → Orthanc :8042 and 127.0.0.1:{dicom_port} → :4242 (AE {ORTHANC_AET}); Ctrl-C stops"
    ));
    tokio::select! {
        _ = serve(http, 8042, &pods, &selector) => {}
        _ = serve(dicom, 4242, &pods, &selector) => {}
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

async fn serve(listener: TcpListener, remote: u16, pods: &Api<Pod>, selector: &str) {
    loop {
        let Ok((mut local, _)) = listener.accept().await else {
            continue;
        };
        let (pods, selector) = (pods.clone(), selector.to_string());
        tokio::spawn(async move {
            let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await else {
                return;
            };
            let Some(pod) = list.items.first().and_then(|p| p.metadata.name.clone()) else {
                return;
            };
            let Ok(mut forward) = pods.portforward(&pod, &[remote]).await else {
                return;
            };
            if let Some(mut upstream) = forward.take_stream(remote) {
                let _ = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
            }
            forward.abort();
        });
    }
}

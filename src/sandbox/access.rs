//! Reaching a running sandbox: its admin password, the proof run again, and port-forwards to
//! Orthanc on 127.0.0.1.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::net::TcpListener;

use super::Context;
use super::steps;
use super::target::{self, Target, Wanted};
use crate::error::Error;
use crate::proof::{self, Proof};
use crate::spec::ORTHANC_AET;

/// The sandbox, which must exist.
async fn find(ctx: &Context, wanted: &Wanted) -> Result<Target, Error> {
    let facts = ctx.gather().await;
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
    let selector = format!(
        "app.kubernetes.io/name=orthanc,app.kubernetes.io/instance={}",
        found.name
    );
    let http = bind(http_port).await?;
    let dicom = bind(dicom_port).await?;
    ctx.steps.note(&format!(
        "Forwarding http://127.0.0.1:{http_port} → Orthanc :8042 and 127.0.0.1:{dicom_port} → :4242 (AE {ORTHANC_AET}); Ctrl-C stops"
    ));
    let to = |remote| Forward {
        ctx: ctx.clone(),
        pods: pods.clone(),
        selector: selector.clone(),
        remote,
    };
    tokio::select! {
        _ = to(8042).serve(http) => {}
        _ = to(4242).serve(dicom) => {}
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

/// Where one listener's connections go.
#[derive(Clone)]
struct Forward {
    ctx: Context,
    pods: Api<Pod>,
    selector: String,
    remote: u16,
}

impl Forward {
    async fn serve(self, listener: TcpListener) {
        let mut pause = Duration::from_millis(100);
        loop {
            let local = match listener.accept().await {
                Ok((local, _)) => {
                    pause = Duration::from_millis(100);
                    local
                }
                // Out of file descriptors and the like: say so, and do not spin.
                Err(e) => {
                    self.ctx.steps.note(&format!(
                        "could not accept a connection on :{}: {e}",
                        self.remote
                    ));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let forward = self.clone();
            tokio::spawn(async move {
                if let Err(why) = forward.relay(local).await {
                    forward.ctx.steps.note(&format!(
                        "a connection to Orthanc :{} failed: {why}",
                        forward.remote
                    ));
                }
            });
        }
    }

    async fn relay(&self, mut local: tokio::net::TcpStream) -> Result<(), String> {
        let list = self
            .pods
            .list(&ListParams::default().labels(&self.selector))
            .await
            .map_err(|e| format!("could not list Orthanc's pods: {e}"))?;
        let pod = list
            .items
            .first()
            .and_then(|p| p.metadata.name.clone())
            .ok_or("no Orthanc pod is running (`korthbox status` says why)")?;
        let mut forward = self
            .pods
            .portforward(&pod, &[self.remote])
            .await
            .map_err(|e| {
                format!(
                    "could not open a port-forward to {pod}:{}: {e}",
                    self.remote
                )
            })?;
        let mut upstream = forward
            .take_stream(self.remote)
            .ok_or("the port-forward has no stream")?;
        let copied = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
        forward.abort();
        match copied {
            Ok(_) => Ok(()),
            // The browser or the DICOM peer hung up first: that is how connections end.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(format!("{pod}:{}: {e}", self.remote)),
        }
    }
}

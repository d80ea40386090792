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
use crate::base::error::Error;
use crate::base::spec::{ORTHANC_AET, Viewer};
use crate::evaluate::orthanc::sandbox::Reached;
use crate::evaluate::proof::Proof;
use crate::kube::pod::{self, Route};

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
    let client = crate::kube::cluster::client(&ctx.env, &found.context).await?;
    crate::kube::cluster::reachable(&ctx.env, &client, &found.context).await?;
    Ok((found, client))
}

/// The sandbox's Orthanc, reached through tunnels; each exchange may take `timeout`.
pub async fn reach(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    timeout: Duration,
) -> Result<Reached, Error> {
    let (found, client) = connect(ctx, wanted).await?;
    crate::evaluate::orthanc::sandbox::reach(&client, namespace, found.name.as_str(), timeout).await
}

/// Orthanc's admin password.
pub async fn password(ctx: &Context, wanted: &Wanted, namespace: &str) -> Result<String, Error> {
    let (_, client) = connect(ctx, wanted).await?;
    crate::evaluate::orthanc::sandbox::admin_password(&client, namespace)
        .await
        .map_err(|e| Error::failure(e).hint("`korthbox up` creates the sandbox and its password"))
}

/// A component's log as the API server streams it.
pub struct Log {
    /// The pod it comes from, and where that is.
    pub pod: String,
    pub context: String,
    pub lines: std::pin::Pin<Box<dyn futures_util::AsyncBufRead + Send>>,
}

/// The log of `component`'s newest pod (its container of the same name): the last `tail`
/// lines, or all, and with `follow` new lines as they come.
pub async fn logs(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    component: &str,
    follow: bool,
    tail: Option<i64>,
) -> Result<Log, Error> {
    let found = find(ctx, wanted).await?;
    let client = crate::kube::cluster::stream_client(&ctx.env, &found.context).await?;
    crate::kube::cluster::reachable(&ctx.env, &client, &found.context).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let selector = pod::selector(component, found.name.as_str());
    let list = pods
        .list(&kube::api::ListParams::default().labels(&selector))
        .await
        .map_err(|e| {
            Error::failure(format!("could not list the pods in namespace {namespace}")).because(e)
        })?;
    let newest = list
        .items
        .into_iter()
        .filter_map(|p| {
            let created = p.metadata.creation_timestamp.clone();
            Some((created, p.metadata.name?))
        })
        .max();
    let Some((_, name)) = newest else {
        let mut err = Error::failure(format!(
            "there is no {component} pod in namespace {namespace} of sandbox {}",
            found.name
        ));
        if component == "minio" {
            err = err.hint("MinIO is part of the sandbox only with `--storage minio`");
        }
        return Err(err.hint("`korthbox status` shows what the sandbox has"));
    };
    let params = kube::api::LogParams {
        follow,
        tail_lines: tail,
        container: Some(component.to_string()),
        ..Default::default()
    };
    let lines = pods
        .log_stream(&name, &params)
        .await
        .map_err(|e| Error::failure(format!("could not read the log of pod {name}")).because(e))?;
    Ok(Log {
        pod: name,
        context: found.context,
        lines: Box::pin(lines),
    })
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
    let client = crate::kube::cluster::stream_client(&ctx.env, &found.context).await?;
    crate::kube::cluster::reachable(&ctx.env, &client, &found.context).await?;
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
        pod: None,
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

/// Where Orthanc Explorer 2 (or the viewer) is, and the forward that must run for it to be
/// there (minikube, existing clusters).
pub struct Web {
    pub url: String,
    forward: Option<(TcpListener, Route)>,
}

/// Orthanc Explorer 2's URL, or with `viewer` the viewer's (`Some(None)`: whichever the
/// sandbox serves; `Some(Some(v))`: that one, which it must serve); where the driver maps no
/// port, a listener on 127.0.0.1:`http_port` for [`Web::serve`] to forward.
pub async fn web(
    ctx: &Context,
    wanted: &Wanted,
    namespace: &str,
    viewer: Option<Option<Viewer>>,
    http_port: u16,
) -> Result<Web, Error> {
    let found = find(ctx, wanted).await?;
    let client = crate::kube::cluster::stream_client(&ctx.env, &found.context).await?;
    crate::kube::cluster::reachable(&ctx.env, &client, &found.context).await?;
    let path = match viewer {
        None => EXPLORER.to_string(),
        Some(asked) => viewer_path(&client, namespace, asked).await?,
    };
    if let Some((base, _)) = found.orthanc_base(&ctx.env) {
        return Ok(Web {
            url: format!("{base}{path}"),
            forward: None,
        });
    }
    let listener = bind(http_port).await?;
    let route = Route {
        pods: Api::namespaced(client, namespace),
        selector: pod::selector("orthanc", found.name.as_str()),
        remote: 8042,
        pod: None,
    };
    Ok(Web {
        url: format!("http://127.0.0.1:{http_port}{path}"),
        forward: Some((listener, route)),
    })
}

/// Orthanc Explorer 2, the orthancteam/orthanc image's web UI.
const EXPLORER: &str = "/ui/app/";

/// The viewer's path, from what Orthanc's Deployment loads; `asked`, if any, must be it.
async fn viewer_path(
    client: &kube::Client,
    namespace: &str,
    asked: Option<Viewer>,
) -> Result<String, Error> {
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), namespace);
    let deployment = deployments
        .get_opt("orthanc")
        .await
        .map_err(|e| Error::failure("could not read Orthanc's Deployment").because(e))?;
    let viewer = deployment
        .and_then(|d| d.spec)
        .and_then(|s| s.template.spec)
        .into_iter()
        .flat_map(|s| s.containers)
        .flat_map(|c| c.env.unwrap_or_default())
        .filter(|e| e.value.as_deref() == Some("true"))
        .find_map(|e| Viewer::from_variable(&e.name));
    if let Some(asked) = asked.filter(|a| Some(*a) != viewer && *a != Viewer::None) {
        use clap::ValueEnum;
        let serves = viewer.map_or("no viewer", Viewer::label);
        let value = asked.to_possible_value().map(|v| v.get_name().to_string());
        return Err(Error::failure(format!(
            "the sandbox's Orthanc serves {serves}, not {}",
            asked.label()
        ))
        .hint(format!(
            "`korthbox open --viewer` opens the one it serves; `korthbox up --viewer {}` switches it",
            value.unwrap_or_default()
        )));
    }
    viewer
        .and_then(Viewer::path)
        .map(String::from)
        .ok_or_else(|| {
            Error::failure("the sandbox's Orthanc has no viewer")
                .hint("`korthbox up --viewer stone` (or `--viewer ohif`) adds one")
        })
}

impl Web {
    /// Forwards until dropped, when the URL needs it; returns at once otherwise.
    pub async fn serve(self, ctx: &Context) -> bool {
        let Some((listener, route)) = self.forward else {
            return false;
        };
        let steps = ctx.steps.clone();
        let note: pod::OnError =
            Arc::new(move |why| steps.note(&format!("a connection to Orthanc failed: {why}")));
        pod::serve(listener, route, note).await;
        true
    }

    /// Whether the URL works only while korthbox forwards.
    pub fn forwards(&self) -> bool {
        self.forward.is_some()
    }
}

async fn bind(port: u16) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        Error::failure(format!("could not listen on 127.0.0.1:{port}"))
            .because(e)
            .hint(format!("another program has the port: pick another with --http-port/--dicom-port, or find it with `lsof -i :{port}`"))
    })
}

//! Reaching into the sandbox's pods: commands run in a container (exec), and loopback
//! tunnels whose every connection becomes a port-forward to a pod's port. Both go through the
//! API server, so they work on every driver and on existing clusters.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::base::error::Error;
use crate::base::report::seconds;

/// The selector of the pods of component `name` of sandbox `instance`.
pub fn selector(name: &str, instance: &str) -> String {
    format!("app.kubernetes.io/name={name},app.kubernetes.io/instance={instance}")
}

pub fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Every Ready pod `selector` matches, by name, with the node it runs on.
pub async fn all_ready(pods: &Api<Pod>, selector: &str) -> Result<Vec<(String, String)>, String> {
    let list = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("could not list the pods {selector}: {e}"))?;
    let mut ready: Vec<(String, String)> = list
        .items
        .iter()
        .filter(|p| is_ready(p))
        .filter_map(|p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            Some((p.metadata.name.clone()?, node.unwrap_or_default()))
        })
        .collect();
    ready.sort();
    Ok(ready)
}

/// A pod that `selector` matches, Ready ones first, then Running ones (an Orthanc whose
/// database is down is not Ready, yet still worth reaching); by name within each.
pub async fn ready(pods: &Api<Pod>, selector: &str) -> Result<String, String> {
    let list = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("could not list the pods {selector}: {e}"))?;
    let running = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|phase| phase == "Running")
    };
    let mut candidates: Vec<(bool, String)> = list
        .items
        .iter()
        .filter(|p| is_ready(p) || running(p))
        .filter_map(|p| Some((!is_ready(p), p.metadata.name.clone()?)))
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .next()
        .map(|(_, name)| name)
        .ok_or_else(|| {
            format!(
                "no running pod matches {selector} ({} found; `korthbox status` says why)",
                list.items.len()
            )
        })
}

/// Runs `argv` in `container` of `pod` and returns its standard output; a command that fails
/// is an `Err` with its exit status and standard error.
pub async fn exec(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    argv: &[&str],
    timeout: Duration,
) -> Result<String, String> {
    let shown = argv.join(" ");
    let run = async {
        let params = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let mut process = pods
            .exec(pod, argv.to_vec(), &params)
            .await
            .map_err(|e| format!("could not run `{shown}` in {pod}: {e}"))?;
        let (mut out, mut err) = (String::new(), String::new());
        let (stdout, stderr) = (process.stdout(), process.stderr());
        let status = process.take_status();
        let read_out = async {
            if let Some(mut s) = stdout {
                let _ = s.read_to_string(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(mut s) = stderr {
                let _ = s.read_to_string(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let _ = process.join().await;
        match status {
            Some(s) if s.status.as_deref() == Some("Success") => Ok(out),
            Some(s) => Err(format!(
                "`{shown}` in {pod} failed: {}{}",
                s.message.unwrap_or_else(|| "no reason given".into()),
                match err.trim() {
                    "" => String::new(),
                    e => format!(": {e}"),
                }
            )),
            None => Err(format!("`{shown}` in {pod} ended without an exit status")),
        }
    };
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "`{shown}` in {pod} did not finish within {}",
                seconds(timeout)
            ))
        })
}

/// Where a tunnel's connections go: `remote` on a pod that `selector` matches, or on the one
/// pod named (several Orthancs, each reached directly).
#[derive(Clone)]
pub struct Route {
    pub pods: Api<Pod>,
    pub selector: String,
    pub remote: u16,
    pub pod: Option<String>,
}

/// What a tunnel does with a connection it could not forward.
pub type OnError = Arc<dyn Fn(String) + Send + Sync>;

/// A loopback listener that forwards each connection to a pod; it stops when dropped.
pub struct Tunnel {
    pub address: SocketAddr,
    task: JoinHandle<()>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Tunnel {
    /// A tunnel on a free 127.0.0.1 port.
    pub async fn open(route: Route) -> Result<Tunnel, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Error::failure("could not listen on a loopback port for a port-forward").because(e)
        })?;
        let address = listener.local_addr()?;
        let last_error = Arc::new(Mutex::new(None));
        let keep = last_error.clone();
        let on_error: OnError = Arc::new(move |e| *keep.lock().unwrap() = Some(e));
        let task = tokio::spawn(serve(listener, route, on_error));
        Ok(Tunnel {
            address,
            task,
            last_error,
        })
    }

    /// Why the last connection could not be forwarded, if one could not.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections on `listener` forever, each relayed on its own task.
pub async fn serve(listener: TcpListener, route: Route, on_error: OnError) {
    let mut pause = Duration::from_millis(100);
    loop {
        let local = match listener.accept().await {
            Ok((local, _)) => {
                pause = Duration::from_millis(100);
                local
            }
            // Out of file descriptors and the like: say so, and do not spin.
            Err(e) => {
                on_error(format!(
                    "could not accept a connection for :{}: {e}",
                    route.remote
                ));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let (route, on_error) = (route.clone(), on_error.clone());
        tokio::spawn(async move {
            if let Err(why) = relay(&route, local).await {
                on_error(why);
            }
        });
    }
}

/// One connection, copied both ways through a port-forward until either side closes.
async fn relay(route: &Route, mut local: TcpStream) -> Result<(), String> {
    let pod = match &route.pod {
        Some(pod) => pod.clone(),
        None => ready(&route.pods, &route.selector).await?,
    };
    let mut forward = route
        .pods
        .portforward(&pod, &[route.remote])
        .await
        .map_err(|e| {
            format!(
                "could not open a port-forward to {pod}:{}: {e}",
                route.remote
            )
        })?;
    let mut upstream = forward
        .take_stream(route.remote)
        .ok_or("the port-forward has no stream")?;
    // What the API server says went wrong on its side (the pod refused the connection…)
    // ends the connection at once, as kubectl's port-forward does.
    let refused = forward.take_error(route.remote);
    let refused = async {
        match refused {
            Some(refused) => refused.await,
            None => std::future::pending().await,
        }
    };
    let copied = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut local, &mut upstream) => copied,
        Some(why) = refused => {
            forward.abort();
            return Err(format!("{pod}:{}: {why}", route.remote));
        }
    };
    forward.abort();
    match copied {
        Ok(_) => Ok(()),
        // The browser or the DICOM peer hung up first: that is how connections end.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(format!("{pod}:{}: {e}", route.remote)),
    }
}

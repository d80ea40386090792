//! What `up` repairs in a sandbox that exists: nodes that were stopped (a reboot, the engine
//! restarted, `korthbox stop`) are started; korthbox's own pods stuck in a back-off
//! (CrashLoopBackOff, ImagePullBackOff, Error) are deleted so that their controller starts
//! them afresh once the cause is gone; and a cluster whose nodes run but whose API server does
//! not answer is called what it is — one that does not come back — with the ways forward.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};

use super::Context;
use super::diagnose;
use super::target::Target;
use crate::base::error::Error;
use crate::base::report::Phase;
use crate::driver::{nodes, run};

/// Starts the nodes of the sandbox's cluster that are stopped, as `korthbox start` does.
pub async fn wake(ctx: &Context, target: &Target, timeout: Duration) -> Result<(), Error> {
    let driver = target.driver();
    let counted = nodes::count(driver, &target.name, &target.provider, ctx.probe_timeout()).await;
    let Some((total, running)) = counted else {
        return Ok(());
    };
    if total == 0 || running == total {
        return Ok(());
    }
    let title = format!(
        "Starting {} stopped nodes of {} cluster {}",
        total - running,
        target.driver.label(),
        target.name
    );
    ctx.steps
        .run(
            title,
            async |phase| set_running(ctx, target, true, timeout, phase).await,
            Clone::clone,
        )
        .await?;
    Ok(())
}

/// Starts (`start`) or stops the sandbox's nodes; what changed, in words.
pub(super) async fn set_running(
    ctx: &Context,
    found: &Target,
    start: bool,
    timeout: Duration,
    phase: &Phase<'_>,
) -> Result<String, Error> {
    let driver = found.driver();
    if let Some(inv) = driver.pause(&found.name, &found.provider, start) {
        let outcome = run::run(&ctx.env, &inv, timeout, Some(phase)).await?;
        if !outcome.success {
            return Err(run::failed(
                &format!("`{}` failed", inv.display()),
                &inv,
                &outcome,
            ));
        }
        return Ok(String::new());
    }
    let changed = nodes::set_running(driver, &found.name, &found.provider, start, timeout).await?;
    Ok(match (changed.is_empty(), start) {
        (true, true) => "its nodes were running already".to_string(),
        (true, false) => "its nodes were stopped already".to_string(),
        (false, true) => format!("started {}", changed.join(", ")),
        (false, false) => format!("stopped {}", changed.join(", ")),
    })
}

/// After the cluster checks failed: when the cluster is one korthbox made, its node containers
/// run and its API server still does not answer, it does not come back, and the error says
/// so with the two ways forward. Any other failure is returned as it was.
pub async fn not_coming_back(ctx: &Context, target: &Target, err: Error) -> Error {
    let driver = target.driver();
    if !driver.makes_cluster() {
        return err;
    }
    let counted = nodes::count(driver, &target.name, &target.provider, ctx.probe_timeout()).await;
    let Some((total, running)) = counted.filter(|(_, running)| *running > 0) else {
        return err;
    };
    let answers = match crate::kube::cluster::client(&ctx.env, &target.context).await {
        Ok(client) => crate::kube::cluster::reachable(&ctx.env, &client, &target.context)
            .await
            .is_ok(),
        Err(_) => false,
    };
    if answers {
        return err;
    }
    let commands = (ctx.same_target("up"), ctx.same_target("reset"));
    let said = diagnose::api_server_down(
        &target.context,
        (running, total),
        (&commands.0, &commands.1),
    );
    Error::failure(format!(
        "{} cluster {}: {}",
        target.driver.label(),
        target.name,
        said.detail
    ))
    .caused_by(err.message)
    .hint(said.fix)
}

/// The images korthbox's pods in `namespace` cannot pull (ImagePullBackOff, ErrImagePull):
/// images the nodes lost, to image garbage collection or a node made anew, that korthbox's
/// record still calls loaded. Best effort and quick: nothing when the cluster does not answer.
pub async fn lost_images(ctx: &Context, target: &Target, namespace: &str) -> Vec<String> {
    let look = async {
        let client = crate::kube::cluster::client(&ctx.env, &target.context)
            .await
            .ok()?;
        let api: Api<Pod> = Api::namespaced(client, namespace);
        let selector = crate::kube::stack::manifest::selector_for(target.name.as_str());
        api.list(&ListParams::default().labels(&selector))
            .await
            .ok()
    };
    let Ok(Some(list)) = tokio::time::timeout(ctx.probe_timeout(), look).await else {
        return Vec::new();
    };
    let mut lost: Vec<String> = list
        .items
        .iter()
        .filter_map(|pod| pod.status.as_ref())
        .flat_map(|s| {
            let init = s.init_container_statuses.iter().flatten();
            init.chain(s.container_statuses.iter().flatten())
        })
        .filter(|c| {
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            matches!(
                waiting.and_then(|w| w.reason.as_deref()),
                Some("ImagePullBackOff" | "ErrImagePull")
            )
        })
        .map(|c| c.image.clone())
        .collect();
    lost.sort();
    lost.dedup();
    lost
}

/// Why a container of a pod is stuck in a back-off, if it is.
fn stuck(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let statuses = status.init_container_statuses.iter().flatten();
    let statuses = statuses.chain(status.container_statuses.iter().flatten());
    for c in statuses {
        let state = c.state.as_ref();
        let waiting = state.and_then(|s| s.waiting.as_ref());
        let reason = waiting.and_then(|w| w.reason.as_deref());
        if let Some(r @ ("CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull")) = reason {
            return Some(r.to_string());
        }
        let terminated = state.and_then(|s| s.terminated.as_ref());
        if status.phase.as_deref() == Some("Failed")
            && let Some(t) = terminated
        {
            return Some(t.reason.clone().unwrap_or_else(|| "Error".into()));
        }
    }
    None
}

/// Deletes sandbox `instance`'s pods in `namespace` that are stuck in a back-off, so that their
/// StatefulSet or Deployment starts them again now rather than after the back-off; the pods
/// restarted, with why (`orthanc-0 (CrashLoopBackOff)`).
pub async fn restart_stuck(
    client: &kube::Client,
    namespace: &str,
    instance: &str,
) -> Result<Vec<String>, Error> {
    // Only in the namespace korthbox recorded creating for this sandbox: a pod's labels alone
    // do not make it korthbox's.
    if !crate::kube::ownership::recorded(client, namespace, instance).await? {
        return Ok(Vec::new());
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = crate::kube::stack::manifest::selector_for(instance);
    let list = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list,
        // No namespace yet: nothing to restart.
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::failure(format!(
                "could not list the pods in namespace {namespace}"
            ))
            .because(e));
        }
    };
    let mut restarted = Vec::new();
    for pod in &list.items {
        let Some(why) = stuck(pod) else { continue };
        let name = pod.metadata.name.clone().unwrap_or_default();
        // Only the pod korthbox looked at: its UID is the delete's precondition.
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => restarted.push(format!("{name} ({why})")),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                return Err(Error::failure(format!("could not restart pod {name}")).because(e));
            }
        }
    }
    Ok(restarted)
}
